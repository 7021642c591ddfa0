"""``odoo-ops verify``: critical vs non-critical gates, exit codes 0/1/2, the Markdown report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_audit_cli import odoo_ops, write_project
from tests.support import odoo_schema as S
from tests.support.addons import write_addon

pytestmark = pytest.mark.pg

OCA = "Odoo Community Association (OCA)"


def _project(tmp_path: Path, db: Any, addons: Path, *, modules: str, thresholds: str) -> Path:
    extra = (
        "\n[module_sets.finance]\nmodules = [\"x_fin\", \"contacts\"]\n"
        f"\n[verify]\nmodules = [{modules}]\nsets = [\"finance\"]\n"
        f"\n[thresholds]\n{thresholds}\n"
    )
    return write_project(tmp_path / "proj", db.dsn, [addons], extra)


@pytest.fixture
def world(odoo_db: Any, tmp_path: Path) -> tuple[Any, Path]:
    db = odoo_db(version=18)
    addons = tmp_path / "addons"
    addons.mkdir()
    write_addon(addons, "x_fin", version="1.0")
    write_addon(addons, "x_oca_tool", version="1.0", author=OCA)
    conn = db.connect()
    S.add_module(conn, "x_fin", latest_version="18.0.1.0", category="Accounting")
    S.add_module(conn, "x_oca_tool", latest_version="18.0.1.0", author=OCA)
    conn.close()
    return db, addons


def test_all_gates_pass_and_report(world: tuple[Any, Path], tmp_path: Path) -> None:
    db, addons = world
    proj = _project(tmp_path, db, addons, modules='"mail", "x_oca_tool"',
                    thresholds="min_installed_modules = 5\nmin_categories = 2\n"
                    "min_oca_modules = 1\nmin_menus = 10")
    report = tmp_path / "out" / "verify.md"
    report.parent.mkdir()  # --report never creates directories
    proc = odoo_ops("verify", "--strict", "--report", str(report), "--format", "json", cwd=proj)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    gates = {g["id"]: g for g in data["gates"]}
    assert all(g["passed"] for g in gates.values())
    assert gates["min-oca-modules"]["actual"] == "1"
    assert gates["set:finance"]["critical"] is True
    text = report.read_text()
    assert text.startswith("# odoo-ops verify:") and "**PASS**" in text
    assert "| module set finance installed | yes | pass |" in text
    assert not list(report.parent.glob(".*.tmp"))  # atomic write left no temporary file


def test_critical_failure_exits_1(world: tuple[Any, Path], tmp_path: Path) -> None:
    db, addons = world
    conn = db.connect()
    S.add_module(conn, "x_stuck", state="to upgrade")
    conn.close()
    proj = _project(tmp_path, db, addons, modules='"mail", "sale"',
                    thresholds="min_installed_modules = 1")
    report = tmp_path / "verify.md"
    proc = odoo_ops("verify", "--report", str(report), cwd=proj)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    text = report.read_text()
    assert "FAIL (critical)" in text and "not installed: sale" in text
    assert "x_stuck is stuck in 'to upgrade'" in text


def test_non_critical_failure_exits_2_only_with_strict(world: tuple[Any, Path],
                                                       tmp_path: Path) -> None:
    db, addons = world
    write_addon(addons, "x_fin", version="1.1")  # code newer than the database: pending -u
    proj = _project(tmp_path, db, addons, modules='"mail"',
                    thresholds="min_menus = 100000\nmin_oca_modules = 3")
    proc = odoo_ops("verify", "--format", "json", cwd=proj)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)
    failed = sorted(g["id"] for g in data["gates"] if not g["passed"])
    assert failed == ["min-menus", "min-oca-modules", "no-pending-upgrades"]
    proc = odoo_ops("verify", "--strict", cwd=proj)
    assert proc.returncode == 2
    assert "non-critical" in proc.stdout
