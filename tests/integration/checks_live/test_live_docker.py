"""Docker checks against the fake ``docker`` executable of the harness."""

from __future__ import annotations

from pathlib import Path

import pytest

from odoo_ops.checks.base import Status
from tests.support.fakebin import FakeBin

from .helpers import LiveProject

COMPOSE = """\
services:
  db:
    image: postgres:16
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U odoo"]
  odoo:
    image: odoo:18.0
    depends_on: [db]
{odoo_healthcheck}
"""
HEALTHCHECK = """\
    healthcheck:
      test: ["CMD", "curl", "-fs", "http://localhost:8069/web/health"]
"""


def container(service: str, state: str = "running", health: str = "healthy") -> dict[str, str]:
    return {
        "ID": f"id-{service}",
        "Name": f"proj-{service}-1",
        "Service": service,
        "State": state,
        "Health": health,
        "Status": f"Up 5 minutes ({health})" if state == "running" else "Exited (1)",
    }


@pytest.fixture
def compose_live(live: LiveProject, fake_bin: FakeBin) -> LiveProject:
    (live.root / "docker-compose.yml").write_text(
        COMPOSE.format(odoo_healthcheck=HEALTHCHECK), encoding="utf-8"
    )
    live.configure(runner="compose", compose_file="docker-compose.yml")
    return live


@pytest.mark.parametrize("fmt", ["array", "lines"])
def test_running_and_healthy_in_both_ps_formats(
    compose_live: LiveProject, fake_bin: FakeBin, fmt: str
) -> None:
    fake_bin.set_compose_ps([container("db"), container("odoo")], fmt=fmt)
    results = compose_live.run("docker-daemon", "compose-services")
    assert results["docker-daemon"].status == Status.PASS
    assert "27.3.1" in results["docker-daemon"].message
    services = results["compose-services"]
    assert services.status == Status.PASS, services.message
    assert any("proj-odoo-1 running, healthy" in e for e in services.evidence)
    calls = fake_bin.docker_calls()
    ps = [c for c in calls if " ps " in f" {c} "]
    assert ps and "--format json" in ps[0] and "-f" in ps[0].split()
    assert str(compose_live.root / "docker-compose.yml") in ps[0]


@pytest.mark.parametrize("fmt", ["array", "lines"])
def test_unhealthy_and_stopped_fail(compose_live: LiveProject, fake_bin: FakeBin, fmt: str) -> None:
    fake_bin.set_compose_ps(
        [container("db", "exited", ""), container("odoo", health="unhealthy")], fmt=fmt
    )
    result = compose_live.one("compose-services")
    assert result.status == Status.FAIL
    assert "'db' is not running (exited)" in result.message
    assert "'odoo' is unhealthy" in result.message
    assert "docker compose up -d" in (result.remediation or "")


def test_missing_container_fails(compose_live: LiveProject, fake_bin: FakeBin) -> None:
    fake_bin.set_compose_ps([container("db")], fmt="lines")
    result = compose_live.one("compose-services")
    assert result.status == Status.FAIL
    assert "'odoo' has no container" in result.message


def test_starting_or_missing_healthcheck_warns(
    compose_live: LiveProject, fake_bin: FakeBin
) -> None:
    fake_bin.set_compose_ps([container("db"), container("odoo", health="starting")])
    result = compose_live.one("compose-services")
    assert result.status == Status.WARN
    assert "still starting" in result.message

    (compose_live.root / "docker-compose.yml").write_text(
        COMPOSE.format(odoo_healthcheck=""), encoding="utf-8"
    )
    fake_bin.set_compose_ps([container("db"), container("odoo", health="")])
    result = compose_live.one("compose-services")
    assert result.status == Status.WARN
    assert "service 'odoo' has no healthcheck" in result.message
    assert "web/health" in (result.remediation or "")


def test_daemon_down(compose_live: LiveProject, fake_bin: FakeBin) -> None:
    fake_bin.daemon_down()
    fake_bin.set_compose_ps([container("db"), container("odoo")])
    results = compose_live.run("docker-daemon", "compose-services", "odoo-version")
    daemon = results["docker-daemon"]
    assert daemon.status == Status.FAIL
    assert "Cannot connect to the Docker daemon" in daemon.message
    assert results["compose-services"].status == Status.SKIP
    assert "Docker daemon not reachable" in results["compose-services"].message
    # odoo-version does not try `docker compose exec` again; no base_url -> skip with both reasons
    version = results["odoo-version"]
    assert version.status == Status.SKIP
    assert "Docker daemon not reachable" in version.message and "no base_url" in version.message
    # `docker info` asked once for the whole run
    assert sum(1 for c in fake_bin.docker_calls() if c.startswith("docker info")) == 1


def test_ps_failure_is_reported(compose_live: LiveProject, fake_bin: FakeBin) -> None:
    fake_bin.fail_docker("ps")
    result = compose_live.one("compose-services")
    assert result.status == Status.FAIL
    assert "`docker compose ps` failed" in result.message


def test_skipped_for_other_runners(live: LiveProject, fake_bin: FakeBin) -> None:
    results = live.run("docker-daemon", "compose-services")
    for r in results.values():
        assert r.status == Status.SKIP
        assert "runner is local" in r.message
    assert fake_bin.docker_calls() == []
    live.configure(runner="ssh", ssh_host="deploy@example.invalid")
    assert "runner is ssh" in live.one("docker-daemon").message


def test_no_docker_client_skips(
    compose_live: LiveProject, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = compose_live.one("docker-daemon")
    assert result.status == Status.SKIP
    assert "no docker client" in result.message
