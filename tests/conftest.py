"""Shared pytest fixtures of odoo-ops (see ``tests/support`` for the pieces).

PostgreSQL
    ``pg_admin_dsn`` (session) -- admin DSN from ``ODOO_OPS_TEST_PG``; the
    session stops with one message when the server cannot be used.
    ``make_database()`` -- an empty database ``odoo_ops_test_*``, dropped with
    every database whose name starts with it.
    ``odoo_db(version=18, seed=True)`` -- an Odoo-shaped database copied from a
    per-session template (milliseconds). ``odoo_version`` runs a test once per
    version in ``ODOO_VERSIONS`` (16..19).
    ``real_odoo18_db`` (session, read-only) / ``real_odoo18_copy`` -- the real
    Odoo 18 dump of ``../shared/fixtures``, skipped when absent.

Doubles
    ``fake_bin`` -- ``tests/support/bin`` (``odoo``, ``docker``, ``ssh``) first on
    PATH, with their logs. ``addons_dir`` -- writes addons for the ``odoo`` double.
    ``odoo_web`` -- a fake Odoo web server; ``webhook_receiver`` -- records POSTs.

Isolation
    Every test runs with HOME and XDG_* in a temporary directory and without
    ODOO_RC / ODOO_OPS_* (except ODOO_OPS_TEST_PG) / harness knobs inherited
    from the shell.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from tests.support import pg  # noqa: E402
from tests.support.addons import AddonsDir  # noqa: E402
from tests.support.fakebin import FakeBin, install_fake_bin  # noqa: E402
from tests.support.web import FakeOdooWeb  # noqa: E402
from tests.support.webhook import WebhookReceiver  # noqa: E402

ODOO_VERSIONS = pg.ODOO_VERSIONS
SHARED_DIR = pg.SHARED_DIR
REAL_ODOO18_DUMP = pg.REAL_ODOO18_DUMP

#: Environment variables a test must not inherit (prefixes), besides ODOO_RC.
_LEAKY_PREFIXES = ("ODOO_OPS_", "ODOO_DOUBLE_", "FAKE_DOCKER_", "FAKE_COMPOSE_", "FAKE_SSH_")
_KEEP = {pg.ENV_ADMIN_DSN}


# ---------------------------------------------------------------------------
# isolation
# ---------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _isolated_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """HOME and XDG dirs in a temporary directory; no leaked ODOO_RC / ODOO_OPS_* settings."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (("XDG_CONFIG_HOME", ".config"), ("XDG_DATA_HOME", ".local/share"),
                     ("XDG_CACHE_HOME", ".cache"), ("XDG_STATE_HOME", ".local/state"),
                     ("XDG_RUNTIME_DIR", ".run")):
        path = home / sub
        path.mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(path))
    monkeypatch.delenv("ODOO_RC", raising=False)
    monkeypatch.delenv("OPENERP_SERVER", raising=False)
    for name in list(os.environ):
        if name.startswith(_LEAKY_PREFIXES) and name not in _KEEP:
            monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """An empty directory standing for a deployment's project directory."""
    path = tmp_path / "project"
    path.mkdir()
    return path


# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_admin_dsn() -> str:
    """The admin DSN of the test server; stops the session when the server is unusable."""
    dsn = os.environ.get(pg.ENV_ADMIN_DSN) or pg.DEFAULT_ADMIN_DSN
    try:
        pg.check_server(dsn)
    except pg.PostgresUnavailable as exc:
        pytest.exit(str(exc), returncode=3)
    return dsn


@pytest.fixture(scope="session")
def pg_databases(pg_admin_dsn: str) -> Iterator[pg.DatabaseManager]:
    """This session's :class:`~tests.support.pg.DatabaseManager` (templates, cleanup)."""
    manager = pg.DatabaseManager(pg_admin_dsn)
    try:
        yield manager
    finally:
        manager.cleanup()


@pytest.fixture
def make_database(pg_databases: pg.DatabaseManager) -> Iterator[Callable[..., pg.TestDatabase]]:
    """Factory: ``make_database(hint="") -> TestDatabase`` (empty, uniquely named).

    At teardown the database is dropped WITH (FORCE), along with every database
    whose name starts with its name (``<db>_before_restore_...`` and the like).
    """
    made: list[pg.TestDatabase] = []

    def factory(hint: str = "") -> pg.TestDatabase:
        db = pg_databases.create(pg_databases.unique_name(hint))
        made.append(db)
        return db

    yield factory
    for db in made:
        db.close_connections()
        pg_databases.drop_later(db.name)


@pytest.fixture
def odoo_db(pg_databases: pg.DatabaseManager) -> Iterator[Callable[..., pg.OdooTestDb]]:
    """Factory: ``odoo_db(version=18, seed=True) -> OdooTestDb``.

    A fresh copy of a per-session template built with
    :func:`~tests.support.odoo_schema.create_odoo_schema` (+ ``seed_base``
    when ``seed``). Dropped (with its name-prefixed copies) at teardown.
    """
    made: list[pg.OdooTestDb] = []

    def factory(version: int = 18, seed: bool = True) -> pg.OdooTestDb:
        db = pg_databases.odoo_db(version, seed)
        made.append(db)
        return db

    yield factory
    for db in made:
        db.close_connections()
        pg_databases.drop_later(db.name)


@pytest.fixture(params=ODOO_VERSIONS, ids=lambda v: f"odoo{v}")
def odoo_version(request: pytest.FixtureRequest) -> int:
    """Runs the test once per supported Odoo version (16, 17, 18, 19)."""
    return int(request.param)


@pytest.fixture(scope="session")
def real_odoo18_db(pg_databases: pg.DatabaseManager) -> pg.OdooTestDb:
    """The real Odoo 18 dump restored once per session. Read-only: use ``real_odoo18_copy``
    to write. Skips when ``../shared/fixtures`` is absent."""
    if not REAL_ODOO18_DUMP.is_file():
        pytest.skip(f"real Odoo 18 dump not available ({REAL_ODOO18_DUMP})")
    db = pg_databases.restore_dump(REAL_ODOO18_DUMP, pg_databases.unique_name("real18"))
    return pg.OdooTestDb(name=db.name, dsn=db.dsn, admin_dsn=db.admin_dsn, version=18,
                         seeded=False)


@pytest.fixture
def real_odoo18_copy(
    real_odoo18_db: pg.OdooTestDb, pg_databases: pg.DatabaseManager
) -> Iterator[pg.OdooTestDb]:
    """A writable copy of ``real_odoo18_db``, dropped at teardown."""
    real_odoo18_db.close_connections()  # a template must have no other sessions
    pg.terminate_sessions(pg_databases.admin_dsn, real_odoo18_db.name)
    copy = pg_databases.create(pg_databases.unique_name("real18copy"),
                               template=real_odoo18_db.name)
    db = pg.OdooTestDb(name=copy.name, dsn=copy.dsn, admin_dsn=copy.admin_dsn, version=18,
                       seeded=False)
    yield db
    db.close_connections()
    pg_databases.drop_later(db.name)


# ---------------------------------------------------------------------------
# doubles
# ---------------------------------------------------------------------------


@pytest.fixture
def fake_bin(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> FakeBin:
    """``tests/support/bin`` first on PATH (``odoo``, ``docker``, ``ssh`` doubles) + their logs."""
    return install_fake_bin(monkeypatch, tmp_path_factory.mktemp("fakebin"))


@pytest.fixture
def addons_dir(tmp_path_factory: pytest.TempPathFactory) -> AddonsDir:
    """An empty addons directory; ``addons_dir.add("my_addon", depends=[...])`` writes one."""
    return AddonsDir(tmp_path_factory.mktemp("addons"))


@pytest.fixture
def odoo_web() -> Iterator[FakeOdooWeb]:
    """A fake Odoo 18 web server on 127.0.0.1 (``.url``, ``.set(...)``, ``.requests``)."""
    server = FakeOdooWeb()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """An HTTP receiver recording POSTs (``.url``, ``.requests``, ``.wait_for(n)``)."""
    receiver = WebhookReceiver()
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()
