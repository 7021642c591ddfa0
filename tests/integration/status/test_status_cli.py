"""``odoo-ops status`` over records made by real commands (backups against real PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.checks_live.helpers import closed_port
from tests.support.status_records import (
    deploy_record,
    write_check_report,
    write_health,
    write_journal,
)

pytestmark = pytest.mark.pg
UTC = dt.UTC


def odoo_ops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("odoo-ops")
    argv = [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]
    return subprocess.run([*argv, *args], cwd=cwd, env={**os.environ, "NO_COLOR": "1"},
                          capture_output=True, text=True, timeout=180)  # fmt: skip


@pytest.fixture
def project(odoo_db: Any, tmp_path: Path) -> tuple[Path, Any]:
    db = odoo_db(18)
    root = tmp_path / "proj"
    root.mkdir()
    db.write_filestore(root / "data")
    port = closed_port()
    (root / "odoo-ops.toml").write_text(
        'default_deployment = "prod"\n'
        f'[deployments.prod]\ndsn = "{db.dsn}"\ndata_dir = "data"\nbackup_dir = "backups"\n'
        f'[deployments.staging]\ndsn = "host=127.0.0.1 port={port} dbname=x user=postgres"\n'
        "connect_timeout = 1\n"
        '[[backup.remotes]]\nname = "nas"\n'
        f"url = {json.dumps('file://' + str(tmp_path / 'nas'))}\n"
    )
    (tmp_path / "nas").mkdir()
    return root, db


def status_json(root: Path, *args: str) -> tuple[int, dict[str, Any]]:
    proc = odoo_ops("status", "--format", "json", *args, cwd=root)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_status_says_what_needs_a_person_then_all_clear(project: tuple[Path, Any]) -> None:
    root, db = project
    now = dt.datetime.now(UTC).replace(microsecond=0)
    # nothing recorded yet: no backup is the one thing to fix
    code, doc = status_json(root)
    prod = doc["deployments"][0]
    assert code == 1 and prod["attention"] == ["no backup"]
    assert prod["health"]["state"] == "unknown" and prod["pending"]["state"] == "none"

    made = odoo_ops("backup", "create", "--name", "nightly", cwd=root)
    assert made.returncode == 0, made.stderr
    assert odoo_ops("backup", "verify", "nightly", cwd=root).returncode == 0
    pushed = odoo_ops("backup", "push", "nightly", "--remote", "nas", cwd=root)
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    tested = odoo_ops("backup", "test-restore", "nightly", cwd=root)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    write_health(root, "prod", [(now - dt.timedelta(minutes=m), m >= 20, 90.0 + m)
                                for m in (50, 40, 30, 20, 10, 0)])  # fmt: skip
    write_journal(root, "prod", [
        deploy_record("20260101T000000-0001", now - dt.timedelta(days=3), [1, 2, 3]),
        deploy_record("20260102T000000-0002", now - dt.timedelta(hours=5), [1.5, 2.5, 4.0],
                      "rolled-back", failed_phase="code", error="merge conflict"),
    ])  # fmt: skip
    write_check_report(root, "prod", now - dt.timedelta(hours=1),
                       [("conf-a", "conf", "pass"), ("db-b", "database", "fail")])  # fmt: skip
    with db.connect() as conn:
        conn.execute("UPDATE ir_module_module SET state = 'to upgrade' WHERE name = 'base'")

    code, doc = status_json(root)
    prod = doc["deployments"][0]
    assert code == 1 and doc["needs_attention"] is True
    health = prod["health"]
    assert health["state"] == "unhealthy" and health["failing"] == ["latency", "web-health"]
    assert health["since"] == (now - dt.timedelta(minutes=10)).isoformat()
    deploy = prod["last_deploy"]
    assert (deploy["result"], deploy["failed_phase"], deploy["duration_seconds"]) == (
        "rolled-back", "code", 8.0)
    assert [(p["name"], p["seconds"]) for p in deploy["phases"]] == [
        ("preflight", 1.5), ("lock", 2.5), ("maintenance", 4.0)]
    backup = prod["newest_backup"]
    assert backup["name"] == "nightly" and backup["verified"] == "pass"
    assert backup["test_restored"] == "pass" and backup["offsite"] == "nas (verified)"
    manifest = json.loads((root / "backups" / "nightly" / "manifest.json").read_text())
    assert backup["size_bytes"] == sum(f["size"] for f in manifest["files"].values())
    assert prod["last_check"]["failures"] == ["db-b: db-b says fail"]
    assert prod["pending"] == {"state": "pending", "modules": ["base"], "reason": ""}
    assert prod["golive"]["verdict"] == "NO-GO" and prod["golive"]["total"] > 0
    assert [r.split(" ")[0] for r in prod["attention"]] == [
        "unhealthy", "last", "last", "1"]

    table = odoo_ops("status", cwd=root)
    assert table.returncode == 1
    assert "prod: NEEDS ATTENTION" in table.stdout and "rolled-back" in table.stdout

    # the people fixed everything: healthy again, a good deploy, checks pass
    write_health(root, "prod", [(now, True, 80.0)])
    write_journal(root, "prod", [
        deploy_record("20260103T000000-0003", now - dt.timedelta(hours=1), [1, 1, 1]),
    ])  # fmt: skip
    write_check_report(root, "prod", now, [("conf-a", "conf", "pass")])
    with db.connect() as conn:
        conn.execute("UPDATE ir_module_module SET state = 'installed' WHERE name = 'base'")
    code, doc = status_json(root)
    assert code == 0 and doc["deployments"][0]["attention"] == []
    assert doc["deployments"][0]["verdict"] == "OK"
    assert doc["deployments"][0]["health"]["since"] == now.isoformat()

    # every deployment: staging's database does not answer -> unknown, and why
    code, doc = status_json(root, "--all-deployments")
    staging = next(d for d in doc["deployments"] if d["deployment"] == "staging")
    assert [d["deployment"] for d in doc["deployments"]] == ["prod", "staging"]
    assert staging["pending"]["state"] == "unknown" and "connect" in staging["pending"]["reason"]
    assert staging["attention"] == [] and staging["backup_dir"] is None
    assert staging["verdict"] == "UNKNOWN"
    assert code == 0
    code, doc = status_json(root, "--no-database")
    assert doc["deployments"][0]["pending"]["state"] == "not-asked"
