"""The two explicit write actions on PostgreSQL: ``VACUUM`` and ending stale sessions.

Both build their SQL first (so ``--dry-run`` shows exactly what would run) and
run it under the deployment's advisory lock, taken by the caller.
:func:`terminate_sql` never selects odoo-ops' own sessions (its
``application_name`` starts with ``odoo-ops``) nor the session running it.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from odoo_ops.audit.odoo_schema import quote_ident, quote_literal
from odoo_ops.errors import OpsError, UsageError

if TYPE_CHECKING:
    from odoo_ops.adapters.database import Database

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_FACTORS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """``"1h"`` -> 3600.0; ``"90s"``, ``"30m"``, ``"2d"``, bare seconds."""
    match = _DURATION.match(text or "")
    if not match:
        raise UsageError(f"invalid duration {text!r}", hint="use e.g. 90s, 30m, 1h or 2d")
    seconds = float(match.group(1)) * _FACTORS[match.group(2)]
    if seconds <= 0:
        raise UsageError(f"duration must be positive, got {text!r}")
    return seconds


def vacuum_sql(tables: list[str] | None = None, *, analyze: bool = False) -> list[str]:
    """The ``VACUUM`` statements (one per table, or one for the database)."""
    opts = "(ANALYZE) " if analyze else ""
    if not tables:
        return [f"VACUUM {opts}".rstrip() + ";"]
    return [f"VACUUM {opts}{quote_ident(t)};" for t in tables]


@dataclass
class VacuumResult:
    statements: list[str]
    seconds: float = 0.0
    size_before: int = 0
    size_after: int = 0


def vacuum(db: Database, statements: list[str], *, timeout: float | None = None) -> VacuumResult:
    """Run the ``VACUUM`` statements (outside a transaction, as PostgreSQL requires)."""
    import psycopg

    result = VacuumResult(statements)
    start = time.monotonic()
    with db.connect(autocommit=True) as conn:
        if timeout:
            conn.execute(f"SET statement_timeout = {int(timeout * 1000)}")
        result.size_before = int(conn.execute(
            "SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]
        for stmt in statements:
            try:
                conn.execute(stmt.rstrip(";"))
            except psycopg.Error as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else str(exc)
                raise OpsError(f"{stmt} failed: {first}") from None
        result.size_after = int(conn.execute(
            "SELECT pg_database_size(current_database())").fetchone()[0])  # type: ignore[index]
    result.seconds = time.monotonic() - start
    return result


def _session_filter(seconds: float, include_idle: bool) -> str:
    states = ["idle in transaction", "idle in transaction (aborted)"]
    if include_idle:
        states.append("idle")
    listed = ", ".join(quote_literal(s) for s in states)
    return (
        " FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        f" AND state IN ({listed})"
        f" AND state_change < now() - interval '{int(seconds)} seconds'"
        " AND coalesce(application_name, '') NOT LIKE 'odoo-ops%'"
    )


def stale_sessions_sql(seconds: float, *, include_idle: bool = False) -> str:
    """The sessions :func:`terminate_sql` would end (for --dry-run)."""
    return (
        "SELECT pid, usename, application_name, state,"
        " round(EXTRACT(EPOCH FROM now() - state_change)) AS idle_seconds, left(query, 200)"
        + _session_filter(seconds, include_idle) + " ORDER BY pid;"
    )


def terminate_sql(seconds: float, *, include_idle: bool = False) -> str:
    """One statement that ends the stale sessions and lists them."""
    return (
        "SELECT pid, usename, application_name, state,"
        " round(EXTRACT(EPOCH FROM now() - state_change)) AS idle_seconds, left(query, 200),"
        " pg_terminate_backend(pid) AS terminated"
        + _session_filter(seconds, include_idle) + " ORDER BY pid;"
    )


@dataclass
class Session:
    pid: int
    user: str | None
    application: str | None
    state: str | None
    idle_seconds: float
    query: str | None
    terminated: bool | None = None


@dataclass
class TerminateResult:
    sql: str
    sessions: list[Session] = field(default_factory=list)
    dry_run: bool = False


def _sessions(rows: list[tuple[Any, ...]]) -> list[Session]:
    return [Session(int(r[0]), r[1], r[2], r[3], float(r[4] or 0), r[5],
                    bool(r[6]) if len(r) > 6 else None) for r in rows]  # fmt: skip


def terminate_idle(
    db: Database, seconds: float, *, include_idle: bool = False, dry_run: bool = False
) -> TerminateResult:
    """End sessions idle (in transaction) for longer than ``seconds``; dry-run only lists."""
    sql = terminate_sql(seconds, include_idle=include_idle)
    result = TerminateResult(sql, dry_run=dry_run)
    with db.connect(autocommit=True) as conn:
        query = stale_sessions_sql(seconds, include_idle=include_idle) if dry_run else sql
        rows = conn.execute(query.rstrip(";")).fetchall()
    result.sessions = _sessions(rows)
    return result
