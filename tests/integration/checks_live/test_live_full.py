"""``--full`` checks: ``-u base`` and the assets build on a throw-away copy.

The ``odoo`` double runs ``-u base`` on the copy like Odoo (states, versions,
log lines, planted failures). For the assets build, ``bin/odoo`` of this
folder is the same double plus ``ir.qweb``/``ir.attachment`` in its shell.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from odoo_ops.checks.base import Status
from odoo_ops.checks.full import COPY_INFIX, copy_name
from tests.support import odoo_schema
from tests.support.addons import write_addon
from tests.support.fakebin import FakeBin

from .helpers import LiveProject

pytestmark = pytest.mark.pg

ASSETS_ODOO = Path(__file__).resolve().parent / "bin" / "odoo"


def copies_of(db: Any) -> list[str]:
    with psycopg.connect(db.admin_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE %s", (db.name + "%",)
        ).fetchall()
    return [r[0] for r in rows if COPY_INFIX in r[0]]


def module_rows(db: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(db.dsn) as conn:
        return conn.execute(
            "SELECT name, state, latest_version, write_date FROM ir_module_module ORDER BY name"
        ).fetchall()


@pytest.fixture
def full_live(
    live: LiveProject, odoo_db: Callable[..., Any], fake_bin: FakeBin, tmp_path: Path
) -> tuple[LiveProject, Any, Path]:
    db = odoo_db(version=18)
    addons = tmp_path / "addons"
    addons.mkdir()
    write_addon(addons, "ipai_core", version="18.0.1.0.0")
    with db.connect() as conn:
        odoo_schema.add_module(conn, "ipai_core", depends=["base"])
    data_dir = tmp_path / "data"
    conf = db.write_odoo_conf(live.root / "odoo.conf", addons_path=[addons], data_dir=data_dir)
    live.configure(dsn=db.dsn, odoo_conf=str(conf))
    return live, db, addons


def test_update_base_passes_on_a_copy_and_drops_it(
    full_live: tuple[LiveProject, Any, Path], fake_bin: FakeBin
) -> None:
    live, db, _addons = full_live
    before = module_rows(db)
    result = live.one("full-update-base", full=True)
    assert result.status == Status.PASS, (result.message, result.evidence)
    assert "-u base succeeded on a copy" in result.message
    assert "copy: CREATE DATABASE ... TEMPLATE in" in "\n".join(result.evidence)  # nobody on it
    calls = [c for c in fake_bin.odoo_calls() if "-u" in c]
    assert len(calls) == 1
    argv = calls[0]
    copy = argv[argv.index("-d") + 1]
    assert copy.startswith(db.name) and COPY_INFIX in copy
    assert argv[argv.index("-u") + 1] == "base" and "--stop-after-init" in argv
    assert argv[argv.index("-c") + 1] == str(live.root / "odoo.conf")
    assert copies_of(db) == []  # dropped
    assert module_rows(db) == before  # the real database untouched
    log = next(e for e in result.evidence if e.startswith("log: ")).removeprefix("log: ")
    assert "Modules loaded" in Path(log).read_text() or Path(log).stat().st_size > 0


def test_update_base_failure_is_reported_and_the_copy_dropped(
    full_live: tuple[LiveProject, Any, Path],
) -> None:
    live, db, addons = full_live
    write_addon(
        addons,
        "ipai_core",
        version="18.0.1.0.1",
        odoo_double={"fail": "update", "message": "Field 'x_rate' does not exist"},
    )
    result = live.one("full-update-base", full=True)
    assert result.status == Status.FAIL
    assert "failed on a copy of the database" in result.message
    assert "ERROR" in " ".join(result.evidence) or "exit code" in result.message
    assert copies_of(db) == []
    with psycopg.connect(db.dsn) as conn:
        version = conn.execute(
            "SELECT latest_version FROM ir_module_module WHERE name = 'ipai_core'"
        ).fetchone()
    assert version == ("18.0.1.0",)  # what add_module wrote; the copy took the failure


def test_live_database_is_rehearsed_on_a_dump_copy_then_on_a_fresh_backup(
    full_live: tuple[LiveProject, Any, Path], fake_bin: FakeBin, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Odoo connected to the database (a session held open): no TEMPLATE copy, nothing
    stopped; the copy comes from a parallel dump, then from the fresh verified backup."""
    from odoo_ops.cli.main import main

    live, db, _ = full_live
    store = db.write_filestore(tmp_path / "data")
    files = sorted(p for p in store.rglob("*") if p.is_file())
    live.configure(backup_dir=str(tmp_path / "backups"))
    before = module_rows(db)
    with psycopg.connect(db.dsn, autocommit=True) as odoo_session:
        result = live.one("full-update-base", full=True)
        assert result.status == Status.PASS, (result.message, result.evidence)
        assert "expected downtime of the next -u: about" in result.message
        evidence = "\n".join(result.evidence)
        assert "copy: pg_dump -Fd -j" in evidence and "pg_restore -j" in evidence
        assert "no fresh verified backup (no backup of this database)" in evidence
        assert f"filestore hard-linked ({len(files)} files)" in evidence
        calls = [c for c in fake_bin.odoo_calls() if "-u" in c]
        assert COPY_INFIX in calls[-1][calls[-1].index("-d") + 1]
        assert odoo_session.execute("SELECT 1").fetchone() == (1,)  # never terminated

        # a verified backup with the same modules: the copy is restored from it
        for args in (["backup", "create", "--name", "fresh"], ["backup", "verify", "fresh"]):
            try:
                main(["-C", str(live.root), *args])
            except SystemExit as exc:
                assert not exc.code, capsys.readouterr()
        result = live.one("full-update-base", full=True)
        assert result.status == Status.PASS, (result.message, result.evidence)
        assert "copy: backup fresh (pg_restore -j" in "\n".join(result.evidence)

        # the database moved on (a module updated since): the backup is not fresh any more
        odoo_session.execute("UPDATE ir_module_module SET latest_version = '18.0.1.0.7'"
                             " WHERE name = 'ipai_core'")  # fmt: skip
        result = live.one("full-update-base", full=True)
        evidence = "\n".join(result.evidence)
        assert result.status == Status.PASS and "copy: pg_dump -Fd" in evidence
        assert "holds other modules or versions than the database" in evidence
        assert odoo_session.execute("SELECT 1").fetchone() == (1,)
    assert copies_of(db) == []
    assert not [p for p in store.parent.iterdir() if COPY_INFIX in p.name]  # links removed
    assert sorted(p for p in store.rglob("*") if p.is_file()) == files
    assert all(p.stat().st_nlink == 1 for p in files)
    rows = module_rows(db)
    assert [r for r in rows if r[0] != "ipai_core"] == [r for r in before if r[0] != "ipai_core"]


def test_runner_missing_skips_and_drops_the_copy(
    full_live: tuple[LiveProject, Any, Path],
) -> None:
    live, db, _ = full_live
    live.configure(odoo_command=["/nonexistent/odoo-bin"])
    result = live.one("full-update-base", full=True)
    assert result.status == Status.SKIP
    assert "command not found" in result.message
    assert copies_of(db) == []


def test_full_checks_need_full(full_live: tuple[LiveProject, Any, Path]) -> None:
    from odoo_ops.checks import all_checks
    from odoo_ops.checks.run import select_checks

    checks = all_checks()
    quick = {c.id for c in select_checks(checks)}
    full = {c.id for c in select_checks(checks, full=True)}
    assert "full-update-base" not in quick and "full-assets-build" not in quick
    assert {"full-update-base", "full-assets-build"} <= full


def test_skip_without_database(live: LiveProject) -> None:
    result = live.one("full-assets-build", full=True)
    assert result.status == Status.SKIP and "no database configured" in result.message


def test_assets_with_the_shared_double_report_what_is_missing(
    full_live: tuple[LiveProject, Any, Path],
) -> None:
    """The shared double has no ir.qweb: the check fails and says why; the copy is dropped."""
    live, db, _ = full_live
    result = live.one("full-assets-build", full=True)
    assert result.status == Status.FAIL
    assert "ir.qweb" in result.message
    assert copies_of(db) == []


@pytest.mark.parametrize(
    ("knob", "status", "text"),
    [
        (None, Status.PASS, "assets build succeeded"),
        ("scss-error", Status.FAIL, "Undefined variable"),
        ("js-error", Status.FAIL, "Could not get content"),
    ],
)
def test_assets_build(
    full_live: tuple[LiveProject, Any, Path],
    fake_bin: FakeBin,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    knob: str | None,
    status: Status,
    text: str,
) -> None:
    live, db, _ = full_live
    live.configure(odoo_command=[str(ASSETS_ODOO)])
    if knob:
        monkeypatch.setenv("ODOO_TEST_ASSETS", knob)
    result = live.one("full-assets-build", full=True)
    assert result.status == status, (result.message, result.evidence)
    assert text in result.message
    shell = [c for c in fake_bin.odoo_calls() if c and c[0] == "shell"]
    assert shell and COPY_INFIX in shell[0][shell[0].index("-d") + 1]
    assert copies_of(db) == []
    # the bundle files written in the copy's filestore are removed by the script
    filestore = tmp_path / "data" / "filestore"
    assert not filestore.exists() or not [p for p in filestore.iterdir() if COPY_INFIX in p.name]


def test_copy_name_fits_postgres_identifiers() -> None:
    name = copy_name("x" * 80)
    assert len(name) <= 63 and COPY_INFIX in name
    assert copy_name("prod") != copy_name("prod")


def test_update_base_removes_the_copy_filestore_on_this_host(
    full_live: tuple[LiveProject, Any, Path],
    fake_bin: FakeBin,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """data_dir maps to this host: the copy's filestore is removed here, no extra odoo run."""
    live, db, _ = full_live
    name = db.name + COPY_INFIX + "fixed1"
    monkeypatch.setattr("odoo_ops.checks.full.copy_name", lambda source: name)
    store = tmp_path / "data" / "filestore" / name
    (store / "ab").mkdir(parents=True)
    (store / "ab" / "abcdef").write_bytes(b"menu icon written by -u")
    keep = tmp_path / "data" / "filestore" / db.name
    keep.mkdir(parents=True)
    result = live.one("full-update-base", full=True)
    assert result.status == Status.PASS, result.message
    assert not store.exists() and keep.is_dir()
    assert not [c for c in fake_bin.odoo_calls() if c and c[0] == "shell"]
    assert copies_of(db) == []
