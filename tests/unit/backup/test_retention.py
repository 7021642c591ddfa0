"""Retention goldens with synthetic dates (borg-style rules), independent of input order."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from odoo_ops.backup.retention import Item, Policy, decide, parse_within
from odoo_ops.errors import ConfigError


def t(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


SERIES = [
    Item("A", t("2024-12-31T10:00")),  # Tuesday of ISO week 2025-W01
    Item("B", t("2025-01-01T09:00")),
    Item("C", t("2025-01-01T21:00")),
    Item("D", t("2025-01-02T03:00")),
    Item("E", t("2025-01-05T12:00")),  # Sunday, still W01
    Item("F", t("2025-01-06T12:00")),  # W02
    Item("G", t("2025-01-07T12:00")),
    Item("H", t("2025-02-03T12:00")),
    Item("I", t("2025-02-03T18:00")),
    Item("J", t("2025-03-01T00:00")),
]
NOW = t("2025-03-01T12:00")


def kept(decisions: list) -> dict[str, list[str]]:
    return {d.name: d.reasons for d in decisions if d.keep}


def test_golden_daily_weekly_monthly_yearly() -> None:
    policy = Policy(keep_daily=3, keep_weekly=2, keep_monthly=2, keep_yearly=1)
    result = decide(SERIES, policy, NOW)
    assert kept(result) == {
        "J": ["daily #1"],
        "I": ["daily #2"],  # H is older on the same day
        "G": ["daily #3"],
        "E": ["weekly #1"],  # W09, W06, W02 already kept by daily: passed over
        "A": ["weekly (oldest: fewer than 2 weekly periods)"],
    }
    assert [d.name for d in result if not d.keep] == ["H", "F", "D", "C", "B"]
    assert [d.name for d in result] == list("JIHGFEDCBA")  # newest first


def test_golden_keep_within_comes_first() -> None:
    policy = Policy(keep_within="2d", keep_daily=3)
    assert kept(decide(SERIES, policy, NOW)) == {
        "J": ["within 2d"],
        "I": ["daily #1"],
        "G": ["daily #2"],
        "F": ["daily #3"],
    }


def test_golden_yearly_passes_over_kept_periods() -> None:
    # monthly keeps J (2025-03) and I (2025-02); yearly: 2025's newest (J) is kept
    # already -> passed over, 2024's newest is A -> yearly #1; fewer than 2 -> oldest (A) kept
    policy = Policy(keep_monthly=2, keep_yearly=2)
    assert kept(decide(SERIES, policy, NOW)) == {
        "J": ["monthly #1"],
        "I": ["monthly #2"],
        "A": ["yearly #1"],
    }


def test_marked_keep_and_newest_verified_are_never_deleted() -> None:
    items = [
        Item(i.name, i.created_at, verified=i.name in ("B", "C"), keep=i.name == "D")
        for i in SERIES
    ]
    result = kept(decide(items, Policy(keep_daily=1), NOW))
    assert result == {"J": ["daily #1"], "D": ["marked keep"], "C": ["newest verified"]}


def test_nothing_configured_keeps_only_protected() -> None:
    assert kept(decide(SERIES, Policy(), NOW)) == {}
    items = [Item("x", t("2025-01-01T00:00"), verified=True)]
    assert kept(decide(items, Policy(), NOW)) == {"x": ["newest verified"]}


@pytest.mark.parametrize("seed", range(12))
def test_input_order_is_irrelevant(seed: int) -> None:
    policy = Policy(keep_within="30d", keep_daily=2, keep_weekly=2, keep_monthly=1)
    expected = [(d.name, d.keep, d.reasons) for d in decide(SERIES, policy, NOW)]
    shuffled = list(SERIES)
    random.Random(seed).shuffle(shuffled)
    assert [(d.name, d.keep, d.reasons) for d in decide(shuffled, policy, NOW)] == expected


def test_same_timestamp_tie_is_broken_by_name() -> None:
    same = [Item("b", t("2025-01-01T00:00")), Item("a", t("2025-01-01T00:00"))]
    for order in (same, same[::-1]):
        assert kept(decide(order, Policy(keep_daily=1), NOW)) == {"b": ["daily #1"]}


def test_timezones_are_compared_in_utc() -> None:
    cet = dt.timezone(dt.timedelta(hours=1))
    items = [
        Item("late", dt.datetime(2025, 1, 2, 0, 30, tzinfo=cet)),  # 2025-01-01 23:30 UTC
        Item("early", t("2025-01-01T08:00")),
    ]
    assert kept(decide(items, Policy(keep_daily=1), NOW)) == {"late": ["daily #1"]}


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("36H", 36 * 3600), ("7d", 7 * 86400), ("2w", 14 * 86400), ("1m", 31 * 86400),
     ("1y", 365 * 86400)],
)
def test_parse_within(text: str, seconds: int) -> None:
    assert parse_within(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "7", "d", "7 days", "-1d", "1.5d"])
def test_parse_within_rejects(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_within(text)
