"""Test databases on the real local PostgreSQL server.

The admin DSN comes from ``ODOO_OPS_TEST_PG`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``); its role must be allowed to
create databases (a superuser to restore the real Odoo dump).

Every database made here is named ``odoo_ops_test_<session>_<random>``, so a
test run only ever drops its own databases, including copies other code made
with the same prefix (``<db>_before_restore_...``), even when several test
runs share the server.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tests.support import odoo_schema

REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository root (``tests/..``)."""

SHARED_DIR = REPO_ROOT.parent / "shared"
"""``../shared`` beside the repository (absent in a user's clone)."""

REAL_ODOO18_DUMP = SHARED_DIR / "fixtures" / "odoo18-base-mail-oca.dump"
"""``pg_dump -Fc`` of a real Odoo 18 database (base, web, mail, contacts, OCA addons)."""

ENV_ADMIN_DSN = "ODOO_OPS_TEST_PG"
DEFAULT_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_PREFIX = "odoo_ops_test_"
ODOO_VERSIONS: tuple[int, ...] = odoo_schema.SUPPORTED_VERSIONS


class PostgresUnavailable(RuntimeError):
    """The test PostgreSQL server cannot be used; the message says what is needed."""


def redact_dsn(dsn: str) -> str:
    """``dsn`` with any password replaced by ``***``."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparsable DSN>"
    if params.get("password"):
        params["password"] = "***"
    return _url(params)


def _url(params: dict[str, Any]) -> str:
    user = quote(str(params.get("user") or ""), safe="")
    password = params.get("password")
    auth = ""
    if user:
        auth = user + (f":{quote(str(password), safe='*')}" if password else "") + "@"
    host = params.get("host") or ""
    port = f":{params['port']}" if params.get("port") else ""
    dbname = quote(str(params.get("dbname") or ""), safe="")
    extra = {k: v for k, v in params.items()
             if k not in ("user", "password", "host", "port", "dbname") and v is not None}
    query = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in extra.items())
    return f"postgresql://{auth}{host}{port}/{dbname}" + (f"?{query}" if query else "")


def dsn_for(admin_dsn: str, dbname: str) -> str:
    """A ``postgresql://`` URL to ``dbname`` with the credentials of ``admin_dsn``."""
    params = conninfo_to_dict(admin_dsn)
    params["dbname"] = dbname
    return _url(params)


def check_server(admin_dsn: str) -> None:
    """Raise :class:`PostgresUnavailable` unless ``admin_dsn`` can connect and create databases."""
    needed = (
        f"odoo-ops tests need a PostgreSQL server (15) where they may create and drop "
        f"databases. Start one at 127.0.0.1:5432 with superuser 'postgres' and trust "
        f"authentication, or set {ENV_ADMIN_DSN} to an admin DSN such as "
        f"postgresql://USER:PASSWORD@HOST:5432/postgres."
    )
    try:
        with psycopg.connect(admin_dsn, connect_timeout=5, autocommit=True) as conn:
            row = conn.execute(
                "SELECT rolsuper OR rolcreatedb FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PostgresUnavailable(
            f"cannot connect to {redact_dsn(admin_dsn)}: {reason}. {needed}") from exc
    if not row or not row[0]:
        raise PostgresUnavailable(
            f"the role of {redact_dsn(admin_dsn)} may not create databases. {needed}")


def _admin(admin_dsn: str) -> psycopg.Connection[Any]:
    return psycopg.connect(admin_dsn, autocommit=True)


def drop_databases(admin_dsn: str, prefix: str) -> list[str]:
    """Drop (``WITH (FORCE)``) every database whose name starts with ``prefix``."""
    if not prefix.startswith(DB_PREFIX):
        raise ValueError(f"refusing to drop databases outside {DB_PREFIX}*: {prefix!r}")
    dropped = []
    with _admin(admin_dsn) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,))]
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(name)))
            dropped.append(name)
    return dropped


@dataclass
class TestDatabase:
    """A database of the test server; ``connect()`` gives autocommit connections."""

    __test__ = False  # not a test class for pytest

    name: str
    dsn: str
    admin_dsn: str
    _conns: list[psycopg.Connection[Any]] = field(default_factory=list, repr=False)

    def connect(self, *, autocommit: bool = True, **kwargs: Any) -> psycopg.Connection[Any]:
        """A new psycopg connection (autocommit by default), closed at teardown."""
        conn = psycopg.connect(self.dsn, autocommit=autocommit, **kwargs)
        self._conns.append(conn)
        return conn

    @property
    def conninfo(self) -> dict[str, Any]:
        """``host``, ``port``, ``user``, ``password`` and ``dbname`` of :attr:`dsn`."""
        params = conninfo_to_dict(self.dsn)
        return {key: params.get(key) for key in ("host", "port", "user", "password", "dbname")}

    def scalar(self, query: str, params: Sequence[Any] | None = None) -> Any:
        """First column of the first row of ``query`` (``None`` without rows)."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
        return None if row is None else row[0]

    def close_connections(self) -> None:
        """Close the connections :meth:`connect` handed out."""
        while self._conns:
            conn = self._conns.pop()
            if not conn.closed:
                conn.close()


@dataclass
class OdooTestDb(TestDatabase):
    """An Odoo-shaped database of ``version`` (16..19), seeded or just the schema."""

    version: int = 18
    seeded: bool = True

    @property
    def series(self) -> str:
        """``"18.0"`` for version 18."""
        return f"{self.version}.0"

    def filestore(self, data_dir: Path) -> Path:
        """Where Odoo keeps this database's files: ``DATA_DIR/filestore/NAME``."""
        return Path(data_dir) / "filestore" / self.name

    def write_filestore(self, data_dir: Path) -> Path:
        """Write the seed's stored attachments under :meth:`filestore`; returns that dir."""
        return odoo_schema.write_filestore(self.filestore(data_dir))

    def write_odoo_conf(
        self,
        path: Path,
        *,
        addons_path: Sequence[Path | str] = (),
        data_dir: Path | str | None = None,
        with_dbname: bool = True,
        **options: Any,
    ) -> Path:
        """Write an ``odoo.conf`` (``[options]``) pointing at this database; returns ``path``.

        ``db_host/db_port/db_user/db_password`` come from :attr:`dsn`
        (``db_name`` too unless ``with_dbname=False``); extra ``options``
        are written as given (``True`` -> ``True``, ``None`` -> ``False``).
        """
        info = self.conninfo
        values: dict[str, Any] = {
            "db_host": info["host"] or False,
            "db_port": info["port"] or False,
            "db_user": info["user"] or False,
            "db_password": info["password"] or False,
        }
        if with_dbname:
            values["db_name"] = self.name
        if addons_path:
            values["addons_path"] = ",".join(str(p) for p in addons_path)
        if data_dir is not None:
            values["data_dir"] = str(data_dir)
        values.update(options)
        lines = ["[options]"]
        for key, value in values.items():
            lines.append(f"{key} = {False if value is None else value}")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path


class DatabaseManager:
    """Creates and drops this session's databases; one per pytest session."""

    def __init__(self, admin_dsn: str, session_token: str | None = None) -> None:
        self.admin_dsn = admin_dsn
        self.token = session_token or secrets.token_hex(3)
        self.prefix = f"{DB_PREFIX}{self.token}_"
        self._templates: dict[tuple[int, bool], str] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future[list[str]]] = []

    def unique_name(self, hint: str = "") -> str:
        """A fresh database name of this session (not created)."""
        hint = "".join(c for c in hint.lower() if c.isalnum())[:12]
        return f"{self.prefix}{hint}{secrets.token_hex(4)}"

    def create(self, name: str | None = None, *, template: str | None = None) -> TestDatabase:
        """Create an empty database (or a copy of ``template``)."""
        name = name or self.unique_name()
        stmt = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            stmt = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template))
        with _admin(self.admin_dsn) as conn:
            for attempt in range(20):
                try:
                    conn.execute(stmt)
                    break
                except psycopg.errors.ObjectInUse:
                    # "source database is being accessed by other users" (autovacuum...)
                    if not template or attempt == 19:
                        raise
                    time.sleep(0.1)
        return TestDatabase(name=name, dsn=dsn_for(self.admin_dsn, name), admin_dsn=self.admin_dsn)

    def drop(self, name: str) -> list[str]:
        """Drop ``name`` and every database whose name starts with it (now)."""
        return drop_databases(self.admin_dsn, name)

    def drop_later(self, name: str) -> None:
        """Like :meth:`drop`, in background threads.

        ``DROP DATABASE`` forces a checkpoint, which can take seconds on a busy
        server; concurrent drops share checkpoints. :meth:`cleanup` waits for
        the pending drops.
        """
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=6,
                                                thread_name_prefix="odoo-ops-test-drop")
            self._pending.append(self._pool.submit(drop_databases, self.admin_dsn, name))

    def template(self, version: int, seed: bool = True) -> str:
        """The name of the template of ``version`` (built on first use)."""
        key = (version, seed)
        with self._lock:
            if key not in self._templates:
                name = f"{self.prefix}tmpl{version}{'s' if seed else 'e'}"
                db = self.create(name)
                with psycopg.connect(db.dsn, autocommit=True) as conn:
                    odoo_schema.create_odoo_schema(conn, version)
                    if seed:
                        odoo_schema.seed_base(conn, version)
                    conn.execute("VACUUM ANALYZE")  # leave autovacuum nothing to do
                self._templates[key] = name
            return self._templates[key]

    def odoo_db(self, version: int = 18, seed: bool = True) -> OdooTestDb:
        """A fresh Odoo-shaped database copied from the version's template."""
        template = self.template(version, seed)
        db = self.create(self.unique_name(f"v{version}"), template=template)
        return OdooTestDb(name=db.name, dsn=db.dsn, admin_dsn=self.admin_dsn,
                          version=version, seeded=seed)

    def restore_dump(self, dump: Path, name: str | None = None) -> TestDatabase:
        """``pg_restore --no-owner --no-privileges`` ``dump`` into a new database."""
        pg_restore = shutil.which("pg_restore")
        if pg_restore is None:
            raise PostgresUnavailable("pg_restore is not on PATH (install postgresql-client)")
        ensure_role(self.admin_dsn, "odoo")
        db = self.create(name or self.unique_name("restore"))
        env = {**os.environ, "PGOPTIONS": "-c synchronous_commit=off"}
        proc = subprocess.run(
            [pg_restore, "--no-owner", "--no-privileges", "--single-transaction",
             "--dbname", db.dsn, str(dump)],
            capture_output=True, text=True, check=False, env=env,
        )
        if proc.returncode != 0:
            self.drop(db.name)
            raise RuntimeError(f"pg_restore of {dump} failed: {proc.stderr.strip()}")
        return db

    def cleanup(self) -> list[str]:
        """Wait for pending drops, then drop every database of this session (templates too)."""
        with self._lock:
            pool, self._pool = self._pool, None
            pending, self._pending = self._pending, []
        for future in pending:
            try:
                future.result(timeout=300)
            except Exception:
                pass
        self._templates.clear()
        with _admin(self.admin_dsn) as conn:
            names = [r[0] for r in conn.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s)",
                (self.prefix,))]
        if pool is None:
            pool = ThreadPoolExecutor(max_workers=6)
        dropped: list[str] = []
        for result in pool.map(lambda n: drop_databases(self.admin_dsn, n), names):
            dropped.extend(result)
        pool.shutdown()
        return dropped


def terminate_sessions(admin_dsn: str, dbname: str) -> None:
    """Terminate every other session connected to ``dbname``."""
    with _admin(admin_dsn) as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                     " WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,))


def ensure_role(admin_dsn: str, role: str) -> None:
    """Create the login-less role ``role`` if it does not exist (needs a superuser)."""
    with _admin(admin_dsn) as conn:
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if not exists:
            try:
                conn.execute(sql.SQL("CREATE ROLE {}").format(sql.Identifier(role)))
            except psycopg.errors.DuplicateObject:
                pass


@contextmanager
def connect(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection closed on exit."""
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        yield conn
    finally:
        conn.close()
