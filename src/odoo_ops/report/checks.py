"""Rendering a check report: table, JSON, JUnit XML, Markdown."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from xml.etree import ElementTree as ET

if TYPE_CHECKING:
    from odoo_ops.checks.base import CheckReport

_ICON = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}
_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}


def to_json(report: CheckReport) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"


def to_junit(report: CheckReport) -> str:
    counts = report.counts()
    suite = ET.Element(
        "testsuite",
        name=f"odoo-ops check ({report.deployment})",
        tests=str(len(report.results)),
        failures=str(counts["fail"]),
        skipped=str(counts["skip"]),
        errors="0",
        time=f"{report.duration:.3f}",
    )
    for r in report.results:
        case = ET.SubElement(
            suite, "testcase", classname=f"odoo-ops.{r.area}", name=r.id, time=f"{r.duration:.3f}"
        )
        text = r.message
        if r.remediation:
            text += f"\nFix: {r.remediation}"
        if r.evidence:
            text += "\n" + "\n".join(r.evidence)
        if r.status.value == "fail":
            ET.SubElement(case, "failure", message=r.message, type=r.severity.value).text = text
        elif r.status.value == "skip":
            ET.SubElement(case, "skipped", message=r.message)
        elif r.status.value == "warn":
            ET.SubElement(case, "system-out").text = "WARNING: " + text
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, "unicode") + "\n"


def to_markdown(report: CheckReport) -> str:
    lines = [f"# odoo-ops check: {report.deployment}", ""]
    c = report.counts()
    lines.append(
        f"**{c['fail']} failed, {c['warn']} warnings, {c['pass']} passed, {c['skip']} skipped**"
    )
    lines += ["", "| Status | Check | Area | Message | Fix |", "|---|---|---|---|---|"]

    def esc(t: str | None) -> str:
        return (t or "").replace("|", "\\|").replace("\n", "<br>")

    for r in report.results:
        lines.append(
            f"| {_ICON[r.status.value]} | `{r.id}` | {r.area} | {esc(r.message)} |"
            f" {esc(r.remediation)} |"
        )
    return "\n".join(lines) + "\n"


def to_table(
    report: CheckReport,
    *,
    color: bool,
    verbose: bool,
    width: int | None = None,
    quiet: bool = False,
) -> str:
    """The report as a terminal table; ``quiet`` keeps only failures and warnings."""
    import io

    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from odoo_ops.report.table import terminal_width

    console = Console(
        file=io.StringIO(),
        force_terminal=color,
        no_color=not color,
        width=width or terminal_width(),
    )
    table = Table(
        title=f"odoo-ops check: {report.deployment}", title_justify="left", show_lines=False
    )
    table.add_column("Status", no_wrap=True)
    table.add_column("Check", no_wrap=True)
    table.add_column("Result", overflow="fold")
    for r in report.results:
        if quiet and r.status.value not in ("fail", "warn"):
            continue
        body = Text(r.message)
        if r.remediation and r.status.value in ("fail", "warn"):
            body.append("\n→ " + r.remediation, style="cyan")
        if r.evidence and (verbose or r.status.value in ("fail", "warn")):
            shown = r.evidence if verbose else r.evidence[:5]
            for e in shown:
                body.append("\n  " + e, style="dim")
            if len(r.evidence) > len(shown):
                body.append(f"\n  … {len(r.evidence) - len(shown)} more (-v)", style="dim")
        table.add_row(Text(_ICON[r.status.value], style=_STYLE[r.status.value]), r.id, body)
    console.print(table)
    c = report.counts()
    console.print(
        f"{c['fail']} failed, {c['warn']} warnings, {c['pass']} passed, {c['skip']} skipped"
        f" in {report.duration:.1f}s",
        highlight=False,
    )
    return str(console.file.getvalue())  # type: ignore[attr-defined]
