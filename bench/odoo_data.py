"""A real Odoo 18 database of a chosen size, for benchmarks that move databases.

The shared dump ``../shared/fixtures/odoo18-base-mail-oca.dump`` (31 modules,
215 tables, 1,193 indexes and constraints) is restored, then grown server-side
with ``generate_series`` rows where a working Odoo grows: chatter messages with
HTML bodies, partners, attachments' metadata, notifications, followers and
external ids. Each table gets its share of the size, so the database has what
a production one has: several large tables, each with Odoo's own indexes and
foreign keys, beside two hundred small ones.

    from bench.odoo_data import restore_and_grow
    size = restore_and_grow(admin_dsn, "shop", 1024 * 2**20)
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

DUMP = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "odoo18-base-mail-oca.dump"

#: The share of the grown bytes each table takes (rows with their indexes).
SHARES = {
    "res_partner": 0.20,  # first: the others point at partners
    "mail_message": 0.40,
    "ir_attachment": 0.15,
    "ir_model_data": 0.10,
    "mail_notification": 0.08,
    "mail_followers": 0.07,
}

# Each statement inserts the rows numbered %(lo)s to %(hi)s; ``base`` is the first
# partner id of this growth, so references stay inside rows that exist.
_INSERTS = {
    "res_partner": """
        INSERT INTO res_partner (name, complete_name, email, email_normalized, phone, street,
            city, zip, country_id, lang, tz, type, active, is_company, partner_share,
            company_id, create_uid, write_uid, create_date, write_date, comment, ref)
        SELECT 'Customer ' || g, 'Customer ' || g, 'customer' || g || '@example.com',
               'customer' || g || '@example.com', '+32 2 ' || lpad((g %% 1000000)::text, 6, '0'),
               (g %% 400) || ' Rue ' || md5(g::text), 'City ' || (g %% 500),
               (1000 + g %% 9000)::text,
               (SELECT min(id) FROM res_country), 'en_US', 'Europe/Brussels', 'contact', true,
               g %% 10 = 0, true, 1, 1, 1, now(), now(),
               CASE WHEN g %% 3 = 0 THEN '<p>' || md5((g * 3)::text) || ' ' || md5((g * 5)::text)
                    || '</p>' END, 'C' || g
          FROM generate_series(%(lo)s, %(hi)s) AS g
    """,
    "mail_message": """
        INSERT INTO mail_message (model, res_id, message_type, subject, body, author_id, date,
            create_date, write_date, create_uid, write_uid, record_name, email_from, message_id)
        SELECT 'res.partner', %(base)s + g %% %(partners)s, 'comment', 'Order follow-up #' || g,
               '<p>' || (SELECT string_agg(md5(g::text || '-' || i), ' ')
                         FROM generate_series(1, 6 + g %% 14) AS i) || '</p>',
               %(base)s + g %% %(partners)s, now() - (g || ' minutes')::interval, now(), now(),
               1, 1, 'Customer ' || g, 'customer' || (g %% 5000) || '@example.com',
               '<' || g || '.bench@example.com>'
          FROM generate_series(%(lo)s, %(hi)s) AS g
    """,
    "ir_attachment": """
        INSERT INTO ir_attachment (name, res_model, res_id, type, store_fname, checksum,
            mimetype, file_size, public, company_id, create_uid, write_uid, create_date,
            write_date, description)
        SELECT 'invoice-' || g || '.pdf', 'res.partner', %(base)s + g %% %(partners)s, 'binary',
               substr(md5(g::text), 1, 2) || '/' || md5(g::text) || substr(md5((-g)::text), 1, 8),
               md5(g::text) || substr(md5((-g)::text), 1, 8), 'application/pdf',
               20000 + g %% 200000, false, 1, 1, 1, now(), now(),
               CASE WHEN g %% 4 = 0 THEN 'Scanned ' || md5(g::text) END
          FROM generate_series(%(lo)s, %(hi)s) AS g
    """,
    "ir_model_data": """
        INSERT INTO ir_model_data (module, name, model, res_id, noupdate, create_uid,
            write_uid, create_date, write_date)
        SELECT '__import__', 'res_partner_' || g || '_' || substr(md5(g::text), 1, 8),
               'res.partner', %(base)s + g %% %(partners)s, false, 1, 1, now(), now()
          FROM generate_series(%(lo)s, %(hi)s) AS g
    """,
    "mail_notification": """
        INSERT INTO mail_notification (mail_message_id, res_partner_id, author_id,
            notification_type, notification_status, is_read, read_date)
        SELECT m.id, %(base)s + m.id %% %(partners)s, m.author_id, 'inbox',
               CASE WHEN m.id %% 5 = 0 THEN 'sent' ELSE 'read' END, m.id %% 5 <> 0, now()
          FROM mail_message m
         WHERE m.id BETWEEN (SELECT min(id) FROM mail_message WHERE message_id LIKE '%%.bench@%%')
                            + %(lo)s AND (SELECT min(id) FROM mail_message
                                          WHERE message_id LIKE '%%.bench@%%') + %(hi)s
    """,
    "mail_followers": """
        INSERT INTO mail_followers (res_model, res_id, partner_id)
        SELECT 'res.partner', g, %(base)s + g %% %(partners)s
          FROM generate_series(%(lo)s, %(hi)s) AS g
    """,
}

_BATCH = 50_000


def _size(conn: psycopg.Connection[tuple[object, ...]], table: str) -> int:
    row = conn.execute("SELECT pg_total_relation_size(%s::regclass)", (table,)).fetchone()
    assert row is not None
    return int(str(row[0]))


def restore_dump(admin_dsn: str, dbname: str) -> str:
    """The shared dump restored into a new database ``dbname``; its connection string."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(
            sql.Identifier(dbname)))  # fmt: skip
    dsn = make_conninfo("", **{**conninfo_to_dict(admin_dsn), "dbname": dbname})
    subprocess.run(["pg_restore", "--no-owner", "--no-privileges", "-j", "2", "-d", dsn,
                    str(DUMP)], check=True, capture_output=True)  # fmt: skip
    return dsn


def grow(dsn: str, target_bytes: int) -> int:
    """Add rows to the tables of :data:`SHARES` until the database holds about
    ``target_bytes``; its size after."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        start = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        assert start is not None
        extra = max(0, target_bytes - int(str(start[0])))
        # partners first (the others point at them), one batch of each to learn row sizes
        per_row: dict[str, float] = {}
        done: dict[str, int] = {}
        params = {"base": 0, "partners": _BATCH}
        for table in SHARES:
            before = _size(conn, table)
            conn.execute(_INSERTS[table], {**params, "lo": 0, "hi": _BATCH - 1})
            if table == "res_partner":  # one session: the new ids follow each other
                row = conn.execute("SELECT min(id) FROM res_partner WHERE ref = 'C0'").fetchone()
                assert row is not None
                params["base"] = int(str(row[0]))
            per_row[table] = max(1.0, (_size(conn, table) - before) / _BATCH)
            done[table] = _BATCH
        wanted = {t: int(extra * share / per_row[t]) for t, share in SHARES.items()}
        partners = max(done["res_partner"], wanted["res_partner"])
        params["partners"] = partners
        for table in SHARES:
            while done[table] < wanted[table]:
                if table == "mail_notification":  # one per message, never more
                    messages = max(done["mail_message"], wanted["mail_message"])
                    if done[table] >= messages:
                        break
                hi = min(wanted[table], done[table] + 4 * _BATCH) - 1
                conn.execute(_INSERTS[table], {**params, "lo": done[table], "hi": hi})
                done[table] = hi + 1
        conn.execute("VACUUM ANALYZE")
        size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        assert size is not None
        return int(str(size[0]))


def restore_and_grow(admin_dsn: str, dbname: str, target_bytes: int) -> int:
    """:func:`restore_dump` then :func:`grow`; the database's size in bytes."""
    return grow(restore_dump(admin_dsn, dbname), target_bytes)
