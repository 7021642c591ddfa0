"""A backup killed (SIGKILL) at any point never shows up as a backup; the next one succeeds.

Also: two writers at once — the second fails clearly, or waits with --wait.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from odoo_ops.adapters.database import lock_key
from odoo_ops.adapters.locking import deployment_lock_name
from odoo_ops.backup.create import CreateOptions, create_backup
from odoo_ops.backup.integrity import verify_entry
from odoo_ops.backup.layout import find_backup, list_backups
from odoo_ops.errors import LockError

from .conftest import BackupSite

pytestmark = pytest.mark.pg

KILLS = 22


def _cli(site: BackupSite, *args: str) -> list[str]:
    exe = shutil.which("odoo-ops")
    assert exe, "odoo-ops is not installed"
    return [exe, "-q", "backup", *args, "--config", str(site.config), "-C", str(site.root)]


def _grow(site: BackupSite) -> None:
    """Enough data for a backup to take a noticeable time."""
    with site.connect() as conn:
        conn.execute(
            "CREATE TABLE bulk AS SELECT g AS id, md5(g::text) || repeat('x', 200) AS v"
            " FROM generate_series(1, 100000) g"
        )
    site.add_files(300, size=20000, prefix="bulk")


def _wait_for(path: Path, proc: subprocess.Popen[bytes], limit: float = 60.0) -> float:
    """Seconds until ``path`` exists (or the process ended)."""
    start = time.monotonic()
    while not path.exists() and proc.poll() is None:
        if time.monotonic() - start > limit:
            raise AssertionError(f"{path} never appeared")
        time.sleep(0.003)
    return time.monotonic() - start


def test_killed_create_is_never_listed(backup_site: Callable[..., BackupSite]) -> None:
    site = backup_site()
    _grow(site)
    site.backup_dir.mkdir()
    proc = subprocess.Popen(_cli(site, "create", "--name", "full"), cwd=site.root)
    _wait_for(site.backup_dir / ".full.partial", proc)
    start = time.monotonic()
    assert proc.wait() == 0
    writing = time.monotonic() - start  # from the partial directory to the end
    assert [e.name for e in list_backups(site.backup_dir)] == ["full"]

    # two kills while the command starts, then KILLS spread over the writing
    delays = [None, None] + [writing * 0.97 * i / (KILLS - 1) for i in range(KILLS)]
    mid_write = 0
    for i, delay in enumerate(delays):
        proc = subprocess.Popen(_cli(site, "create", "--name", f"k{i}"), cwd=site.root)
        if delay is None:
            time.sleep(0.05 + 0.15 * i)
        else:
            _wait_for(site.backup_dir / f".k{i}.partial", proc)
            time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if (site.backup_dir / f".k{i}.partial").exists():
            mid_write += 1
        for entry in list_backups(site.backup_dir):
            # only complete backups are ever listed
            assert not entry.name.startswith("."), entry.name
            result = verify_entry(entry, record=False)
            assert result.ok, (entry.name, result.problems)
    assert mid_write >= KILLS // 2, f"only {mid_write} kills landed while writing"

    time.sleep(0.5)  # orphaned pg_dump processes of the killed runs finish or fail
    subprocess.run(_cli(site, "create", "--name", "after"), check=True, cwd=site.root)
    names = [e.name for e in list_backups(site.backup_dir)]
    assert "after" in names and "full" in names
    assert verify_entry(find_backup(site.backup_dir, "after"), deep=True, record=False).ok
    leftovers = [p.name for p in site.backup_dir.iterdir() if p.name.startswith(".")]
    assert leftovers == [], leftovers


def _hold_lock(site: BackupSite) -> tuple[object, int]:
    """Take the deployment lock on a connection of our own (as another process would)."""
    target = site.target()
    key = lock_key(deployment_lock_name(target))
    conn = site.connect("postgres")
    conn.execute("SELECT pg_advisory_lock(%s)", (key,))
    return conn, key


def test_second_writer_fails_clearly_or_waits(backup_site: Callable[..., BackupSite]) -> None:
    site = backup_site()
    target = site.target()
    conn, key = _hold_lock(site)
    try:
        with pytest.raises(LockError) as err:
            create_backup(target, CreateOptions(name="blocked"))
        assert "another odoo-ops run" in err.value.message
        proc = subprocess.run(
            _cli(site, "create", "--name", "blocked-cli"), cwd=site.root,
            capture_output=True, text=True,
        )
        assert proc.returncode == 1
        assert proc.stderr.startswith("error: another odoo-ops run"), proc.stderr
        assert "Traceback" not in proc.stderr
        assert list_backups(site.backup_dir) == []

        def release() -> None:
            time.sleep(1.0)
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))  # type: ignore[attr-defined]

        thread = threading.Thread(target=release)
        thread.start()
        result = create_backup(target, CreateOptions(name="waited", wait=20))
        thread.join()
        assert result.path is not None and result.path.is_dir()
    finally:
        conn.close()  # type: ignore[attr-defined]


def test_owner_file_of_a_live_run_is_respected(backup_site: Callable[..., BackupSite]) -> None:
    from odoo_ops.backup.common import clean_stale_partials, write_owner

    site = backup_site()
    site.backup_dir.mkdir()
    live = site.backup_dir / ".live.partial"
    live.mkdir()
    write_owner(live)  # this very process: alive
    dead = site.backup_dir / ".dead.partial"
    dead.mkdir()
    (dead / ".owner").write_text(f"{os.uname().nodename} 999999999\n")
    removed = clean_stale_partials(site.backup_dir)
    assert removed == [".dead.partial"] and live.exists()
