"""``odoo-ops deploy``: deploy a commit, roll back automatically when it breaks."""

from __future__ import annotations

import click

from odoo_ops.cli.common import (
    App,
    deployment_options,
    dry_run_option,
    pass_app,
    split_names,
    wait_option,
)


def _fault(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    from odoo_ops.deploy import PHASES

    phase, _, mode = value.partition(":")
    if phase not in PHASES or (mode or "fail") not in ("fail", "kill"):
        raise click.BadParameter(f"expected PHASE[:fail|kill], phases: {', '.join(PHASES)}")
    return phase, mode or "fail"


@click.group("deploy", invoke_without_command=True)
@deployment_options
@click.option("--ref", metavar="REF", help="Git ref to deploy (default: the branch's upstream).")
@click.option(
    "--modules",
    "-m",
    "modules",
    multiple=True,
    metavar="NAMES",
    help="Update these modules (default: the changed ones).",
)
@click.option(
    "--changed/--no-changed",
    default=True,
    show_default=True,
    help="Update the modules whose files changed.",
)
@click.option("--no-rollback", is_flag=True, help="Do not roll back when a phase fails.")
@click.option("--force", is_flag=True, help="Deploy even when `check --quick` fails.")
@click.option("--pull", is_flag=True, help="docker compose pull the Odoo image.")
@click.option("--build", is_flag=True, help="docker compose build the Odoo image.")
@click.option("--no-fetch", is_flag=True, help="Do not git fetch (deploy a local ref).")
@click.option(
    "--no-instant", is_flag=True, help="No instant rollback copy (rollback restores the backup)."
)
@click.option(
    "--restart-timeout",
    type=float,
    default=120.0,
    show_default=True,
    help="Seconds to wait for Odoo to be healthy after the restart.",
)
@wait_option
@dry_run_option(help="Print the phases and exit.")
@click.option(
    "--inject-fault",
    hidden=True,
    envvar="ODOO_OPS_INJECT_FAULT",
    help="Testing: PHASE[:fail|kill].",
)
@pass_app
@click.pass_context
def command(
    ctx: click.Context,
    app: App,
    ref: str | None,
    modules: tuple[str, ...],
    changed: bool,
    no_rollback: bool,
    force: bool,
    pull: bool,
    build: bool,
    no_fetch: bool,
    no_instant: bool,
    restart_timeout: float,
    wait: float,
    dry_run: bool,
    inject_fault: str | None,
) -> int:
    """Deploy: preflight, lock, maintenance, rollback point, code, addons,
    modules, restart, verify, snapshot, finish.

    A failure in code…verify rolls back code, database, filestore, crons and
    maintenance to where they were. Exit code: the number of failed
    verifications (0 = deployed).
    """
    if ctx.invoked_subcommand is not None:
        return 0
    from odoo_ops.deploy import Deployer, DeployOptions

    names = split_names(list(modules))
    options = DeployOptions(
        ref=ref,
        modules=names,
        changed=changed and not names,
        rollback=not no_rollback,
        force=force,
        pull=pull,
        build=build,
        fetch=not no_fetch,
        wait=wait,
        restart_timeout=restart_timeout,
        instant=not no_instant,
        dry_run=dry_run,
        fault=_fault(inject_fault),
    )
    target = app.target()
    deployer = Deployer(target, options, say=app.info)
    result = deployer.run()
    if dry_run:
        app.out("\n".join(result.plan) + "\n")
        return 0
    record = result.record
    for note in result.notes:
        app.warn(note)
    if record.result == "deployed":
        app.out(f"deployed {record.ref_after or record.ref_before or ''} ({record.id})\n")
        return 0
    app.out(
        f"deploy {record.id}: {record.result} — failed in {record.failed_phase}: {record.error}\n"
    )
    if result.rollback_error:
        app.warn(f"ROLLBACK FAILED: {result.rollback_error}")
        app.warn(f"run `odoo-ops rollback {record.id}` after fixing the cause")
        return EXIT_ROLLBACK_FAILED
    return 1


#: A deploy failed and so did its rollback: the deployment is not as it was.
#: (1 is a failed deploy that was rolled back; 2 and 3 keep their global meaning.)
EXIT_ROLLBACK_FAILED = 4


@command.command("history")
@deployment_options
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "markdown"]),
    default="table",
    show_default=True,
)
@click.option("--limit", type=int, default=20, show_default=True)
@pass_app
def history(app: App, fmt: str, limit: int) -> None:
    """The deploy journal: id, who, when, refs, backup, phase times, result."""
    from odoo_ops.deploy import journal_of
    from odoo_ops.report import Table

    records = sorted(journal_of(app.target()).records(), key=lambda r: r.started_at)[-limit:]
    # --pull/--build deploys: the image id each Odoo service ran before (docs/topology.md)
    images = any(r.images for r in records)
    table = Table(
        ["id", "kind", "who", "started", "ref before", "ref after", "backup", "phases", "result"]
        + (["images before"] if images else []),
        title="deploy history",
    )
    for r in records:
        phases = " ".join(
            f"{p.name}:{p.seconds:.1f}s{'' if p.status == 'ok' else '!'}" for p in r.phases
        )
        kept = " ".join(f"{s}={k.get('id', '')[7:19]}" for s, k in r.images.items())
        table.add(
            r.id,
            r.kind,
            r.who,
            r.started_at,
            (r.ref_before or "")[:12],
            (r.ref_after or "")[:12],
            r.backup,
            phases,
            r.result,
            *([kept] if images else []),
        )
    table.data = records
    app.render(table, fmt)
