"""odoo-ops loadtest against a real HTTP server on 127.0.0.1, bounded in time and requests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from odoo_ops.errors import UsageError
from odoo_ops.loadtest import LoadTestOptions, percentile, run_loadtest, save_result
from tests.integration.loadtest.conftest import OdooLike


def test_logged_in_users_load_the_web_client(odoo_like: OdooLike) -> None:
    start = time.monotonic()
    result = run_loadtest(
        LoadTestOptions(
            odoo_like.url,
            users=4,
            duration=1.5,
            max_requests=400,
            login="admin",
            password="s3cret-pass",
        )
    )
    elapsed = time.monotonic() - start
    assert elapsed < 1.5 + 3  # bounded by the duration (plus in-flight requests)
    assert result.logged_in == 4 and result.login_failures == 0
    assert 0 < result.requests <= 400
    routes = {r.route: r for r in result.routes}
    assert {"/web", "/web/webclient/version_info", "/web/health", "assets"} <= set(routes)
    assert result.errors == 0
    assert result.verdict == "pass", result.reasons
    assert result.p50_seconds <= result.p95_seconds <= result.p99_seconds <= result.max_seconds
    assert result.rps > 0
    assert any(p.startswith("GET /web/assets/1a2b/") for p in odoo_like.paths)
    assert set(odoo_like.received_passwords) == {"s3cret-pass"}


def test_max_requests_stops_the_test(odoo_like: OdooLike) -> None:
    start = time.monotonic()
    result = run_loadtest(LoadTestOptions(odoo_like.url, users=3, duration=60, max_requests=40))
    assert time.monotonic() - start < 10
    assert result.requests == 40
    assert result.stopped_by == "max-requests"
    assert len(odoo_like.paths) == 40


def test_wrong_password_fails_the_verdict(odoo_like: OdooLike) -> None:
    result = run_loadtest(
        LoadTestOptions(
            odoo_like.url, users=2, duration=0.5, max_requests=50, login="admin", password="wrong"
        )
    )
    assert result.logged_in == 0 and result.login_failures == 2
    assert result.verdict == "fail"
    assert any("could not log in" in r for r in result.reasons)


def test_slow_server_fails_on_p95() -> None:
    server = OdooLike(latency=0.25).start()
    try:
        result = run_loadtest(
            LoadTestOptions(server.url, users=2, duration=1.0, max_requests=30, p95_target=0.2)
        )
    finally:
        server.stop()
    assert result.p95_seconds >= 0.25
    assert result.verdict == "fail"
    assert any("p95" in r for r in result.reasons)


def test_fewer_users_than_the_target_fail(odoo_like: OdooLike) -> None:
    result = run_loadtest(
        LoadTestOptions(odoo_like.url, users=2, duration=0.3, max_requests=20, target_users=50)
    )
    assert result.verdict == "fail"
    assert any("fewer than the target 50" in r for r in result.reasons)


def test_errors_are_counted() -> None:
    # a port where nothing listens: every request fails to connect
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_loadtest(
        LoadTestOptions(
            f"http://127.0.0.1:{port}", users=2, duration=0.5, max_requests=20, timeout=1
        )
    )
    assert result.errors == result.requests > 0
    assert result.verdict == "fail"


@pytest.mark.parametrize("url", ["http://192.0.2.10:8069", "https://erp.example.invalid"])
def test_refuses_hosts_that_are_not_loopback(url: str) -> None:
    with pytest.raises(UsageError, match="refusing to load-test"):
        run_loadtest(LoadTestOptions(url, users=1, duration=0.1, max_requests=1))


@pytest.mark.parametrize(
    "kw", [{"users": 0}, {"duration": 0}, {"max_requests": 0}, {"login": "admin"}]
)
def test_bad_options(kw: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        run_loadtest(LoadTestOptions("http://127.0.0.1:1", **kw))  # type: ignore[arg-type]


def test_percentile() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == 50
    assert percentile(values, 95) == 95
    assert percentile(values, 99) == 99
    assert percentile([], 95) == 0.0
    assert percentile([3.0], 99) == 3.0


def test_saved_result_is_read_by_the_board(odoo_like: OdooLike, tmp_path: Path) -> None:
    result = run_loadtest(LoadTestOptions(odoo_like.url, users=2, duration=0.3, max_requests=20))
    path = save_result(result, tmp_path)
    doc = json.loads(path.read_text())
    assert doc["verdict"] == result.verdict and doc["p95_seconds"] == result.p95_seconds
    assert doc["users"] == 2 and doc["finished_at"]


def test_cli_never_prints_the_password(odoo_like: OdooLike, tmp_path: Path) -> None:
    env = dict(os.environ, LOADTEST_PW="s3cret-pass")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "odoo_ops.cli.main",
            "loadtest",
            "--url",
            odoo_like.url,
            "--users",
            "2",
            "--duration",
            "0.5",
            "--max-requests",
            "30",
            "--login",
            "admin",
            "--password-env",
            "LOADTEST_PW",
            "--format",
            "json",
            "-C",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "s3cret-pass" not in proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["logged_in"] == 2 and doc["verdict"] == "pass"
    saved = list((tmp_path / ".odoo-ops").rglob("loadtest-*.json"))
    assert len(saved) == 1
    assert "s3cret-pass" not in saved[0].read_text()
