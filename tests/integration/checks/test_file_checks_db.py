"""File-based checks that read the real PostgreSQL server: connection budget,
databases on the server, and the addons installed in an Odoo-shaped database."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from odoo_ops.checks import python_deps
from odoo_ops.checks.base import Status
from tests.support import odoo_schema
from tests.unit.checks.helpers import GOOD_CONF, FileProject, assert_status, text_of

pytestmark = pytest.mark.pg


@pytest.fixture
def fp(tmp_path: Path) -> FileProject:
    root = tmp_path / "project"
    root.mkdir()
    return FileProject(
        root,
        {"runner": "local", "series": "18.0", "odoo_conf": "odoo.conf", "connect_timeout": 3},
        environ={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "")},
    )


@pytest.fixture
def db_project(fp: FileProject, odoo_db: Callable[..., Any]) -> tuple[FileProject, Any]:
    """A project whose dsn reaches a fresh seeded Odoo 18 database."""
    db = odoo_db(version=18)
    fp.configure(dsn=db.dsn, database=db.name, addons_paths=["addons"])
    fp.conf(GOOD_CONF, db_name=None)
    return fp, db


def server_max_connections(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        mc = conn.execute("SHOW max_connections").fetchone()
        rs = conn.execute("SHOW superuser_reserved_connections").fetchone()
    assert mc and rs
    return int(mc[0]), int(rs[0])


# -- conf-db-maxconn -------------------------------------------------------------------


def test_db_maxconn_over_the_server_limit_fails(db_project: tuple[FileProject, Any]) -> None:
    fp, db = db_project
    max_conn, reserved = server_max_connections(db.dsn)
    fp.conf(GOOD_CONF, db_name=None, db_maxconn=max_conn, workers=2, max_cron_threads=1)
    result = fp.one("conf-db-maxconn")
    assert_status(result, Status.FAIL, f"= {3 * max_conn} connections",
                  f"max_connections = {max_conn} of the PostgreSQL server",
                  f"{max_conn - reserved} usable")  # fmt: skip
    assert "assumed" not in text_of(result)


def test_db_maxconn_within_the_server_limit_passes(db_project: tuple[FileProject, Any]) -> None:
    fp, db = db_project
    max_conn, _ = server_max_connections(db.dsn)
    fp.conf(GOOD_CONF, db_name=None, db_maxconn=2, workers=2, max_cron_threads=1)
    assert_status(fp.one("conf-db-maxconn"), Status.PASS, "= 6 ≤",
                  f"max_connections = {max_conn} of the PostgreSQL server")  # fmt: skip


def test_dbfilter_counts_the_server_databases(
    db_project: tuple[FileProject, Any], make_database: Callable[..., Any]
) -> None:
    fp, db = db_project
    make_database("second")  # at least two databases on the server
    fp.conf(GOOD_CONF, db_name=None, dbfilter=None, list_db=False)
    with psycopg.connect(db.dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_database WHERE NOT datistemplate"
            " AND datname <> 'postgres' AND datallowconn"
        ).fetchone()
    assert row and row[0] >= 2
    result = fp.one("conf-dbfilter")
    assert_status(result, Status.WARN, "no dbfilter", "databases")


# -- installed addons ------------------------------------------------------------------


def install(db: Any, *names: str, state: str = "installed", **kw: Any) -> None:
    conn = db.connect()
    for name in names:
        odoo_schema.add_module(conn, name, state=state, author="odoo-ops tests", **kw)


def test_missing_depends_of_installed_addons_only(db_project: tuple[FileProject, Any]) -> None:
    fp, db = db_project
    fp.addon("ipai_core", depends=["base", "mail", "missing_oca_dep"])
    fp.addon("unused_addon", depends=["ghost_dependency"])  # on the path, not installed
    install(db, "ipai_core", depends=["base", "mail"])
    install(db, "vanished_module")  # installed, code gone
    result = fp.one("addons-missing-depends")
    assert_status(result, Status.FAIL, "missing_oca_dep (not found) needed by ipai_core",
                  "vanished_module is installed but not on the addons path",
                  "installed modules read from the database")  # fmt: skip
    shown = text_of(result)
    assert "ghost_dependency" not in shown
    # core modules installed in the database (base, web, mail...) are not on this path: fine
    assert "base is installed" not in shown and "mail is installed" not in shown


def test_planned_modules_checked_with_a_database(db_project: tuple[FileProject, Any]) -> None:
    fp, _db = db_project
    fp.addon("finance", depends=["account", "not_here_either"])
    result = fp.one("addons-missing-depends", planned=["finance"])
    assert_status(result, Status.FAIL, "not_here_either (not found) needed by finance")
    fp.addon("finance", depends=["account"])
    assert_status(fp.one("addons-missing-depends", planned=["finance"]), Status.PASS,
                  "and 1 planned")  # fmt: skip


def test_manifests_of_installed_addons(db_project: tuple[FileProject, Any]) -> None:
    fp, db = db_project
    fp.addon("retired", installable=False)
    fp.addon("old_branch", version="17.0.1.0.0")
    install(db, "retired")
    result = fp.one("addons-manifests")
    assert_status(result, Status.FAIL, "retired is installed but marked installable: False")
    # the wrong-series addon is not installed: a warning only, once retired is gone
    fp.addon("retired")
    assert_status(fp.one("addons-manifests"), Status.WARN, "old_branch (not installed)")


def test_python_dependencies_of_installed_addons_only(
    db_project: tuple[FileProject, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(python_deps, "ODOO_PACKAGE", "json")
    monkeypatch.setattr(python_deps, "ODOO_MODULES", ("json",))
    monkeypatch.setattr(python_deps, "ODOO_PROGRAMS", ())
    fp, db = db_project
    fp.configure(odoo_command=[sys.executable])
    fp.addon("used", external_dependencies={"python": ["not_installed_pkg_used_42"]})
    fp.addon("unused", external_dependencies={"python": ["not_installed_pkg_unused_42"]})
    install(db, "used")
    result = fp.one("python-dependencies")
    assert_status(result, Status.FAIL, "not_installed_pkg_used_42",
                  "installed modules read from the database")  # fmt: skip
    assert "unused_42" not in text_of(result)
