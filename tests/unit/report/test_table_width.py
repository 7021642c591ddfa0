"""Tables fit the terminal they are printed on."""

from __future__ import annotations

import pytest

from odoo_ops.report.table import Table, render


def _table() -> Table:
    table = Table(["name", "what"], title="width")
    table.add("a-rather-long-name", "words " * 40)
    return table


@pytest.mark.parametrize("columns", [60, 80, 160])
def test_table_follows_columns(monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    lines = render(_table(), "table").splitlines()
    assert max(len(line) for line in lines) == columns


def test_explicit_width_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    assert max(len(line) for line in render(_table(), "table", width=90).splitlines()) == 90


def test_csv_has_one_row_per_record() -> None:
    out = render(_table(), "csv").splitlines()
    assert out[0] == "name,what"
    assert out[1].startswith("a-rather-long-name,")
