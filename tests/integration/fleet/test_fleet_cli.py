"""Fleet mode for real: ``odoo-ops -a|-D a -D b CMD`` over real PostgreSQL databases,
one deployment down, one deployment's lock held by another session."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from odoo_ops.adapters.database import lock_key
from tests.integration.checks_live.helpers import closed_port

pytestmark = pytest.mark.pg


def odoo_ops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-c", "import sys; from odoo_ops.cli.main import main; main()"]
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("ODOO_OPS_DEPLOYMENT", None)
    return subprocess.run([*argv, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


@pytest.fixture
def fleet(odoo_db: Any, tmp_path: Path) -> tuple[Path, Any, Any]:
    """Three deployments: prod and staging on two real databases, down on a closed port."""
    prod, staging = odoo_db(18), odoo_db(18)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "odoo-ops.toml").write_text(
        'default_deployment = "prod"\n'
        f'[deployments.prod]\ndsn = "{prod.dsn}"\nbackup_dir = "backups/prod"\n'
        f'[deployments.staging]\ndsn = "{staging.dsn}"\nbackup_dir = "backups/staging"\n'
        f'[deployments.down]\ndsn = "host=127.0.0.1 port={closed_port()} dbname=x'
        ' user=postgres"\nconnect_timeout = 1\nbackup_dir = "backups/down"\n'
    )
    return root, prod, staging


def test_all_deployments_json_one_entry_each_worst_exit_code(
    fleet: tuple[Path, Any, Any],
) -> None:
    root, _, _ = fleet
    proc = odoo_ops("--all-deployments", "--jobs", "3", "audit", "modules", "--format", "json",
                    cwd=root)  # fmt: skip
    doc = json.loads(proc.stdout)
    runs = {d["deployment"]: d for d in doc["deployments"]}
    assert list(runs) == ["down", "prod", "staging"]
    assert runs["prod"]["exit_code"] == 0 and runs["staging"]["exit_code"] == 0, proc.stderr
    # each deployment's own JSON output, embedded: the modules of its own database
    for name in ("prod", "staging"):
        assert runs[name]["result"] == "ok" and runs[name]["error"] is None
        modules = json.dumps(runs[name]["output"])
        assert '"base"' in modules
    down = runs["down"]
    assert down["exit_code"] == 1 and down["result"] == "error" and down["output"] is None
    assert "cannot connect to PostgreSQL" in down["error"] and "Connection refused" in down["error"]
    assert proc.returncode == doc["exit_code"] == 1
    assert "[down] error: cannot connect" in proc.stderr


def test_several_d_each_lock_separate_table_summary(fleet: tuple[Path, Any, Any]) -> None:
    root, prod, _ = fleet
    # another session holds prod's deployment lock (taken in the server's postgres
    # database, as odoo-ops takes it): only prod's backup is refused
    with psycopg.connect(prod.dsn, dbname="postgres", autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (lock_key(f"deployment:prod:{prod.name}"),))
        proc = odoo_ops("-D", "prod", "-D", "staging", "backup", "create", cwd=root)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    summary = proc.stdout[proc.stdout.index("fleet"):]
    rows = {cells[1].strip(): cells for line in summary.splitlines()
            if "│" in line and (cells := line.split("│"))[1].strip()}  # fmt: skip
    assert set(rows) == {"prod", "staging"}
    assert [c.strip() for c in rows["prod"][2:4]] == ["error", "1"]
    assert rows["prod"][5].strip().startswith("another odoo-ops")
    assert "[prod] error: another odoo-ops run is changing deployment" in proc.stderr
    assert [c.strip() for c in rows["staging"][2:4]] == ["ok", "0"]
    assert "== prod ==" in proc.stdout and "== staging ==" in proc.stdout
    assert any((root / "backups" / "staging").iterdir())
    assert not (root / "backups" / "prod").exists() or not any((root / "backups/prod").iterdir())
    # the lock released: both go through, exit 0, in the order given
    proc = odoo_ops("-D", "staging", "-D", "prod", "backup", "list", "--format", "json", cwd=root)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert [d["deployment"] for d in doc["deployments"]] == ["staging", "prod"]


@pytest.fixture
def offline(tmp_path: Path) -> Path:
    """Two deployments whose databases nobody needs (command lines refused before)."""
    root = tmp_path / "offline"
    root.mkdir()
    port = closed_port()
    (root / "odoo-ops.toml").write_text(
        'default_deployment = "prod"\n'
        f'[deployments.prod]\ndsn = "host=127.0.0.1 port={port} dbname=a user=postgres"\n'
        f'[deployments.staging]\ndsn = "host=127.0.0.1 port={port} dbname=b user=postgres"\n'
    )
    return root


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-a", "status"], "'status' does not run on several deployments"),
        (["-a", "check", "-o", "x.txt"], "--output is for one deployment"),
        (["-a", "check", "--format", "junit"], "print table, markdown or json"),
        (["-D", "prod", "-D", "nosuch", "check"], "no deployment named 'nosuch'"),
        (["check", "-D", "prod", "-D", "staging"], "go before the command's name"),
        (["--jobs", "2", "check"], "--jobs is for several deployments"),
        (["-a", "-d", "other", "check"], "--database is for one deployment"),
        (["-a", "health", "--watch"], "--watch is for one deployment"),
    ],
)
def test_bad_fleet_command_lines(offline: Path, args: list[str], message: str) -> None:
    proc = odoo_ops(*args, cwd=offline)
    assert proc.returncode == 2 and message in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_timeout_stops_a_hanging_deployment_only(offline: Path) -> None:
    """A server that accepts the TCP connection and never answers: --timeout ends that run."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes the handshake; nobody ever replies
        port = silent.getsockname()[1]
        toml = offline / "odoo-ops.toml"
        toml.write_text(toml.read_text() + (
            f'[deployments.hangs]\ndsn = "host=127.0.0.1 port={port} dbname=h user=postgres"\n'
            "connect_timeout = 60\n"))  # fmt: skip
        started = time.monotonic()
        proc = odoo_ops("-D", "hangs", "-D", "prod", "--timeout", "3", "verify", "--format",
                        "json", cwd=offline)  # fmt: skip
    assert time.monotonic() - started < 30
    runs = {d["deployment"]: d for d in json.loads(proc.stdout)["deployments"]}
    assert runs["hangs"]["result"] == "timeout" and runs["hangs"]["exit_code"] == 124
    assert runs["prod"]["result"] == "error" and "Connection refused" in runs["prod"]["error"]
    assert proc.returncode == 124
