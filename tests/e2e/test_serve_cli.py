"""``odoo-ops serve``'s refusals: one line and exit code, never a traceback, nothing served."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest


def serve(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("odoo-ops")
    argv = [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]
    return subprocess.run([*argv, "serve", *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1"}, timeout=60)  # fmt: skip


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "odoo-ops.toml").write_text('[deployments.prod]\nbackup_dir = "backups"\n')
    return tmp_path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bind", "nonsense"], "is not HOST:PORT"),
        (["--bind", "127.0.0.1:99999"], "is not HOST:PORT"),
        (["--bind", "192.0.2.1:8090"], "requires --token-file"),
        (["--bind", "[::]:8090"], "requires --token-file"),
        (["--token-file", "/dev/zero"], "not a regular file"),
        (["--token-file", "missing.token"], "not found"),
    ],
)
def test_bad_options_are_refused(root: Path, args: list[str], message: str) -> None:
    proc = serve(*args, cwd=root)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_a_port_in_use_is_one_line(root: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        proc = serve("--bind", f"127.0.0.1:{port}", cwd=root)
    assert proc.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in proc.stderr
    assert "Traceback" not in proc.stderr and "reading the records" not in proc.stderr
