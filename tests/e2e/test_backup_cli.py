"""``odoo-ops backup ...`` run as a user runs it: formats, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.pg


def odoo_ops(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("odoo-ops")
    argv = [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([*argv, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture
def project(odoo_db: Any, tmp_path: Path) -> tuple[Path, Any]:
    db = odoo_db(18)
    root = tmp_path / "proj"
    root.mkdir()
    db.write_filestore(root / "data")
    (root / "odoo-ops.toml").write_text(
        f'[deployments.prod]\ndsn = "{db.dsn}"\ndata_dir = "data"\nbackup_dir = "backups"\n'
        "[backup]\nkeep_daily = 1\nkeep_weekly = 0\nkeep_monthly = 0\nkeep_yearly = 0\n"
    )
    return root, db


def test_backup_commands_end_to_end(project: tuple[Path, Any], tmp_path: Path) -> None:
    root, db = project
    dry = odoo_ops("backup", "create", "--dry-run", cwd=root)
    assert dry.returncode == 0, dry.stderr
    assert "pg_dump" in dry.stdout and "pg_export_snapshot" in dry.stdout
    assert not (root / "backups").exists() or not any((root / "backups").iterdir())

    made = odoo_ops("backup", "create", "--tag", "nightly", "--format", "json", cwd=root)
    assert made.returncode == 0, made.stderr
    created = json.loads(made.stdout)
    name = created["name"]
    assert created["manifest"]["database"] == db.name
    assert created["manifest"]["tags"] == ["nightly"]
    second = odoo_ops("backup", "create", "--name", "second", "--keep", cwd=root)
    assert second.returncode == 0 and "backup second:" in second.stdout

    listed = odoo_ops("backup", "list", "--format", "json", cwd=root)
    assert listed.returncode == 0, listed.stderr
    backups = json.loads(listed.stdout)["backups"]
    assert [b["name"] for b in backups] == [name, "second"]
    assert backups[0]["tags"] == ["nightly"] and backups[1]["keep"] is True
    assert backups[0]["verify"] is None and backups[0]["test_restore"] is None

    verified = odoo_ops("backup", "verify", name, "--deep", "--format", "json", cwd=root)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["ok"] is True
    tested = odoo_ops("backup", "test-restore", name, cwd=root)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert f"test-restore {name}: pass" in tested.stdout
    table = odoo_ops("backup", "list", "--format", "csv", cwd=root)
    import csv
    import io

    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(table.stdout))}
    assert rows[name]["test-restored"].startswith("pass 20")  # outcome and date
    assert rows[name]["verified"].startswith("ok 20")
    assert rows["second"]["test-restored"] == "never" and rows["second"]["keep"] == "yes"
    assert rows["second"]["verified"] == "never"
    assert odoo_ops("backup", "list", cwd=root).stdout.count("nightly") == 1

    # prune keeps the newest (daily #1, marked keep) and the newest verified
    pruned = odoo_ops("backup", "prune", "--dry-run", "--format", "json", cwd=root)
    assert pruned.returncode == 0, pruned.stderr
    decisions = {d["name"]: d for d in json.loads(pruned.stdout)["decisions"]}
    assert decisions["second"]["keep"] and "marked keep" in decisions["second"]["reasons"]
    assert decisions[name]["keep"] and decisions[name]["reasons"] == ["newest verified"]

    # damage: verify names the file, exit 1
    manifest = json.loads((root / "backups" / name / "manifest.json").read_text())
    victim = manifest["dump"]["path"] if "." in manifest["dump"]["path"] else "filestore.tar.zst"
    with open(root / "backups" / name / victim, "ab") as fh:
        fh.write(b"x")
    bad = odoo_ops("backup", "verify", name, cwd=root)
    assert bad.returncode == 1 and victim in bad.stdout and "FAILED" in bad.stdout

    # restore: refused without --force (one line, exit 1), works into a new database
    refused = odoo_ops("backup", "restore", "second", cwd=root)
    assert refused.returncode == 1
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "already there" in errors[0]
    assert "Traceback" not in refused.stderr
    assert any(line.startswith("hint: ") for line in refused.stderr.splitlines())
    other = f"{db.name}_e2e"
    done = odoo_ops("backup", "restore", "second", "--to", other, "--neutralize", cwd=root)
    assert done.returncode == 0, done.stderr
    assert f"restored second into {other}" in done.stdout and "neutralized (sql)" in done.stdout
    assert (root / "data" / "filestore" / other).is_dir()
    dry_restore = odoo_ops("backup", "restore", "second", "--to", other, "--force",
                           "--dry-run", cwd=root)
    assert dry_restore.returncode == 0 and "pg_restore" in dry_restore.stdout
    assert "ALTER DATABASE" in dry_restore.stdout

    zip_path = tmp_path / "export.zip"
    exported = odoo_ops("backup", "export-odoo", "second", str(zip_path), cwd=root)
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(zip_path) as zf:
        assert {"dump.sql", "manifest.json"} <= set(zf.namelist())
    imported = odoo_ops("backup", "import-odoo", str(zip_path), "--name", "from-zip", cwd=root)
    assert imported.returncode == 0, imported.stderr
    assert "as backup from-zip" in imported.stdout


def test_usage_errors_exit_2(project: tuple[Path, Any]) -> None:
    root, _ = project
    proc = odoo_ops("backup", "verify", cwd=root)
    assert proc.returncode == 2 and proc.stderr.startswith("error: name a backup")
    proc = odoo_ops("backup", "create", "--compress", "bzip2", "--dry-run", cwd=root)
    assert proc.returncode == 2 and "unknown compression" in proc.stderr
    proc = odoo_ops("backup", "create", "--name", "../escape", cwd=root)
    assert proc.returncode == 2 and "invalid backup name" in proc.stderr
    proc = odoo_ops("backup", "restore", "nope", cwd=root)
    assert proc.returncode == 1 and "no backup named 'nope'" in proc.stderr
    proc = odoo_ops("backup", "create", "--encrypt", cwd=root)
    assert proc.returncode == 2 and "age_recipients" in proc.stderr + proc.stdout
