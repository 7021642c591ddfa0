"""``audit database``: PostgreSQL health of the Odoo database.

Size, biggest tables with dead tuples and last (auto)vacuum/analyze, unused
indexes, connections against ``max_connections``, idle-in-transaction and
long-running sessions, and the top queries of ``pg_stat_statements`` when the
extension is installed in the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from odoo_ops.audit.base import audit_session
from odoo_ops.audit.findings import WARNING, AuditReport, Finding, run
from odoo_ops.audit.odoo_schema import quote_ident

if TYPE_CHECKING:
    from odoo_ops.adapters.database import Database


@dataclass
class TableStat:
    table: str
    total_bytes: int
    live_tuples: int
    dead_tuples: int
    last_vacuum: dt.datetime | None
    last_autovacuum: dt.datetime | None
    last_analyze: dt.datetime | None
    last_autoanalyze: dt.datetime | None


@dataclass
class IndexStat:
    index: str
    table: str
    bytes: int
    scans: int


@dataclass
class SessionStat:
    pid: int
    user: str | None
    application: str | None
    state: str | None
    seconds: float
    query: str | None


@dataclass
class Thresholds:
    dead_tuples_min: int = 10_000
    dead_ratio: float = 0.2
    unused_index_bytes: int = 8 * 1024 * 1024
    idle_in_transaction_seconds: float = 300.0
    long_query_seconds: float = 300.0
    connections_ratio: float = 0.8
    top: int = 10


@dataclass
class DatabaseAudit:
    report: AuditReport
    size_bytes: int = 0
    tables: list[TableStat] = field(default_factory=list)
    unused_indexes: list[IndexStat] = field(default_factory=list)
    connections: int = 0
    max_connections: int = 0
    database_connections: int = 0
    sessions: list[SessionStat] = field(default_factory=list)
    statements: list[dict[str, Any]] | None = None


TABLES_SQL = (
    "SELECT s.relname, pg_total_relation_size(s.relid), s.n_live_tup, s.n_dead_tup,"
    " s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze"
    " FROM pg_stat_user_tables s WHERE s.schemaname = current_schema()"
    " ORDER BY pg_total_relation_size(s.relid) DESC, s.relname LIMIT %s"
)
DEAD_SQL = (
    "SELECT s.relname, pg_total_relation_size(s.relid), s.n_live_tup, s.n_dead_tup,"
    " s.last_vacuum, s.last_autovacuum, s.last_analyze, s.last_autoanalyze"
    " FROM pg_stat_user_tables s WHERE s.schemaname = current_schema()"
    " AND s.n_dead_tup >= %s AND s.n_dead_tup > %s * (s.n_live_tup + s.n_dead_tup)"
    " ORDER BY s.n_dead_tup DESC"
)
UNUSED_INDEX_SQL = (
    "SELECT i.indexrelname, i.relname, pg_relation_size(i.indexrelid), i.idx_scan"
    " FROM pg_stat_user_indexes i JOIN pg_index x ON x.indexrelid = i.indexrelid"
    " WHERE i.schemaname = current_schema() AND i.idx_scan = 0 AND NOT x.indisunique"
    " AND NOT x.indisprimary AND pg_relation_size(i.indexrelid) >= %s"
    " ORDER BY pg_relation_size(i.indexrelid) DESC"
)
CONNECTIONS_SQL = (
    "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'),"
    " current_setting('max_connections')::int,"
    " (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
    "  AND backend_type = 'client backend')"
)
SESSIONS_SQL = (
    "SELECT pid, usename, application_name, state,"
    " EXTRACT(EPOCH FROM (now() - CASE WHEN state = 'active' THEN query_start"
    "   ELSE state_change END))::float, left(query, 300)"
    " FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    " AND ((state LIKE 'idle in transaction%%'"
    "       AND state_change < now() - make_interval(secs => %s))"
    "   OR (state = 'active' AND query_start < now() - make_interval(secs => %s)))"
    " ORDER BY 5 DESC"
)


def _table(row: tuple[Any, ...]) -> TableStat:
    return TableStat(str(row[0]), int(row[1] or 0), int(row[2] or 0), int(row[3] or 0),
                     row[4], row[5], row[6], row[7])  # fmt: skip


def audit_database(
    db: Database, *, series: str | None = None, limits: Thresholds | None = None
) -> DatabaseAudit:
    t = limits or Thresholds()
    with audit_session(db, series=series) as s:
        report = AuditReport("database", s.database, s.schema.version, s.series)
        out = DatabaseAudit(report)
        q = report.queries
        (out.size_bytes,) = run(s.cur, "SELECT pg_database_size(current_database())", log=q)[0]
        out.tables = [_table(r) for r in run(s.cur, TABLES_SQL, (t.top,), log=q)]
        for r in run(s.cur, DEAD_SQL, (t.dead_tuples_min, t.dead_ratio), log=q):
            st = _table(r)
            last = max((d for d in (st.last_vacuum, st.last_autovacuum) if d), default=None)
            report.add(Finding(
                "table-dead-tuples", WARNING, f"table {st.table}",
                f"{st.dead_tuples} dead tuples for {st.live_tuples} live ones; last vacuum: "
                f"{last:%Y-%m-%d %H:%M} UTC" if last else
                f"{st.dead_tuples} dead tuples for {st.live_tuples} live ones; never vacuumed",
                "scans read the dead rows too: slower lists and reports, a bigger database",
                "vacuum the table (and check autovacuum keeps up)",
                f"VACUUM (ANALYZE) {quote_ident(st.table)};",
                f"odoo-ops db vacuum --analyze --table {st.table}",
                {"table": st.table, "dead_tuples": st.dead_tuples, "live_tuples": st.live_tuples},
            ))  # fmt: skip
        for name, table, size, scans in run(s.cur, UNUSED_INDEX_SQL, (t.unused_index_bytes,),
                                            log=q):  # fmt: skip
            idx = IndexStat(str(name), str(table), int(size), int(scans))
            out.unused_indexes.append(idx)
            report.add(Finding(
                "index-unused", WARNING, f"index {idx.index}",
                f"index {idx.index} on {idx.table} ({idx.bytes // 1024 // 1024} MB) was never "
                "used since the statistics were reset",
                "every write to the table maintains it for nothing",
                "check that it is not needed (statistics reset, rare reports), then drop it",
                f"DROP INDEX CONCURRENTLY {quote_ident(idx.index)};", None,
                {"index": idx.index, "table": idx.table, "bytes": idx.bytes},
            ))  # fmt: skip
        out.connections, out.max_connections, out.database_connections = run(
            s.cur, CONNECTIONS_SQL, log=q)[0]  # fmt: skip
        if out.max_connections and out.connections >= t.connections_ratio * out.max_connections:
            report.add(Finding(
                "connections-near-limit", WARNING, "server connections",
                f"{out.connections} of max_connections {out.max_connections} are in use",
                "new Odoo workers and cron threads fail with 'too many clients already'",
                "lower db_maxconn x workers in odoo.conf, or raise max_connections",
                None, None,
                {"connections": out.connections, "max_connections": out.max_connections},
            ))  # fmt: skip
        for pid, user, app, state, secs, query in run(
            s.cur, SESSIONS_SQL, (t.idle_in_transaction_seconds, t.long_query_seconds), log=q
        ):
            sess = SessionStat(int(pid), user, app, state, float(secs or 0), query)
            out.sessions.append(sess)
            idle = str(state).startswith("idle in transaction")
            report.add(Finding(
                "session-idle-in-transaction" if idle else "session-long-running", WARNING,
                f"backend {pid} ({app or user or '?'})",
                f"{state} for {sess.seconds / 60:.0f} minutes: {(query or '')[:120]}",
                "it holds locks and blocks vacuum: other transactions wait or bloat grows"
                if idle else "a long query holds a worker and locks; users wait",
                "end the session if it is stuck",
                f"SELECT pg_terminate_backend({pid});",
                "odoo-ops db terminate-idle --older-than 1h" if idle else None,
                {"pid": pid, "state": state, "seconds": round(sess.seconds)},
            ))  # fmt: skip
        out.statements = _statements(s.cur, t.top, q)
        if out.statements is None:
            report.notes.append("pg_stat_statements is not installed in this database")
        report.counts = {
            "size_bytes": out.size_bytes, "connections": out.connections,
            "max_connections": out.max_connections, "unused_indexes": len(out.unused_indexes),
            "long_sessions": len(out.sessions),
        }  # fmt: skip
    return out


def _statements(cur: Any, top: int, log: list[str]) -> list[dict[str, Any]] | None:
    rows = run(cur, "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n"
               " ON n.oid = e.extnamespace WHERE e.extname = 'pg_stat_statements'", log=log)
    if not rows:
        return None
    schema = quote_ident(str(rows[0][0]))
    cur.execute("SAVEPOINT odoo_ops_pss")
    try:
        out = []
        for calls, total, mean, rows_, query in run(
            cur, f"SELECT calls, total_exec_time, mean_exec_time, rows, left(query, 500)"
            f" FROM {schema}.pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid"
            " WHERE d.datname = current_database() ORDER BY total_exec_time DESC LIMIT %s",
            (top,), log=log,
        ):  # fmt: skip
            out.append({"calls": int(calls), "total_ms": round(float(total), 1),
                        "mean_ms": round(float(mean), 2), "rows": int(rows_), "query": query})
        cur.execute("RELEASE SAVEPOINT odoo_ops_pss")
        return out
    except Exception:
        cur.execute("ROLLBACK TO SAVEPOINT odoo_ops_pss")
        return None
