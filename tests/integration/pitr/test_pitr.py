"""Point-in-time recovery for real: our own PostgreSQL 15 cluster, the real pgBackRest.

The tests of this module run in order on one cluster (``pitr_site``): set up,
full + incremental backups, writes on both sides of a moment T, a restore to
T, then the failure cases.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.pitr.conftest import PitrSite

pytestmark = [pytest.mark.pg, pytest.mark.slow]


def _attach(site: PitrSite, name: str, content: bytes) -> str:
    """An attachment as Odoo stores it: the file named by its SHA-1, a row naming it."""
    sha = hashlib.sha1(content).hexdigest()
    fname = f"{sha[:2]}/{sha}"
    path = site.filestore / fname
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    site.sql("INSERT INTO ir_attachment (name, store_fname) VALUES (%s, %s)", (name, fname))
    return fname


def _gc(site: PitrSite, fname: str) -> None:
    """Odoo's garbage collector: the row goes, then the file."""
    site.sql("DELETE FROM ir_attachment WHERE store_fname = %s", (fname,))
    (site.filestore / fname).unlink()


STATE: dict[str, str] = {}


def test_setup_backup_writes_and_restore_to_a_moment(pitr_site: PitrSite) -> None:
    site = pitr_site
    # setup without --apply shows what is needed and changes nothing on the server
    shown = site.json("pitr", "setup")
    wanted = {s["name"]: s for s in shown["settings"]}
    assert "archive-push" in wanted["archive_command"]["wanted"]
    assert not shown["applied"]
    applied = site.json("pitr", "setup", "--apply")
    assert applied["applied"] and not applied["restart_needed"]
    assert any("check" in step for step in applied["steps"])
    assert site.cluster.execute("SHOW archive_command")[0][0] == wanted["archive_command"]["wanted"]

    site.run("pitr", "backup", "--type", "full")
    kept = _attach(site, "kept.pdf", b"kept before T")
    doomed = _attach(site, "gc-after-T.pdf", b"garbage collected after T")
    early_gone = _attach(site, "gc-before-T.pdf", b"garbage collected before T")
    site.run("pitr", "filestore-sync")
    _gc(site, early_gone)
    site.sql("INSERT INTO invoice (name) VALUES ('INV/0002')")
    site.run("pitr", "backup", "--type", "incr")
    site.sql("INSERT INTO invoice (name) VALUES ('INV/0003')")  # after the backup, before T
    sync = site.json("pitr", "filestore-sync")
    assert early_gone in sync["gone"]
    time.sleep(0.3)
    moment = site.now()
    time.sleep(0.3)
    site.sql("INSERT INTO invoice (name) VALUES ('INV/0004')")  # after T
    site.sql("UPDATE invoice SET name = 'CHANGED' WHERE name = 'INV/0001'")
    late = _attach(site, "added-after-T.pdf", b"added after T")
    _gc(site, doomed)
    site.run("pitr", "filestore-sync")

    info = site.json("pitr", "info")
    assert [b["type"] for b in info["backups"]] == ["full", "incr"]
    assert info["window"]["start"] and info["window"]["end"]
    assert info["archive_failing"] is False and info["archive_lag_seconds"] is not None

    out = site.json("pitr", "restore", "--time", moment, "--to", "shop_t")
    assert out["files_missing"] == []
    assert out["files_copied"] == 2
    rows = site.sql("SELECT name FROM invoice ORDER BY id", db="shop_t")
    assert [r[0] for r in rows] == ["INV/0001", "INV/0002", "INV/0003"]
    live = site.sql("SELECT name FROM invoice ORDER BY id")
    assert [r[0] for r in live] == ["CHANGED", "INV/0002", "INV/0003", "INV/0004"]
    restored_fs = site.data_dir / "filestore" / "shop_t"
    files = sorted(str(p.relative_to(restored_fs)) for p in restored_fs.rglob("*") if p.is_file())
    assert files == sorted([kept, doomed])  # not early_gone (gone before T), not late
    assert (restored_fs / doomed).read_bytes() == b"garbage collected after T"
    assert late not in files
    # nothing of the scratch server is left
    assert list((site.pitr_dir / "scratch").iterdir()) == []
    assert not (site.pitr_dir / "restore-in-progress.json").exists()
    STATE["moment"] = moment

    # NEWDB exists: refused without --force, replaced with it
    again = site.run("pitr", "restore", "--time", moment, "--to", "shop_t", ok=False)
    assert again.returncode != 0 and "already exists" in again.stderr
    assert "Traceback" not in again.stderr


def _rpo_item(site: PitrSite) -> dict[str, object]:
    board = site.json("golive", "status")
    items = board["items"] if isinstance(board, dict) and "items" in board else board
    found = [i for i in items if i["item"]["id"] == "dr-rpo"]
    assert len(found) == 1, board
    item: dict[str, object] = found[0]
    return item


def test_golive_rpo_item_takes_the_recoverable_window(pitr_site: PitrSite) -> None:
    site = pitr_site
    # no drill was ever run: the figure comes from PITR's archive lag, within [dr] rpo_minutes
    item = _rpo_item(site)
    evidence = item["evidence"]
    assert isinstance(evidence, dict)
    assert evidence["status"] == "pass", item
    summary = str(evidence["summary"])
    assert "from PITR" in summary and "recoverable window" in summary, summary
    minutes = float(summary.split("RPO ", 1)[1].split(" min", 1)[0])
    assert minutes <= 1.0  # archive_timeout = 60: never more than a minute of writes at risk
    # a tighter limit than the archive lag fails the item (the figure is measured, not assumed)
    text = site.config.read_text()
    try:
        site.config.write_text(text + "[dr]\nrpo_minutes = 0.0001\n")
        site.sql("INSERT INTO invoice (name) VALUES ('INV/RPO')")
        site.cluster.execute("SELECT pg_switch_wal()")
        time.sleep(1.2)
        tight = _rpo_item(site)["evidence"]
        assert isinstance(tight, dict)
        assert tight["status"] == "fail", tight
        assert "limit 0.0001 min" in str(tight["summary"])
    finally:
        site.config.write_text(text)


def test_time_outside_the_window_is_refused_naming_it(pitr_site: PitrSite) -> None:
    site = pitr_site
    for when in ("2001-01-01 00:00:00+00", "2099-01-01 00:00:00+00"):
        proc = site.run("pitr", "restore", "--time", when, "--to", "shop_x", ok=False)
        assert proc.returncode != 0
        assert "outside the recoverable window" in proc.stderr, proc.stderr
        assert "→" in proc.stderr and "Traceback" not in proc.stderr
    moment = STATE.get("moment") or site.now()
    dry = site.run("pitr", "restore", "--time", moment, "--to", "shop_x", "--dry-run")
    assert "would restore shop" in dry.stdout + dry.stderr
    orphan = site.data_dir / "filestore" / "shop_x"
    orphan.mkdir()
    try:
        kept = site.run("pitr", "restore", "--time", moment, "--to", "shop_x", ok=False)
        assert kept.returncode == 2 and "already exists" in kept.stderr, kept.stderr
    finally:
        orphan.rmdir()
    proc = site.run("pitr", "restore", "--time", "yesterday", "--to", "shop_x", ok=False)
    assert proc.returncode == 2 and "cannot read the time" in proc.stderr
    assert not site.sql("SELECT 1 FROM pg_database WHERE datname = 'shop_x'", db="postgres")


def test_killed_restore_leaves_nothing(pitr_site: PitrSite) -> None:
    site = pitr_site
    moment = STATE.get("moment") or site.now()
    exe = shutil.which("odoo-ops")
    assert exe
    proc = subprocess.Popen([exe, "pitr", "restore", "--time", moment, "--to", "shop_k",
                             "-C", str(site.root)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    scratch = site.pitr_dir / "scratch"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill it while its scratch server recovers
        if any((d / "server.log").exists() for d in scratch.iterdir()):
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode != 0, err
    assert [list(d.rglob("*"))[:20] for d in scratch.iterdir()] == [], err
    assert not (site.pitr_dir / "restore-in-progress.json").exists()
    names = {r[0] for r in site.sql("SELECT datname FROM pg_database", db="postgres")}
    assert "shop_k" not in names and "shop_k__pitr" not in names
    assert not (site.data_dir / "filestore" / "shop_k").exists()
    # the live database is untouched
    assert site.sql("SELECT name FROM invoice ORDER BY id")[0][0] == "CHANGED"


def test_killed_outright_is_cleaned_by_the_next_command(pitr_site: PitrSite) -> None:
    site = pitr_site
    moment = STATE.get("moment") or site.now()
    exe = shutil.which("odoo-ops")
    assert exe
    proc = subprocess.Popen([exe, "pitr", "restore", "--time", moment, "--to", "shop_k9",
                             "-C", str(site.root)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    scratch = site.pitr_dir / "scratch"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any((d / "server.log").exists() for d in scratch.iterdir()):
            break
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert (site.pitr_dir / "restore-in-progress.json").exists()
    time.sleep(0.5)  # the scratch server follows its parent (PR_SET_PDEATHSIG)
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
    cmdlines = []
    for pid in pids:
        try:
            cmdlines.append(Path(f"/proc/{pid}/cmdline").read_bytes())
        except OSError:
            continue
    assert not any(str(scratch).encode() in c for c in cmdlines)
    info = site.run("pitr", "info")
    assert "interrupted pitr restore was cleaned up" in info.stderr + info.stdout
    assert list(scratch.iterdir()) == []
    names = {r[0] for r in site.sql("SELECT datname FROM pg_database", db="postgres")}
    assert "shop_k9" not in names and "shop_k9__pitr" not in names


def test_failing_archive_command_fails_the_check_and_says_why(pitr_site: PitrSite) -> None:
    site = pitr_site
    good = site.cluster.execute("SHOW archive_command")[0][0]
    site.cluster.execute("ALTER SYSTEM SET archive_command = 'false'")
    site.cluster.execute("SELECT pg_reload_conf()")
    try:
        time.sleep(0.3)
        site.sql("INSERT INTO invoice (name) VALUES ('INV/0005')")
        site.cluster.execute("SELECT pg_switch_wal()")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if site.cluster.execute("SELECT failed_count FROM pg_stat_archiver")[0][0]:
                break
            time.sleep(0.2)
        proc = site.run("check", "--only", "pitr-archiving", "--format", "json", ok=False)
        assert proc.returncode != 0, proc.stdout
        assert "pitr-archiving" in proc.stdout and "archiv" in proc.stdout
        assert "fail" in proc.stdout.lower()
        assert "WAL archiving fails" in proc.stdout, proc.stdout
        health = site.run("health", "--probe", "pitr-archiving", "--format", "json", ok=False)
        assert health.returncode != 0, health.stdout
        assert "WAL archiving fails" in health.stdout, health.stdout
        rpo = _rpo_item(site)["evidence"]
        assert isinstance(rpo, dict)
        assert rpo["status"] == "fail" and "WAL archiving fails" in str(rpo["summary"]), rpo
    finally:
        site.cluster.execute(f"ALTER SYSTEM SET archive_command = '{good}'")
        site.cluster.execute("SELECT pg_reload_conf()")


def test_filestore_archive_prunes_after_the_keep_window(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from odoo_ops.pitr.filestore import FilestoreArchive

    store = tmp_path / "fs"
    content = b"x"
    sha = hashlib.sha1(content).hexdigest()
    (store / sha[:2]).mkdir(parents=True)
    (store / sha[:2] / sha).write_bytes(content)
    (store / sha[:2] / "not-a-sha").write_bytes(b"?")
    archive = FilestoreArchive(tmp_path / "archive", "db")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    first = archive.sync(store, keep_days=1, now=t0)
    assert first.added == [f"{sha[:2]}/{sha}"] and first.ignored == [f"{sha[:2]}/not-a-sha"]
    (store / sha[:2] / sha).unlink()
    assert archive.sync(store, keep_days=1, now=t0 + timedelta(hours=1)).gone == first.added
    assert archive.sync(store, keep_days=1, now=t0 + timedelta(hours=20)).pruned == []
    assert (archive.objects / first.added[0]).is_file()
    assert archive.sync(store, keep_days=1, now=t0 + timedelta(days=2)).pruned == first.added
    assert not (archive.objects / first.added[0]).exists()
