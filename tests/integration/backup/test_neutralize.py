"""The SQL neutralize on Odoo-shaped databases of every supported version."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.support import odoo_schema, pg

from odoo_ops.backup.neutralize import is_neutralized, neutralize_sql

pytestmark = pytest.mark.pg


def test_neutralize_every_version(odoo_db: Callable[..., pg.OdooTestDb], odoo_version: int) -> None:
    db = odoo_db(odoo_version)
    conn = db.connect()
    odoo_schema.add_mail_server(conn, "smtp", password="smtp-secret")
    odoo_schema.add_fetchmail_server(conn, "imap")
    live = odoo_schema.add_payment_provider(conn, "Stripe", "stripe", state="enabled")
    off = odoo_schema.add_payment_provider(conn, "Wire", "transfer", state="disabled")
    assert not is_neutralized(conn)
    crons_before = conn.execute("SELECT count(*) FROM ir_cron WHERE active").fetchone()
    assert crons_before and crons_before[0] > 1

    result = neutralize_sql(conn)

    assert is_neutralized(conn)
    assert {"ir_cron", "ir_mail_server", "fetchmail_server", "payment_provider",
            "ir_config_parameter"} <= set(result.applied)
    active = conn.execute(
        "SELECT c.active, d.name FROM ir_cron c LEFT JOIN ir_model_data d"
        " ON d.model = 'ir.cron' AND d.module = 'base' AND d.res_id = c.id").fetchall()
    assert [n for a, n in active if a] == ["autovacuum_job"]
    servers = conn.execute("SELECT name, active FROM ir_mail_server ORDER BY id").fetchall()
    assert servers[0] == ("smtp", False)
    assert all(name == "neutralization - disable emails" for name, a in servers if a)
    assert conn.execute("SELECT bool_or(active) FROM fetchmail_server").fetchone() == (False,)
    states = dict(conn.execute("SELECT id, state FROM payment_provider").fetchall())
    assert states[live] == "test" and states[off] == "disabled"
    # idempotent: a second run changes nothing more and adds no second dummy server
    neutralize_sql(conn)
    assert conn.execute("SELECT count(*) FROM ir_mail_server WHERE active").fetchone() == (
        len([1 for _, a in servers if a]),)


def test_neutralize_tolerates_missing_tables(make_database: Callable[..., pg.TestDatabase]) -> None:
    db = make_database("bare")
    conn = db.connect()
    conn.execute("CREATE TABLE ir_config_parameter (id serial, key varchar UNIQUE, value text,"
                 " create_date timestamp, write_date timestamp)")
    result = neutralize_sql(conn)
    assert result.applied == ["ir_config_parameter"]
    assert "ir_cron" in result.skipped and is_neutralized(conn)
