"""Database-level administration: CREATE, copy, RENAME and DROP DATABASE.

The one place that writes these statements. Backups (restore into a scratch
database and swap it in), deploys (the instant rollback copy) and ``check
--full`` (a throw-away copy to rehearse ``-u base`` on) all go through it, and
every name is quoted by :mod:`psycopg.sql`, never by hand.

The functions take an autocommit connection to a maintenance database of the
server (:func:`admin_connection`); ``CREATE``/``DROP DATABASE`` cannot run in a
transaction.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from odoo_ops.errors import TargetError

if TYPE_CHECKING:
    from odoo_ops.adapters import Target

#: PostgreSQL's identifier limit (NAMEDATALEN - 1): longer names are truncated.
MAX_IDENT = 63

#: From this size on a template copy copies files instead of WAL-logging every
#: block (PostgreSQL 15+): a checkpoint (seconds) instead of WAL the size of the base.
FILE_COPY_BYTES = 1 << 30


def admin_connection(target: Target) -> Any:
    """An autocommit connection to the server's ``postgres`` database
    (``template1`` when ``postgres`` cannot be reached)."""
    db = target.database()
    try:
        return db.connect(autocommit=True, dbname="postgres")
    except TargetError:
        return db.connect(autocommit=True, dbname="template1")


def first_line(exc: BaseException) -> str:
    """The first line of a driver error, fit for a one-line message."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def with_suffix(name: str, suffix: str) -> str:
    """``name`` + ``suffix``, cut so that the result fits in an identifier."""
    return name[: MAX_IDENT - len(suffix)] + suffix


def db_exists(conn: Any, name: str) -> bool:
    row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return row is not None


def terminate_sessions(conn: Any, name: str) -> None:
    """End every other session on database ``name``."""
    conn.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = %s AND pid <> pg_backend_pid()",
        (name,),
    )


def drop_database(conn: Any, name: str) -> None:
    """``DROP DATABASE IF EXISTS`` ending its sessions first (``WITH (FORCE)`` on 13+)."""
    from psycopg import sql

    ident = sql.Identifier(name)
    if conn.info.server_version >= 130000:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
    else:
        terminate_sessions(conn, name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(ident))


def create_database(conn: Any, name: str, pg: dict[str, Any]) -> str | None:
    """Create ``name`` from template0 with the encoding and locale of ``pg``
    (a backup manifest's ``postgresql`` block) when the server has them; a note
    when it fell back to the server's default locale."""
    import psycopg
    from psycopg import sql

    base = sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
    enc, collate, ctype = pg.get("encoding"), pg.get("collate"), pg.get("ctype")
    if enc and collate and ctype:
        try:
            conn.execute(
                base
                + sql.SQL(" ENCODING {} LC_COLLATE {} LC_CTYPE {}").format(
                    sql.Literal(enc), sql.Literal(collate), sql.Literal(ctype)
                )
            )
            return None
        except psycopg.Error as exc:
            conn.execute(base + sql.SQL(" ENCODING 'UTF8'"))
            return f"created with the server's default locale ({first_line(exc)})"
    conn.execute(base + sql.SQL(" ENCODING 'UTF8'"))
    return None


def copy_database(conn: Any, source: str, copy: str, *, size_aware: bool = False) -> None:
    """``CREATE DATABASE copy TEMPLATE source``: no other session may use
    ``source``. With ``size_aware``, a source of :data:`FILE_COPY_BYTES` or more
    is copied with ``STRATEGY FILE_COPY`` (PostgreSQL 15+). Raises the driver's
    error when the server refuses."""
    from psycopg import sql

    statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
        sql.Identifier(copy), sql.Identifier(source)
    )
    if size_aware and conn.info.server_version >= 150000:
        row = conn.execute("SELECT pg_database_size(%s)", (source,)).fetchone()
        if row and row[0] >= FILE_COPY_BYTES:
            statement += sql.SQL(" STRATEGY FILE_COPY")
    conn.execute(statement)


def rename_database(conn: Any, old: str, new: str) -> None:
    from psycopg import sql

    conn.execute(
        sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(old), sql.Identifier(new))
    )
