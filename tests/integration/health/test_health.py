"""Health probes and the watcher against a real PostgreSQL, a real HTTP server
standing in for Odoo's web endpoints, and a real webhook receiver."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from odoo_ops.adapters import Target
from odoo_ops.adapters.project import resolve_project
from odoo_ops.health import ProbeContext, run_probes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_project(
    root: Path, *, base_url: str, dsn: str, hook: str | None = None, extra: str = ""
) -> Path:
    urls = f'urls = ["{hook}"]' if hook else "urls = []"
    (root / "odoo-ops.toml").write_text(
        f"""
[deployments.prod]
series = "18.0"
runner = "local"
dsn = "{dsn}"
base_url = "{base_url}"
http_timeout = 2
connect_timeout = 2
[notifications]
{urls}
[thresholds]
cron_lag_minutes = 60
{extra}
"""
    )
    return root


def fresh_crons(db: Any) -> None:
    with db.connect() as conn:
        conn.execute("UPDATE ir_cron SET nextcall = (now() AT TIME ZONE 'UTC') + interval '1 hour'")


def probe(root: Path, *names: str) -> dict[str, Any]:
    target = Target(resolve_project(root, environ={}))
    report = run_probes(ProbeContext(target, latency_samples=3), only=set(names) or None)
    return {p.name: p for p in report.probes}


def test_healthy_deployment(tmp_path: Path, odoo_db: Callable[..., Any], odoo_web: Any) -> None:
    db = odoo_db(version=18)
    fresh_crons(db)
    root = write_project(tmp_path, base_url=odoo_web.url, dsn=db.dsn)
    results = probe(root, "database", "web-health", "login-page", "cron-lag", "latency", "disk")
    assert {n: r.status for n, r in results.items()} == {
        "database": "ok",
        "web-health": "ok",
        "login-page": "ok",
        "cron-lag": "ok",
        "latency": "ok",
        "disk": "ok",
    }
    # 18.0 asks Odoo to check its PostgreSQL server too
    assert any(
        r.query.get("db_server_status") == ["1"]
        for r in odoo_web.requests
        if r.path == "/web/health"
    )


def test_failures_are_all_reported(
    tmp_path: Path, odoo_db: Callable[..., Any], odoo_web: Any
) -> None:
    db = odoo_db(version=18)
    with db.connect() as conn:
        conn.execute(
            "UPDATE ir_cron SET nextcall = (now() AT TIME ZONE 'UTC') - interval '3 hours'"
            " WHERE id = (SELECT min(id) FROM ir_cron WHERE active)"
        )
    odoo_web.set(db_server_ok=False)
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/nope"
    root = write_project(tmp_path, base_url=odoo_web.url, dsn=db.dsn)
    results = probe(root, "web-health", "cron-lag")
    assert results["web-health"].status == "fail"
    assert "PostgreSQL" in results["web-health"].message
    assert results["cron-lag"].status == "fail"
    assert "late" in results["cron-lag"].message
    # a database that is down: the probe fails, the others still run
    root2 = tmp_path / "down"
    root2.mkdir()
    write_project(root2, base_url=f"http://127.0.0.1:{free_port()}", dsn=closed)
    results = probe(root2, "database", "web-health", "login-page", "latency", "memory")
    assert results["database"].status == "fail"
    assert results["web-health"].status == "fail" and results["web-health"].unreachable
    assert results["login-page"].status == "skip"
    assert results["memory"].status in ("ok", "warn")


def test_required_and_optional_services(
    tmp_path: Path, odoo_db: Callable[..., Any], odoo_web: Any
) -> None:
    db = odoo_db(version=18)
    dead = f"http://127.0.0.1:{free_port()}/health"
    extra = (
        f'[[services]]\nname = "ocr"\nurl = "{dead}"\nrequired = true\ntimeout = 1\n'
        f'[[services]]\nname = "bi"\nurl = "{dead}"\nrequired = false\ntimeout = 1\n'
        f'[[services]]\nname = "web"\nurl = "{odoo_web.url}/web/health"\n'
    )
    root = write_project(tmp_path, base_url=odoo_web.url, dsn=db.dsn, extra=extra)
    results = probe(root, "service:ocr", "service:bi", "service:web")
    assert results["service:ocr"].status == "fail"
    assert results["service:bi"].status == "warn"
    assert results["service:web"].status == "ok"


def test_redis_probe(tmp_path: Path, odoo_db: Callable[..., Any], odoo_web: Any) -> None:
    db = odoo_db(version=18)
    root = write_project(tmp_path, base_url=odoo_web.url, dsn=db.dsn)
    text = (root / "odoo-ops.toml").read_text()
    (root / "odoo-ops.toml").write_text(
        text.replace('runner = "local"', 'runner = "local"\nredis_url = "redis://127.0.0.1:6379/0"')
    )
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    assert probe(root, "redis")["redis"].status == "ok"
    (root / "odoo-ops.toml").write_text(
        text.replace(
            'runner = "local"', f'runner = "local"\nredis_url = "redis://127.0.0.1:{free_port()}"'
        )
    )
    assert probe(root, "redis")["redis"].status == "fail"


def _odoo_ops() -> list[str]:
    exe = shutil.which("odoo-ops")
    return [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]


def test_one_shot_cli_exit_codes_and_json(
    tmp_path: Path, odoo_db: Callable[..., Any], odoo_web: Any
) -> None:
    db = odoo_db(version=18)
    fresh_crons(db)
    root = write_project(tmp_path, base_url=odoo_web.url, dsn=db.dsn)
    argv = [
        *_odoo_ops(),
        "health",
        "--probe",
        "web-health",
        "--probe",
        "database",
        "--format",
        "json",
        "--metrics-textfile",
        str(tmp_path / "odoo.prom"),
    ]
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert {p["name"]: p["status"] for p in doc["probes"]} == {"database": "ok", "web-health": "ok"}
    prom = (tmp_path / "odoo.prom").read_text()
    assert 'odoo_ops_probe_up{deployment="prod",probe="web-health"} 1.0' in prom
    assert 'odoo_ops_healthy{deployment="prod"} 1.0' in prom
    odoo_web.set(health=500)
    proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 1
    assert 'odoo_ops_healthy{deployment="prod"} 0.0' in (tmp_path / "odoo.prom").read_text()
    assert "Traceback" not in proc.stderr


def test_watch_alerts_once_after_third_failure_and_recovers(
    tmp_path: Path, odoo_db: Callable[..., Any], odoo_web: Any, webhook_receiver: Any
) -> None:
    db = odoo_db(version=18)
    hook = webhook_receiver.url.replace("http://", "json://")
    root = write_project(tmp_path, base_url=odoo_web.url, dsn=db.dsn, hook=hook)
    odoo_web.set(health=503)
    argv = [
        *_odoo_ops(),
        "health",
        "--watch",
        "--probe",
        "web-health",
        "--interval",
        "0.2",
        "--max-rounds",
        "40",
    ]
    proc = subprocess.Popen(
        argv,
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        alerts = webhook_receiver.wait_for(1, timeout=20)
        assert len(alerts) == 1
        first = alerts[0].json()
        assert "web-health" in first["title"] and "FAILING" in first["title"]
        assert "3 times in a row" in first["message"]
        # the server recovers: one recovery message follows, no further alert
        threading.Timer(0.5, lambda: odoo_web.set(health=None)).start()
        posts = webhook_receiver.wait_for(2, timeout=20)
        assert len(posts) == 2
        assert "recovered" in posts[1].json()["title"]
    finally:
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert len(webhook_receiver.requests) == 2
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 40
    failing_rounds = [line for line in lines if "FAILING" in line]
    assert len(failing_rounds) >= 3


def test_unreachable_webhook_does_not_stop_the_watcher(
    tmp_path: Path, odoo_db: Callable[..., Any], odoo_web: Any
) -> None:
    db = odoo_db(version=18)
    hook = f"json://127.0.0.1:{free_port()}/hook"
    root = write_project(tmp_path, base_url=odoo_web.url, dsn=db.dsn, hook=hook)
    odoo_web.set(health=500)
    argv = [
        *_odoo_ops(),
        "health",
        "--watch",
        "--probe",
        "web-health",
        "--interval",
        "0.1",
        "--max-rounds",
        "6",
        "--failures",
        "2",
    ]
    proc = subprocess.run(
        argv,
        cwd=root,
        capture_output=True,
        text=True,
        timeout=90,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert len([line for line in proc.stdout.splitlines() if "FAILING" in line]) == 6
    assert "not delivered" in proc.stderr
    assert "Traceback" not in proc.stderr
