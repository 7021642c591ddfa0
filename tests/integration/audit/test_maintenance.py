"""``odoo-ops db vacuum`` and ``db terminate-idle`` against real PostgreSQL sessions."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from odoo_ops.adapters.database import Database
from odoo_ops.audit.maintenance import parse_duration, terminate_sql, vacuum_sql
from odoo_ops.errors import UsageError
from tests.e2e.test_audit_cli import odoo_ops, write_project

pytestmark = pytest.mark.pg


def test_parse_duration() -> None:
    assert parse_duration("1h") == 3600
    assert parse_duration("90s") == parse_duration("90") == 90
    assert parse_duration("1.5m") == 90
    assert parse_duration("2d") == 172800
    for bad in ("", "h", "-1h", "1w", "0s"):
        with pytest.raises(UsageError):
            parse_duration(bad)


def test_sql_text() -> None:
    assert vacuum_sql(None) == ["VACUUM;"]
    assert vacuum_sql(["res_partner", 'we"ird'], analyze=True) == [
        'VACUUM (ANALYZE) "res_partner";', 'VACUUM (ANALYZE) "we""ird";']
    sql = terminate_sql(3600)
    assert "interval '3600 seconds'" in sql and "'idle'" not in sql
    assert "NOT LIKE 'odoo-ops%'" in sql and "pg_backend_pid()" in sql
    assert "'idle'" in terminate_sql(60, include_idle=True)


def _last_vacuum(db: Any, table: str) -> Any:
    return db.scalar("SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = %s", [table])


def test_vacuum_dry_run_then_run_and_lock(odoo_db: Any, tmp_path: Path) -> None:
    db = odoo_db(version=17)
    proj = write_project(tmp_path / "p", db.dsn, [])
    proc = odoo_ops("db", "vacuum", "--analyze", "--table", "res_partner", "--dry-run", cwd=proj)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == 'VACUUM (ANALYZE) "res_partner";'
    assert "deployment:prod:" in proc.stderr
    assert _last_vacuum(db, "res_partner") is None

    # another run holds the deployment lock: refused, nothing done
    name = f"deployment:prod:{db.name}"
    with Database(db.dsn).lock(name):
        proc = odoo_ops("db", "vacuum", "--table", "res_partner", cwd=proj)
    assert proc.returncode == 1 and "another odoo-ops run" in proc.stderr
    assert _last_vacuum(db, "res_partner") is None

    proc = odoo_ops("db", "vacuum", "--analyze", "--table", "res_partner", cwd=proj)
    assert proc.returncode == 0, proc.stderr
    assert _last_vacuum(db, "res_partner") is not None
    assert _last_vacuum(db, "res_users") is None


def test_terminate_idle(odoo_db: Any, make_database: Any, tmp_path: Path) -> None:
    db = odoo_db(version=18)
    other = make_database("other")

    def session(dsn: str, app: str, in_tx: bool) -> psycopg.Connection[Any]:
        conn = psycopg.connect(dsn, application_name=app, autocommit=not in_tx)
        conn.execute("SELECT 1")
        return conn

    victim = session(db.dsn, "victim", True)
    ours = session(db.dsn, "odoo-ops-other-run", True)
    plain_idle = session(db.dsn, "plain", False)
    elsewhere = session(other.dsn, "elsewhere", True)
    pids = {name: c.info.backend_pid for name, c in
            (("victim", victim), ("ours", ours), ("plain", plain_idle), ("else", elsewhere))}
    time.sleep(1.5)
    proj = write_project(tmp_path / "p", db.dsn, [])
    try:
        proc = odoo_ops("db", "terminate-idle", "--older-than", "1s", "--dry-run",
                        "--format", "json", cwd=proj)
        assert proc.returncode == 0, proc.stderr
        data = json.loads(proc.stdout)
        assert [s["pid"] for s in data["sessions"]] == [pids["victim"]]
        assert data["sql"] in proc.stderr and "pg_terminate_backend" in data["sql"]
        assert victim.execute("SELECT 2").fetchone() == (2,)  # still alive after the dry run
        time.sleep(1.5)  # that query restarted the victim's idle time

        proc = odoo_ops("db", "terminate-idle", "--older-than", "1s", "--format", "json",
                        cwd=proj)
        assert proc.returncode == 0, proc.stderr
        data = json.loads(proc.stdout)
        assert [(s["pid"], s["terminated"]) for s in data["sessions"]] == [
            (pids["victim"], True)]
        with pytest.raises(psycopg.OperationalError):
            victim.execute("SELECT 3")
        for conn in (ours, plain_idle, elsewhere):
            assert conn.execute("SELECT 4").fetchone() == (4,)
    finally:
        for conn in (victim, ours, plain_idle, elsewhere):
            conn.close()
