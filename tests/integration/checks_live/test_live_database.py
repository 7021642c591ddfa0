"""Database checks against the real local PostgreSQL."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from odoo_ops.checks.base import Status
from odoo_ops.checks.database import PG_MINIMUM

from .helpers import LiveProject, closed_port

pytestmark = pytest.mark.pg

DB_CHECKS = (
    "db-reachable",
    "db-initialised",
    "db-postgres-version",
    "db-user-not-superuser",
    "db-connections",
)


def _with_user(dsn: str, user: str, password: str | None = None) -> str:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(dsn)
    params["user"] = user
    params.pop("password", None)
    if password:
        params["password"] = password
    return make_conninfo("", **params)


@pytest.fixture
def make_role(pg_admin_dsn: str) -> Iterator[Callable[..., str]]:
    """Create a LOGIN role (dropped at teardown): ``make_role(createrole=False) -> name``."""
    made: list[str] = []

    def factory(*, superuser: bool = False, createrole: bool = False) -> str:
        name = f"odoo_ops_t_{secrets.token_hex(4)}"
        opts = ["LOGIN", "SUPERUSER" if superuser else "NOSUPERUSER"]
        opts.append("CREATEROLE" if createrole else "NOCREATEROLE")
        with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE ROLE {} " + " ".join(opts)).format(sql.Identifier(name)))
        made.append(name)
        return name

    yield factory
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        for name in made:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def _grant_read(admin_dsn: str, role: str) -> None:
    """Read access through a role membership (nothing to clean up in the test databases)."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        if conn.info.server_version < 140000:
            pytest.skip("pg_read_all_data needs PostgreSQL 14+")
        conn.execute(sql.SQL("GRANT pg_read_all_data TO {}").format(sql.Identifier(role)))


def test_all_pass_on_an_odoo_database_as_a_plain_role(
    live: LiveProject, odoo_db: Callable[..., Any], make_role: Callable[..., str]
) -> None:
    db = odoo_db(version=18)
    role = make_role()
    _grant_read(db.admin_dsn, role)
    live.configure(dsn=_with_user(db.dsn, role))
    results = live.run(*DB_CHECKS)
    for check_id in DB_CHECKS:
        assert results[check_id].status == Status.PASS, (check_id, results[check_id].message)
    assert "127.0.0.1:5432/" + db.name in results["db-reachable"].message
    assert role in results["db-user-not-superuser"].message
    assert "installed" in results["db-initialised"].message


def test_unreachable_database_fails_once_and_the_others_skip(live: LiveProject) -> None:
    port = closed_port()
    live.configure(dsn=f"postgresql://odoo:s3cret-pw@127.0.0.1:{port}/odoo_prod")
    results = live.run(*DB_CHECKS, "modules-states")
    reach = results["db-reachable"]
    assert reach.status == Status.FAIL
    assert f"127.0.0.1:{port}/odoo_prod" in reach.message and "odoo@" in reach.message
    assert "s3cret-pw" not in reach.message + (reach.remediation or "")
    assert "refused" in reach.message.lower()
    for check_id in (*DB_CHECKS[1:], "modules-states"):
        assert results[check_id].status == Status.SKIP, check_id
        assert "not reachable" in results[check_id].message
        assert "s3cret-pw" not in results[check_id].message


def test_missing_database_fails_with_the_fix(live: LiveProject, pg_admin_dsn: str) -> None:
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(pg_admin_dsn)
    params["dbname"] = "odoo_ops_no_such_db"
    live.configure(dsn=make_conninfo("", **params))
    result = live.one("db-reachable")
    assert result.status == Status.FAIL
    assert "does not exist" in result.message
    assert "create the database" in (result.remediation or "")


def test_no_database_configured_skips(live: LiveProject) -> None:
    result = live.one("db-reachable")
    assert result.status == Status.SKIP
    assert "no database configured" in result.message


def test_uninitialised_database(live: LiveProject, make_database: Callable[..., Any]) -> None:
    db = make_database("empty")
    live.configure(dsn=db.dsn)
    results = live.run("db-reachable", "db-initialised", "modules-states")
    assert results["db-reachable"].status == Status.PASS
    assert results["db-initialised"].status == Status.FAIL
    assert "ir_module_module" in results["db-initialised"].message
    assert "-i base" in (results["db-initialised"].remediation or "")
    assert results["modules-states"].status == Status.SKIP


def test_base_not_installed(live: LiveProject, odoo_db: Callable[..., Any]) -> None:
    db = odoo_db(version=17)
    with db.connect() as conn:
        conn.execute("UPDATE ir_module_module SET state = 'to upgrade' WHERE name = 'base'")
    live.configure(dsn=db.dsn, series="17.0")
    result = live.one("db-initialised")
    assert result.status == Status.FAIL
    assert "'to upgrade'" in result.message


def test_superuser_fails_and_createrole_warns(
    live: LiveProject, odoo_db: Callable[..., Any], make_role: Callable[..., str]
) -> None:
    db = odoo_db(version=18)
    live.configure(dsn=db.dsn)  # the test server's admin: postgres, a superuser
    result = live.one("db-user-not-superuser")
    assert result.status == Status.FAIL
    assert "superuser" in result.message and "NOSUPERUSER" in (result.remediation or "")

    role = make_role(createrole=True)
    live.configure(dsn=_with_user(db.dsn, role))
    result = live.one("db-user-not-superuser")
    assert result.status == Status.WARN
    assert "CREATEROLE" in result.message


def test_the_role_of_odoo_conf_is_checked_not_the_dsn_one(
    live: LiveProject, odoo_db: Callable[..., Any], make_role: Callable[..., str]
) -> None:
    """odoo-ops may connect as an admin; what matters is the role Odoo uses (db_user)."""
    db = odoo_db(version=18)
    role = make_role()
    conf = db.write_odoo_conf(live.root / "odoo.conf", db_user=role)
    live.configure(dsn=db.dsn, odoo_conf=str(conf))
    result = live.one("db-user-not-superuser")
    assert result.status == Status.PASS, result.message
    assert role in result.message and "odoo.conf db_user" in result.evidence[0]


@pytest.mark.parametrize(
    ("series", "server", "expected"),
    [
        ("18.0", 150020, Status.PASS),
        ("18.0", 110022, Status.FAIL),
        ("19.0", 120018, Status.FAIL),
        ("19.0", 130016, Status.PASS),
        ("16.0", 110022, Status.WARN),
        ("16.0", 96024, Status.FAIL),
    ],
)
def test_postgres_version_against_the_series(
    live: LiveProject,
    odoo_db: Callable[..., Any],
    series: str,
    server: int,
    expected: Status,
) -> None:
    """The real server is 15; other versions are fed through the context's query cache."""
    db = odoo_db(version=18)
    live.configure(dsn=db.dsn, series=series)
    ctx = live.context()
    ctx.database()
    key = (
        "sql:SELECT current_setting('server_version_num')::int, "
        "current_setting('server_version'):None"
    )
    ctx.cache[key] = [(server, f"{server // 10000}.{server % 100}")]
    result = live.run("db-postgres-version", ctx=ctx)["db-postgres-version"]
    assert result.status == expected, result.message
    minimum, recommended = PG_MINIMUM[series]
    if expected != Status.PASS:
        assert str(recommended if expected == Status.WARN else minimum) in result.message


def test_postgres_version_real_server(live: LiveProject, odoo_db: Callable[..., Any]) -> None:
    db = odoo_db(version=18)
    live.configure(dsn=db.dsn)
    result = live.one("db-postgres-version")
    assert result.status == Status.PASS
    assert "PostgreSQL 1" in result.message and "18.0" in result.message
    live.configure(series=None)
    assert live.one("db-postgres-version").status == Status.SKIP


def test_connections_headroom(
    live: LiveProject, odoo_db: Callable[..., Any], pg_admin_dsn: str
) -> None:
    db = odoo_db(version=18)
    live.configure(dsn=db.dsn)
    ctx = live.context()
    result = live.run("db-connections", ctx=ctx)["db-connections"]
    assert result.status == Status.PASS
    assert "usable connections in use" in result.message
    # a nearly full server: the same query answered with 95 of 97 usable connections
    ctx2 = live.context()
    ctx2.database()
    query = (
        "SELECT current_setting('max_connections')::int,"
        " current_setting('superuser_reserved_connections')::int,"
        " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
    )
    ctx2.cache[f"sql:{query}:None"] = [(100, 3, 95)]
    result = live.run("db-connections", ctx=ctx2)["db-connections"]
    assert result.status == Status.FAIL and "too many clients" in result.message
    ctx3 = live.context()
    ctx3.database()
    ctx3.cache[f"sql:{query}:None"] = [(100, 3, 80)]
    assert live.run("db-connections", ctx=ctx3)["db-connections"].status == Status.WARN


def test_connections_counted_for_real(
    live: LiveProject, odoo_db: Callable[..., Any], pg_admin_dsn: str
) -> None:
    """Open connections show up in the count and the per-database evidence."""
    db = odoo_db(version=18)
    live.configure(dsn=db.dsn)
    conns = [db.connect() for _ in range(3)]
    try:
        result = live.one("db-connections")
    finally:
        for conn in conns:
            conn.close()
    mine = [e for e in result.evidence if e.startswith(db.name + ":")]
    assert mine, result.evidence
    assert int(mine[0].split(": ")[1].split()[0]) >= 3
