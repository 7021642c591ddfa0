"""``odoo-ops check --format json`` (the installed CLI, as a subprocess) on a project
full of secrets: every finding is reported, no secret value is ever printed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.pg

SECRETS = {
    "pg": "Zx-Secret-Pg-4411",
    "admin_env": "Zx-Secret-Admin-7781",
    "token": "Zx-Secret-Token-5512",
    "weak": "changeme-Zx91",
    "admin_plain": "Zx-Secret-Admin-Plain-3321",
    "smtp": "Zx-Secret-Smtp-9090",
    "compose": "Zx-Secret-Compose-1234",
    "script": "Zx-Secret-Script-5678",
    "url": "Zx-Secret-Url-2468",
}

FILE_CHECKS = {
    "conf-readable", "conf-workers", "conf-memory-limits", "conf-time-limits", "conf-proxy-mode",
    "conf-list-db", "conf-dbfilter", "conf-admin-passwd", "conf-logging", "conf-cron-threads",
    "conf-db-maxconn", "addons-path", "addons-shadowed", "addons-missing-depends",
    "addons-manifests", "python-dependencies", "secrets-env-file", "secrets-weak",
    "secrets-hardcoded", "backups-dir", "backups-free-space", "backups-recent", "logs-rotation",
}  # fmt: skip


def write(root: Path, rel: str, text: str, mode: int | None = None) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    if mode is not None:
        path.chmod(mode)


@pytest.fixture
def leaky_project(tmp_path: Path, odoo_db: Callable[..., Any]) -> tuple[Path, Any]:
    db = odoo_db(version=18)
    root = tmp_path / "erp"
    s = SECRETS
    write(root, ".env", f"POSTGRES_PASSWORD={s['pg']}\nODOO_ADMIN={s['admin_env']}\n"
          f"SMTP_TOKEN={s['token']}\nBACKUP_PASSWORD={s['weak']}\n", mode=0o644)  # fmt: skip
    write(root, "docker-compose.yml", f"""\
services:
  db:
    image: postgres:15
    environment:
      POSTGRES_PASSWORD: {s['compose']}
  odoo:
    image: odoo:18.0
    env_file: .env
    volumes:
      - ./config:/etc/odoo
      - ./addons:/mnt/extra-addons
""")  # fmt: skip
    write(root, "config/odoo.conf", f"""\
[options]
addons_path = /mnt/extra-addons
admin_passwd = {s['admin_plain']}
db_password = %(env:POSTGRES_PASSWORD)s
smtp_password = {s['smtp']}
list_db = True
workers = 0
""")  # fmt: skip
    write(root, "scripts/backup.sh", f"#!/bin/sh\nPGPASSWORD={s['script']} pg_dump odoo\n"
          f"curl https://ops:{s['url']}@backup.example.com/upload\n")  # fmt: skip
    write(root, "addons/ipai_core/__manifest__.py", "{'name': 'x', 'version': '18.0.1.0.0',"
          " 'depends': ['base', 'missing_dep']}\n")  # fmt: skip
    write(root, "odoo-ops.toml", f"""\
default_deployment = "prod"
[deployments.prod]
series = "18.0"
runner = "compose"
compose_file = "docker-compose.yml"
odoo_conf = "config/odoo.conf"
env_file = ".env"
database = "{db.name}"
dsn = "{db.dsn}"
backup_dir = "backups"
connect_timeout = 3
""")  # fmt: skip
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "."], check=True)
    return root, db


def test_json_report_has_findings_and_no_secret(leaky_project: tuple[Path, Any]) -> None:
    root, _db = leaky_project
    exe = shutil.which("odoo-ops")
    assert exe, "odoo-ops is not installed (pip install -e .)"
    proc = subprocess.run(
        [exe, "check", str(root), "--format", "json", "--module", "ipai_core"],
        capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"},
    )  # fmt: skip
    everything = proc.stdout + proc.stderr
    for name, value in SECRETS.items():
        assert value not in everything, f"secret {name} leaked into the output"
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    results = {r["id"]: r for r in doc["results"]}
    assert set(results) >= FILE_CHECKS, FILE_CHECKS - set(results)
    for r in doc["results"]:
        assert set(r) >= {"id", "area", "severity", "status", "message", "remediation"}
    assert results["secrets-hardcoded"]["status"] == "fail"
    evidence = "\n".join(results["secrets-hardcoded"]["evidence"])
    assert "docker-compose.yml:5" in evidence and "scripts/backup.sh:2" in evidence
    assert "scripts/backup.sh:3: a URL with a password" in evidence
    assert ".env: a secrets file is tracked by git" in evidence
    assert results["secrets-env-file"]["status"] == "fail"  # mode 0644
    assert results["secrets-weak"]["status"] == "fail"
    assert "BACKUP_PASSWORD" in results["secrets-weak"]["message"]
    assert results["conf-admin-passwd"]["status"] == "warn"  # strong but plain text
    assert results["conf-list-db"]["status"] == "fail"
    # ipai_core is not installed in the database, but planned with --module
    assert results["addons-missing-depends"]["status"] == "fail"
    assert (
        "missing_dep (not found) needed by ipai_core"
        in results["addons-missing-depends"]["message"]
    )
    assert results["conf-db-maxconn"]["status"] == "pass"  # read from the real server
    assert "of the PostgreSQL server" in results["conf-db-maxconn"]["message"]
    assert results["backups-dir"]["status"] == "fail"
