"""``audit broken`` and ``audit crons`` on fixture databases of every Odoo version: each
planted breakage is found, and nothing healthy is flagged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from odoo_ops.adapters.database import Database
from odoo_ops.addons import scan_addons_path
from odoo_ops.audit.broken import audit_broken
from odoo_ops.audit.crons import audit_crons
from tests.integration.audit.conftest import build_broken_world

pytestmark = pytest.mark.pg


def _key(f: Any) -> tuple[str, str]:
    r = f.record
    if f.kind.startswith("module-"):
        return f.kind, r["name"]
    if f.kind.startswith("menu-"):
        return f.kind, str(r["menu_id"])
    if f.kind in ("window-action-missing-model", "client-action-unregistered"):
        return f.kind, str(r["action_id"])
    return f.kind, f"{r['module']}:{r['model']}"


def test_every_breakage_found_and_nothing_healthy(odoo_db: Any, odoo_version: int,
                                                  tmp_path: Path) -> None:
    w = build_broken_world(odoo_db, odoo_version, tmp_path)
    scan = scan_addons_path([str(w.addons)])
    report = audit_broken(Database(w.db.dsn), scan)
    found = {_key(f) for f in report.findings}
    assert found == w.expected
    assert report.schema_version == str(min(odoo_version, 18)) or (
        odoo_version == 19 and report.schema_version == "18")
    assert report.series == f"{odoo_version}.0"
    by_key = {_key(f): f for f in report.findings}

    # the client action without handler names the menu leading to it
    lost = by_key[("client-action-unregistered", str(w.ids["ca_missing"]))]
    assert "Broken App / Lost Screen" in lost.problem
    assert lost.severity == "error"
    assert lost.record["menus"] == [w.ids["menu_ca_missing"]]
    uninst = by_key[("client-action-unregistered", str(w.ids["ca_uninst"]))]
    assert uninst.record["registered_by"] == ["x_uninst"]
    assert "-i x_uninst" in (uninst.fix_command or "")

    # a reference to an existing window action, but as a client action, is broken
    wrong = by_key[("menu-missing-action", str(w.ids["menu_wrong_table"]))]
    assert "ir_act_client" in wrong.problem
    assert "-u x_dash" in (wrong.fix_command or "")
    mid = w.ids["menu_wrong_table"]
    assert wrong.fix_sql == f"UPDATE ir_ui_menu SET active = false WHERE id = {mid};"

    # the orphan menu's name has no en_US translation: any language is used
    orphan = by_key[("menu-missing-parent", str(w.ids["menu_orphan"]))]
    assert "Orphelin" in orphan.subject

    # external ids of window actions are checked against ir_act_window
    act = by_key[("xmlid-record-missing", "x_alias:ir.actions.act_window")]
    assert act.record["table"] == "ir_act_window"
    partners = by_key[("xmlid-record-missing", "x_dash:res.partner")]
    assert partners.record["count"] == 2
    assert partners.record["sample"] == ["x_dash.partner_gone", "x_dash.partner_gone2"]

    # stuck module: the SQL cancels exactly that state
    pending = by_key[("module-pending", "x_pending_up")]
    assert pending.fix_sql == (
        "UPDATE ir_module_module SET state = 'installed' WHERE name = 'x_pending_up'"
        " AND state = 'to upgrade';")
    # never-installed uninstallable modules are a note, not a finding
    assert any("web_studio" in n for n in report.notes)
    # the seed's core client action (mail) cannot be checked without Odoo's addons: a note
    assert any("mail.action_discuss" in n for n in report.notes)
    for f in report.findings:
        assert f.breaks and f.fix
    check_crons(w, odoo_version)


def test_fixes_repair_the_database(odoo_db: Any, tmp_path: Path) -> None:
    """Running every fix_sql leaves only the findings SQL cannot fix (pending modules: the
    fix cancels them, so none remain) -- i.e. the SQL is valid and targets the right rows."""
    w = build_broken_world(odoo_db, 18, tmp_path)
    scan = scan_addons_path([str(w.addons)])
    report = audit_broken(Database(w.db.dsn), scan)
    conn = w.db.connect()
    for f in report.findings:
        if f.fix_sql and f.kind != "module-uninstallable":
            conn.execute(f.fix_sql)
    again = audit_broken(Database(w.db.dsn), scan)
    left = {_key(f) for f in again.findings}
    # hidden menus remain reported as warnings (inactive), everything else is gone
    assert {k for k, _ in left} <= {"menu-missing-action", "menu-missing-parent",
                                    "module-uninstallable"}
    assert all(f.severity == "warning" for f in again.findings)


def test_healthy_seed_audits_clean(odoo_db: Any, odoo_version: int) -> None:
    db = odoo_db(version=odoo_version)
    report = audit_broken(Database(db.dsn), None)
    assert report.findings == []
    assert report.counts["xmlids_dangling"] == 0
    assert report.counts["xmlid_models_checked"] > 10


def test_read_only_transaction(odoo_db: Any) -> None:
    """Audits cannot write: the transaction is READ ONLY with a statement timeout."""
    from odoo_ops.audit.base import audit_session

    db = odoo_db(version=18)
    with audit_session(Database(db.dsn, statement_timeout=7)) as s:
        s.cur.execute("SHOW transaction_read_only")
        assert s.cur.fetchone()[0] == "on"
        s.cur.execute("SHOW statement_timeout")
        assert s.cur.fetchone()[0] == "7s"


def check_crons(w: Any, odoo_version: int) -> None:
    """``audit crons`` on the same world (built once per version)."""
    result = audit_crons(Database(w.db.dsn))
    rows = {r.id: r for r in result.rows}
    ids = w.ids
    assert rows[ids["cron_overdue"]].status == "overdue"
    assert rows[ids["cron_ok_future"]].status == "ok"
    assert rows[ids["cron_inactive_old"]].status == "inactive"
    assert rows[ids["cron_model_gone"]].status == "model-missing"
    assert rows[ids["cron_action_gone"]].status == "action-missing"
    assert rows[ids["cron_uninstalled"]].status == "module-not-installed"
    assert rows[ids["cron_uninstalled"]].module == "x_uninst"
    assert rows[ids["cron_ok_future"]].name == "X: fine"  # jsonb in 16, varchar after
    assert rows[ids["cron_ok_future"]].model == "res.partner"
    if odoo_version <= 17:
        assert rows[ids["cron_ok_future"]].numbercall == -1
    else:
        assert rows[ids["cron_ok_future"]].numbercall is None
    flagged = {f.record["cron_id"]: f.kind for f in result.report.findings}
    assert flagged == {
        ids["cron_overdue"]: "cron-overdue",
        ids["cron_model_gone"]: "cron-model-missing",
        ids["cron_action_gone"]: "cron-action-missing",
        ids["cron_uninstalled"]: "cron-module-not-installed",
    }
    # the seed's crons (autovacuum, mail queue...) are healthy, one inactive
    seed = [r for r in result.rows if r.id not in set(ids.values())]
    assert len(seed) == 6 and {r.status for r in seed} == {"ok", "inactive"}
