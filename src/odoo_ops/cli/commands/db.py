"""``odoo-ops db``: explicit write actions on the deployment's PostgreSQL database."""

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


@click.group("db")
def command() -> None:
    """Maintenance that writes: VACUUM, ending stale sessions.

    Both take the deployment's lock and have --dry-run (prints the exact SQL).
    """


@command.command("vacuum")
@deployment_options
@click.option("--analyze", is_flag=True, help="Also refresh the planner statistics.")
@click.option("--table", "tables", multiple=True, metavar="TABLE",
              help="Only these tables (repeatable); default: the whole database.")
@dry_run_option(help="Print the SQL, run nothing.")
@wait_option
@pass_app
def vacuum_cmd(app: App, analyze: bool, tables: tuple[str, ...], dry_run: bool,
               wait: float) -> int:
    """VACUUM the database (or some tables), optionally with ANALYZE."""
    from odoo_ops.adapters.locking import deployment_lock, deployment_lock_name
    from odoo_ops.audit.maintenance import vacuum, vacuum_sql
    from odoo_ops.cli.common import split_names

    target = app.target()
    statements = vacuum_sql(split_names(tables), analyze=analyze)
    if dry_run:
        app.info(f"dry run: would take lock {deployment_lock_name(target)!r} and run:")
        app.out("\n".join(statements))
        return 0
    with deployment_lock(target, wait=wait):
        result = vacuum(target.database(), statements)
    mb = 1024 * 1024
    app.out(f"ran {len(statements)} statement(s) in {result.seconds:.1f}s; database "
            f"{result.size_before / mb:.1f} MB -> {result.size_after / mb:.1f} MB")
    return 0


@command.command("terminate-idle")
@deployment_options
@click.option("--older-than", "older_than", default="1h", show_default=True, metavar="DURATION",
              help="End sessions idle for longer than this (90s, 30m, 1h, 2d).")
@click.option("--include-idle", is_flag=True,
              help="Also end plain 'idle' sessions (default: only 'idle in transaction').")
@dry_run_option(help="Print the SQL and the sessions, end nothing.")
@wait_option
@format_option()
@pass_app
def terminate_idle_cmd(app: App, older_than: str, include_idle: bool, dry_run: bool,
                       wait: float, fmt: str) -> int:
    """End sessions idle in transaction for longer than --older-than.

    Never ends odoo-ops' own sessions nor sessions of other databases.
    """
    from odoo_ops.adapters.locking import deployment_lock, deployment_lock_name
    from odoo_ops.audit.maintenance import parse_duration, terminate_idle
    from odoo_ops.report.table import Table

    seconds = parse_duration(older_than)
    target = app.target()
    db = target.database()
    if dry_run:
        result = terminate_idle(db, seconds, include_idle=include_idle, dry_run=True)
        app.info(f"dry run: would take lock {deployment_lock_name(target)!r} and run:")
        app.info(result.sql)
    else:
        with deployment_lock(target, wait=wait):
            result = terminate_idle(db, seconds, include_idle=include_idle)
    verb = "would end" if dry_run else "ended"
    table = Table(["pid", "user", "application", "state", "idle_seconds", "query"],
                  title=f"{verb} {len(result.sessions)} session(s)")  # fmt: skip
    for s in result.sessions:
        table.add(s.pid, s.user, s.application, s.state, round(s.idle_seconds), s.query)
    table.data = {"dry_run": dry_run, "sql": result.sql, "older_than_seconds": seconds,
                  "sessions": [s.__dict__ for s in result.sessions]}  # fmt: skip
    app.render(table, fmt)
    return 0
