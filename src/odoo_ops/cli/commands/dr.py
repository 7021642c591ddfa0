"""``odoo-ops dr``: disaster-recovery drills."""

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


@click.group("dr")
def command() -> None:
    """Disaster-recovery drills: restore from off-site, start Odoo, measure RTO and RPO.

    A drill does what the runbook's "complete server failure" scenario does
    by hand, on scratch copies, and records the measured RTO and RPO under
    .odoo-ops/<deployment>/dr/ (JSON and Markdown).
    """


@command.command("drill")
@deployment_options
@click.option(
    "--from", "from_remote", metavar="REMOTE",
    help="Fetch the newest copy from this remote (default: the newest verified local backup).",
)  # fmt: skip
@click.option(
    "--target", "onto", metavar="NAME",
    help="Restore and start Odoo on deployment NAME of odoo-ops.toml (its database server,"
    " data_dir and runner), as a scratch database (default: this deployment).",
)  # fmt: skip
@click.option(
    "--timeout", type=click.FloatRange(1), default=600.0, show_default=True,
    help="Seconds to wait for Odoo to answer /web/health.",
)  # fmt: skip
@dry_run_option(help="Say what the drill would do, do nothing.")
@wait_option
@format_option("table", "json")
@pass_app
def drill(
    app: App,
    from_remote: str | None,
    onto: str | None,
    timeout: float,
    dry_run: bool,
    wait: float,
    fmt: str,
) -> int:
    """Fetch, restore (neutralized) into a scratch database, start Odoo, compare, tear down.

    RTO is the time from the start of the drill to Odoo answering /web/health;
    RPO is the start of the drill minus the backup's snapshot time. Exit 1 when
    the drill fails or misses [dr] rto_minutes / rpo_minutes. With --target, the
    backup of this deployment (-D) is drilled on another deployment's server; the
    record stays with this deployment and names the target.
    """
    from odoo_ops.cli.commands.backup import _progress
    from odoo_ops.dr.drill import drill_target, run_drill
    from odoo_ops.report.table import render_json, to_jsonable

    target = app.target()
    host = drill_target(target, onto)
    if dry_run:
        source = (
            f"the newest copy on remote {from_remote}"
            if from_remote
            else ("the newest verified local backup")
        )
        app.out(
            f"would fetch {source} of deployment {target.name}, restore it neutralized into"
            f" a scratch database on deployment {host.name}'s database server and data_dir,"
        )
        app.out(
            f"start Odoo on it through the {host.deployment.runner} runner of deployment"
            f" {host.name} on a free port (reached on 127.0.0.1), wait for /web/health,"
        )
        app.out("compare modules and row counts with the manifest, record RTO/RPO, drop it all")
        return 0
    with _progress(app, "dr drill") as report:
        result = run_drill(
            target, from_remote=from_remote, onto=onto, timeout=timeout, progress=report
        )
    if fmt == "json":
        app.out(render_json({**to_jsonable(result), "rto_ok": result.rto_ok,
                             "rpo_ok": result.rpo_ok}))  # fmt: skip
    else:
        rto = f"{result.rto_seconds:.1f} s" if result.rto_seconds is not None else "not reached"
        rpo = f"{result.rpo_seconds / 60:.1f} min" if result.rpo_seconds is not None else "?"
        app.out(
            f"dr drill {result.backup} ({result.source}) on {result.target}:"
            f" {'pass' if result.ok else 'FAIL'};"
            f" RTO {rto} (limit {result.rto_limit_minutes:g} min), RPO {rpo}"
            f" (limit {result.rpo_limit_minutes:g} min)"
        )
        for problem in result.problems + result.notes:
            app.out(f"  - {problem}")
        app.out(f"  recorded: {result.markdown_path}")
    return 0 if result.ok else 1
