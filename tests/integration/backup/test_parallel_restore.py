"""The default backup restores in parallel; checksums are computed on the bytes restored.

A damaged data file is found while the copy loads (no separate hashing pass)
and the restore stops before the swap: the live database and filestore stay.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from odoo_ops.backup import dbhost, pgtools
from odoo_ops.backup.create import CreateOptions, create_backup
from odoo_ops.backup.layout import find_backup
from odoo_ops.backup.restore import RestoreOptions, restore_backup
from odoo_ops.backup.testrestore import run_test_restore
from odoo_ops.errors import OpsError

from .conftest import BackupSite, data_dump, tree_digest

pytestmark = pytest.mark.pg


def _flip_middle_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _databases(site: BackupSite) -> list[str]:
    with site.connect("postgres") as conn:
        return [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s) ORDER BY 1",
            (site.db.name,))]


def test_default_backup_is_a_parallel_dump_and_restores_with_jobs(
    backup_site: Callable[..., BackupSite],
) -> None:
    site = backup_site()
    site.add_files(6)
    target = site.target()
    created = create_backup(target, CreateOptions(name="par"))
    dump = created.manifest["dump"]
    host = dbhost.probe(target)
    assert host.source == "local" and host.cpus >= 1
    # no outer stream, so pg_restore can seek it
    assert dump["outer_compression"] is None and not dump["encrypted"]
    assert created.path is not None
    if pgtools.tool_version("pg_dump")[0] < 16:
        # pg_dump 15: an uncompressed directory dump, its data files zstd'ed by odoo-ops
        assert dump["format"] == "directory" and dump["data_files"] == "zstd"
        assert created.manifest["format_version"] == 2
        names = os.listdir(created.path / "db")
        assert "toc.dat" in names and len(names) > 10
        assert all(n == "toc.dat" or n.endswith(".dat.zst") for n in names), names
        assert dump["raw_bytes"] > sum(
            (created.path / "db" / n).stat().st_size for n in names if n != "toc.dat")
    else:
        assert dump["format"] == ("directory" if host.jobs > 1 else "custom")
        assert dump["compression"].startswith("zstd")
    # SHA256SUMS is what sha256sum(1) checks
    check = subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=created.path,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    before, files = data_dump(site.db.dsn), tree_digest(site.filestore())
    other = f"{site.db.name}_par"
    result = restore_backup(target, "par", RestoreOptions(to=other))
    assert result.jobs == (host.jobs if dump["format"] == "directory" else 1)
    assert data_dump(site.db.dsn.replace(site.db.name, other)) == before
    assert tree_digest(site.filestore(other)) == files
    status = find_backup(site.backup_dir, "par").verified
    assert status is not None and status["ok"] is True  # hashed while restoring


@pytest.mark.parametrize("member", ["filestore", "dump"])
def test_a_damaged_file_stops_the_restore_before_the_swap(
    backup_site: Callable[..., BackupSite], member: str
) -> None:
    site = backup_site()
    site.add_files(8, size=40_000)
    target = site.target()
    created = create_backup(target, CreateOptions(name="bad"))
    assert created.path is not None
    if member == "filestore":
        victim = created.path / created.manifest["filestore"]["path"]
    else:  # the largest data file of the dump (a table's rows)
        rels = [r for r in created.manifest["files"] if r.startswith("db")]
        victim = max((created.path / r for r in rels), key=lambda p: p.stat().st_size)
    _flip_middle_byte(victim)
    live, files = data_dump(site.db.dsn), tree_digest(site.filestore())
    with pytest.raises(OpsError) as err:
        restore_backup(target, "bad", RestoreOptions(force=True))
    rel = victim.relative_to(created.path).as_posix()
    assert "fails verification" in err.value.message and rel in err.value.message
    assert "altered" in err.value.message
    assert "not touched" in (err.value.hint or "")
    # nothing swapped, nothing left behind
    assert _databases(site) == [site.db.name]
    assert data_dump(site.db.dsn) == live
    assert tree_digest(site.filestore()) == files
    assert sorted(os.listdir(site.filestore().parent)) == [site.db.name]
    # test-restore finds it the same way and records the failure
    tested = run_test_restore(target, "bad")
    assert not tested.ok and any(rel in p for p in tested.problems)
    assert _databases(site) == [site.db.name]


def test_restore_sizes_maintenance_work_mem_to_the_free_memory() -> None:
    host = dbhost.DbHost(cpus=4, available=8 << 30, source="local")
    assert host.jobs == 4
    assert host.maintenance_work_mem(4) == 512 << 20  # 25% of 8 GiB over 4 sessions
    assert host.maintenance_work_mem(1) == 1 << 30  # at most 1 GiB
    assert dbhost.DbHost(2, 100 << 20, "server").maintenance_work_mem(2) == 64 << 20
    assert dbhost.DbHost(2, None, "fallback").maintenance_work_mem(2) == dbhost.FALLBACK_MWM
    assert dbhost.restore_pgoptions(512 << 20).startswith("-c maintenance_work_mem=512MB")
    assert dbhost.DbHost(64, None, "server").jobs == dbhost.MAX_JOBS


def test_the_database_host_is_asked_through_the_server(
    backup_site: Callable[..., BackupSite],
) -> None:
    site = backup_site()
    with site.connect("postgres") as conn:
        found = dbhost.probe_server(conn)
    # the test server runs on this machine: it must see the same CPUs
    assert found is not None and found.source == "server"
    with open("/proc/cpuinfo") as fh:
        assert found.cpus <= fh.read().count("processor\t:")
    assert found.available and found.available > 0
    for host, local in [(None, True), ("", True), ("/run/postgresql", True),
                        ("localhost", True), ("127.0.0.1", True), ("::1", True),
                        ("db", False), ("10.0.0.5", False), ("db.example.com", False)]:
        assert dbhost.is_local_host(host) is local, host
    assert dbhost._cgroup_cpus("max 100000\n") is None
    assert dbhost._cgroup_cpus("150000 100000\n") == 2


def test_zstd_data_files_restore_with_one_job_and_leave_no_work_dir(
    backup_site: Callable[..., BackupSite], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The work directory of the decompressed dump is private and removed; a dry run says
    what would run; one job restores in a single transaction."""
    import tempfile

    work_parent = tmp_path / "tmpdir"
    work_parent.mkdir()
    monkeypatch.setenv("TMPDIR", str(work_parent))
    monkeypatch.setattr(tempfile, "tempdir", None)
    site = backup_site()
    site.add_files(3)
    target = site.target()
    created = create_backup(target, CreateOptions(name="zfiles", compress="zstd:4"))
    assert created.manifest["dump"]["data_files"] == "zstd"
    assert created.manifest["dump"]["compression"] == "zstd:4"
    before = data_dump(site.db.dsn)
    other = f"{site.db.name}_one"
    planned = restore_backup(target, "zfiles", RestoreOptions(to=other, jobs=1, dry_run=True))
    assert any(c.startswith("zstd -d ") or " zstd -d " in c for c in planned.commands)
    assert any("--single-transaction" in c and "WORKDIR" in c for c in planned.commands)
    assert other not in _databases(site)
    result = restore_backup(target, "zfiles", RestoreOptions(to=other, jobs=1))
    assert result.jobs == 1
    assert data_dump(site.db.dsn.replace(site.db.name, other)) == before
    assert os.listdir(work_parent) == []  # the work directory is gone
