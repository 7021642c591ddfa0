"""The SQL of the modules actions against a real Odoo 18 database (skipped without the dump)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from odoo_ops.adapters import Target
from odoo_ops.adapters.project import resolve_project
from odoo_ops.modules import crons as cronx
from odoo_ops.modules.context import load_context
from odoo_ops.modules.plan import build_plan
from odoo_ops.modules.uninstall import uninstall_impact

pytestmark = pytest.mark.pg


@pytest.fixture
def real_target(real_odoo18_copy: Any, tmp_path: Path) -> Target:
    root = tmp_path / "project"
    root.mkdir()
    (root / "odoo-ops.toml").write_text(
        f'[deployments.real]\nseries = "18.0"\ndsn = "{real_odoo18_copy.dsn}"\n'
    )
    return Target(resolve_project(root))


def test_uninstall_impact_of_a_real_oca_module(real_target: Target) -> None:
    ctx = load_context(real_target)
    assert ctx.modules["auditlog"].state == "installed"
    impact = uninstall_impact(ctx, ["auditlog"])
    tables = {m.table for m in impact.models}
    assert {"auditlog_rule", "auditlog_log"} <= tables
    assert all(m.rows is not None for m in impact.models if m.table == "auditlog_rule")
    assert "res.partner" not in {m.model for m in impact.models}  # owned by base too
    assert impact.records.get("ir.model", 0) >= 2


def test_plan_on_a_real_database_knows_core_dependencies(real_target: Target) -> None:
    ctx = load_context(real_target)
    plan = build_plan(ctx, ["mail_debrand", "contacts"])
    assert "contacts" in plan.plan.installed
    # mail_debrand's code is not on this host, but the database knows its dependencies
    assert ctx.modules["mail_debrand"].state == "uninstalled"
    assert plan.waves and "mail_debrand" in plan.waves[-1]


def test_pause_and_resume_real_crons(real_target: Target, real_odoo18_copy: Any) -> None:
    def active() -> set[int]:
        with real_odoo18_copy.connect() as conn:
            return {r[0] for r in conn.execute("SELECT id FROM ir_cron WHERE active")}

    before = active()
    status = cronx.crons_status(real_target)
    assert {c.name for c in status.crons} >= {"Base: Auto-vacuum internal data"}
    paused = cronx.pause_crons(real_target)
    assert set(paused.ids) == before and active() == set()
    cronx.resume_crons(real_target)
    assert active() == before
