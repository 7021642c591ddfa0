"""``pitr restore --in-place`` for real: the test's own PostgreSQL 15 cluster, the real
pgBackRest, maintenance mode through the deployment's own stop/start commands.

A small writer process stands in for Odoo's workers (it inserts a row every 50 ms):
the maintenance adapter stops it with ``stop_command`` and starts it again with
``start_command``. The tests run in order on one cluster: refused without --force,
--dry-run changes nothing, a restore whose WAL is missing fails after the data
directory was replaced and puts everything back, then a restore to T succeeds.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.pitr.conftest import PitrSite

pytestmark = [pytest.mark.pg, pytest.mark.slow]

WRITER = '''\
import os, sys, time, signal
import psycopg
dsn, pidfile = sys.argv[1], sys.argv[2]
with open(pidfile, "w") as fh:
    fh.write(str(os.getpid()))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
while True:
    try:
        with psycopg.connect(dsn, autocommit=True, connect_timeout=2) as conn:
            while True:
                conn.execute("INSERT INTO invoice (name) VALUES ('W')")
                time.sleep(0.05)
    except psycopg.Error:
        time.sleep(0.2)
'''

CONTROL = '''\
import os, signal, subprocess, sys, time
here = os.path.dirname(os.path.abspath(__file__))
pidfile = os.path.join(here, "writer.pid")
def pid():
    try:
        value = int(open(pidfile).read())
        os.kill(value, 0)
        return value
    except (OSError, ValueError):
        return None
action = sys.argv[1]
if action == "status":
    sys.exit(0 if pid() else 3)
if action == "stop":
    value = pid()
    if value:
        os.kill(value, signal.SIGTERM)
        while pid():
            time.sleep(0.05)
    sys.exit(0)
if action == "start" and not pid():
    subprocess.Popen([sys.executable, os.path.join(here, "writer.py"), sys.argv[2], pidfile],
                     start_new_session=True, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
    for _ in range(100):
        if pid():
            break
        time.sleep(0.05)
'''


def _attach(site: PitrSite, name: str, content: bytes) -> str:
    sha = hashlib.sha1(content).hexdigest()
    fname = f"{sha[:2]}/{sha}"
    path = site.filestore / fname
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    site.sql("INSERT INTO ir_attachment (name, store_fname) VALUES (%s, %s)", (name, fname))
    return fname


def _gc(site: PitrSite, fname: str) -> None:
    site.sql("DELETE FROM ir_attachment WHERE store_fname = %s", (fname,))
    (site.filestore / fname).unlink()


def _files(site: PitrSite) -> list[str]:
    return sorted(str(p.relative_to(site.filestore)) for p in site.filestore.rglob("*")
                  if p.is_file())  # fmt: skip


def _named(site: PitrSite) -> list[str]:
    return [r[0] for r in site.sql("SELECT name FROM invoice WHERE name <> 'W' ORDER BY id")]


def _writer_running(site: PitrSite) -> bool:
    import subprocess

    proc = subprocess.run([sys.executable, str(site.root / "control.py"), "status"])
    return proc.returncode == 0


@pytest.fixture(scope="module")
def site(pitr_site: PitrSite) -> Iterator[PitrSite]:
    s = pitr_site
    s.sql("CREATE TABLE ir_config_parameter (id serial PRIMARY KEY, key varchar UNIQUE,"
          " value text, create_date timestamp, write_date timestamp)")  # fmt: skip
    (s.root / "writer.py").write_text(WRITER)
    (s.root / "control.py").write_text(CONTROL)
    py, ctl, dsn = sys.executable, str(s.root / "control.py"), s.cluster.dsn("shop")
    s.config.write_text(s.config.read_text().replace(
        "[pitr]\n",
        "[deployments.prod.maintenance]\n"
        f'stop_command = ["{py}", "{ctl}", "stop"]\n'
        f'start_command = ["{py}", "{ctl}", "start", "{dsn}"]\n'
        f'status_command = ["{py}", "{ctl}", "status"]\n'
        "[pitr]\n",
    ))  # fmt: skip
    import subprocess

    subprocess.run([py, ctl, "start", dsn], check=True)
    try:
        yield s
    finally:
        subprocess.run([py, ctl, "stop"], check=False)


STATE: dict[str, object] = {}


def test_prepare_writes_on_both_sides_of_t(site: PitrSite) -> None:
    assert site.json("pitr", "setup", "--apply")["applied"]
    site.run("pitr", "backup", "--type", "full")
    time.sleep(1.1)  # pgBackRest restores from the whole second after a backup's stop
    kept = _attach(site, "kept.pdf", b"kept, added before T")
    doomed = _attach(site, "gc-after-T.pdf", b"collected after T")
    site.run("pitr", "filestore-sync")
    site.sql("INSERT INTO invoice (name) VALUES ('BEFORE-T')")
    time.sleep(0.3)
    moment = site.now()
    time.sleep(0.3)
    site.sql("INSERT INTO invoice (name) VALUES ('AFTER-T')")
    site.sql("UPDATE invoice SET name = 'CHANGED-AFTER-T' WHERE name = 'INV/0001'")
    late = _attach(site, "added-after-T.pdf", b"added after T")
    _gc(site, doomed)
    site.run("pitr", "filestore-sync")
    assert _writer_running(site)
    STATE.update(moment=moment, kept=kept, doomed=doomed, late=late)


def test_refused_without_force_and_dry_run_changes_nothing(site: PitrSite) -> None:
    moment = str(STATE["moment"])
    before = _named(site)
    proc = site.run("pitr", "restore", "--time", moment, "--in-place", ok=False)
    assert proc.returncode == 2 and "--force" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    both = site.run("pitr", "restore", "--time", moment, "--in-place", "--to", "x", ok=False)
    assert both.returncode == 2 and "no --to" in both.stderr
    dry = site.json("pitr", "restore", "--time", moment, "--in-place", "--dry-run")
    steps = "\n".join(dry["steps"])
    assert "would: stop PostgreSQL" in steps and "safety copy" in steps
    assert "--target-action=pause" in steps and "pg_wal_replay_resume" in steps
    assert any("stop" in s and "control.py" in s for s in dry["steps"])  # Odoo stopped first
    assert "shop" in dry["databases"]
    for when in ("2001-01-01 00:00:00+00", "2099-01-01 00:00:00+00"):
        out = site.run("pitr", "restore", "--time", when, "--in-place", "--force", ok=False)
        assert out.returncode == 1 and "outside the recoverable window" in out.stderr, out.stderr
        assert "→" in out.stderr and "Traceback" not in out.stderr
    assert _named(site) == before and _writer_running(site)
    assert not list(site.cluster.base.glob("data.before-pitr-*"))
    assert not (site.root / ".odoo-ops" / "maintenance" / "prod.flag").exists()


def test_failure_mid_way_puts_the_cluster_back(site: PitrSite) -> None:
    """The WAL after the backup is missing: recovery stops short of T after the data
    directory was replaced; the cluster, the filestore and Odoo come back as before."""
    moment = str(STATE["moment"])
    info = site.json("pitr", "info")
    wal_stop = info["backups"][-1]["wal_stop"]
    wal = site.sql("SELECT pg_walfile_name(pg_switch_wal() - 1)")[0][0]
    deadline = time.monotonic() + 60
    while (site.sql("SELECT last_archived_wal FROM pg_stat_archiver")[0][0] or "") < wal:
        assert time.monotonic() < deadline, "the WAL holding T was not archived"
        time.sleep(0.2)
    archive = site.pitr_dir / "repo" / "archive" / "prod"
    aside = site.pitr_dir / "wal-aside"
    aside.mkdir()
    moved = []
    for path in archive.glob("*/*/*"):
        if path.name[:24] > wal_stop and len(path.name) > 24 and path.name[24] == "-":
            shutil.move(str(path), aside / path.name)
            moved.append((path, aside / path.name))
    assert moved
    site.sql("INSERT INTO invoice (name) VALUES ('DURING-FAILED-ATTEMPT')")
    files_before = _files(site)
    data_ino = site.cluster.data.stat().st_ino
    try:
        proc = site.run("pitr", "restore", "--time", moment, "--in-place", "--force", ok=False,
                        timeout=600)  # fmt: skip
    finally:
        for original, now in moved:
            shutil.move(str(now), original)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "put back as they were" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    # the same data directory (the safety copy renamed back), running, with every row
    assert site.cluster.data.stat().st_ino == data_ino
    assert not list(site.cluster.base.glob("data.before-pitr-*"))
    named = _named(site)
    assert "AFTER-T" in named and "DURING-FAILED-ATTEMPT" in named
    assert "CHANGED-AFTER-T" in named and "INV/0001" not in named
    assert _files(site) == files_before
    assert not list(site.filestore.parent.glob("shop.*"))
    assert site.sql("SELECT pg_is_in_recovery()")[0][0] is False
    # maintenance off again: the flag gone, "Odoo" writing again
    assert not (site.root / ".odoo-ops" / "maintenance" / "prod.flag").exists()
    assert _writer_running(site)
    assert not (site.pitr_dir / "inplace-in-progress.json").exists()


def test_killed_outright_is_refused_until_put_back_by_hand(site: PitrSite) -> None:
    """SIGKILL once the data directory was renamed: the record stays, `pitr info` warns,
    another in-place restore is refused; the documented way back restores everything."""
    import signal
    import subprocess

    from tests.support.pgcluster import PG_BIN, run_as_cluster_user

    moment = str(STATE["moment"])
    before = _named(site)
    exe = shutil.which("odoo-ops")
    assert exe
    proc = subprocess.Popen([exe, "pitr", "restore", "--time", moment, "--in-place", "--force",
                             "-C", str(site.root)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(site.cluster.base.glob("data.before-pitr-*")):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    record = site.pitr_dir / "inplace-in-progress.json"
    assert record.exists()
    doc = json.loads(record.read_text())
    info = site.run("pitr", "info")
    assert "in-place restore did not finish" in info.stderr and doc["safety_copy"] in info.stderr
    again = site.run("pitr", "restore", "--time", moment, "--in-place", "--force", ok=False)
    assert again.returncode == 1 and "did not finish" in again.stderr, again.stderr
    # the way back of docs/pitr.md: stop, move the incomplete directory away, rename back
    data = Path(doc["pg_data"])
    if (data / "postmaster.pid").exists():
        run_as_cluster_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w",
                             "stop"])  # fmt: skip
    shutil.rmtree(data)
    os.rename(doc["safety_copy"], data)
    site.cluster.start()
    record.unlink()
    site.run("maintenance", "off")
    assert _named(site) == before
    assert _writer_running(site)


def test_in_place_restore_to_t(site: PitrSite) -> None:
    moment = str(STATE["moment"])
    out = site.json("pitr", "restore", "--time", moment, "--in-place", "--force")
    assert out["files_missing"] == []
    named = _named(site)
    assert named == ["INV/0001", "BEFORE-T"], named  # after T: gone; before T: present
    assert site.sql("SELECT timeline_id FROM pg_control_checkpoint()")[0][0] > 1
    # the filestore at T: the file collected after T is back, the one added after T is not
    assert _files(site) == sorted([str(STATE["kept"]), str(STATE["doomed"])])
    safety = Path(out["safety_copy"])
    assert safety.is_dir() and (safety / "PG_VERSION").is_file()
    fs_copy = Path(out["filestore_copy"])
    assert (fs_copy / str(STATE["late"])).is_file()  # the live filestore, kept aside
    assert not (site.root / ".odoo-ops" / "maintenance" / "prod.flag").exists()
    assert _writer_running(site)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not site.sql(
        "SELECT 1 FROM invoice WHERE name = 'W' AND created > %s::timestamptz", (moment,)
    ):
        time.sleep(0.2)  # Odoo (the writer) writes on the new timeline
    assert site.sql("SELECT 1 FROM invoice WHERE name = 'W' AND created > %s::timestamptz",
                    (moment,))  # fmt: skip
    assert not (site.pitr_dir / "inplace-in-progress.json").exists()
    # the restored cluster keeps archiving into the stanza
    site.run("pitr", "backup", "--type", "full")
    info = site.json("pitr", "info")
    assert info["archive_failing"] is False
    assert len(info["backups"]) >= 2 and info["window"]["end"]
    assert os.path.isdir(site.cluster.data)
