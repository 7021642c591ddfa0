"""`odoo-ops init` under ``umask 000`` (issue 19, finding 10): modes are init's, not the umask's."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from odoo_ops.generate.project import DIR_MODE, PRIVATE_DIR_MODES

FLAGS = ["--domain", "erp.example.com", "--database", "odoo_prod", "--cpus", "2",
         "--ram", "8192", "--users", "25", "--non-interactive"]  # fmt: skip


def init(directory: Path, umask: int) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("odoo-ops")
    argv = [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]
    return subprocess.run(
        [*argv, "init", str(directory), *FLAGS], capture_output=True, text=True, timeout=120,
        env={**os.environ, "NO_COLOR": "1"}, umask=umask,
    )  # fmt: skip


def modes(root: Path) -> dict[str, int]:
    """Mode of everything under ``root`` (and ``root`` itself as ".")."""
    out = {".": stat.S_IMODE(root.lstat().st_mode)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            out[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return out


@pytest.mark.parametrize("umask", [0o000, 0o077])
def test_every_directory_and_file_init_creates_has_its_own_mode(
    tmp_path: Path, umask: int
) -> None:
    root = tmp_path / "new" / "erp"  # init creates the project directory and its parent
    proc = init(root, umask)
    assert proc.returncode == 0, proc.stderr
    found = modes(tmp_path / "new")
    assert found["."] == DIR_MODE
    found = modes(root)
    dirs = {rel for rel in found if (root / rel).is_dir()}
    assert len(dirs) >= 16  # the project directory and the 15 below it
    for rel in dirs:
        rel_name = "" if rel == "." else rel
        assert found[rel] == PRIVATE_DIR_MODES.get(rel_name, DIR_MODE), rel
    for rel in set(found) - dirs:
        secret = rel == ".env" or rel.startswith(".odoo-ops/serve/")  # token, htpasswd
        expected = 0o600 if secret else {"db/init/10-odoo-role.sh": 0o755}.get(rel, 0o644)
        assert found[rel] == expected, rel
    assert not [rel for rel, mode in found.items() if mode & 0o002]  # nothing world-writable
    assert found["backups"] == 0o700 and found[".env"] == 0o600
    assert found[".odoo-ops/serve/token"] == found[".odoo-ops/serve/htpasswd"] == 0o600


def test_directories_that_exist_are_left_as_they_are(tmp_path: Path) -> None:
    root = tmp_path / "erp"
    (root / "config").mkdir(parents=True)
    root.chmod(0o770)
    (root / "config").chmod(0o700)
    proc = init(root, 0o000)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE(root.stat().st_mode) == 0o770
    assert stat.S_IMODE((root / "config").stat().st_mode) == 0o700
    assert stat.S_IMODE((root / "deploy" / "systemd").stat().st_mode) == DIR_MODE
