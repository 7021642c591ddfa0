"""``odoo-ops maintenance on|off|status``: keep users out while the database changes."""

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


@click.group("maintenance")
def command() -> None:
    """Maintenance mode: proxy flag (503 page), Odoo workers stopped, database marker.

    See docs/maintenance.md for the flag file the proxy configuration honours.
    """


def _dry(app: App, commands: list[str], fmt: str, data: dict[str, object]) -> None:
    from odoo_ops.report.table import render_json

    if fmt == "json":
        app.out(render_json(data))
    else:
        for line in commands:
            app.out(line)


@command.command("on")
@click.option("--reason", metavar="TEXT", help="Why (kept in the flag and the marker).")
@dry_run_option
@wait_option
@deployment_options
@format_option("table", "json")
@pass_app
def on_cmd(app: App, reason: str | None, dry_run: bool, wait: float, fmt: str) -> int:
    """Turn maintenance mode on."""
    from odoo_ops.adapters.locking import deployment_lock
    from odoo_ops.modules.maintenance import maintenance_on

    target = app.target()
    if dry_run:
        change = maintenance_on(target, reason=reason, dry_run=True)
        _dry(app, change.commands, fmt, change.as_dict())
        return 0
    with deployment_lock(target, wait):
        change = maintenance_on(target, reason=reason, note=app.info)
    for warning in change.warnings:
        app.warn(warning)
    if fmt == "json":
        _dry(app, [], fmt, change.as_dict())
    else:
        app.out("maintenance mode on" + (" (it was already on)" if change.already else ""))
    return 0


@command.command("off")
@dry_run_option
@wait_option
@deployment_options
@format_option("table", "json")
@pass_app
def off_cmd(app: App, dry_run: bool, wait: float, fmt: str) -> int:
    """Turn maintenance mode off (workers started, marker and flag removed)."""
    from odoo_ops.adapters.locking import deployment_lock
    from odoo_ops.modules.maintenance import maintenance_off

    target = app.target()
    if dry_run:
        change = maintenance_off(target, dry_run=True)
        _dry(app, change.commands, fmt, change.as_dict())
        return 0
    with deployment_lock(target, wait):
        change = maintenance_off(target, note=app.info)
    if fmt == "json":
        _dry(app, [], fmt, change.as_dict())
    else:
        app.out("maintenance mode off" + (" (it was already off)" if change.already else ""))
    return 0


@command.command("status")
@deployment_options
@format_option("table", "json")
@pass_app
def status_cmd(app: App, fmt: str) -> int:
    """Is maintenance on? The truth from the flag file, the workers and the database.

    Exit code: 0 on or off, 1 partial (the three disagree: see the problems).
    """
    from odoo_ops.modules.maintenance import PARTIAL, maintenance_status
    from odoo_ops.report.table import Table

    status = maintenance_status(app.target())
    table = Table(
        ["part", "state", "detail"], title=f"maintenance: {status.state}", data=status.as_dict()
    )
    flag_detail = status.flag_file
    if status.flag and status.flag.get("since"):
        flag_detail += f" (since {status.flag.get('since')}, {status.flag.get('reason', '')})"
    table.add("proxy flag", "present" if status.flag_present else "absent", flag_detail)
    table.add("odoo workers", status.workers, status.workers_detail)
    for service, state in status.services.items():
        table.add(f"  service {service}", state, "")
    marker = status.marker or {}
    table.add(
        "database marker",
        "set" if status.marker is not None else "absent",
        f"since {marker.get('since')}" if marker.get("since") else "",
    )
    table.notes.extend(status.problems)
    app.render(table, fmt)
    return 1 if status.state == PARTIAL else 0
