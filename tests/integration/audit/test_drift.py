"""``audit drift`` on every Odoo version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from odoo_ops.adapters.database import Database
from odoo_ops.addons import scan_addons_path
from odoo_ops.audit.drift import audit_drift
from tests.support import odoo_schema as S
from tests.support.addons import write_addon

pytestmark = pytest.mark.pg


def test_drift(odoo_db: Any, odoo_version: int, tmp_path: Path) -> None:
    db = odoo_db(version=odoo_version)
    series = f"{odoo_version}.0"
    addons = tmp_path / "addons"
    addons.mkdir()
    write_addon(addons, "x_same", version="1.0")  # bare: means SERIES.1.0
    write_addon(addons, "x_newer", version=f"{series}.1.1.0")
    write_addon(addons, "x_older", version="1.0.0")
    write_addon(addons, "x_stuck", version="1.0")
    write_addon(addons, "x_zeros", version=f"{series}.1.0.0")  # == SERIES.1.0 for Odoo
    conn = db.connect()
    S.add_module(conn, "x_same", latest_version=f"{series}.1.0")
    S.add_module(conn, "x_newer", latest_version=f"{series}.1.0.9")
    S.add_module(conn, "x_older", latest_version=f"{series}.2.0.0")
    S.add_module(conn, "x_stuck", state="to upgrade")
    S.add_module(conn, "x_noted", state="uninstalled")
    S.add_module(conn, "x_zeros", latest_version=f"{series}.1.0")
    conn.close()
    result = audit_drift(Database(db.dsn), scan_addons_path([str(addons)]))
    status = {r.name: r.status for r in result.rows}
    assert status["x_same"] == "same"
    assert status["x_newer"] == "needs-update"
    assert status["x_older"] == "downgrade"
    assert status["x_stuck"] == "pending"
    assert status["x_zeros"] == "same"
    assert status["base"] == "no-code"
    assert "x_noted" not in status
    found = sorted((f.kind, f.record["name"]) for f in result.report.findings)
    assert found == [("module-downgrade", "x_older"), ("module-needs-update", "x_newer"),
                     ("module-pending", "x_stuck")]
    newer = next(f for f in result.report.findings if f.kind == "module-needs-update")
    assert newer.fix_command and "-u x_newer" in newer.fix_command
    assert f"{series}.1.1.0" in newer.problem
