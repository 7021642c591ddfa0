"""A project written by ``odoo-ops init`` passes the file-based checks: the generator and
the checks agree on what a sane odoo.conf, .env, compose file and log setup are."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

AREAS = ("odoo-conf", "secrets", "logs")


@pytest.mark.parametrize("series", ["18.0"])
def test_init_project_passes_file_checks(tmp_path: Path, series: str) -> None:
    exe = shutil.which("odoo-ops")
    assert exe, "odoo-ops is not installed (pip install -e .)"
    root = tmp_path / "erp"
    root.mkdir()
    init = subprocess.run(
        [exe, "init", str(root), "--series", series, "--domain", "erp.example.com",
         "--non-interactive"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    if init.returncode == 2 and "No such command" in init.stderr:
        pytest.skip("odoo-ops init is not available")
    assert init.returncode == 0, init.stderr
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    args = [exe, "check", str(root), "--format", "json"]
    for area in AREAS:
        args += ["--only", area]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)
    doc = json.loads(proc.stdout)
    results = {r["id"]: r for r in doc["results"]}
    assert {"conf-workers", "secrets-hardcoded", "logs-rotation"} <= set(results)
    bad = {i: (r["status"], r["message"]) for i, r in results.items() if r["status"] != "pass"}
    assert not bad
    assert proc.returncode == 0
    # the secrets init generated stay out of the report
    env = (root / ".env").read_text()
    values = [line.split("=", 1)[1] for line in env.splitlines() if "=" in line]
    for value in values:
        if len(value) >= 12:
            assert value not in proc.stdout
