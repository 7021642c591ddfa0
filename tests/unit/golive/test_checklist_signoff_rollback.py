"""The shipped checklist, project overrides, the sign-off file, rollback criteria."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import pytest

from odoo_ops.config.schema import Golive, GoliveItem
from odoo_ops.errors import ConfigError
from odoo_ops.golive import evaluate_rollback, load_checklist, read_signoffs, revoke, sign
from odoo_ops.golive.board import shipped_checklist

PHASES = ["T-14", "T-10", "T-7", "T-5", "T-3", "T-1", "Day 0", "Day 1-2", "Week 1", "Weeks 2-4"]
CATEGORIES = {
    "code quality", "tests", "infrastructure", "backups", "monitoring", "security",
    "data migration", "documentation", "sign-off",
}  # fmt: skip
NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def test_shipped_checklist_covers_every_phase_and_category() -> None:
    checklist = load_checklist(Golive())
    assert checklist.phases == PHASES
    assert {i.phase for i in checklist.items} == set(PHASES)
    assert {i.category for i in checklist.items} == CATEGORIES
    ids = [i.id for i in checklist.items]
    assert len(ids) == len(set(ids))
    kinds = {i.evidence.split(":")[0] for i in checklist.items if i.evidence}
    assert kinds == {"check", "backup", "health", "loadtest", "dr", "upgrade"}
    assert set(shipped_checklist()["offsets"]) == set(PHASES)
    # items come in phase order
    order = [PHASES.index(i.phase) for i in checklist.items]
    assert order == sorted(order)


def test_project_adds_replaces_and_skips_items() -> None:
    config = Golive(
        skip=["user-training"],
        items=[
            GoliveItem(
                id="pos-tested", title="POS tested in the shop", phase="T-3", category="tests"
            ),
            GoliveItem(id="go-decision", title="Go signed by the CFO", phase="T-1"),
        ],
    )
    checklist = load_checklist(config)
    assert checklist.get("user-training") is None
    assert checklist.get("pos-tested") is not None
    replaced = checklist.get("go-decision")
    assert replaced is not None and replaced.title == "Go signed by the CFO"
    assert [i.id for i in checklist.items].count("go-decision") == 1


def test_bad_overrides() -> None:
    with pytest.raises(ConfigError, match="unknown phase"):
        load_checklist(Golive(items=[GoliveItem(id="x", title="x", phase="T-99")]))
    with pytest.raises(ConfigError, match="unknown item"):
        load_checklist(Golive(skip=["no-such-item"]))


def test_sign_read_revoke(tmp_path: Path) -> None:
    path = tmp_path / "golive.signoff.toml"
    assert read_signoffs(path) == {}
    note = 'UAT "passed" | see\\share\nline 2 — ünïcode'
    sign(path, "uat-signed", "Zoë O'Brien", note, NOW)
    sign(path, "go-decision", "CFO", None, NOW + dt.timedelta(hours=1))
    raw = tomllib.loads(path.read_text())  # plain TOML, reviewable in git
    assert raw["signoffs"]["uat-signed"]["by"] == "Zoë O'Brien"
    got = read_signoffs(path)
    assert got["uat-signed"].note == note
    assert got["uat-signed"].at == NOW
    assert got["go-decision"].note is None
    sign(path, "uat-signed", "Someone Else", None, NOW)  # re-signing replaces
    assert read_signoffs(path)["uat-signed"].by == "Someone Else"
    assert revoke(path, "uat-signed") is True
    assert revoke(path, "uat-signed") is False
    assert set(read_signoffs(path)) == {"go-decision"}


def test_broken_signoff_file(tmp_path: Path) -> None:
    path = tmp_path / "golive.signoff.toml"
    path.write_text("[signoffs.x]\nby = \n")
    with pytest.raises(ConfigError, match="cannot read"):
        read_signoffs(path)
    path.write_text('[signoffs.x]\nat = "2026-01-01T00:00:00+00:00"\n')
    with pytest.raises(ConfigError, match="needs `by`"):
        read_signoffs(path)


def rounds(
    pattern: str, start: dt.datetime = NOW, step_minutes: float = 1
) -> list[tuple[dt.datetime, bool]]:
    """One health round per character: '.' healthy, 'x' failing."""
    return [
        (start + dt.timedelta(minutes=i * step_minutes), c == ".") for i, c in enumerate(pattern)
    ]


def states(result: list[object]) -> dict[str, str]:
    return {c.id: c.status for c in result}  # type: ignore[attr-defined]


def test_rollback_without_health_data() -> None:
    got = states(evaluate_rollback([], Golive(), None))
    assert got == {
        "outage": "no-evidence", "error-rate": "no-evidence",
        "data-corruption": "manual", "security-breach": "manual",
    }  # fmt: skip


def test_outage_longer_than_30_minutes_triggers() -> None:
    got = evaluate_rollback(rounds("." * 10 + "x" * 35 + "." * 10), Golive(), None)
    assert states(got)["outage"] == "triggered"
    assert "35 min" in got[0].detail
    short = evaluate_rollback(rounds("." * 10 + "x" * 20 + "." * 30), Golive(), None)
    assert states(short)["outage"] == "ok"


def test_outage_still_going_counts() -> None:
    got = evaluate_rollback(rounds("." * 5 + "x" * 40), Golive(), None)
    assert states(got)["outage"] == "triggered"


def test_error_rate_over_15_minutes() -> None:
    # one failing round in every four for an hour: 25% > 10%
    bad = evaluate_rollback(rounds("...x" * 15), Golive(), None)
    assert states(bad)["error-rate"] == "triggered"
    # one in twenty: 5%
    ok = evaluate_rollback(rounds(("." * 19 + "x") * 3), Golive(), None)
    assert states(ok)["error-rate"] == "ok"
    # a short blip before the window is full does not count
    blip = evaluate_rollback(rounds("xx" + "." * 3), Golive(), None)
    assert states(blip)["error-rate"] == "ok"


def test_rollback_thresholds_from_config_and_since() -> None:
    config = Golive.model_validate({"rollback": {"outage_minutes": 5}})
    history = rounds("x" * 10 + "." * 50)
    assert states(evaluate_rollback(history, config, None))["outage"] == "triggered"
    since = NOW + dt.timedelta(minutes=20)  # the outage happened before go-live
    assert states(evaluate_rollback(history, config, since))["outage"] == "ok"
