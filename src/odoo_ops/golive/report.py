"""The go-live report: Markdown and one self-contained HTML page, plus saved check runs."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from odoo_ops.fileutil import atomic_write_text
from odoo_ops.golive.board import Board, checks_dir

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.checks.base import CheckReport

STATUS_LABEL = {"done": "done", "failed": "FAILED", "pending": "pending", "attention": "attention"}


@functools.cache
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("odoo_ops.golive", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _md(text: Any) -> str:
    return str(text or "").replace("|", "\\|").replace("\n", " ")


def _when(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def _context(board: Board) -> dict[str, Any]:
    return {
        "board": board,
        "counts": board.counts(),
        "phases": board.by_phase(),
        "signed": [s for s in board.items if s.signoff is not None],
        "manual": [s for s in board.items if s.item.evidence is None],
        "label": STATUS_LABEL,
        "when": _when,
        "md": _md,
    }


def to_markdown(board: Board) -> str:
    return _env().get_template("report.md.j2").render(**_context(board))


def to_html(board: Board) -> str:
    return _env().get_template("report.html.j2").render(**_context(board))


@dataclass
class WrittenReport:
    markdown: Path
    html: Path


def write_report(
    board: Board, directory: Path, redact: Any = None, *, create_directory: bool = True
) -> WrittenReport:
    """Write ``golive-report.md`` and ``golive-report.html`` into ``directory``.

    Without ``create_directory`` (a directory the user named) it must exist; a
    link, FIFO or device in place of either file is refused.
    """
    from odoo_ops.fileutil import check_output_path, write_output

    redact = redact or (lambda text: text)
    md_path, html_path = directory / "golive-report.md", directory / "golive-report.html"
    for path in (md_path, html_path):  # refuse either before writing the first
        check_output_path(path, create_parents=create_directory)
    write_output(md_path, redact(to_markdown(board)), create_parents=create_directory)
    write_output(html_path, redact(to_html(board)), create_parents=create_directory)
    return WrittenReport(md_path, html_path)


def save_check_report(target: Target, report: CheckReport, now: dt.datetime | None = None) -> Path:
    """Store a check report where the board reads it (``.odoo-ops/<deployment>/checks/``)."""
    import json

    now = now or dt.datetime.now(dt.UTC)
    path = checks_dir(target) / f"check-{now:%Y%m%dT%H%M%SZ}.json"
    atomic_write_text(
        path, target.redactor(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    )
    return path


def run_checks_for_board(target: Target) -> Path:
    """Run the quick checks in-process and save their report for the board."""
    from odoo_ops.checks import all_checks
    from odoo_ops.checks.context import CheckContext
    from odoo_ops.checks.run import run_checks, select_checks

    ctx = CheckContext(target)
    report = run_checks(ctx, select_checks(all_checks()))
    return save_check_report(target, report)
