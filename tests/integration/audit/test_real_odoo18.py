"""The real Odoo 18 database (restored from ../shared/fixtures) audits clean.

What the real database holds (read off it): 31 installed modules, among them the
OCA addons auditlog, base_technical_user, server_environment,
web_environment_ribbon and web_responsive (their code is not in the dump: the
test writes manifests with the installed versions); 24 'uninstallable' modules
that were never installed (enterprise and IoT modules Odoo lists: a note, not a
finding); 130 menus, 4 client actions (tags reload and three mail tags),
16 crons, two of them inactive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from odoo_ops.adapters.database import Database
from odoo_ops.addons import scan_addons_path
from odoo_ops.audit.broken import audit_broken
from odoo_ops.audit.modules import audit_modules
from tests.support.addons import write_addon

pytestmark = pytest.mark.pg

OCA = "Odoo Community Association (OCA)"
OCA_INSTALLED = {
    "auditlog": "18.0.2.0.9",
    "base_technical_user": "18.0.1.0.1",
    "server_environment": "18.0.1.1.5",
    "web_environment_ribbon": "18.0.1.0.3",
    "web_responsive": "18.0.1.0.10",
}


def test_real_database_audits_clean(real_odoo18_db: Any, tmp_path: Path) -> None:
    oca = tmp_path / "oca"
    oca.mkdir()
    for name, version in OCA_INSTALLED.items():
        write_addon(oca, name, version=version, author=OCA, depends=["web"])
    scan = scan_addons_path([str(oca)])
    db = Database(real_odoo18_db.dsn)

    broken = audit_broken(db, scan)
    assert broken.findings == []
    assert broken.schema_version == "18" and broken.series == "18.0"
    assert broken.counts["xmlid_models_checked"] >= 40
    assert broken.counts["client_actions"] == 4
    assert any("24 module(s) are 'uninstallable'" in n for n in broken.notes)

    modules = audit_modules(db, scan)
    assert modules.report.findings == []
    rows = {r.name: r for r in modules.rows}
    for name, version in OCA_INSTALLED.items():
        assert rows[name].verdict == "ok" and rows[name].origin == "oca"
        assert rows[name].disk_version == rows[name].db_version == version
    assert rows["base"].verdict == "core"
    assert rows["mail_debrand"].verdict == "db-only" and not rows["mail_debrand"].critical
    installed = [r for r in modules.rows if r.state == "installed"]
    assert len(installed) == 31


def test_real_database_crons_and_drift(real_odoo18_db: Any, tmp_path: Path) -> None:
    """The crons are all healthy except for time: the dump comes from a stopped server
    (every nextcall is 2026-11-23 or 2026-11-30), so a cron is genuinely overdue once more
    than one interval has passed since its nextcall. That is exactly what must be reported,
    and nothing else."""
    import datetime as dt

    from odoo_ops.audit.crons import _UNITS, audit_crons
    from odoo_ops.audit.drift import audit_drift

    db = Database(real_odoo18_db.dsn)
    result = audit_crons(db)
    assert len(result.rows) == 16
    assert {r.id for r in result.rows if not r.active} == {6, 16}
    assert result.now is not None
    expected = {
        r.id for r in result.rows
        if r.active and r.nextcall is not None
        and (result.now - r.nextcall)
        > dt.timedelta(seconds=int(r.interval.split()[0]) * _UNITS[r.interval.split()[1]])
    }
    assert {f.record["cron_id"] for f in result.report.findings} == expected
    assert {f.kind for f in result.report.findings} <= {"cron-overdue"}
    assert {r.module for r in result.rows} >= {"base", "mail", "auditlog"}

    oca = tmp_path / "oca"
    oca.mkdir()
    for name, version in OCA_INSTALLED.items():
        write_addon(oca, name, version=version, author=OCA)
    drift = audit_drift(db, scan_addons_path([str(oca)]))
    assert drift.report.findings == []
    assert drift.report.counts == {"same": 5, "no-code": 26}
