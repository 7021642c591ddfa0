"""``odoo-ops check`` run as a subprocess: exit codes, formats, selection, bad inputs, bounds."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from tests.integration.checks_live.helpers import HangingServer, closed_port, write_config
from tests.support.fakebin import FakeBin
from tests.support.web import FakeOdooWeb


def odoo_ops(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("odoo-ops")
    argv = [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [*argv, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def no_traceback(proc: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert "unexpected error" not in proc.stderr, proc.stderr
    assert "crashed" not in proc.stdout, proc.stdout


def one_error(proc: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert proc.returncode == code, proc.stderr + proc.stdout
    no_traceback(proc)
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert text in errors[0], errors[0]


@pytest.fixture
def site(project_dir: Path, odoo_web: FakeOdooWeb) -> Callable[..., Path]:
    """Write odoo-ops.toml for a deployment reached at the fake Odoo web server."""

    def configure(**deployment: Any) -> Path:
        values: dict[str, Any] = {
            "series": "18.0",
            "runner": "local",
            "odoo_command": ["/nonexistent/odoo-bin"],
            "base_url": odoo_web.url,
            "connect_timeout": 2,
            "http_timeout": 2,
        }
        values.update(deployment)
        write_config(project_dir / "odoo-ops.toml", values, name="prod")
        return project_dir

    return configure


def test_exit_0_when_nothing_fails(site: Callable[..., Path]) -> None:
    project = site()
    proc = odoo_ops("check", str(project), "--only", "proxy-health,proxy-content-type-options")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PASS" in proc.stdout and "proxy-health" in proc.stdout
    no_traceback(proc)


def test_exit_1_on_a_failure_and_strict_warnings(site: Callable[..., Path]) -> None:
    project = site()
    proc = odoo_ops("check", str(project), "--only", "proxy-https")
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout and "plain HTTP" in proc.stdout
    # a warning only: 0, but 1 with --strict
    proc = odoo_ops("check", str(project), "--only", "proxy-referrer-policy")
    assert proc.returncode == 0, proc.stdout
    assert "WARN" in proc.stdout
    proc = odoo_ops("check", str(project), "--only", "proxy-referrer-policy", "--strict")
    assert proc.returncode == 1


def test_json_layout(site: Callable[..., Path]) -> None:
    project = site()
    proc = odoo_ops("check", str(project), "--only", "proxy", "--format", "json")
    assert proc.returncode == 1, proc.stderr  # proxy-https fails on http://
    doc = json.loads(proc.stdout)
    assert set(doc) >= {"results", "summary"}
    results = doc["results"]
    assert {r["id"] for r in results} == {
        "proxy-https", "proxy-certificate", "proxy-hsts", "proxy-content-type-options",
        "proxy-frame-options", "proxy-referrer-policy", "proxy-csp",
        "proxy-database-manager-blocked", "proxy-health", "proxy-server-header",
    }  # fmt: skip
    for r in results:
        assert {"id", "area", "severity", "status", "message", "remediation"} <= set(r)
        assert r["area"] == "proxy"
        assert r["status"] in ("pass", "warn", "fail", "skip")
        assert r["severity"] in ("error", "warning", "info")
    by_id = {r["id"]: r for r in results}
    assert by_id["proxy-https"]["status"] == "fail" and by_id["proxy-https"]["remediation"]
    assert by_id["proxy-certificate"]["status"] == "skip"
    summary = doc["summary"]
    assert summary["total"] == 10 and summary["deployment"] == "prod"
    assert summary["fail"] == 1 and summary["skip"] == 1
    assert summary["pass"] + summary["warn"] + summary["fail"] + summary["skip"] == 10


def test_junit_parses(site: Callable[..., Path]) -> None:
    project = site()
    proc = odoo_ops("check", str(project), "--only", "proxy", "--format", "junit")
    assert proc.returncode == 1
    suite = ET.fromstring(proc.stdout.split("\n", 1)[1])
    assert suite.tag == "testsuite" and suite.get("tests") == "10"
    assert suite.get("failures") == "1" and suite.get("skipped") == "1"
    failed = [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None]
    assert failed == ["proxy-https"]


def test_only_and_skip(site: Callable[..., Path]) -> None:
    project = site()
    proc = odoo_ops(
        "check", str(project), "--only", "proxy", "--skip", "proxy-https", "--format", "json"
    )
    assert proc.returncode == 0, proc.stdout
    ids = {r["id"] for r in json.loads(proc.stdout)["results"]}
    assert "proxy-https" not in ids and "proxy-health" in ids and len(ids) == 9
    proc = odoo_ops("check", str(project), "--only", "no-such-check")
    one_error(proc, 2, "unknown check or area 'no-such-check'")
    proc = odoo_ops("check", str(project), "--skip", "proxy-nope")
    one_error(proc, 2, "unknown check or area 'proxy-nope'")


def test_broken_toml(project_dir: Path) -> None:
    (project_dir / "odoo-ops.toml").write_text("[deployments.prod\nseries = 18\n")
    proc = odoo_ops("check", str(project_dir))
    one_error(proc, 2, "invalid TOML")


def test_wrong_type_in_config(project_dir: Path) -> None:
    (project_dir / "odoo-ops.toml").write_text('[deployments.prod]\nrunner = "kubernetes"\n')
    proc = odoo_ops("check", str(project_dir))
    one_error(proc, 2, "deployments.prod.runner")


def test_odoo_conf_with_garbage(site: Callable[..., Path], project_dir: Path) -> None:
    conf = project_dir / "odoo.conf"
    conf.write_bytes(b"[options]\nworkers = many\n\x00\x01garbage line without equals\n")
    project = site(odoo_conf="odoo.conf", dsn=f"postgresql://odoo@127.0.0.1:{closed_port()}/x")
    proc = odoo_ops("check", str(project), "--format", "json")
    no_traceback(proc)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    statuses = {r["id"]: r["status"] for r in doc["results"]}
    assert statuses["conf-readable"] == "fail"
    assert statuses["conf-workers"] == "skip"
    assert statuses["db-reachable"] == "fail"
    assert statuses["db-user-not-superuser"] == "skip"


def test_dsn_to_a_closed_port_never_shows_the_password(site: Callable[..., Path]) -> None:
    project = site(dsn=f"postgresql://odoo:Hunter2-pw@127.0.0.1:{closed_port()}/odoo_prod")
    proc = odoo_ops("check", str(project), "--only", "database,modules", "--format", "json")
    assert proc.returncode == 1
    no_traceback(proc)
    assert "Hunter2-pw" not in proc.stdout + proc.stderr
    by_id = {r["id"]: r for r in json.loads(proc.stdout)["results"]}
    assert by_id["db-reachable"]["status"] == "fail"
    assert "connection refused" in by_id["db-reachable"]["message"].lower()
    for check_id in ("db-initialised", "db-connections", "modules-states"):
        assert by_id[check_id]["status"] == "skip"


def test_quick_run_on_an_unreachable_deployment_is_bounded(
    project_dir: Path, hanging_server: HangingServer
) -> None:
    """Database on a closed port, base_url accepting and never answering, timeouts of 1 s:
    the whole default run ends in seconds, with the right findings, no traceback."""
    write_config(
        project_dir / "odoo-ops.toml",
        {
            "series": "18.0",
            "runner": "local",
            "odoo_command": ["/nonexistent/odoo-bin"],
            "dsn": f"postgresql://odoo:pw-x9@127.0.0.1:{closed_port()}/odoo_prod",
            "base_url": f"http://127.0.0.1:{hanging_server.port}",
            "connect_timeout": 1,
            "http_timeout": 1,
        },
        services=[{"name": "ocr", "url": f"http://127.0.0.1:{hanging_server.port}/", "timeout": 1}],
        name="prod",
    )
    start = time.monotonic()
    proc = odoo_ops("check", str(project_dir), "--format", "json", timeout=60)
    elapsed = time.monotonic() - start
    no_traceback(proc)
    assert proc.returncode == 1, proc.stderr
    assert elapsed < 20, f"a --quick run on an unreachable deployment took {elapsed:.1f}s"
    by_id = {r["id"]: r for r in json.loads(proc.stdout)["results"]}
    assert by_id["db-reachable"]["status"] == "fail"
    assert by_id["services-required"]["status"] == "fail"
    assert by_id["proxy-health"]["status"] == "skip"
    assert "no answer within 1s" in by_id["proxy-health"]["message"]
    assert "pw-x9" not in proc.stdout


@pytest.fixture
def hanging_server() -> Any:
    server = HangingServer()
    yield server
    server.stop()


@pytest.mark.pg
def test_full_update_base_through_the_cli(
    project_dir: Path, odoo_db: Callable[..., Any], fake_bin: FakeBin
) -> None:
    db = odoo_db(version=18)
    conf = db.write_odoo_conf(project_dir / "odoo.conf")
    write_config(
        project_dir / "odoo-ops.toml",
        {"series": "18.0", "runner": "local", "dsn": db.dsn, "odoo_conf": str(conf)},
        name="prod",
    )
    proc = odoo_ops(
        "check", str(project_dir), "--full", "--only", "full-update-base", "--format", "json"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)["results"][0]
    assert result["id"] == "full-update-base" and result["status"] == "pass"
    updates = [c for c in fake_bin.odoo_calls() if "-u" in c]
    assert len(updates) == 1 and "_odoo_ops_check_" in updates[0][updates[0].index("-d") + 1]


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "compose-project"


def test_project_option_is_the_project_checked(tmp_path: Path) -> None:
    by_arg = odoo_ops("check", "--format", "json", str(EXAMPLE), cwd=tmp_path)
    by_option = odoo_ops("check", "--format", "json", "-C", str(EXAMPLE), cwd=tmp_path)
    by_long = odoo_ops("check", "--format", "json", "--project", str(EXAMPLE), cwd=tmp_path)
    here = odoo_ops("check", "--format", "json", cwd=tmp_path)
    no_traceback(by_option)
    summaries = [
        {k: v for k, v in json.loads(p.stdout)["summary"].items() if k != "duration_seconds"}
        for p in (by_arg, by_option, by_long, here)
    ]
    assert summaries[0] == summaries[1] == summaries[2]
    assert summaries[0] != summaries[3]  # the empty directory has far less to check
    assert "UserWarning" not in by_option.stderr + by_arg.stderr


def test_project_option_to_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    one_error(odoo_ops("check", "-C", str(tmp_path / "nope"), cwd=tmp_path), 2, "not found")


def test_two_different_projects_are_refused(tmp_path: Path) -> None:
    proc = odoo_ops("check", str(EXAMPLE), "-C", str(tmp_path), cwd=tmp_path)
    one_error(proc, 2, "two project directories")


def test_quiet_keeps_only_failures_and_warnings(tmp_path: Path) -> None:
    loud = odoo_ops("check", str(EXAMPLE), cwd=tmp_path)
    quiet = odoo_ops("-q", "check", str(EXAMPLE), cwd=tmp_path)
    assert loud.returncode == quiet.returncode == 1
    status_cells = [
        line.split("│")[1].strip()
        for line in quiet.stdout.splitlines()
        if line.startswith("│") and line.split("│")[1].strip()
    ]
    assert status_cells and set(status_cells) <= {"FAIL", "WARN"}
    assert "PASS" in loud.stdout and "SKIP" in loud.stdout
    def counts(proc: subprocess.CompletedProcess[str]) -> str:
        return proc.stdout.splitlines()[-1].rsplit(" in ", 1)[0]

    assert counts(quiet) == counts(loud)  # the summary still counts every check
    assert quiet.stderr == ""
