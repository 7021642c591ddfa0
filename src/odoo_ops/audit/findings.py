"""Findings and reports shared by the audits."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

ERROR = "error"
WARNING = "warning"

_CURSOR_IDS = itertools.count(1)


@dataclass
class Finding:
    """One thing wrong in the database, what it breaks for a user, and how to fix it.

    ``kind`` is a stable kebab-case id (``menu-missing-action``); ``subject``
    names the record (``menu 42 "Sales / Orders"``); ``fix_sql`` and
    ``fix_command`` are what to run (either may be ``None``).
    """

    kind: str
    severity: str
    subject: str
    problem: str
    breaks: str
    fix: str
    fix_sql: str | None = None
    fix_command: str | None = None
    record: dict[str, Any] = field(default_factory=dict)


@dataclass
class AuditReport:
    """What an audit found. ``notes`` are facts that are not findings."""

    audit: str
    database: str | None
    schema_version: str
    series: str | None
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    queries: list[str] = field(default_factory=list)

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)

    @property
    def ok(self) -> bool:
        return not self.findings

    def summary(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            out[f.kind] = out.get(f.kind, 0) + 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "audit": self.audit,
            "database": self.database,
            "schema_version": self.schema_version,
            "series": self.series,
            "ok": self.ok,
            "summary": self.summary(),
            "counts": dict(sorted(self.counts.items())),
            "findings": [dict(f.__dict__) for f in self.findings],
            "notes": list(self.notes),
        }


def stream(
    cur: Any, query: str, params: Sequence[Any] | None = None, *, size: int = 2000,
    log: list[str] | None = None,
) -> Iterator[tuple[Any, ...]]:
    """Rows of ``query`` through a server-side cursor in ``cur``'s transaction.

    Memory stays flat however many rows the query returns: rows come
    ``size`` at a time.
    """
    if log is not None:
        log.append(query if not params else _inline(cur, query, params))
    with cur.connection.cursor(name=f"odoo_ops_{next(_CURSOR_IDS)}") as named:
        named.itersize = size
        named.execute(query, params)
        yield from named


def run(cur: Any, query: str, params: Sequence[Any] | None = None,
        *, log: list[str] | None = None) -> list[tuple[Any, ...]]:
    """All rows of a small query (a handful of rows by construction)."""
    if log is not None:
        log.append(query if not params else _inline(cur, query, params))
    cur.execute(query, params)
    return list(cur.fetchall())


def _inline(cur: Any, query: str, params: Sequence[Any]) -> str:
    try:
        from psycopg import ClientCursor

        return str(ClientCursor(cur.connection).mogrify(query, params))
    except Exception:
        return query
