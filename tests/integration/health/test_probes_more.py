"""More health probes: the Odoo container through the fake docker, the websocket
route, the /metrics endpoint while watching, and the JSON lines of ``--watch``.

Real PostgreSQL, the fake Odoo web server on 127.0.0.1, the fake docker of
tests/support/bin, the installed CLI as a subprocess where the CLI is tested.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from odoo_ops.adapters import Target
from odoo_ops.adapters.project import resolve_project
from odoo_ops.health import ProbeContext, run_probes
from odoo_ops.health.probes import ProbeResult


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_project(
    root: Path,
    *,
    base_url: str,
    dsn: str,
    series: str = "18.0",
    runner: str = "local",
    workers: int | None = None,
    extra: str = "",
) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = [
        "[deployments.prod]",
        f'series = "{series}"',
        f'runner = "{runner}"',
        f'dsn = "{dsn}"',
        f'base_url = "{base_url}"',
        "http_timeout = 2",
        "connect_timeout = 2",
    ]
    if runner == "compose":
        lines.append('compose_file = "docker-compose.yml"')
        (root / "docker-compose.yml").write_text(
            "services:\n  odoo:\n    image: odoo:18.0\n  db:\n    image: postgres:15\n"
        )
    if workers is not None:
        lines.append('odoo_conf = "odoo.conf"')
        (root / "odoo.conf").write_text(f"[options]\nworkers = {workers}\n")
    (root / "odoo-ops.toml").write_text("\n".join(lines) + "\n" + extra)
    return root


def probe(root: Path, *names: str) -> dict[str, ProbeResult]:
    target = Target(resolve_project(root, environ={}))
    report = run_probes(ProbeContext(target, latency_samples=2), only=set(names) or None)
    return {p.name: p for p in report.probes}


def odoo_ops() -> list[str]:
    exe = shutil.which("odoo-ops")
    return [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]


def cli_env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1"}


# -- odoo-process on compose ---------------------------------------------------------

ODOO_UP = {"Service": "odoo", "Name": "shop-odoo-1", "State": "running", "Health": ""}
DB_UP = {"Service": "db", "Name": "shop-db-1", "State": "running", "Health": "healthy"}


@pytest.fixture
def compose_root(tmp_path: Path, fake_bin: Any, odoo_web: Any) -> Path:
    # the process probe needs no database: a DSN nobody listens on keeps it honest
    return write_project(
        tmp_path / "compose",
        base_url=odoo_web.url,
        dsn=f"postgresql://postgres@127.0.0.1:{free_port()}/x",
        runner="compose",
    )


@pytest.mark.parametrize("fmt", ["array", "lines"])
def test_odoo_process_running_in_both_ps_formats(
    compose_root: Path, fake_bin: Any, fmt: str
) -> None:
    fake_bin.set_compose_ps([ODOO_UP, DB_UP], fmt=fmt)
    result = probe(compose_root, "odoo-process")["odoo-process"]
    assert (result.status, result.message) == ("ok", "1 container(s) running")
    # asked compose about the Odoo service of this project's compose file
    call = shlex.split(fake_bin.docker_calls()[-1])
    assert call[:2] == ["docker", "compose"]
    assert call[call.index("-f") + 1] == str(compose_root / "docker-compose.yml")
    assert call[-4:] == ["ps", "--format", "json", "odoo"]


@pytest.mark.parametrize("fmt", ["array", "lines"])
def test_odoo_process_counts_scaled_containers_and_ignores_other_services(
    compose_root: Path, fake_bin: Any, fmt: str
) -> None:
    second = {**ODOO_UP, "Name": "shop-odoo-2", "Health": "healthy"}
    down_db = {**DB_UP, "State": "exited"}
    fake_bin.set_compose_ps([ODOO_UP, second, down_db], fmt=fmt)
    result = probe(compose_root, "odoo-process")["odoo-process"]
    assert (result.status, result.message) == ("ok", "2 container(s) running")


@pytest.mark.parametrize("fmt", ["array", "lines"])
def test_odoo_process_exited_container_fails(compose_root: Path, fake_bin: Any, fmt: str) -> None:
    fake_bin.set_compose_ps([{**ODOO_UP, "State": "exited"}, DB_UP], fmt=fmt)
    result = probe(compose_root, "odoo-process")["odoo-process"]
    assert result.status == "fail"
    assert result.message == "shop-odoo-1 is exited"


def test_odoo_process_unhealthy_container_fails(compose_root: Path, fake_bin: Any) -> None:
    fake_bin.set_compose_ps([{**ODOO_UP, "Health": "unhealthy"}, DB_UP], fmt="lines")
    result = probe(compose_root, "odoo-process")["odoo-process"]
    assert result.status == "fail"
    assert result.message == "shop-odoo-1 is running and unhealthy"


def test_odoo_process_one_bad_container_of_two_fails(compose_root: Path, fake_bin: Any) -> None:
    bad = {**ODOO_UP, "Name": "shop-odoo-2", "State": "restarting"}
    fake_bin.set_compose_ps([ODOO_UP, bad], fmt="array")
    result = probe(compose_root, "odoo-process")["odoo-process"]
    assert (result.status, result.message) == ("fail", "shop-odoo-2 is restarting")


def test_odoo_process_no_container_fails(compose_root: Path, fake_bin: Any) -> None:
    fake_bin.set_compose_ps([DB_UP], fmt="array")
    result = probe(compose_root, "odoo-process")["odoo-process"]
    assert (result.status, result.message) == ("fail", "no container for service odoo")


def test_odoo_process_daemon_down_fails_and_other_probes_still_run(
    compose_root: Path, fake_bin: Any
) -> None:
    fake_bin.set_compose_ps([ODOO_UP, DB_UP], fmt="lines")
    fake_bin.daemon_down()
    results = probe(compose_root, "odoo-process", "web-health", "login-page")
    process = results["odoo-process"]
    assert process.status == "fail"
    assert process.message.startswith("docker compose ps failed: Cannot connect to the Docker")
    # the web server (a separate process from the daemon) is still probed
    assert results["web-health"].status == "ok"
    assert results["login-page"].status == "ok"


# -- websocket -----------------------------------------------------------------------


def test_websocket_with_workers_reaches_odoo(
    tmp_path: Path, odoo_db: Callable[..., Any], odoo_web: Any
) -> None:
    db = odoo_db(version=18)
    root = write_project(tmp_path / "p", base_url=odoo_web.url, dsn=db.dsn, workers=4)
    result = probe(root, "websocket")["websocket"]
    # Odoo answers a plain GET of /websocket with 400 (no upgrade): the route is there
    assert result.status == "ok", result.message
    assert "/websocket" in result.message and "HTTP 400" in result.message
    assert "/websocket" in odoo_web.paths()


@pytest.mark.parametrize("code", [502, 503, 504])
def test_websocket_gateway_errors_fail(
    tmp_path: Path, odoo_db: Callable[..., Any], odoo_web: Any, code: int
) -> None:
    db = odoo_db(version=18)
    root = write_project(tmp_path / "p", base_url=odoo_web.url, dsn=db.dsn, workers=2)
    odoo_web.set(status={"/websocket": code})
    result = probe(root, "websocket")["websocket"]
    assert result.status == "fail"
    assert f"HTTP {code}" in result.message and "gevent" in result.message


def test_websocket_skipped_without_workers(
    tmp_path: Path, odoo_db: Callable[..., Any], odoo_web: Any
) -> None:
    db = odoo_db(version=18)
    root = write_project(tmp_path / "p", base_url=odoo_web.url, dsn=db.dsn, workers=0)
    odoo_web.set(status={"/websocket": 502})  # would fail if it were probed
    result = probe(root, "websocket")["websocket"]
    assert result.status == "skip"
    assert "workers = 0" in result.message
    assert "/websocket" not in odoo_web.paths()


def test_websocket_skipped_without_odoo_conf(
    tmp_path: Path, odoo_db: Callable[..., Any], odoo_web: Any
) -> None:
    db = odoo_db(version=18)
    root = write_project(tmp_path / "p", base_url=odoo_web.url, dsn=db.dsn)
    assert probe(root, "websocket")["websocket"].status == "skip"


def test_websocket_on_odoo_16_uses_the_websocket_route(
    tmp_path: Path, odoo_db: Callable[..., Any], odoo_web: Any
) -> None:
    """Odoo 16 replaced longpolling with /websocket (its deployment guide proxies
    /websocket to the gevent port): a 16.0 probe must not ask for /longpolling/poll."""
    db = odoo_db(version=16)
    odoo_web.set(version=16)
    root = write_project(
        tmp_path / "p", base_url=odoo_web.url, dsn=db.dsn, series="16.0", workers=2
    )
    odoo_web.set(status={"/websocket": 502})
    result = probe(root, "websocket")["websocket"]
    assert "/websocket" in odoo_web.paths()
    assert "/longpolling/poll" not in odoo_web.paths()
    assert result.status == "fail"


def test_websocket_skipped_when_the_web_server_is_down(
    tmp_path: Path, odoo_db: Callable[..., Any]
) -> None:
    db = odoo_db(version=18)
    root = write_project(
        tmp_path / "p", base_url=f"http://127.0.0.1:{free_port()}", dsn=db.dsn, workers=2
    )
    results = probe(root, "web-health", "websocket")
    assert results["web-health"].status == "fail" and results["web-health"].unreachable
    assert results["websocket"].status == "skip"
    assert "not reachable" in results["websocket"].message


# -- metrics -------------------------------------------------------------------------


def _metric(text: str, name: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def test_metrics_port_serves_metrics_on_loopback_while_watching(
    tmp_path: Path, odoo_db: Callable[..., Any], odoo_web: Any
) -> None:
    db = odoo_db(version=18)
    root = write_project(tmp_path / "p", base_url=odoo_web.url, dsn=db.dsn)
    port = free_port()
    argv = [
        *odoo_ops(),
        "health",
        "--watch",
        "--probe",
        "web-health",
        "--probe",
        "database",
        "--interval",
        "0.2",
        "--max-rounds",
        "300",
        "--metrics-port",
        str(port),
    ]
    proc = subprocess.Popen(
        argv, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env()
    )
    url = f"http://127.0.0.1:{port}/metrics"
    healthy = f'odoo_ops_healthy{{deployment="{"prod"}"}}'
    web_up = 'odoo_ops_probe_up{deployment="prod",probe="web-health"}'

    def wait_for(metric: str, value: float, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()
            try:
                response = httpx.get(url, timeout=2)
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            assert response.status_code == 200
            text = response.text
            if _metric(text, metric) == value:
                return text
            time.sleep(0.1)
        raise AssertionError(f"{metric} never became {value}: {text}")

    try:
        text = wait_for(healthy, 1.0)
        assert _metric(text, web_up) == 1.0
        assert _metric(text, 'odoo_ops_probe_up{deployment="prod",probe="database"}') == 1.0
        assert 'odoo_ops_probe_value{deployment="prod",probe="database",unit="ms"}' in text
        assert _metric(text, 'odoo_ops_last_round_timestamp_seconds{deployment="prod"}')
        # bound to loopback only
        listening = [
            c.laddr
            for c in psutil.Process(proc.pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        ]
        assert [(a.ip, a.port) for a in listening] == [("127.0.0.1", port)]
        # the endpoint follows the rounds: Odoo fails, the gauges drop
        odoo_web.set(health=500)
        text = wait_for(healthy, 0.0)
        assert _metric(text, web_up) == 0.0
        odoo_web.set(health=None)
        wait_for(healthy, 1.0)
    finally:
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"metrics on http://127.0.0.1:{port}/metrics" in err
    assert "Traceback" not in err
    with pytest.raises(httpx.TransportError):
        httpx.get(url, timeout=1)


def test_metrics_textfile_from_the_config_is_written(
    tmp_path: Path, odoo_db: Callable[..., Any], odoo_web: Any
) -> None:
    """``[health] metrics_textfile`` alone (no --metrics-textfile) writes the file."""
    db = odoo_db(version=18)
    root = write_project(
        tmp_path / "p",
        base_url=odoo_web.url,
        dsn=db.dsn,
        extra='[health]\nmetrics_textfile = "metrics/odoo.prom"\n',
    )
    (root / "metrics").mkdir()  # the textfile's directory must exist (never created)
    proc = subprocess.run(
        [*odoo_ops(), "health", "--probe", "web-health"],
        cwd=root,
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    prom = root / "metrics" / "odoo.prom"
    assert prom.is_file()
    assert 'odoo_ops_probe_up{deployment="prod",probe="web-health"} 1.0' in prom.read_text()


# -- JSON lines of --watch -----------------------------------------------------------


def test_watch_json_prints_one_json_object_per_round(
    tmp_path: Path, odoo_db: Callable[..., Any], odoo_web: Any
) -> None:
    db = odoo_db(version=18)
    root = write_project(tmp_path / "p", base_url=odoo_web.url, dsn=db.dsn)
    odoo_web.set(health=503)
    argv = [
        *odoo_ops(),
        "health",
        "--watch",
        "--format",
        "json",
        "--probe",
        "web-health",
        "--probe",
        "database",
        "--interval",
        "0.1",
        "--max-rounds",
        "4",
        "--failures",
        "2",
    ]
    proc = subprocess.run(argv, cwd=root, capture_output=True, text=True, env=cli_env(), timeout=90)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 4  # nothing else on stdout: a pipe gets JSON only
    docs = [json.loads(line) for line in lines]
    for doc in docs:
        assert isinstance(doc, dict)
        assert doc["deployment"] == "prod"
        assert {p["name"]: p["status"] for p in doc["probes"]} == {
            "database": "ok",
            "web-health": "fail",
        }
        web = next(p for p in doc["probes"] if p["name"] == "web-health")
        assert "HTTP 503" in web["message"]
    stamps = [doc["checked_at"] for doc in docs]
    assert stamps == sorted(stamps)
    # the alert after the 2nd failure goes to stderr, not into the JSON stream
    assert proc.stderr.count("alert: web-health") == 1
    assert "Traceback" not in proc.stderr


def test_metrics_port_in_use_is_one_error_line(
    tmp_path: Path, odoo_db: Callable[..., Any], odoo_web: Any
) -> None:
    db = odoo_db(version=18)
    root = write_project(tmp_path / "p", base_url=odoo_web.url, dsn=db.dsn)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [
                *odoo_ops(),
                "health",
                "--watch",
                "--probe",
                "database",
                "--max-rounds",
                "1",
                "--metrics-port",
                str(port),
            ],
            cwd=root,
            capture_output=True,
            text=True,
            env=cli_env(),
            timeout=60,
        )
    assert proc.returncode == 1, proc.stderr
    assert f"error: cannot serve metrics on 127.0.0.1:{port}: Address already in use" in (
        proc.stderr
    )
    assert "unexpected error" not in proc.stderr and "traceback" not in proc.stderr.lower()


# -- watcher over real rounds ----------------------------------------------------------


def test_a_probe_skipped_because_the_site_went_down_is_not_a_recovery(
    tmp_path: Path, odoo_db: Callable[..., Any], odoo_web: Any
) -> None:
    """login-page fails, alerts; then the whole web server stops answering: login-page
    is skipped (web-health carries the failure) — that is no "recovered" message."""
    from odoo_ops.health.watch import AlertPolicy, Watcher

    db = odoo_db(version=18)
    root = write_project(tmp_path / "p", base_url=odoo_web.url, dsn=db.dsn)
    ctx = ProbeContext(Target(resolve_project(root, environ={})), latency_samples=1)
    watcher = Watcher(AlertPolicy(failures_before_alert=2, cooldown=0))
    names = {"web-health", "login-page"}

    def round_events() -> list[tuple[str, str]]:
        report = run_probes(ctx, only=names)
        return [(e.kind, e.probe) for e in watcher.observe(report)]

    odoo_web.set(status={"/web/login": 500})
    assert round_events() == []
    assert round_events() == [("alert", "login-page")]
    odoo_web.set(fail="close")  # nothing answers any more
    events = round_events()
    assert ("recovery", "login-page") not in events
    assert round_events() == [("alert", "web-health")]
    # the site comes back with a working login page: now both recover
    odoo_web.set(fail=None, status={})
    assert sorted(round_events()) == [("recovery", "login-page"), ("recovery", "web-health")]
