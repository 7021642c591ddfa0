"""Secrets: the database password and the age identity never reach output, logs or files."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from psycopg.conninfo import make_conninfo

from .conftest import BackupSite, age_keypair

pytestmark = pytest.mark.pg

PASSWORD = "Sup3r-S3cret-Pw-4711"


def test_no_secret_in_output_logs_or_artifacts(
    backup_site: Callable[..., BackupSite], tmp_path: Path
) -> None:
    identity, public, secret = age_keypair(tmp_path)
    site = backup_site(
        f'[backup]\nage_recipients = ["{public}"]\nage_identity_file = "{identity}"\n'
    )
    site.add_files(4)
    # the same database, reached with a password (trust authentication ignores it)
    dsn = make_conninfo(site.db.dsn, password=PASSWORD)
    text = site.config.read_text().replace(f'dsn = "{site.db.dsn}"', f"dsn = '{dsn}'")
    assert PASSWORD in text
    site.config.write_text(text)
    exe = shutil.which("odoo-ops")
    assert exe
    base = ["--config", str(site.config), "-C", str(site.root)]
    outputs: list[str] = []

    def run(*args: str, ok: bool = True) -> str:
        proc = subprocess.run([exe, "-vv", "backup", *args, *base], capture_output=True,
                              text=True, cwd=site.root)
        outputs.append(proc.stdout + proc.stderr)
        if ok:
            assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    run("create", "--dry-run")
    run("create", "--name", "plain")
    run("create", "--name", "secret", "--encrypt", "--tag", "enc")
    run("list", "--format", "json")
    run("verify", "--all", "--deep")
    run("test-restore", "secret")
    run("restore", "secret", "--to", f"{site.db.name}_s", "--neutralize")
    run("restore", "secret", "--to", f"{site.db.name}_s", "--dry-run", "--force")
    run("prune", "--dry-run")
    run("export-odoo", "secret", str(tmp_path / "out.zip"))
    run("restore", "plain", ok=False)  # refused: exists
    # an unreachable server: the error names the DSN, with the password masked
    bad = site.config.read_text().replace("127.0.0.1", "127.0.0.1 port=1", 1)
    bad_config = site.root / "bad.toml"
    bad_config.write_text(bad.replace(f"port={site.db.conninfo['port']}", "port=1"))
    proc = subprocess.run([exe, "backup", "create", "--config", str(bad_config), "-C",
                           str(site.root)], capture_output=True, text=True, cwd=site.root)
    assert proc.returncode != 0
    outputs.append(proc.stdout + proc.stderr)

    everything = "\n".join(outputs)
    assert "backup secret" in everything  # the commands did run
    for needle in (PASSWORD, secret, secret[len("AGE-SECRET-KEY-"):]):
        assert needle not in everything
    scanned = 0
    for root in (site.backup_dir, site.root / ".odoo-ops", Path(os.environ["XDG_STATE_HOME"]),
                 tmp_path / "out.zip"):
        paths = [root] if root.is_file() else list(root.rglob("*")) if root.exists() else []
        for path in paths:
            if path.is_file() and path.suffix not in (".gz", ".zst", ".age"):
                data = path.read_bytes()
                scanned += 1
                assert PASSWORD.encode() not in data, path
                assert secret.encode() not in data, path
    assert scanned >= 6
