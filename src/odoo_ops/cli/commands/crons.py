"""``odoo-ops crons pause|resume|status``: Odoo's scheduled actions held still."""

from __future__ import annotations

import click

from odoo_ops.cli.common import (
    App,
    deployment_options,
    dry_run_option,
    format_option,
    pass_app,
    wait_option,
)


@click.group("crons")
def command() -> None:
    """Pause the active crons (recording exactly which) and resume only those."""


def _out(app: App, fmt: str, data: dict[str, object], text: str) -> None:
    from odoo_ops.report.table import render_json

    app.out(render_json(data) if fmt == "json" else text)


@command.command("pause")
@dry_run_option
@wait_option
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0.1),
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for a running cron.",
)
@deployment_options
@format_option("table", "json")
@pass_app
def pause_cmd(app: App, dry_run: bool, wait: float, lock_timeout: float, fmt: str) -> int:
    """Deactivate every active cron; the set is recorded in the database and a file."""
    from odoo_ops.adapters.locking import deployment_lock
    from odoo_ops.modules.crons import pause_crons

    target = app.target()
    if dry_run:
        change = pause_crons(target, dry_run=True)
        _out(app, fmt, change.as_dict(), "\n".join(change.commands))
        return 0
    with deployment_lock(target, wait):
        change = pause_crons(target, lock_timeout=lock_timeout)
    if change.already:
        text = f"crons already paused ({len(change.ids)} recorded); nothing changed"
    else:
        text = f"{len(change.ids)} cron(s) paused: " + (", ".join(change.names) or "none active")
    _out(app, fmt, change.as_dict(), text)
    return 0


@command.command("resume")
@dry_run_option
@wait_option
@deployment_options
@format_option("table", "json")
@pass_app
def resume_cmd(app: App, dry_run: bool, wait: float, fmt: str) -> int:
    """Re-activate exactly the crons the pause recorded."""
    from odoo_ops.adapters.locking import deployment_lock
    from odoo_ops.modules.crons import resume_crons

    target = app.target()
    if dry_run:
        change = resume_crons(target, dry_run=True)
        _out(app, fmt, change.as_dict(), "\n".join(change.commands) or "nothing paused")
        return 0
    with deployment_lock(target, wait):
        change = resume_crons(target)
    if change.already:
        text = "no pause recorded; nothing changed"
    else:
        text = f"{len(change.ids)} cron(s) resumed: " + (", ".join(change.names) or "none")
        if change.missing:
            text += f"\nno longer exist (skipped): {change.missing}"
    _out(app, fmt, change.as_dict(), text)
    return 0


@command.command("status")
@deployment_options
@format_option("table", "json", "csv", "markdown")
@pass_app
def status_cmd(app: App, fmt: str) -> int:
    """The crons, which are active, and the pause record if any."""
    from odoo_ops.modules.crons import crons_status
    from odoo_ops.report.table import Table

    status = crons_status(app.target())
    title = "crons: " + (
        f"paused since {status.record.get('paused_at')} ({status.record_source})"
        if status.paused and status.record
        else "not paused"
    )
    table = Table(
        ["id", "name", "active", "paused by odoo-ops", "next call"],
        title=title,
        data=status.as_dict(),
    )
    paused_ids = set((status.record or {}).get("ids", []))
    for cron in status.crons:
        table.add(cron.id, cron.name, cron.active, cron.id in paused_ids, cron.nextcall)
    table.notes.extend(status.problems)
    app.render(table, fmt)
    return 0
