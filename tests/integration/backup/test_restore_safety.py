"""Restore safety: killed at any point, the live database and filestore are untouched
(or, past the one-step swap, replaced and kept aside); no --force, no replacement."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support import odoo_schema, pg

from odoo_ops.backup.create import CreateOptions, create_backup
from odoo_ops.backup.restore import RestoreOptions, restore_backup
from odoo_ops.errors import OpsError

from .conftest import BackupSite, data_dump, tree_digest

pytestmark = pytest.mark.pg

KILLS = 8


def _cli(site: BackupSite, *args: str) -> list[str]:
    exe = shutil.which("odoo-ops")
    assert exe
    return [exe, "-q", "backup", *args, "--config", str(site.config), "-C", str(site.root)]


def _databases(site: BackupSite) -> list[str]:
    with site.connect("postgres") as conn:
        return [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s) ORDER BY 1",
            (site.db.name,))]


def test_refused_without_force(backup_site: Callable[..., BackupSite]) -> None:
    site = backup_site()
    target = site.target()
    created = create_backup(target, CreateOptions())
    before = data_dump(site.db.dsn)
    with pytest.raises(OpsError) as err:
        restore_backup(target, created.name, RestoreOptions())
    assert "already there" in err.value.message and "--force" in (err.value.hint or "")
    assert _databases(site) == [site.db.name]
    assert data_dump(site.db.dsn) == before
    # the filestore alone also blocks a restore into a new database name
    other = f"{site.db.name}_x"
    site.filestore(other).mkdir(parents=True)
    with pytest.raises(OpsError):
        restore_backup(target, created.name, RestoreOptions(to=other))
    assert other not in _databases(site)
    proc = subprocess.run(_cli(site, "restore", created.name), capture_output=True, text=True,
                          cwd=site.root)
    assert proc.returncode == 1 and proc.stderr.startswith("error: Database and filestore")


def test_killed_restore_leaves_the_live_copy_untouched(
    backup_site: Callable[..., BackupSite],
) -> None:
    site = backup_site()
    with site.connect() as conn:
        conn.execute(
            "CREATE TABLE bulk AS SELECT g AS id, md5(g::text) || repeat('y', 300) AS v"
            " FROM generate_series(1, 40000) g"
        )
    site.add_files(150, size=20000)
    target = site.target()
    create_backup(target, CreateOptions(name="good"))
    # the live deployment moves on after the backup
    with site.connect() as conn:
        odoo_schema.add_partner(conn, "LIVE-AFTER-BACKUP")
    site.add_files(3, prefix="live")
    live = data_dump(site.db.dsn)
    live_files = tree_digest(site.filestore())

    start = time.monotonic()
    probe = f"{site.db.name}_p"
    subprocess.run(_cli(site, "restore", "good", "--to", probe), check=True, cwd=site.root)
    duration = time.monotonic() - start

    swapped = 0
    for i in range(KILLS):
        delay = duration * (0.15 + 0.95 * i / (KILLS - 1))
        proc = subprocess.Popen(_cli(site, "restore", "good", "--force"), cwd=site.root)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        before = [d for d in _databases(site) if "_before_restore_" in d]
        if not before:
            # not swapped: the live database and filestore are exactly as they were
            assert data_dump(site.db.dsn) == live, f"kill {i} changed the live database"
            assert tree_digest(site.filestore()) == live_files, f"kill {i}"
            continue
        # swapped in one step: the restored copy is live, the old one is kept intact
        swapped += 1
        (kept,) = before
        assert data_dump(pg.dsn_for(site.db.admin_dsn, kept)) == live
        # put the old deployment back for the next round
        with site.connect("postgres") as conn:
            conn.execute(f'DROP DATABASE "{site.db.name}" WITH (FORCE)')
            conn.execute(f'ALTER DATABASE "{kept}" RENAME TO "{site.db.name}"')
        restore_backup(target, "good", RestoreOptions(to=f"{probe}{i}"))  # runs the recovery
        kept_fs = site.data_dir / "filestore" / kept
        if kept_fs.exists():
            shutil.rmtree(site.filestore())
            kept_fs.rename(site.filestore())
        assert tree_digest(site.filestore()) == live_files
    assert swapped < KILLS  # most kills land before the swap

    # a later restore cleans what the killed ones left and succeeds
    time.sleep(0.5)
    result = restore_backup(target, "good", RestoreOptions(force=True))
    assert result.replaced_database
    leftovers = [d for d in _databases(site) if "__restoring_" in d]
    assert leftovers == []
    assert not list(Path(site.data_dir / "filestore").glob(".*restoring*"))
    with site.connect() as conn:
        assert conn.execute(
            "SELECT count(*) FROM res_partner WHERE name = 'LIVE-AFTER-BACKUP'"
        ).fetchone() == (0,)
    assert data_dump(pg.dsn_for(site.db.admin_dsn, result.replaced_database)) == live


def test_interrupted_filestore_swap_is_finished_by_the_next_run(
    backup_site: Callable[..., BackupSite],
) -> None:
    """The journal: database swapped, filestore not yet — the next run completes it."""
    import json

    from odoo_ops.adapters.pgadmin import admin_connection
    from odoo_ops.backup.restore import recover

    site = backup_site()
    target = site.target()
    fs = site.filestore()
    fs_new = fs.parent / f".{site.db.name}.restoring-abc123"
    shutil.copytree(fs, fs_new)
    (fs_new / "restored-marker").write_text("new")
    journal = target.state_dir / f"restore-journal-{site.db.name}.json"
    journal.parent.mkdir(parents=True, exist_ok=True)
    journal.write_text(json.dumps({
        "database": site.db.name,
        "tmp_db": f"{site.db.name}__restoring_abc123",  # gone: the database swap committed
        "fs_tmp": str(fs_new),
        "fs_dest": str(fs),
        "fs_before": str(fs.parent / f"{site.db.name}_before_restore_20250101000000"),
    }))
    conn = admin_connection(target)
    try:
        done = recover(target, conn, site.db.name, fs.parent)
    finally:
        conn.close()
    assert any("finished the filestore swap" in d for d in done)
    assert (fs / "restored-marker").read_text() == "new"
    assert (fs.parent / f"{site.db.name}_before_restore_20250101000000").is_dir()
    assert not journal.exists()
