"""``odoo-ops audit ...`` run as a user runs it, against fixture databases."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.audit.conftest import build_broken_world

pytestmark = pytest.mark.pg


def odoo_ops(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("odoo-ops")
    argv = [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([*argv, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


def write_project(root: Path, dsn: str, addons: list[Path], extra: str = "") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    paths = ", ".join(json.dumps(str(p)) for p in addons)
    (root / "odoo-ops.toml").write_text(
        f'[deployments.prod]\ndsn = "{dsn}"\naddons_paths = [{paths}]\n{extra}'
    )
    return root


@pytest.fixture
def broken_project(odoo_db: Any, tmp_path: Path) -> tuple[Path, Any]:
    w = build_broken_world(odoo_db, 18, tmp_path)
    return write_project(tmp_path / "proj", w.db.dsn, [w.addons]), w


def test_every_audit_command(broken_project: tuple[Path, Any]) -> None:
    proj, w = broken_project
    proc = odoo_ops("audit", "broken", "--format", "json", cwd=proj)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["audit"] == "broken" and data["ok"] is False
    assert data["summary"]["menu-missing-action"] == 8
    assert data["summary"]["client-action-unregistered"] == 2
    assert {"kind", "severity", "subject", "problem", "breaks", "fix", "fix_sql",
            "fix_command", "record"} <= set(data["findings"][0])

    proc = odoo_ops("audit", "broken", "--ci", "--format", "csv", cwd=proj)
    assert proc.returncode == 1
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert len(rows) == len(data["findings"])
    assert rows[0]["fix"]

    proc = odoo_ops("audit", "broken", "--format", "markdown", cwd=proj)
    assert proc.returncode == 0 and proc.stdout.startswith("## audit broken")
    assert "KeyNotFoundError" in proc.stdout

    proc = odoo_ops("audit", "broken", cwd=proj)
    assert proc.returncode == 0 and "client-action-unregistered" in proc.stdout

    # the same project: modules, crons, drift, database
    proc = odoo_ops("audit", "modules", "--format", "json", cwd=proj)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    mods = {m["name"]: m for m in data["modules"]}
    assert mods["x_dash"]["verdict"] == "ok"
    assert mods["x_pending_up"]["verdict"] == "db-only" and mods["x_pending_up"]["critical"]
    proc = odoo_ops("audit", "modules", "--ci", cwd=proj)
    assert proc.returncode == 1 and "x_dash" in proc.stdout

    proc = odoo_ops("audit", "crons", "--format", "json", cwd=proj)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    status = {c["id"]: c["status"] for c in data["crons"]}
    assert status[w.ids["cron_action_gone"]] == "action-missing"
    assert data["summary"]["cron-overdue"] == 1
    proc = odoo_ops("audit", "crons", "--ci", "--format", "csv", cwd=proj)
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0] == "id,name,model,active,interval,nextcall,module,status"

    proc = odoo_ops("audit", "drift", "--format", "markdown", cwd=proj)
    assert proc.returncode == 0, proc.stderr
    assert "module-pending" in proc.stdout and "x_pending_up" in proc.stdout
    proc = odoo_ops("audit", "drift", "--format", "csv", cwd=proj)
    assert "x_dash,installed,18.0.1.0.0,18.0.1.0.0,same" in proc.stdout

    proc = odoo_ops("audit", "database", "--format", "json", cwd=proj)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["size_bytes"] > 0 and data["max_connections"] > 0
    assert {"table", "total_bytes", "dead_tuples"} <= set(data["tables"][0])
    proc = odoo_ops("audit", "database", cwd=proj)
    assert proc.returncode == 0 and "connections" in proc.stdout


def test_clean_database_passes_ci(odoo_db: Any, tmp_path: Path) -> None:
    db = odoo_db(version=16)
    proj = write_project(tmp_path / "p", db.dsn, [])
    proc = odoo_ops("audit", "broken", "--ci", cwd=proj)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no findings" in proc.stdout


def test_unreachable_database_is_one_error_line(tmp_path: Path) -> None:
    proj = write_project(tmp_path / "p", "postgresql://nobody:s3cretpw@127.0.0.1:1/x", [])
    proc = odoo_ops("audit", "broken", cwd=proj)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "s3cretpw" not in proc.stderr
    assert proc.stderr.startswith("error: cannot connect to PostgreSQL")


def test_not_an_odoo_database(make_database: Any, tmp_path: Path) -> None:
    db = make_database("plain")
    proj = write_project(tmp_path / "p", db.dsn, [])
    proc = odoo_ops("audit", "modules", cwd=proj)
    assert proc.returncode == 1 and "not an Odoo database" in proc.stderr
