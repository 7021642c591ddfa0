"""What proves a go-live item: :class:`Evidence` and its statuses.

Its own module so that the sources of evidence (the board, the DR drill, the
upgrade rehearsal) share the type without importing one another.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

PASS, FAIL, WARN, NONE = "pass", "fail", "warn", "none"

__all__ = ["FAIL", "NONE", "PASS", "WARN", "Evidence"]


@dataclass
class Evidence:
    """The newest proof for one item (or why there is none)."""

    kind: str
    status: str  # pass | fail | warn | none
    summary: str
    at: dt.datetime | None = None
    source: str | None = None
    details: list[str] = field(default_factory=list)
