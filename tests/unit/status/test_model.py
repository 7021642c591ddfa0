"""The status parts computed from records: since when, what needs a person, changes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from odoo_ops.adapters import Target
from odoo_ops.adapters.project import resolve_project
from odoo_ops.serve.app import metrics_text
from odoo_ops.status.cache import RecordCache
from odoo_ops.status.model import age_text, deployment_status, health_status
from odoo_ops.status.records import (
    CheckReportFile,
    HealthRound,
    check_changes,
    read_check_reports,
    read_health,
)
from tests.support.status_records import (
    clone_backup,
    deploy_record,
    write_check_report,
    write_health,
    write_journal,
)

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def at(minutes: float) -> dt.datetime:
    return NOW - dt.timedelta(minutes=minutes)


def target(root: Path) -> Target:
    (root / "odoo-ops.toml").write_text(
        '[deployments.prod]\nbackup_dir = "backups"\n[thresholds]\nbackup_max_age_hours = 24\n'
    )
    return Target(resolve_project(root))


def test_health_since_is_the_start_of_the_current_streak() -> None:
    rounds = [HealthRound(at(m), ok, 10.0) for m, ok in [(50, True), (40, False), (30, False),
                                                         (20, True), (10, True)]]  # fmt: skip
    h = health_status(rounds, NOW)
    assert (h.state, h.since, h.rounds_24h, h.healthy_percent_24h) == ("healthy", at(20), 5, 60.0)
    h = health_status([*rounds, HealthRound(at(0), False, None, ["database"])], NOW)
    assert (h.state, h.since, h.failing) == ("unhealthy", at(0), ["database"])
    assert health_status([HealthRound(at(45), True, 1.0)], NOW).stale is True
    assert health_status([], NOW).state == "unknown"


def test_damaged_history_lines_are_left_out(tmp_path: Path) -> None:
    t = target(tmp_path)
    path = write_health(tmp_path, "prod", [(at(10), True, 12.5)])
    with open(path, "a") as fh:
        fh.write('not json\n{"healthy": "yes"}\n[1]\n{"checked_at": "bad", "healthy": true}\n')
    assert [(r.at, r.healthy, r.latency_ms) for r in read_health(t)] == [(at(10), True, 12.5)]


def test_attention_reasons_and_the_cache(tmp_path: Path) -> None:
    t = target(tmp_path)
    status = deployment_status(t, now=NOW, ask_database=False, golive=False)
    assert status.attention == ["no backup"] and status.pending.state == "not-asked"
    write_health(tmp_path, "prod", [(at(5), False, 100.0)])
    write_journal(tmp_path, "prod", [deploy_record("d1", at(90), [1.0, 2.0], "failed",
                                                   failed_phase="lock", error="busy")])  # fmt: skip
    write_check_report(tmp_path, "prod", at(30), [("x", "conf", "fail")])
    cache = RecordCache()
    status = deployment_status(t, now=NOW, ask_database=False, golive=False, cache=cache)
    assert status.attention == [
        "unhealthy since 2026-06-01 11:55 UTC (latency, web-health)",
        "last deploy d1 failed in lock",
        "no backup",
        "last check: 1 failed",
    ]
    assert status.last_deploy is not None and status.last_deploy.duration_seconds == 3.0
    # a changed file is read again; an unchanged one comes from the cache
    write_health(tmp_path, "prod", [(at(1), True, 90.0)])
    again = deployment_status(t, now=NOW, ask_database=False, golive=False, cache=cache)
    assert again.health.state == "healthy"
    text = metrics_text([again])
    assert 'odoo_ops_healthy{deployment="prod"} 1.0' in text
    assert 'odoo_ops_last_deploy_ok{deployment="prod"} 0.0' in text
    assert 'odoo_ops_needs_attention{deployment="prod"} 1.0' in text


def test_an_old_backup_needs_attention(tmp_path: Path) -> None:
    t = target(tmp_path)
    seed = tmp_path / "seed"
    seed.mkdir()
    import hashlib
    import json

    data = b"dump"
    (seed / "db.dump").write_bytes(data)
    (seed / "manifest.json").write_text(json.dumps({
        "format": "odoo-ops-backup", "format_version": 1, "name": "seed", "database": "db",
        "files": {"db.dump": {"size": 4, "sha256": hashlib.sha256(data).hexdigest()}},
        "dump": {"path": "db.dump"},
    }))  # fmt: skip
    (tmp_path / "backups").mkdir()
    clone_backup(seed, "old", NOW - dt.timedelta(hours=30), 12.0, tmp_path / "backups")
    status = deployment_status(t, now=NOW, ask_database=False, golive=False)
    assert status.newest_backup is not None and status.newest_backup.size_bytes == 4
    assert status.newest_backup.duration_seconds == 12.0
    assert status.attention == ["newest backup old is 30.0 h old (limit 24 h)"]


def test_check_changes_and_report_order(tmp_path: Path) -> None:
    t = target(tmp_path)
    write_check_report(tmp_path, "prod", at(60), [("a", "x", "pass"), ("b", "x", "warn")])
    write_check_report(tmp_path, "prod", at(10), [("a", "x", "fail"), ("c", "y", "pass")])
    (tmp_path / ".odoo-ops/prod/checks/broken.json").write_text("{")
    latest, previous = read_check_reports(t, 5)
    assert latest.at > previous.at and latest.counts()["fail"] == 1
    changes = [(c.id, c.before, c.after) for c in check_changes(latest, previous)]
    assert changes == [("a", "pass", "fail"), ("b", "warn", None), ("c", None, "pass")]
    assert check_changes(latest, None) == []
    assert isinstance(latest, CheckReportFile)


@pytest.mark.parametrize(("seconds", "text"), [(None, "?"), (5, "5 s"), (600, "10 min"),
                                               (7200, "2.0 h"), (864000, "10 d")])  # fmt: skip
def test_age_text(seconds: float | None, text: str) -> None:
    assert age_text(seconds) == text
