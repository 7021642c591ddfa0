"""``odoo-ops golive``: the go-live board (status, sign, report)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from odoo_ops.cli.common import App, deployment_options, pass_app

if TYPE_CHECKING:
    from odoo_ops.golive.board import Board


@click.group("golive")
def command() -> None:
    """The go-live checklist as a board that fills itself from evidence.

    Phases T-14 … Weeks 2-4; items proven by `odoo-ops check` reports, backup
    test-restores, health history and load tests, the others signed by people
    (stored in golive.signoff.toml in the project, reviewed in git). Adapt the
    checklist in [golive] of odoo-ops.toml.
    """


def _board_table(board: Board) -> object:
    from odoo_ops.report.table import Table, to_jsonable

    table = Table(
        ["phase", "status", "item", "category", "evidence", "date"],
        title=f"go-live board: {board.deployment} — {board.verdict}",
    )
    for state in board.items:
        if state.evidence is not None:
            evidence = f"{state.evidence.kind}: {state.evidence.summary}"
            when = state.evidence.at
        elif state.signoff is not None:
            evidence = f"signed by {state.signoff.by}"
            when = state.signoff.at
        else:
            evidence = "sign-off needed"
            when = None
        status = state.status + (" (overdue)" if state.overdue else "")
        table.add(
            state.item.phase,
            status,
            f"{state.item.id}: {state.item.title}",
            state.item.category,
            evidence,
            when.strftime("%Y-%m-%d %H:%M") if when else "",
        )
    for c in board.rollback:
        table.notes.append(f"rollback criterion: {c.title}: {c.status} ({c.detail})")
    counts = board.counts()
    table.notes.append(
        f"{counts['done']} done, {counts['failed']} failed, {counts['attention']} attention,"
        f" {counts['pending']} pending"
    )
    table.notes.append(f"verdict: {board.verdict}")
    table.notes.extend(f"  - {r}" for r in board.reasons)
    table.data = to_jsonable(board)
    return table


def _build(app: App, run_checks: bool) -> Board:
    from odoo_ops.golive import build_board, run_checks_for_board

    target = app.target()
    if run_checks:
        path = run_checks_for_board(target)
        app.info(f"check report saved to {path}")
    return build_board(target)


@command.command("status")
@deployment_options
@click.option(
    "--run-checks", is_flag=True, help="Run the quick checks first and save their report."
)
@click.option("--gate", is_flag=True, help="Exit 1 when the verdict is NO-GO.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "csv", "markdown"]),
    default="table",
    show_default=True,
)
@pass_app
def status(app: App, run_checks: bool, gate: bool, fmt: str) -> int:
    """Show every item with its latest evidence or sign-off, and the verdict."""
    from odoo_ops.report.table import Table

    board = _build(app, run_checks)
    table = _board_table(board)
    assert isinstance(table, Table)
    app.render(table, fmt)
    return 1 if gate and board.verdict != "GO" else 0


@command.command("sign")
@deployment_options
@click.argument("item")
@click.option("--by", "by", required=True, metavar="NAME", help="Who signs.")
@click.option("--note", metavar="TEXT", help="What was checked, where the proof is.")
@click.option("--revoke", "revoke_it", is_flag=True, help="Remove the sign-off instead.")
@pass_app
def sign(app: App, item: str, by: str, note: str | None, revoke_it: bool) -> int:
    """Sign ITEM of the checklist as done (stored in the project's sign-off file)."""
    import datetime as dt

    from odoo_ops.errors import UsageError
    from odoo_ops.golive import load_checklist, revoke, sign

    target = app.target()
    config = target.project.config.golive
    checklist = load_checklist(config)
    found = checklist.get(item)
    if found is None:
        close = [i.id for i in checklist.items if item.split("-")[0] in i.id][:5]
        hint = f"did you mean {', '.join(close)}?" if close else "see `odoo-ops golive status`"
        raise UsageError(f"no go-live item {item!r}", hint=hint)
    if not by.strip():
        raise UsageError("--by needs a name")
    path = target.project.path(config.signoff_file)
    if revoke_it:
        if revoke(path, item):
            app.out(f"{item}: sign-off removed ({path})")
        else:
            app.out(f"{item}: was not signed")
        return 0
    entry = sign(path, item, by, note, dt.datetime.now(dt.UTC).replace(microsecond=0))
    app.out(f"{item}: signed by {entry.by} at {entry.at.isoformat()} ({path})")
    if found.evidence:
        app.info(
            f"note: {item} is proven by evidence ({found.evidence}); the evidence decides"
            " when it exists, the sign-off counts only while there is none"
        )
    return 0


@command.command("report")
@deployment_options
@click.option(
    "--output",
    "-o",
    "output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Existing directory for golive-report.md and .html"
    " (default: .odoo-ops/<deployment>/golive, created).",
)
@click.option(
    "--run-checks", is_flag=True, help="Run the quick checks first and save their report."
)
@click.option("--gate", is_flag=True, help="Exit 1 when the verdict is NO-GO.")
@pass_app
def report(app: App, output: Path | None, run_checks: bool, gate: bool) -> int:
    """Write the report as Markdown and as one self-contained HTML page."""
    from odoo_ops.golive import write_report

    board = _build(app, run_checks)
    target = app.target()
    directory = output or (target.state_dir / "golive")
    written = write_report(board, directory, target.redactor, create_directory=output is None)
    app.out(f"verdict: {board.verdict}")
    for reason in board.reasons:
        app.out(f"  - {reason}")
    app.out(f"wrote {written.markdown}")
    app.out(f"wrote {written.html}")
    return 1 if gate and board.verdict != "GO" else 0
