"""The database named is the database used, locked and reported -- per command.

Two Odoo-shaped databases A and B on one server; a project whose dsn names no
database (or names A). Every command that touches a database is run with
``-d B`` through the real CLI and must act on B -- never on A -- take B's
lock (A's lock held elsewhere does not block it), and report B. When the dsn
names A explicitly, ``-d B`` is refused with one line, before anything runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from odoo_ops.adapters.database import lock_key
from tests.integration.deploy import conftest as deploy_conftest
from tests.integration.deploy.conftest import DeployWorld
from tests.support import odoo_schema
from tests.support.git import git
from tests.support.pg import OdooTestDb

pytestmark = pytest.mark.pg

#: the deploy tests' project (a git origin, the odoo double, a fake web) reused here
deploy_world = deploy_conftest.deploy_world

MARK_A = "only in database A"
MARK_B = "only in database B"


def odoo_ops(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("odoo-ops")
    argv = [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [*argv, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


def without_database(dsn: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit((parts.scheme, parts.netloc, "", parts.query, parts.fragment))


@dataclass
class Pair:
    a: OdooTestDb
    b: OdooTestDb
    root: Path

    def write(self, dsn: str, extra: str = "") -> None:
        (self.root / "odoo-ops.toml").write_text(
            "[deployments.prod]\n"
            'runner = "local"\n'
            'series = "18.0"\n'
            f"dsn = {json.dumps(dsn)}\n"
            'backup_dir = "backups"\n'
            'data_dir = "data"\n'
            f"{extra}"
            "[deployments.prod.maintenance]\nstop_workers = false\n"
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return odoo_ops(*args, cwd=self.root)

    @staticmethod
    def active(db: OdooTestDb) -> int:
        return int(db.scalar("SELECT count(*) FROM ir_cron WHERE active"))

    @staticmethod
    def param(db: OdooTestDb, key: str) -> Any:
        return db.scalar("SELECT value FROM ir_config_parameter WHERE key = %s", (key,))


@pytest.fixture
def pair(odoo_db: Callable[..., OdooTestDb], tmp_path: Path) -> Pair:
    a, b = odoo_db(18, seed=True), odoo_db(18, seed=True)
    for db, mark in ((a, MARK_A), (b, MARK_B)):
        with db.connect() as conn:
            odoo_schema.add_cron(conn, 18, mark, model="res.partner")
            # A's crons are on time, B's are three hours late (health's cron-lag tells them apart)
            late = "- interval '3 hours'" if db is b else "+ interval '1 hour'"
            conn.execute(f"UPDATE ir_cron SET nextcall = (now() AT TIME ZONE 'UTC') {late}")
    root = tmp_path / "project"
    root.mkdir()
    (root / "backups").mkdir()
    for db in (a, b):
        db.write_filestore(root / "data")
    p = Pair(a, b, root)
    p.write(without_database(a.dsn))
    return p



@contextmanager
def idle_in_transaction(db: OdooTestDb) -> Iterator[psycopg.Connection[Any]]:
    """A session of ``db`` left idle in a transaction (what terminate-idle ends)."""
    conn = psycopg.connect(db.dsn, application_name="dbsel-idle")
    try:
        conn.execute("SELECT 1")
        yield conn
    finally:
        conn.close()


def idle_sessions(db: OdooTestDb) -> int:
    return int(db.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s"
        " AND application_name = 'dbsel-idle'", (db.name,)))


@contextmanager
def holding_lock(db: OdooTestDb, name: str) -> Iterator[None]:
    """Hold the advisory lock ``name`` from another session, where odoo-ops takes it."""
    with psycopg.connect(db.dsn, dbname="postgres", autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (lock_key(name),))
        yield


def texts_under(path: Path) -> str:
    return "\n".join(f.read_text(errors="replace") for f in path.rglob("*") if f.is_file())


# -- what each command must have done to B (and not to A) ---------------------------


def crons_pause(p: Pair, proc: subprocess.CompletedProcess[str]) -> None:
    assert p.active(p.b) == 0 and p.active(p.a) > 0
    record = json.loads(p.param(p.b, "odoo_ops.crons_paused"))
    assert record["database"] == p.b.name and p.param(p.a, "odoo_ops.crons_paused") is None


def lists_b_crons(p: Pair, proc: subprocess.CompletedProcess[str]) -> None:
    assert MARK_B in proc.stdout and MARK_A not in proc.stdout


def audit_of_b(p: Pair, proc: subprocess.CompletedProcess[str]) -> None:
    assert json.loads(proc.stdout)["database"] == p.b.name


def audit_crons_of_b(p: Pair, proc: subprocess.CompletedProcess[str]) -> None:
    audit_of_b(p, proc)
    lists_b_crons(p, proc)


def check_connected_to_b(p: Pair, proc: subprocess.CompletedProcess[str]) -> None:
    assert f"5432/{p.b.name} (" in proc.stdout and p.a.name not in proc.stdout


def health_of_b(p: Pair, proc: subprocess.CompletedProcess[str]) -> None:
    probes = {r["name"]: r for r in json.loads(proc.stdout)["probes"]}
    assert probes["cron-lag"]["status"] == "fail"  # B's crons are late, A's are not
    on_a = p.cli("health", "--probe", "cron-lag", "--format", "json", "-d", p.a.name)
    assert {r["name"]: r for r in json.loads(on_a.stdout)["probes"]}["cron-lag"]["status"] == "ok"


def snapshot_of_b(p: Pair, proc: subprocess.CompletedProcess[str]) -> None:
    text = texts_under(p.root / "snap")
    assert MARK_B in text and MARK_A not in text and p.b.name in text


def maintenance_in_b(p: Pair, proc: subprocess.CompletedProcess[str]) -> None:
    marker = json.loads(p.param(p.b, "odoo_ops.maintenance"))
    assert marker["database"] == p.b.name
    assert p.param(p.a, "odoo_ops.maintenance") is None


def backup_of_b(p: Pair, proc: subprocess.CompletedProcess[str]) -> None:
    assert json.loads(proc.stdout)["database"] == p.b.name
    (backup,) = [d for d in (p.root / "backups").iterdir() if not d.name.startswith(".")]
    assert json.loads((backup / "manifest.json").read_text())["database"] == p.b.name


def vacuumed_b(p: Pair, proc: subprocess.CompletedProcess[str]) -> None:
    query = "SELECT vacuum_count FROM pg_stat_user_tables WHERE relname = 'ir_cron'"
    deadline = time.monotonic() + 10
    while int(p.b.scalar(query)) == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert int(p.b.scalar(query)) > 0 and int(p.a.scalar(query)) == 0


@dataclass
class Case:
    name: str
    argv: list[str]
    acted_on_b: Callable[[Pair, subprocess.CompletedProcess[str]], None]
    ok_codes: tuple[int, ...] = (0,)


CASES = [
    Case("crons pause", ["crons", "pause"], crons_pause),
    Case("crons status", ["crons", "status", "--format", "json"], lists_b_crons),
    Case("audit crons", ["audit", "crons", "--format", "json"], audit_crons_of_b),
    Case("audit database", ["audit", "database", "--format", "json"], audit_of_b),
    Case("check", ["check", "--only", "db-reachable", "--format", "json"],
         check_connected_to_b),
    Case("health", ["health", "--probe", "cron-lag", "--format", "json"], health_of_b,
         ok_codes=(0, 1, 2)),
    Case("snapshot create", ["snapshot", "create", "--no-crawl", "--out", "snap"],
         snapshot_of_b),
    Case("maintenance on", ["maintenance", "on", "--reason", "dbsel"], maintenance_in_b),
    Case("backup create", ["backup", "create", "--format", "json"], backup_of_b),
    Case("db vacuum", ["db", "vacuum", "--table", "ir_cron"], vacuumed_b),
    Case("modules plan", ["modules", "plan", "base", "--format", "json"], audit_of_b,
         ok_codes=(0, 1)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_dash_d_is_the_database_used(pair: Pair, case: Case) -> None:
    """dsn without a database + ``-d B``: the command acts on B, reports B."""
    proc = pair.cli(*case.argv, "-d", pair.b.name)
    assert proc.returncode in case.ok_codes, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    case.acted_on_b(pair, proc)


def test_terminate_idle_ends_only_the_named_databases_sessions(pair: Pair) -> None:
    with idle_in_transaction(pair.a), idle_in_transaction(pair.b):
        time.sleep(1.2)
        proc = pair.cli("db", "terminate-idle", "--older-than", "1s", "-d", pair.b.name)
        assert proc.returncode == 0, proc.stderr
        assert idle_sessions(pair.b) == 0 and idle_sessions(pair.a) == 1


def test_database_setting_fills_a_dsn_without_one(pair: Pair) -> None:
    """Not "connected to …5432/?": ``database =`` is the database of a bare dsn."""
    pair.write(without_database(pair.a.dsn), extra=f'database = "{pair.b.name}"\n')
    proc = pair.cli("check", "--only", "db-reachable", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    check_connected_to_b(pair, proc)
    assert "5432/?" not in proc.stdout
    proc = pair.cli("crons", "pause")
    assert proc.returncode == 0, proc.stderr
    crons_pause(pair, proc)


# -- the lock is the named database's ----------------------------------------------


LOCKING = [
    ["crons", "pause"],
    ["maintenance", "on", "--reason", "dbsel"],
    ["backup", "create"],
    ["db", "terminate-idle"],
]


@pytest.mark.parametrize("argv", LOCKING, ids=lambda a: " ".join(a[:2]))
def test_a_lock_on_a_does_not_block_b_and_blocks_a(pair: Pair, argv: list[str]) -> None:
    with holding_lock(pair.a, f"deployment:prod:{pair.a.name}"):
        on_a = pair.cli(*argv, "-d", pair.a.name)
        assert on_a.returncode != 0
        assert "another odoo-ops run is changing deployment" in on_a.stderr
        assert "Traceback" not in on_a.stderr
        on_b = pair.cli(*argv, "-d", pair.b.name)
        assert on_b.returncode == 0, on_b.stderr
    with holding_lock(pair.a, f"deployment:prod:{pair.b.name}"):
        again = pair.cli(*argv, "-d", pair.b.name)
        assert again.returncode != 0 and "another odoo-ops run" in again.stderr


# -- a dsn naming A and -d B: refused, nothing touched -----------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_dsn_naming_another_database_is_refused(pair: Pair, case: Case) -> None:
    pair.write(pair.a.dsn)  # names A explicitly
    before = (pair.active(pair.a), pair.active(pair.b))
    proc = pair.cli(*case.argv, "-d", pair.b.name)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: -d {pair.b.name} but the dsn names database {pair.a.name}: remove the"
        f" database from the dsn or pass -d {pair.a.name}"
    ]
    assert proc.stdout == "" and "Traceback" not in proc.stderr
    assert (pair.active(pair.a), pair.active(pair.b)) == before
    for db in (pair.a, pair.b):
        assert pair.param(db, "odoo_ops.crons_paused") is None
        assert pair.param(db, "odoo_ops.maintenance") is None
    assert not list((pair.root / "backups").iterdir())
    assert not (pair.root / "snap").exists()


def test_dsn_naming_a_and_dash_d_a_agree(pair: Pair) -> None:
    pair.write(pair.a.dsn)
    proc = pair.cli("crons", "status", "--format", "json", "-d", pair.a.name)
    assert proc.returncode == 0, proc.stderr
    assert MARK_A in proc.stdout and MARK_B not in proc.stdout


# -- restore and the cron pause records follow the named database too --------------


def only_backup(p: Pair) -> str:
    (backup,) = [d.name for d in (p.root / "backups").iterdir() if not d.name.startswith(".")]
    return backup


def test_restore_and_test_restore_use_the_named_database(pair: Pair) -> None:
    made = pair.cli("backup", "create", "-d", pair.a.name)
    assert made.returncode == 0, made.stderr
    name = only_backup(pair)
    proof = pair.cli("backup", "test-restore", name, "-d", pair.b.name)
    assert proof.returncode == 0, proof.stdout + proof.stderr
    restored = pair.cli("backup", "restore", name, "--force", "-d", pair.b.name)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert f"into {pair.b.name} " in restored.stdout
    marks = "SELECT cron_name::text FROM ir_cron WHERE cron_name::text LIKE '%only in%'"
    assert MARK_A in str(pair.b.scalar(marks))  # B now holds A's backup
    assert MARK_A in str(pair.a.scalar(marks))  # and A was left alone
    assert (pair.root / "data" / "filestore" / pair.b.name).is_dir()
    assert (pair.root / "data" / "filestore" / pair.a.name).is_dir()


def test_pausing_b_never_touches_as_pause_record(pair: Pair) -> None:
    a, b = pair.a.name, pair.b.name
    assert pair.cli("crons", "pause", "-d", a).returncode == 0
    assert pair.cli("crons", "pause", "-d", b).returncode == 0
    resumed_b = pair.cli("crons", "resume", "-d", b)
    assert resumed_b.returncode == 0, resumed_b.stderr
    assert pair.active(pair.b) > 0 and pair.active(pair.a) == 0
    status_a = json.loads(pair.cli("crons", "status", "--format", "json", "-d", a).stdout)
    assert status_a["paused"] and status_a["problems"] == []  # its state file is still there
    assert pair.cli("crons", "resume", "-d", a).returncode == 0
    assert pair.active(pair.a) > 0
    assert not list((pair.root / ".odoo-ops" / "prod").glob("crons-paused*"))


# -- deploy and rollback ----------------------------------------------------------


def _point_config(w: DeployWorld, *, dsn: str, database: str) -> None:
    path = w.root / "odoo-ops.toml"
    text = path.read_text()
    text = text.replace(f'database = "{w.db.name}"', f'database = "{database}"')
    text = text.replace(f'dsn = "{w.db.dsn}"', f"dsn = {json.dumps(dsn)}")
    path.write_text(text)
    git(w.root, "commit", "-qam", "config")
    git(w.root, "push", "-q", "origin", "HEAD:main")


def _modules(db: OdooTestDb) -> list[tuple[Any, ...]]:
    with db.connect() as conn:
        return sorted(conn.execute("SELECT name, state, latest_version FROM ir_module_module"))


def test_deploy_and_rollback_act_on_the_named_database(
    deploy_world: DeployWorld, odoo_db: Callable[..., OdooTestDb]
) -> None:
    """dsn without a database, ``database =`` naming another one: ``-d`` wins."""
    w = deploy_world
    other = odoo_db(18, seed=True)
    _point_config(w, dsn=without_database(w.db.dsn), database=other.name)
    other_before, mine_before = _modules(other), _modules(w.db)
    w.release("18.0.1.1.0")
    proc = w.cli("deploy", "--force", "-d", w.db.name)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ("shop", "installed", "18.0.1.1.0") in _modules(w.db)
    assert _modules(other) == other_before
    record = w.journal()[-1]
    manifest = json.loads((w.root / "backups" / record["backup"] / "manifest.json").read_text())
    assert manifest["database"] == w.db.name
    back = w.cli("rollback", record["id"], "-d", w.db.name)
    assert back.returncode == 0, back.stdout + back.stderr
    assert _modules(w.db) == mine_before and _modules(other) == other_before


@pytest.mark.parametrize("argv", [["deploy", "--force"], ["rollback"]], ids=["deploy", "rollback"])
def test_deploy_and_rollback_refuse_a_dash_d_the_dsn_contradicts(
    deploy_world: DeployWorld, argv: list[str]
) -> None:
    w = deploy_world  # its dsn names its database explicitly
    w.release("18.0.1.1.0")
    before = _modules(w.db)
    commit = git(w.root, "rev-parse", "HEAD")
    proc = w.cli(*argv, "-d", "some_other_db")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        f"error: -d some_other_db but the dsn names database {w.db.name}: remove the"
        f" database from the dsn or pass -d {w.db.name}"
    ]
    assert _modules(w.db) == before and git(w.root, "rev-parse", "HEAD") == commit
    assert w.journal() == []
