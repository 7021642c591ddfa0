"""Names and manifest paths of real backups (issue 19, findings 4, 5 and 9).

A database name from ``--to`` never becomes a path outside the data_dir and
is refused before anything changes (no half-done ``--force``); a manifest
pointing outside its backup fails ``verify`` and is never restored; a missing
dump under ``--no-verify`` is a one-line error.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from odoo_ops.backup.create import CreateOptions, create_backup
from odoo_ops.backup.integrity import verify_entry
from odoo_ops.backup.layout import MANIFEST, SUMS, find_backup, manifest_bytes, sums_bytes
from odoo_ops.backup.restore import RestoreOptions, restore_backup
from odoo_ops.errors import OpsError

from .conftest import BackupSite, data_dump, tree_digest

pytestmark = pytest.mark.pg


def _cli(site: BackupSite, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("odoo-ops")
    assert exe
    return subprocess.run(
        [exe, "-q", "backup", *args, "--config", str(site.config), "-C", str(site.root)],
        capture_output=True, text=True, cwd=site.root, timeout=300,
    )


def _databases(site: BackupSite) -> list[str]:
    with site.connect("postgres") as conn:
        return [r[0] for r in conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s) ORDER BY 1",
            (site.db.name,))]


def _reseal(backup: Path, change: Callable[[dict], None]) -> None:
    """Edit the manifest and recompute SHA256SUMS over it (a forged, consistent backup)."""
    manifest = json.loads((backup / MANIFEST).read_text())
    change(manifest)
    raw = manifest_bytes(manifest)
    (backup / MANIFEST).write_bytes(raw)
    files = dict(manifest["files"])
    files[MANIFEST] = {"sha256": hashlib.sha256(raw).hexdigest()}
    (backup / SUMS).write_bytes(sums_bytes(files))


@pytest.mark.parametrize("to", ["db/../../../x", "../x", "/tmp/x", ".", "a" * 64, "-x"])
def test_restore_to_a_path_is_refused_before_anything_changes(
    backup_site: Callable[..., BackupSite], tmp_path: Path, to: str
) -> None:
    site = backup_site()
    target = site.target()
    made = create_backup(target, CreateOptions(name="b1"))
    before_dbs = _databases(site)
    before_data = data_dump(site.db.dsn)
    before_tree = sorted(p.relative_to(site.root) for p in site.root.rglob("*")
                         if ".odoo-ops" not in p.parts)
    outside = sorted(tmp_path.iterdir())
    with pytest.raises(OpsError, match="database name"):
        restore_backup(target, made.name, RestoreOptions(to=to, force=True))
    proc = _cli(site, "restore", made.name, f"--to={to}", "--force")
    assert proc.returncode == 2, proc.stderr
    assert "error: invalid database name" in proc.stderr or "error: database name too long" in (
        proc.stderr
    ), proc.stderr
    assert "Traceback" not in proc.stderr
    assert _databases(site) == before_dbs
    assert data_dump(site.db.dsn) == before_data
    assert sorted(p.relative_to(site.root) for p in site.root.rglob("*")
                  if ".odoo-ops" not in p.parts and "status.json" not in p.name) == [
        p for p in before_tree if "status.json" not in p.name]
    assert sorted(tmp_path.iterdir()) == outside


def test_restore_no_verify_with_the_dump_missing(backup_site: Callable[..., BackupSite]) -> None:
    site = backup_site()
    made = create_backup(site.target(), CreateOptions(name="nodump", dump_format="custom",
                                                      compress="zstd"))
    assert made.path is not None
    dump = json.loads((made.path / MANIFEST).read_text())["dump"]["path"]
    (made.path / dump).unlink()
    before = _databases(site)
    proc = _cli(site, "restore", "nodump", "--to", f"{site.db.name}_nd", "--no-verify")
    assert proc.returncode == 1, proc.stderr
    assert f"error: backup nodump: its dump {dump} is missing" in proc.stderr, proc.stderr
    assert _databases(site) == before


@pytest.mark.parametrize("where", ["absolute", "dotdot"])
def test_a_manifest_pointing_outside_the_backup_is_never_restored(
    backup_site: Callable[..., BackupSite], where: str
) -> None:
    site = backup_site()
    target = site.target()
    good = create_backup(target, CreateOptions(name="good", dump_format="custom"))
    evil = create_backup(target, CreateOptions(name="evil", dump_format="custom"))
    assert good.path and evil.path
    outside = good.path / "db.dump"
    rel = str(outside) if where == "absolute" else "../good/db.dump"

    def point_outside(manifest: dict) -> None:
        info = manifest["files"].pop("db.dump")
        manifest["files"][rel] = info
        manifest["dump"]["path"] = rel

    (evil.path / "db.dump").unlink()
    _reseal(evil.path, point_outside)
    # the checksums agree with each other, as sha256sum -c would say for the absolute one
    entry = find_backup(site.backup_dir, "evil")
    assert entry.manifest is None and "not a plain relative path" in (entry.error or "")
    result = verify_entry(entry, record=False)
    assert not result.ok and result.problems[0].file == MANIFEST
    before = _databases(site)
    fs_before = tree_digest(site.data_dir)
    for extra in ([], ["--no-verify"]):
        proc = _cli(site, "restore", "evil", "--to", f"{site.db.name}_evil", *extra)
        assert proc.returncode == 1 and "is damaged" in proc.stderr, proc.stderr
    listed = _cli(site, "list", "--format", "json")
    rows = {b["name"]: b for b in json.loads(listed.stdout)["backups"]}
    assert rows["good"]["error"] is None and "not a plain relative path" in rows["evil"]["error"]
    verify = _cli(site, "verify", "evil")
    assert verify.returncode == 1 and "FAILED" in verify.stdout
    assert _databases(site) == before and tree_digest(site.data_dir) == fs_before
