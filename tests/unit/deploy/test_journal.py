"""The deploy journal (``odoo_ops.deploy.journal``): JSON lines, last line wins."""

from __future__ import annotations

import json
import stat
from dataclasses import asdict
from pathlib import Path
from typing import Any

from odoo_ops.deploy.journal import DeployRecord, Journal, PhaseRecord, new_id


def record(rid: str, started: str, result: str = "running", **kw: Any) -> DeployRecord:
    return DeployRecord(
        id=rid, kind="deploy", who="ops@host", started_at=started, result=result, **kw
    )


def line(r: DeployRecord) -> str:
    return json.dumps(asdict(r)) + "\n"


def test_empty_when_no_file(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "deploy")
    assert journal.records() == []
    assert journal.get("nope") is None


def test_a_later_line_for_the_same_id_wins(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    first = record("d1", "2026-11-25T10:00:00+00:00", "running")
    done = record(
        "d1",
        "2026-11-25T10:00:00+00:00",
        "deployed",
        phases=[PhaseRecord("preflight", "ok", 0.5), PhaseRecord("lock", "ok", 0.01)],
    )
    other = record("d2", "2026-11-25T11:00:00+00:00", "failed")
    journal.path.write_text(line(first) + line(other) + line(done), encoding="utf-8")
    records = {r.id: r for r in journal.records()}
    assert set(records) == {"d1", "d2"}
    assert records["d1"].result == "deployed"
    assert [p.name for p in records["d1"].phases] == ["preflight", "lock"]
    assert isinstance(records["d1"].phases[0], PhaseRecord)
    assert journal.get("d1") == done
    assert journal.get("d2") == other


def test_corrupt_lines_are_skipped(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    good = record("d1", "2026-11-25T10:00:00+00:00", "deployed")
    later = record("d2", "2026-11-25T11:00:00+00:00", "rolled-back")
    half = line(later)[:40] + "\n"  # a line cut short (disk full, killed writer)
    journal.path.write_text(
        line(good)
        + half
        + "\n"  # blank
        + "not json at all\n"
        + "[1, 2]\n"  # JSON, not a record
        + '"text"\n'
        + '{"id": "x"}\n'  # a record missing its fields
        + '{"id": "y", "kind": "deploy", "who": "a", "started_at": "t", "phases": [1]}\n'
        + '{"id": "z", "kind": "deploy", "who": "a", "started_at": "t", "phases": null}\n'
        + line(later),
        encoding="utf-8",
    )
    records = {r.id: r for r in journal.records()}
    assert set(records) == {"d1", "d2"}
    assert records["d2"].result == "rolled-back"


def test_unknown_fields_from_a_newer_version_are_ignored(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    data = asdict(record("d1", "2026-11-25T10:00:00+00:00", "deployed"))
    data["future_field"] = {"x": 1}
    journal.path.write_text(json.dumps(data) + "\n", encoding="utf-8")
    got = journal.get("d1")
    assert got is not None and got.result == "deployed"


def test_write_keeps_one_line_per_id_in_start_order_and_mode_0600(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "state" / "deploy")  # the directory does not exist yet
    late = record("d2", "2026-11-25T11:00:00+00:00")
    early = record("d1", "2026-11-25T10:00:00+00:00")
    journal.write(late)
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    journal.write(early)
    late.result = "deployed"
    late.phases.append(PhaseRecord("verify", "ok", 1.25, ""))
    journal.write(late)
    lines = journal.path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["id"] for x in lines] == ["d1", "d2"]
    assert json.loads(lines[1])["result"] == "deployed"
    assert json.loads(lines[1])["phases"] == [
        {"name": "verify", "status": "ok", "seconds": 1.25, "detail": ""}
    ]
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    # no temporary file left beside it
    assert sorted(p.name for p in journal.path.parent.iterdir()) == ["journal.jsonl"]


def test_write_tightens_a_journal_readable_by_others(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.path.write_text(line(record("d0", "2026-11-25T09:00:00+00:00", "deployed")))
    journal.path.chmod(0o644)
    journal.write(record("d1", "2026-11-25T10:00:00+00:00"))
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    assert {r.id for r in journal.records()} == {"d0", "d1"}


def test_write_after_a_corrupt_line_keeps_the_good_records(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.path.write_text(
        line(record("d1", "2026-11-25T10:00:00+00:00", "deployed")) + "{broken\n",
        encoding="utf-8",
    )
    journal.write(record("d2", "2026-11-25T11:00:00+00:00"))
    assert [r.id for r in journal.records()] == ["d1", "d2"]
    got = journal.get("d1")
    assert got is not None and got.result == "deployed"


def test_id_shape() -> None:
    a = new_id()
    assert len(a) == len("20261125T100000-0042")
    assert a[8] == "T" and a[15] == "-"


def test_records_written_before_after_rollback_existed_still_load(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    data = asdict(record("d1", "2026-11-25T10:00:00+00:00", "rolled-back"))
    del data["after_rollback"]
    journal.path.write_text(json.dumps(data) + "\n", encoding="utf-8")
    got = journal.get("d1")
    assert got is not None and got.after_rollback == [] and got.result == "rolled-back"


def test_every_locked_phase_has_its_method_in_order() -> None:
    from odoo_ops.deploy.engine import LOCKED_PHASES, PHASE_METHODS, PHASES, Deployer

    assert PHASES[:2] == ("preflight", "lock")
    assert list(PHASE_METHODS) == list(LOCKED_PHASES) == list(PHASES[2:])
    for name in LOCKED_PHASES:
        assert callable(getattr(Deployer, PHASE_METHODS[name])), name
