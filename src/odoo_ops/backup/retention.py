"""``backup prune``: which backups a retention policy keeps, and why.

The policy (``[backup]`` in odoo-ops.toml) works like borg's prune:

- ``keep_within = "2d"``: every backup younger than that (units H, d, w, m, y);
- ``keep_daily/weekly/monthly/yearly = N``: walking from the newest backup
  to the oldest, the newest backup of each of the last N days (ISO weeks,
  months, years) that hold one. A period whose newest backup is already kept
  by an earlier rule (``keep_within`` first, then daily, weekly, monthly) is
  passed over without counting, so each rule adds N backups. When a rule
  finds fewer than N, it also keeps the oldest backup;
- never deleted whatever the rules: a backup marked keep, and the newest
  backup that passed verification.

Periods are computed in UTC. The input order does not matter: backups are
sorted by creation time (then name) first.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from odoo_ops.errors import ConfigError


@dataclass(frozen=True)
class Item:
    """What retention needs to know about one backup."""

    name: str
    created_at: dt.datetime
    verified: bool = False
    keep: bool = False


@dataclass
class Decision:
    name: str
    created_at: dt.datetime
    keep: bool
    reasons: list[str] = field(default_factory=list)


@dataclass
class Policy:
    keep_within: str | None = None
    keep_daily: int = 0
    keep_weekly: int = 0
    keep_monthly: int = 0
    keep_yearly: int = 0


_UNITS = {"H": 3600, "d": 86400, "w": 7 * 86400, "m": 31 * 86400, "y": 365 * 86400}


def parse_within(text: str) -> dt.timedelta:
    match = re.fullmatch(r"\s*(\d+)\s*([Hdwmy])\s*", text)
    if not match:
        raise ConfigError(
            f"[backup] keep_within: cannot read {text!r}",
            hint="use a number and a unit: 36H, 7d, 4w, 6m, 1y",
        )
    return dt.timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


_PERIODS: dict[str, Callable[[dt.datetime], tuple[int, ...]]] = {
    "daily": lambda t: (t.year, t.month, t.day),
    "weekly": lambda t: tuple(t.isocalendar()[:2]),
    "monthly": lambda t: (t.year, t.month),
    "yearly": lambda t: (t.year,),
}


def decide(items: Iterable[Item], policy: Policy, now: dt.datetime) -> list[Decision]:
    """Keep/delete decisions, newest first."""
    ordered = sorted(items, key=lambda i: (i.created_at.astimezone(dt.UTC), i.name), reverse=True)
    decisions = {i.name: Decision(i.name, i.created_at, False) for i in ordered}
    if policy.keep_within:
        limit = now - parse_within(policy.keep_within)
        for item in ordered:
            if item.created_at > limit:
                decisions[item.name].keep = True
                decisions[item.name].reasons.append(f"within {policy.keep_within}")
    for rule, count in (
        ("daily", policy.keep_daily),
        ("weekly", policy.keep_weekly),
        ("monthly", policy.keep_monthly),
        ("yearly", policy.keep_yearly),
    ):
        if count <= 0 or not ordered:
            continue
        period_of = _PERIODS[rule]
        seen: set[tuple[int, ...]] = set()
        kept_here = 0
        for item in ordered:
            period = period_of(item.created_at.astimezone(dt.UTC))
            if period in seen:
                continue
            seen.add(period)
            decision = decisions[item.name]
            if decision.keep:
                continue  # already kept by an earlier rule: the period is used, not counted
            kept_here += 1
            decision.keep = True
            decision.reasons.append(f"{rule} #{kept_here}")
            if kept_here >= count:
                break
        if kept_here < count:
            oldest = decisions[ordered[-1].name]
            if not oldest.keep:
                oldest.keep = True
                oldest.reasons.append(f"{rule} (oldest: fewer than {count} {rule} periods)")
    for item in ordered:
        if item.keep:
            decisions[item.name].keep = True
            decisions[item.name].reasons.append("marked keep")
    for item in ordered:
        if item.verified:
            decisions[item.name].keep = True
            decisions[item.name].reasons.append("newest verified")
            break
    return [decisions[i.name] for i in ordered]
