"""``audit database``: PostgreSQL health, with real dead tuples, an unused index and an
idle-in-transaction session."""

from __future__ import annotations

import time
from typing import Any

import pytest

from odoo_ops.adapters.database import Database
from odoo_ops.audit.postgres import Thresholds, audit_database

pytestmark = pytest.mark.pg


def test_database_health(odoo_db: Any) -> None:
    db = odoo_db(version=18)
    conn = db.connect()
    conn.execute("CREATE TABLE x_bloat (id serial PRIMARY KEY, v text)")
    conn.execute("INSERT INTO x_bloat (v) SELECT md5(i::text) FROM generate_series(1, 30000) i")
    conn.execute("CREATE INDEX x_bloat_v_idx ON x_bloat (v)")
    conn.execute("DELETE FROM x_bloat WHERE id > 5000")
    conn.execute("CREATE TABLE x_fine (id serial PRIMARY KEY)")
    conn.execute("INSERT INTO x_fine SELECT FROM generate_series(1, 20000)")
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT count(*) FROM x_fine")  # flushes the stats at the end of the statement
    idle = db.connect(autocommit=False)
    idle.execute("SELECT 1")  # now idle in transaction
    time.sleep(1.2)
    try:
        result = audit_database(Database(db.dsn), limits=Thresholds(
            unused_index_bytes=64 * 1024, idle_in_transaction_seconds=1, long_query_seconds=60))
    finally:
        idle.rollback()
        idle.close()
    kinds = {(f.kind, f.subject) for f in result.report.findings}
    assert ("table-dead-tuples", "table x_bloat") in kinds
    assert ("index-unused", "index x_bloat_v_idx") in kinds
    assert not any("x_fine" in s for _, s in kinds)
    sessions = [f for f in result.report.findings if f.kind == "session-idle-in-transaction"]
    assert len(sessions) == 1
    assert sessions[0].fix_sql and "pg_terminate_backend" in sessions[0].fix_sql
    bloat = next(f for f in result.report.findings if f.kind == "table-dead-tuples")
    assert bloat.record["dead_tuples"] == 25000
    assert bloat.fix_sql == 'VACUUM (ANALYZE) "x_bloat";'
    assert result.size_bytes > 1_000_000
    assert 0 < result.database_connections <= result.connections <= result.max_connections
    assert result.tables and result.tables[0].total_bytes >= result.tables[-1].total_bytes
    assert result.statements is None or isinstance(result.statements, list)
