"""Neutralize a restored copy without Odoo: the SQL Odoo's own neutralize runs.

``odoo neutralize`` runs every installed module's ``data/neutralize.sql``.
The statements that matter for a staging copy are reproduced here, each
applied only when its table (and column) exists:

- every cron off except the autovacuum job (xmlid ``base.autovacuum_job``);
- outgoing mail servers (``ir_mail_server``) and incoming ones
  (``fetchmail_server``) inactive;
- payment providers that are ``enabled`` switched to ``test`` (``is_live``
  false on Odoo 19);
- webhook server actions (17+) pointed nowhere;
- ``database.is_neutralized`` = ``true`` in ``ir_config_parameter``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

STATEMENTS: list[tuple[str, str | None, str]] = [
    (
        "ir_cron",
        "active",
        "UPDATE ir_cron SET active = false WHERE id NOT IN ("
        "SELECT res_id FROM ir_model_data WHERE module = 'base' AND name = 'autovacuum_job'"
        " AND model = 'ir.cron')",
    ),
    ("ir_mail_server", "active", "UPDATE ir_mail_server SET active = false"),
    ("fetchmail_server", "active", "UPDATE fetchmail_server SET active = false"),
    (
        "payment_provider",
        "state",
        "UPDATE payment_provider SET state = 'test' WHERE state = 'enabled'",
    ),
    # Odoo 19 replaced the state by an is_live flag
    ("payment_provider", "is_live", "UPDATE payment_provider SET is_live = false"),
    # 17+: server actions that call webhooks
    (
        "ir_act_server",
        "webhook_url",
        "UPDATE ir_act_server SET webhook_url = 'neutralization - disable webhook'"
        " WHERE state = 'webhook'",
    ),
    (
        "ir_mail_server",
        "smtp_authentication",
        # as Odoo 18 does: a dummy active server, so no fallback server from odoo.conf is used
        "WITH dummy AS (UPDATE ir_mail_server SET active = true"
        " WHERE name = 'neutralization - disable emails' RETURNING id)"
        " INSERT INTO ir_mail_server (name, smtp_port, smtp_host, smtp_encryption, active,"
        " smtp_authentication) SELECT 'neutralization - disable emails', 1025, 'invalid',"
        " 'none', true, 'login' WHERE NOT EXISTS (SELECT 1 FROM dummy)",
    ),
    (
        "ir_config_parameter",
        "key",
        "INSERT INTO ir_config_parameter (key, value, create_date, write_date)"
        " VALUES ('database.is_neutralized', 'true', now() at time zone 'UTC',"
        " now() at time zone 'UTC')"
        " ON CONFLICT (key) DO UPDATE SET value = 'true'",
    ),
]


@dataclass
class NeutralizeResult:
    method: str  # "sql" or "odoo+sql"
    applied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def _has_column(cur: Any, table: str, column: str | None) -> bool:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (f"public.{table}",))
    row = cur.fetchone()
    if not row or not row[0]:
        return False
    if column is None:
        return True
    cur.execute(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = 'public'"
        " AND table_name = %s AND column_name = %s",
        (table, column),
    )
    return cur.fetchone() is not None


def neutralize_sql(conn: Any, *, method: str = "sql") -> NeutralizeResult:
    """Apply the neutralize statements in one transaction on ``conn`` (psycopg)."""
    result = NeutralizeResult(method=method)
    with conn.transaction(), conn.cursor() as cur:
        for table, column, statement in STATEMENTS:
            if not _has_column(cur, table, column):
                result.skipped.append(table)
                continue
            if table == "ir_config_parameter":
                cur.execute(
                    "SELECT 1 FROM pg_indexes WHERE tablename = 'ir_config_parameter'"
                    " AND indexdef ILIKE '%%UNIQUE%%(key)%%'"
                )
                if cur.fetchone() is None:  # no unique key: update, then insert
                    cur.execute(
                        "UPDATE ir_config_parameter SET value = 'true'"
                        " WHERE key = 'database.is_neutralized'"
                    )
                    if cur.rowcount == 0:
                        cur.execute(
                            "INSERT INTO ir_config_parameter (key, value)"
                            " VALUES ('database.is_neutralized', 'true')"
                        )
                    result.applied.append(table)
                    result.rows[table] = 1
                    continue
            try:
                with conn.transaction():
                    cur.execute(statement)
            except Exception as exc:  # a column this Odoo version lacks (NOT NULL...)
                result.skipped.append(f"{table} ({type(exc).__name__})")
                continue
            if table not in result.applied:
                result.applied.append(table)
            result.rows[table] = result.rows.get(table, 0) + max(cur.rowcount, 0)
    return result


def is_neutralized(conn: Any) -> bool:
    with conn.cursor() as cur:
        if not _has_column(cur, "ir_config_parameter", "key"):
            return False
        cur.execute("SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'")
        row = cur.fetchone()
    return bool(row) and str(row[0]).lower() in ("true", "1")
