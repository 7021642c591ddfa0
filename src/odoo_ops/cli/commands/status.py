"""``odoo-ops status``: is the deployment fine? The answer first, from the records."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from odoo_ops.cli.common import App, deployment_options, format_option, pass_app

if TYPE_CHECKING:
    from odoo_ops.adapters import Target


def targets_of(app: App, all_deployments: bool) -> list[Target]:
    """The selected deployment, or every deployment of odoo-ops.toml."""
    first = app.target()
    if not all_deployments:
        return [first]
    targets = [first]
    for name in first.project.config.deployments:
        if name == first.name:
            continue
        other = App(verbose=app.verbose, quiet=app.quiet, color=app.color,
                    options={**app.options, "deployment": name})  # fmt: skip
        targets.append(other.target())
    return sorted(targets, key=lambda t: t.name)


@click.command("status")
@deployment_options
@format_option("table", "json")
@click.option(
    "--all-deployments",
    "-a",
    is_flag=True,
    help="Every deployment of odoo-ops.toml, not only the selected one.",
)
@click.option(
    "--no-database",
    is_flag=True,
    help="Read records only: do not ask the database for pending module upgrades.",
)
@pass_app
def command(app: App, fmt: str, all_deployments: bool, no_database: bool) -> int:
    """Is the deployment fine? Health, last deploy, newest backup, last check, upgrades, go-live.

    Read from the records odoo-ops keeps (health history, deploy journal,
    backups and their verify / test-restore records, saved check reports, the
    go-live board); only pending module upgrades ask the database, with a
    2-second timeout ("unknown" and why when it does not answer). Exit code:
    0 nothing needs a person, 1 something does (unhealthy, backup too old or
    failed, last deploy failed or rolled back, failed checks, pending upgrades).
    """
    from odoo_ops.report.table import Table, to_jsonable
    from odoo_ops.status.model import deployment_status, summary_rows

    statuses = [deployment_status(t, ask_database=not no_database)
                for t in targets_of(app, all_deployments)]  # fmt: skip
    attention = any(s.needs_attention for s in statuses)
    if fmt == "json":
        table = Table(["deployment"])
        table.data = {
            "needs_attention": attention,
            "deployments": [
                {**to_jsonable(s), "needs_attention": s.needs_attention, "verdict": s.verdict}
                for s in statuses
            ],
        }
        app.render(table, fmt)
        return 1 if attention else 0
    for status in statuses:
        title = f"{status.deployment}: {status.verdict}"
        table = Table(["what", "state", "detail"], title=title)
        for row in summary_rows(status):
            table.add(*row)
        table.notes.extend(f"needs attention: {reason}" for reason in status.attention)
        app.render(table, fmt)
    return 1 if attention else 0
