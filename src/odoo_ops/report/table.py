"""A tabular result and its renderers (table, json, csv, markdown)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from odoo_ops.jsondata import render_json, to_jsonable

FORMATS = ("table", "json", "csv", "markdown")


@dataclass
class Table:
    """Rows of cells under named columns, with an optional title and notes.

    ``data`` is what JSON output carries when set (a richer document than the
    rows); otherwise JSON is ``{"columns": [...], "rows": [{col: value}]}``.
    """

    columns: Sequence[str]
    rows: list[Sequence[Any]] = field(default_factory=list)
    title: str | None = None
    notes: list[str] = field(default_factory=list)
    data: Any = None
    styles: Mapping[str, str] = field(default_factory=dict)

    def add(self, *cells: Any) -> None:
        if len(cells) != len(self.columns):
            raise ValueError(f"row has {len(cells)} cells, table has {len(self.columns)} columns")
        self.rows.append(cells)

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(_cell(v) for v in value)
    value = to_jsonable(value)
    return str(value)


def _markdown(table: Table) -> str:
    def esc(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", "<br>")

    out = []
    if table.title:
        out.append(f"## {table.title}\n")
    out.append("| " + " | ".join(esc(c) for c in table.columns) + " |")
    out.append("|" + "|".join("---" for _ in table.columns) + "|")
    for row in table.rows:
        out.append("| " + " | ".join(esc(_cell(v)) for v in row) + " |")
    if table.notes:
        out.append("")
        out.extend(f"- {n}" for n in table.notes)
    return "\n".join(out) + "\n"


def _csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.columns)
    for row in table.rows:
        writer.writerow([_cell(v) for v in row])
    return buf.getvalue()


def terminal_width() -> int:
    """The terminal's width (or ``COLUMNS``); 120 when output goes to a file or pipe."""
    import shutil

    return max(40, shutil.get_terminal_size((120, 24)).columns)


def _rich(table: Table, color: bool, width: int | None) -> str:
    from rich.console import Console
    from rich.table import Table as RichTable

    rt = RichTable(title=table.title, show_lines=False, title_justify="left")
    for col in table.columns:
        rt.add_column(col, style=table.styles.get(col), overflow="fold")
    for row in table.rows:
        rt.add_row(*(_cell(v) for v in row))
    console = Console(
        file=io.StringIO(),
        force_terminal=color,
        no_color=not color,
        width=width or terminal_width(),
    )
    console.print(rt)
    for note in table.notes:
        console.print(note, highlight=False, markup=False)
    out = console.file.getvalue()  # type: ignore[attr-defined]
    return str(out)


def render(table: Table, fmt: str, *, color: bool = False, width: int | None = None) -> str:
    """Render ``table`` in one of :data:`FORMATS`."""
    if fmt == "json":
        if table.data is not None:
            return render_json(table.data) + "\n"
        return render_json({"columns": list(table.columns), "rows": table.records()}) + "\n"
    if fmt == "csv":
        return _csv(table)
    if fmt == "markdown":
        return _markdown(table)
    if fmt == "table":
        return _rich(table, color, width)
    raise ValueError(f"unknown format {fmt!r}")
