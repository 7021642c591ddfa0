"""Commands pointed at a database without Odoo's tables say so in one line."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from odoo_ops.cli.main import main
from tests.support.pg import TestDatabase

COMMANDS = [
    ["crons", "status"],
    ["maintenance", "status"],
    ["modules", "plan", "base"],
    ["audit", "modules"],
    ["audit", "crons"],
    ["verify"],
    ["snapshot", "create"],
]


@pytest.mark.pg
@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_database_without_odoo_tables(
    args: list[str],
    make_database: Callable[..., TestDatabase],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = make_database("bare")
    (tmp_path / "odoo-ops.toml").write_text(
        f'[deployments.production]\nseries = "18.0"\ndsn = "{db.dsn}"\n'
    )
    try:
        code = main([*args, "-C", str(tmp_path)])
    except SystemExit as exc:
        code = exc.code
    out = capsys.readouterr()
    assert code != 3, out.err
    assert "unexpected error" not in out.err and "Traceback" not in out.err
    assert "not an Odoo database" in out.out + out.err, out.out + out.err
