"""The PostgreSQL adapter (psycopg 3).

Read-only by default: :meth:`Database.read_only` opens a ``READ ONLY``
transaction with a statement timeout. Anything that writes says so
(:meth:`Database.writable`) and should run under :meth:`Database.lock`, a
session-level advisory lock keyed on the deployment, so two odoo-ops runs
never change the same deployment at once.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from odoo_ops.errors import LockError, TargetError
from odoo_ops.secrets import redact_url

if TYPE_CHECKING:
    import psycopg


def _friendly(exc: Exception, dsn: str) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"cannot connect to PostgreSQL ({redact_url(dsn)}): {text}"


# advisory locks held, by (thread, name): nested ``lock()`` calls of one thread
# (a deploy running an update that runs a backup) re-enter them; another thread
# takes the lock like another process would.
_HELD: dict[tuple[int, str], int] = {}


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    digest = hashlib.sha256(f"odoo-ops:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def dsn_for_database(dsn: str, dbname: str) -> str:
    """``dsn`` with its database set to ``dbname``; a URL stays a URL (so the
    password stays where URL redaction finds it), a keyword DSN stays keywords."""
    from urllib.parse import parse_qsl, quote, urlsplit

    from psycopg.conninfo import make_conninfo

    if dsn.startswith(("postgresql://", "postgres://")):
        parts = urlsplit(dsn)
        if not any(k == "dbname" for k, _ in parse_qsl(parts.query, keep_blank_values=True)):
            path = "/" + quote(dbname, safe="")
            query = f"?{parts.query}" if parts.query else ""
            fragment = f"#{parts.fragment}" if parts.fragment else ""
            return f"{parts.scheme}://{parts.netloc}{path}{query}{fragment}"
    return make_conninfo(dsn, dbname=dbname)


@dataclass
class Database:
    """A database of the deployment, reached with a libpq DSN."""

    dsn: str
    connect_timeout: float = 5.0
    statement_timeout: float = 60.0
    application_name: str = "odoo-ops"

    @property
    def name(self) -> str | None:
        from psycopg.conninfo import conninfo_to_dict

        try:
            return str(conninfo_to_dict(self.dsn).get("dbname") or "") or None
        except Exception:
            return None

    def with_database(self, dbname: str) -> Database:
        return Database(
            dsn_for_database(self.dsn, dbname),
            self.connect_timeout,
            self.statement_timeout,
            self.application_name,
        )

    def connect(self, *, autocommit: bool = False, dbname: str | None = None) -> psycopg.Connection:
        """Open a connection; failures become one-line :class:`TargetError`."""
        import psycopg

        kwargs: dict[str, Any] = {
            "connect_timeout": max(1, round(self.connect_timeout)),
            "application_name": self.application_name,
            "autocommit": autocommit,
        }
        if dbname:
            kwargs["dbname"] = dbname
        try:
            return psycopg.connect(self.dsn, **kwargs)
        except psycopg.OperationalError as exc:
            raise TargetError(_friendly(exc, self.dsn)) from None
        except psycopg.ProgrammingError as exc:  # invalid DSN
            raise TargetError(f"invalid database DSN {redact_url(self.dsn)}: {exc}") from None

    @contextmanager
    def _odoo_tables_expected(self) -> Iterator[None]:
        """A query on a table the database lacks: not an Odoo database (or not
        initialised), said in one line rather than as a crash."""
        from psycopg import errors

        try:
            yield
        except errors.UndefinedTable as exc:
            table = exc.diag.message_primary or str(exc).splitlines()[0]
            raise TargetError(
                f"database {self.name or '?'} is not an Odoo database ({table})",
                hint="check the database name (-d, database =, the dsn); an Odoo database"
                " is made by `odoo -i base`",
            ) from None

    @contextmanager
    def read_only(self, *, timeout: float | None = None) -> Iterator[psycopg.Cursor[Any]]:
        """A cursor in a READ ONLY transaction with a statement timeout."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                cur.execute("SET TRANSACTION READ ONLY")
                ms = int((timeout or self.statement_timeout) * 1000)
                cur.execute(f"SET LOCAL statement_timeout = {ms}")
                with self._odoo_tables_expected():
                    yield cur
            conn.rollback()
        finally:
            conn.close()

    @contextmanager
    def writable(self, *, timeout: float | None = None) -> Iterator[psycopg.Cursor[Any]]:
        """A cursor in a read-write transaction, committed when the block succeeds."""
        conn = self.connect()
        try:
            with conn.cursor() as cur:
                ms = int((timeout or self.statement_timeout) * 1000)
                cur.execute(f"SET LOCAL statement_timeout = {ms}")
                with self._odoo_tables_expected():
                    yield cur
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()

    @contextmanager
    def lock(self, name: str, *, wait: float = 0.0) -> Iterator[None]:
        """Hold the advisory lock ``name`` for the block.

        The lock is taken in the server's ``postgres`` database when it can be
        reached (so it also covers commands that drop or restore the
        deployment's database), else in the deployment's database. With
        ``wait`` > 0 the call retries for that many seconds, then raises
        :class:`LockError`.
        """
        import threading

        import psycopg

        held = (threading.get_ident(), name)
        if _HELD.get(held):
            _HELD[held] += 1
            try:
                yield
            finally:
                _HELD[held] -= 1
            return
        try:
            conn = self.connect(autocommit=True, dbname="postgres")
        except TargetError:
            conn = self.connect(autocommit=True)
        key = lock_key(name)
        deadline = time.monotonic() + wait
        try:
            while True:
                row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
                if row and row[0]:
                    break
                if time.monotonic() >= deadline:
                    holder = conn.execute(
                        "SELECT a.pid, a.application_name, a.backend_start FROM pg_locks l "
                        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory'"
                        " AND l.granted AND (l.classid::bigint << 32 | l.objid::bigint) = %s",
                        (key,),
                    ).fetchone()
                    who = f" (held by PostgreSQL backend {holder[0]})" if holder else ""
                    raise LockError(
                        f"another odoo-ops run is changing deployment {name!r}{who}",
                        hint="wait for it to finish, or pass --wait SECONDS",
                    )
                time.sleep(0.2)
            _HELD[held] = 1
            try:
                yield
            finally:
                _HELD.pop(held, None)
        finally:
            try:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            except psycopg.Error:
                pass
            conn.close()

    def ping(self) -> float:
        """Seconds taken by ``SELECT 1`` (connection included)."""
        start = time.monotonic()
        with self.read_only(timeout=self.connect_timeout + 5) as cur:
            cur.execute("SELECT 1")
        return time.monotonic() - start
