"""The go-live board fed by real evidence: check reports, backup test-restore
records, health history, load test results; sign-offs; the verdict."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from odoo_ops.adapters import Target
from odoo_ops.backup.layout import FORMAT, FORMAT_VERSION, update_status
from odoo_ops.checks import all_checks
from odoo_ops.checks.base import CheckReport, CheckResult, Severity, Status
from odoo_ops.checks.context import CheckContext
from odoo_ops.checks.run import run_checks
from odoo_ops.golive import build_board, save_check_report, sign
from odoo_ops.golive.board import BEFORE_GO, load_checklist
from odoo_ops.health.probes import HealthReport, ProbeResult
from odoo_ops.health.watch import append_history
from odoo_ops.loadtest import LoadTestOptions, run_loadtest, save_result
from tests.integration.golive.conftest import target_of
from tests.integration.loadtest.conftest import OdooLike

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def states(target: Target) -> dict[str, tuple[str, str]]:
    board = build_board(target)
    return {s.item.id: (s.status, s.evidence.summary if s.evidence else "") for s in board.items}


def make_backup(backup_dir: Path, name: str, created: dt.datetime, outcome: str | None) -> Path:
    d = backup_dir / name
    d.mkdir(parents=True)
    manifest = {  # the smallest manifest that backup listing accepts (not DAMAGED)
        "format": FORMAT, "format_version": FORMAT_VERSION, "name": name,
        "database": "odoo_prod", "created_at": created.isoformat(), "tags": [],
        "dump": {"path": "db.dump", "format": "custom"}, "filestore": {},
        "files": {"db.dump": {"size": 0, "sha256": "0" * 64}},
    }  # fmt: skip
    (d / "manifest.json").write_text(json.dumps(manifest))
    if outcome:
        problems = [] if outcome == "pass" else ["res_partner: 10 rows, manifest says 12"]
        record = {
            "at": (created + dt.timedelta(minutes=5)).isoformat(),
            "duration_seconds": 42.0,
            "outcome": outcome,
            "problems": problems,
        }
        update_status(d, test_restore=record)
    return d


def health(target: Target, pattern: str, start: dt.datetime) -> None:
    for i, c in enumerate(pattern):
        report = HealthReport(
            deployment=target.name,
            checked_at=(start + dt.timedelta(minutes=i)).isoformat(timespec="seconds"),
            probes=[ProbeResult("web-health", "ok" if c == "." else "fail", "x")],
        )
        append_history(target.state_dir / "health" / "history.jsonl", report)


def test_empty_board_is_no_go_with_no_evidence(golive_project: Path) -> None:
    target = target_of(golive_project)
    board = build_board(target)
    assert board.verdict == "NO-GO"
    # a go-live without a major upgrade needs no rehearsal: that item is proven as is
    upgrade = next(s for s in board.items if s.item.id == "upgrade-rehearsed")
    assert upgrade.evidence is not None and upgrade.evidence.status == "pass"
    assert "no major upgrade" in upgrade.evidence.summary
    others = [s for s in board.items if s.item.id != "upgrade-rehearsed"]
    evidence = [s.evidence for s in others if s.evidence is not None]
    assert evidence and all(e.status == "none" and "no evidence yet" in e.summary for e in evidence)
    assert all(s.status == "pending" for s in others)
    assert {c.status for c in board.rollback} == {"no-evidence", "manual"}


def test_check_report_proves_items(golive_project: Path) -> None:
    target = target_of(golive_project)
    checks = [c for c in all_checks().values() if c.module == "odoo_ops.checks.conf"]
    report = run_checks(CheckContext(target), checks)
    save_check_report(target, report)
    got = states(target)
    assert got["infra-provisioned"][0] in ("done", "attention")
    assert "pass" in got["infra-provisioned"][1]
    # break odoo.conf: the next saved report fails the item and the verdict says why
    conf = golive_project / "config/odoo.conf"
    conf.write_text(conf.read_text().replace("list_db = False", "list_db = True"))
    target = target_of(golive_project)
    save_check_report(
        target, run_checks(CheckContext(target), checks), NOW + dt.timedelta(seconds=5)
    )
    board = build_board(target)
    item = next(s for s in board.items if s.item.id == "infra-provisioned")
    assert item.status == "failed"
    assert any("conf-list-db" in d for d in item.evidence.details)  # type: ignore[union-attr]
    assert any("infra-provisioned" in r for r in board.reasons)


def test_backup_records(golive_project: Path) -> None:
    target = target_of(golive_project)
    backups = golive_project / "backups"
    make_backup(backups, "old", NOW - dt.timedelta(days=3), "fail")
    got = states(target)
    assert got["restore-tested"][0] == "failed"
    assert got["backups-running"][0] == "failed"  # 72 h old > 24 h
    make_backup(backups, "new", NOW - dt.timedelta(hours=2), "pass")
    got = states(target)
    assert got["restore-tested"] == ("done", "new: pass in 42 s")
    assert got["backups-running"][0] == "done"


def test_health_history_and_rollback(golive_project: Path) -> None:
    target = target_of(golive_project)
    health(target, "." * 30, NOW - dt.timedelta(minutes=30))
    board = build_board(target)
    assert next(s for s in board.items if s.item.id == "monitoring-live").status == "done"
    assert {c.id: c.status for c in board.rollback}["outage"] == "ok"
    health(target, "x" * 40, NOW)
    board = build_board(target)
    assert {c.id: c.status for c in board.rollback}["outage"] == "triggered"
    assert any("rollback criteria met" in r for r in board.reasons)


def test_load_test_result(golive_project: Path) -> None:
    target = target_of(golive_project)
    server = OdooLike().start()
    try:
        result = run_loadtest(LoadTestOptions(server.url, users=2, duration=0.3, max_requests=20))
    finally:
        server.stop()
    save_result(result, target.state_dir / "loadtest")
    status, summary = states(target)["load-tested"]
    assert status == "done" and summary.startswith("pass: p95")


def passing_report(target: Target) -> CheckReport:
    """A check report where every area the checklist names passed."""
    areas = ["addons", "odoo-conf", "proxy", "secrets", "database", "modules"]
    results = [
        CheckResult(
            id=f"{a}-ok", area=a, title=a, severity=Severity.ERROR, status=Status.PASS, message="ok"
        )
        for a in areas
    ] + [
        CheckResult(
            id=i, area="x", title=i, severity=Severity.ERROR, status=Status.PASS, message="ok"
        )
        for i in ("conf-admin-passwd", "proxy-https", "proxy-certificate", "backups-offsite")
    ]
    return CheckReport(results=results, deployment=target.name)


def test_everything_proven_and_signed_is_go(golive_project: Path) -> None:
    target = target_of(golive_project)
    save_check_report(target, passing_report(target))
    make_backup(golive_project / "backups", "b1", NOW - dt.timedelta(hours=1), "pass")
    drill = {"started_at": (NOW - dt.timedelta(hours=2)).isoformat(), "backup": "b1",
             "source": "remote nas", "problems": [], "rto_seconds": 42.0, "rto_ok": True,
             "rto_limit_minutes": 240, "rpo_seconds": 3600.0, "rpo_ok": True,
             "rpo_limit_minutes": 1440}  # what odoo-ops dr drill records
    (target.state_dir / "dr").mkdir(parents=True, exist_ok=True)
    (target.state_dir / "dr" / "last.json").write_text(json.dumps(drill))
    health(target, "." * 20, NOW - dt.timedelta(minutes=20))
    server = OdooLike().start()
    try:
        result = run_loadtest(LoadTestOptions(server.url, users=2, duration=0.3, max_requests=20))
    finally:
        server.stop()
    save_result(result, target.state_dir / "loadtest")
    checklist = load_checklist(target.project.config.golive)
    path = golive_project / "golive.signoff.toml"
    for item in checklist.items:
        if item.evidence is None and item.phase in BEFORE_GO:
            sign(path, item.id, "Ops Lead", "checked", NOW)
    board = build_board(target)
    assert board.reasons == []
    assert board.verdict == "GO"
    # one missing sign-off is enough for NO-GO
    from odoo_ops.golive import revoke

    revoke(path, "go-decision")
    board = build_board(target)
    assert board.verdict == "NO-GO"
    assert any("go-decision" in r for r in board.reasons)


def test_golive_date_gives_due_dates(golive_project: Path) -> None:
    toml = golive_project / "odoo-ops.toml"
    day = (NOW + dt.timedelta(days=3)).date()
    toml.write_text(toml.read_text().replace('# date = "YYYY-MM-DD"', f'date = "{day}"'))
    board = build_board(target_of(golive_project))
    assert board.golive_date == day
    first = next(s for s in board.items if s.item.phase == "T-14")
    assert first.due == day - dt.timedelta(days=14)
    assert first.overdue  # pending and past its due date
    late = next(s for s in board.items if s.item.phase == "Weeks 2-4")
    assert late.due == day + dt.timedelta(days=28) and not late.overdue
