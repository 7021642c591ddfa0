"""Opening an audit: a read-only transaction, the schema, the series."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from odoo_ops.audit.odoo_schema import Schema, detect_schema

if TYPE_CHECKING:
    from odoo_ops.adapters.database import Database


@dataclass
class Session:
    """A cursor in a READ ONLY transaction and what the schema says."""

    cur: Any
    schema: Schema
    database: str | None
    series: str | None  # base's latest_version, else the configured series


@contextmanager
def audit_session(
    db: Database, *, series: str | None = None, timeout: float | None = None
) -> Iterator[Session]:
    """Open ``db`` read-only (with its statement timeout) and detect the schema."""
    with db.read_only(timeout=timeout) as cur:
        # server-side cursors are planned for their first rows by default
        # (cursor_tuple_fraction 0.1): the audits read every row, plan for that
        cur.execute("SET LOCAL cursor_tuple_fraction = 1.0")
        schema = detect_schema(cur)
        yield Session(cur, schema, db.name, schema.series or series)
