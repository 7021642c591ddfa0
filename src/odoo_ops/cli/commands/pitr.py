"""``odoo-ops pitr``: point-in-time recovery with pgBackRest, and a filestore that follows."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import click

from odoo_ops.cli.common import (
    App,
    deployment_options,
    dry_run_option,
    format_option,
    pass_app,
    wait_option,
)

if TYPE_CHECKING:
    from odoo_ops.adapters import Target


@click.group("pitr")
def command() -> None:
    """Point-in-time recovery: WAL archiving with pgBackRest, restore to a moment.

    See docs/pitr.md: `pitr setup --apply` once, `pitr backup` and
    `pitr filestore-sync` on timers, `pitr restore --time T --to NEWDB` when
    you need yesterday 10:00 in a staging database.
    """


@command.command("setup")
@deployment_options
@click.option("--apply", "apply", is_flag=True,
              help="Set the server's settings (ALTER SYSTEM), create the stanza, check it.")
@dry_run_option
@wait_option
@format_option()
@pass_app
def setup_cmd(app: App, apply: bool, dry_run: bool, wait: float, fmt: str) -> int:
    """Write the pgBackRest configuration of the deployment; show the PostgreSQL settings
    it needs and, with --apply, set them and create the stanza."""
    from odoo_ops.pitr.actions import setup
    from odoo_ops.report.table import Table, to_jsonable

    target = app.target()
    result = setup(target, apply=apply, dry_run=dry_run, wait=wait)
    table = Table(["setting", "current", "needed", "ok"],
                  title=f"pitr setup: stanza {result.setup.stanza}")  # fmt: skip
    for row in result.settings:
        shown = "(pending restart)" if row.pending_restart else row.current
        table.add(row.name, shown, row.wanted, row.ok)
    if fmt != "csv":
        table.notes.extend(result.steps)
        if result.restart_needed:
            table.notes.append(
                "archive_mode (and wal_level, max_wal_senders) take effect only after a"
                " PostgreSQL RESTART: restart the server, then run"
                " `odoo-ops pitr setup --apply` again"
            )
        if not apply and not dry_run:
            table.notes.append("nothing changed on the server: --apply sets these settings")
    table.data = {"stanza": result.setup.stanza, "config": str(result.setup.conf_path),
                  "repository": result.setup.repo_display, "applied": result.applied,
                  "restart_needed": result.restart_needed, "steps": result.steps,
                  "settings": [to_jsonable(r) for r in result.settings]}  # fmt: skip
    app.render(table, fmt)
    return 0


@command.command("backup")
@deployment_options
@click.option("--type", "kind", type=click.Choice(["full", "diff", "incr"]), default="incr",
              show_default=True, help="Backup type (pgBackRest makes the first one full).")
@format_option()
@pass_app
def backup_cmd(app: App, kind: str, fmt: str) -> int:
    """Take a pgBackRest backup; [pitr] retention_full/retention_diff expire old ones."""
    from odoo_ops.pitr.actions import backup
    from odoo_ops.pitr.window import fmt_time
    from odoo_ops.report.table import Table, to_jsonable

    result = backup(app.target(), kind=kind)
    b = result.backup
    table = Table(["label", "type", "start", "stop", "size"], title="pitr backup")
    table.add(b.label, b.type, fmt_time(b.start), fmt_time(b.stop), b.size)
    table.data = to_jsonable(b)
    app.render(table, fmt)
    return 0


@command.command("info")
@deployment_options
@format_option()
@pass_app
def info_cmd(app: App, fmt: str) -> int:
    """Backups, archived WAL range, the recoverable window and the archive lag."""
    from odoo_ops.pitr.actions import info
    from odoo_ops.pitr.restore import settle_leftovers
    from odoo_ops.pitr.window import fmt_time
    from odoo_ops.report.table import Table, to_jsonable

    target = app.target()
    for note in settle_leftovers(target):
        app.info(note)
    result = info(target)
    from odoo_ops.pitr.inplace import RECORD, pending_record

    pending = pending_record(result.setup)
    if pending is not None:
        app.warn(
            f"an in-place restore did not finish ({result.setup.base / RECORD}): the cluster as"
            f" it was is {pending.get('safety_copy', '?')} (docs/pitr.md)"
        )
    table = Table(["label", "type", "start", "stop", "wal start", "wal stop", "size"],
                  title=f"pitr: stanza {result.setup.stanza}")  # fmt: skip
    for b in result.info.backups:
        table.add(b.label, b.type, fmt_time(b.start), fmt_time(b.stop), b.wal_start,
                  b.wal_stop, b.size)  # fmt: skip
    state = result.state
    lag = state.lag_seconds() if state else None
    if fmt != "csv":
        table.notes.append(f"recoverable window: {result.window.describe()}")
        table.notes.append(f"archived WAL: {result.info.wal_min or '-'} .. "
                           f"{result.info.wal_max or '-'}")  # fmt: skip
        if state is not None:
            table.notes.append(
                f"archive lag: {lag:.0f} s (last archived {state.last_archived_wal})"
                if lag is not None else "archive lag: nothing archived yet"
            )
            if state.failing:
                failed_at = fmt_time(state.last_failed_time)
                table.notes.append(f"ARCHIVING FAILS: {state.failed_count} failure(s), last on"
                                   f" {state.last_failed_wal} at {failed_at}")
        else:
            table.notes.append(f"archive lag: unknown ({result.state_error})")
        synced = fmt_time(result.filestore_last_sync)
        table.notes.append(f"filestore archive last synced: {synced}")
    table.data = {
        "stanza": result.setup.stanza, "status": result.info.status,
        "backups": [to_jsonable(b) for b in result.info.backups],
        "wal_min": result.info.wal_min, "wal_max": result.info.wal_max,
        "window": {"start": to_jsonable(result.window.start),
                   "end": to_jsonable(result.window.end)},
        "archive_lag_seconds": lag,
        "archive_failing": state.failing if state else None,
        "filestore_last_sync": to_jsonable(result.filestore_last_sync),
    }  # fmt: skip
    app.render(table, fmt)
    return 0


@command.command("filestore-sync")
@deployment_options
@format_option()
@pass_app
def filestore_sync_cmd(app: App, fmt: str) -> int:
    """Copy new filestore files into the archive; keep deleted ones for filestore_keep_days."""
    from odoo_ops.errors import UsageError
    from odoo_ops.pitr.actions import require_set_up
    from odoo_ops.pitr.filestore import FilestoreArchive
    from odoo_ops.report.table import Table, to_jsonable

    target = app.target()
    st = require_set_up(target)
    filestore = target.filestore_dir()
    if filestore is None or not st.database:
        raise UsageError("the deployment's filestore is unknown",
                         hint="set data_dir (and database) in odoo-ops.toml")  # fmt: skip
    archive = FilestoreArchive(st.filestore_archive, st.database)
    result = archive.sync(filestore, keep_days=st.policy.filestore_keep_days)
    table = Table(["files", "added", "gone", "back", "pruned", "ignored", "bad checksum"],
                  title=f"filestore archive: {archive.root}")  # fmt: skip
    table.add(result.total, len(result.added), len(result.gone), len(result.back),
              len(result.pruned), len(result.ignored), len(result.mismatched))  # fmt: skip
    table.data = to_jsonable(result)
    app.render(table, fmt)
    return 0


@command.command("restore")
@deployment_options
@click.option("--time", "when", metavar="TIME",
              help='The moment to restore to, with a UTC offset: "2026-12-07 10:00:00+00".')
@click.option("--to", "newdb", metavar="NEWDB",
              help="The new database to create on the live server.")
@click.option("--neutralize", is_flag=True, help="Neutralize NEWDB (no mail, no crons).")
@click.option("--in-place", "in_place", is_flag=True,
              help="Put the whole cluster back to TIME instead (maintenance mode, a safety"
              " copy; needs --force).")  # fmt: skip
@click.option("--force", is_flag=True,
              help="Replace NEWDB when it exists; with --in-place: do it.")  # fmt: skip
@dry_run_option
@wait_option
@format_option()
@pass_app
def restore_cmd(app: App, when: str | None, newdb: str | None, neutralize: bool,
                in_place: bool, force: bool, dry_run: bool, wait: float,
                fmt: str) -> int:  # fmt: skip
    """Restore the deployment's database as it was at TIME into NEWDB, with its filestore.

    The live database is never touched: pgBackRest restores into a scratch
    server on a free port, the database is copied out of it into NEWDB.

    --in-place --force puts the whole cluster and the filestore back to TIME
    (docs/pitr.md): Odoo stopped, PostgreSQL stopped and its data directory
    kept aside as the safety copy, everything put back if a step fails.
    """
    from odoo_ops.errors import UsageError
    from odoo_ops.pitr.restore import restore
    from odoo_ops.pitr.window import fmt_time, parse_time
    from odoo_ops.report.table import Table

    target = app.target()
    if in_place:
        if newdb or neutralize:
            raise UsageError("--in-place restores the cluster itself: no --to, no --neutralize")
        if not when:
            raise UsageError(
                "pitr restore --in-place needs --time",
                hint='e.g. --time "2026-12-07 10:00:00+00" --in-place --force',
            )
        return _restore_in_place(app, target, parse_time(when), force, dry_run, wait, fmt)
    if not when or not newdb:
        raise UsageError("pitr restore needs --time and --to",
                         hint='e.g. --time "2026-12-07 10:00:00+00" --to staging_1000')  # fmt: skip
    moment = parse_time(when)
    result = restore(target, when=moment, newdb=newdb, force=force, neutralize=neutralize,
                     dry_run=dry_run, wait=wait, log=app.info)  # fmt: skip
    table = Table(["database", "restored into", "as of", "files", "missing files"],
                  title="pitr restore" + (" (dry run)" if dry_run else ""))  # fmt: skip
    files = result.files
    table.add(result.database, result.newdb, fmt_time(result.target_time),
              files.copied if files else None, len(files.missing) if files else None)  # fmt: skip
    if fmt != "csv":
        table.notes.append(f"recoverable window: {result.window.describe()}")
        table.notes.extend(result.notes)
        if files and files.missing:
            table.notes.append("files the archive lacks: " + ", ".join(files.missing[:20])
                               + (" …" if len(files.missing) > 20 else ""))  # fmt: skip
        for step, seconds in result.seconds.items():
            table.notes.append(f"{step}: {seconds:.1f} s")
    table.data = {
        "database": result.database, "newdb": result.newdb, "dry_run": dry_run,
        "time": result.target_time.isoformat(), "replaced": result.replaced,
        "neutralized": result.neutralized, "filestore": result.filestore,
        "files_copied": files.copied if files else None,
        "files_missing": files.missing if files else [],
        "window": {"start": result.window.start.isoformat() if result.window.start else None,
                   "end": result.window.end.isoformat() if result.window.end else None},
        "seconds": result.seconds, "notes": result.notes,
    }  # fmt: skip
    app.render(table, fmt)
    return 1 if files and files.missing else 0


def _restore_in_place(app: App, target: Target, moment: datetime, force: bool, dry_run: bool,
                      wait: float, fmt: str) -> int:  # fmt: skip
    from odoo_ops.pitr.inplace import restore_in_place
    from odoo_ops.pitr.window import fmt_time
    from odoo_ops.report.table import Table

    result = restore_in_place(target, when=moment, force=force, dry_run=dry_run,
                              wait=wait, log=app.info)  # fmt: skip
    title = "pitr restore --in-place" + (" (dry run)" if dry_run else "")
    table = Table(["cluster", "as of", "safety copy", "files", "missing files"], title=title)
    files = result.files
    table.add(result.database, fmt_time(result.target_time), result.safety_copy,
              files.copied if files else None, len(files.missing) if files else None)  # fmt: skip
    if fmt != "csv":
        table.notes.append(f"recoverable window: {result.window.describe()}")
        table.notes.extend(result.steps)
        table.notes.extend(result.notes)
        if files and files.missing:
            table.notes.append("files the archive lacks: " + ", ".join(files.missing[:20])
                               + (" …" if len(files.missing) > 20 else ""))  # fmt: skip
        for step, seconds in result.seconds.items():
            table.notes.append(f"{step}: {seconds:.1f} s")
    table.data = {
        "in_place": True, "dry_run": dry_run, "database": result.database,
        "databases": result.databases, "time": result.target_time.isoformat(),
        "safety_copy": result.safety_copy, "filestore_copy": result.filestore_copy,
        "files_copied": files.copied if files else None,
        "files_missing": files.missing if files else [],
        "window": {"start": result.window.start.isoformat() if result.window.start else None,
                   "end": result.window.end.isoformat() if result.window.end else None},
        "steps": result.steps, "seconds": result.seconds, "notes": result.notes,
    }  # fmt: skip
    app.render(table, fmt)
    return 1 if files and files.missing else 0
