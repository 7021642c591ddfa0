"""``audit modules``: disk vs database inventory on every Odoo version."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from odoo_ops.adapters.database import Database
from odoo_ops.addons import scan_addons_path
from odoo_ops.audit.modules import audit_modules
from tests.support import odoo_schema as S
from tests.support.addons import write_addon

pytestmark = pytest.mark.pg

OCA = "Odoo Community Association (OCA)"


def _world(odoo_db: Any, version: int, root: Path) -> tuple[Any, list[Path]]:
    db = odoo_db(version=version)
    series = f"{version}.0"
    first, second = root / "custom", root / "oca"
    first.mkdir()
    second.mkdir()
    write_addon(first, "x_ok", version="1.2.0")
    write_addon(second, "x_oca", version=f"{series}.1.0.3", author=OCA)
    write_addon(first, "x_new", version="1.0")
    write_addon(first, "x_dup", version="1.0")
    write_addon(second, "x_dup", version="2.0")
    bad = first / "x_bad"
    bad.mkdir()
    (bad / "__manifest__.py").write_text("{'name': 'Bad', 'version': foo()}")
    conn = db.connect()
    S.add_module(conn, "x_ok", latest_version=f"{series}.1.2.0", author="Me", license="LGPL-3")
    S.add_module(conn, "x_oca", latest_version=f"{series}.1.0.3", author=OCA)
    S.add_module(conn, "x_dup", latest_version=f"{series}.1.0")
    S.add_module(conn, "x_bad", latest_version=f"{series}.1.0")
    S.add_module(conn, "x_gone", latest_version=f"{series}.1.0")
    S.add_module(conn, "x_gone_uninst", state="uninstalled")
    conn.close()
    return db, [first, second]


def test_verdicts_and_findings(odoo_db: Any, odoo_version: int, tmp_path: Path) -> None:
    db, paths = _world(odoo_db, odoo_version, tmp_path)
    scan = scan_addons_path([str(p) for p in paths])
    result = audit_modules(Database(db.dsn), scan)
    rows = {r.name: r for r in result.rows}
    series = f"{odoo_version}.0"
    assert rows["x_ok"].verdict == "ok"
    assert rows["x_ok"].disk_version == f"{series}.1.2.0"
    assert rows["x_ok"].db_version == f"{series}.1.2.0"
    assert rows["x_ok"].path == str(paths[0] / "x_ok")
    assert rows["x_ok"].origin == "custom"
    assert rows["x_oca"].verdict == "ok" and rows["x_oca"].origin == "oca"
    assert rows["x_new"].verdict == "fs-only" and rows["x_new"].state is None
    assert rows["x_dup"].verdict == "shadowed"
    assert rows["x_dup"].shadowed_paths == [str(paths[1] / "x_dup")]
    assert rows["x_bad"].verdict == "invalid" and rows["x_bad"].critical
    assert rows["x_gone"].verdict == "db-only" and rows["x_gone"].critical
    assert rows["x_gone_uninst"].verdict == "db-only" and not rows["x_gone_uninst"].critical
    # Odoo's own modules: their code is not on this path
    assert rows["base"].verdict == "core" and rows["base"].origin == "core"
    assert rows["mail"].state == "installed"
    kinds = sorted((f.kind, f.record["name"]) for f in result.report.findings)
    assert kinds == [
        ("module-code-missing", "x_gone"),
        ("module-manifest-invalid", "x_bad"),
        ("module-not-in-database", "x_new"),
        ("module-shadowed", "x_dup"),
    ]
    assert result.report.counts["core"] == len([r for r in rows.values() if r.origin == "core"])
    assert any("not on the scanned addons path" in n for n in result.report.notes)


def test_core_on_path_makes_missing_core_code_critical(odoo_db: Any, tmp_path: Path) -> None:
    db = odoo_db(version=17)
    odoo_addons = tmp_path / "odoo_addons"
    odoo_addons.mkdir()
    for name in ("base", "web"):
        write_addon(odoo_addons, name, version="1.0", depends=[], author="Odoo S.A.")
    result = audit_modules(Database(db.dsn), scan_addons_path([str(odoo_addons)]))
    rows = {r.name: r for r in result.rows}
    assert rows["base"].verdict == "ok"
    # mail is installed in the seed, and Odoo's addons are on the path, but mail is not
    assert rows["mail"].verdict == "db-only" and rows["mail"].critical
    assert ("module-code-missing", "mail") in {(f.kind, f.record["name"])
                                               for f in result.report.findings}
