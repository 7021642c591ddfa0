"""``odoo-version``: the ``odoo`` double through the runners, JSON-RPC over HTTP."""

from __future__ import annotations

import pytest

from odoo_ops.checks.base import Status
from tests.support.fakebin import FakeBin
from tests.support.web import FakeOdooWeb

from .helpers import LiveProject, closed_port


def test_local_runner_matching_series(live: LiveProject, fake_bin: FakeBin) -> None:
    fake_bin.odoo_series("18.0", "18.0-20250702")
    result = live.one("odoo-version")
    assert result.status == Status.PASS, result.message
    assert "18.0-20250702" in result.message and "odoo --version" in result.message
    assert ["--version"] in fake_bin.odoo_calls()


def test_local_runner_other_series_fails(live: LiveProject, fake_bin: FakeBin) -> None:
    fake_bin.odoo_series("17.0", "17.0-20240301")
    result = live.one("odoo-version")
    assert result.status == Status.FAIL
    assert "17.0-20240301 runs" in result.message and "configured for 18.0" in result.message
    assert 'series = "17.0"' in (result.remediation or "")


def test_compose_runner_goes_through_docker_compose_exec(
    live: LiveProject, fake_bin: FakeBin
) -> None:
    (live.root / "docker-compose.yml").write_text(
        "services:\n  odoo:\n    image: odoo:18\n  db:\n    image: postgres:16\n"
    )
    live.configure(runner="compose", compose_file="docker-compose.yml")
    fake_bin.set_compose_ps([{"Service": "odoo", "State": "running", "Name": "p-odoo-1"}])
    result = live.one("odoo-version")
    assert result.status == Status.PASS, result.message
    assert "compose" in result.message
    assert any("exec -T odoo odoo --version" in c for c in fake_bin.docker_calls())


def test_http_fallback_when_no_runner_works(
    live: LiveProject, fake_bin: FakeBin, odoo_web: FakeOdooWeb
) -> None:
    live.configure(odoo_command=["/nonexistent/odoo-bin"], base_url=odoo_web.url)
    result = live.one("odoo-version")
    assert result.status == Status.PASS, result.message
    assert "JSON-RPC" in result.message and "18.0-20250702" in result.message
    assert any("command not found" in e for e in result.evidence)
    posted = [r for r in odoo_web.requests if r.path == "/web/webclient/version_info"]
    assert posted and posted[0].method == "POST" and posted[0].json()["method"] == "call"


def test_http_fallback_other_series(live: LiveProject, odoo_web: FakeOdooWeb) -> None:
    odoo_web.set(version=17)
    live.configure(odoo_command=["/nonexistent/odoo-bin"], base_url=odoo_web.url)
    result = live.one("odoo-version")
    assert result.status == Status.FAIL
    assert "17.0" in result.message


@pytest.mark.parametrize("series", ["16.0", "19.0"])
def test_double_series_versions(live: LiveProject, fake_bin: FakeBin, series: str) -> None:
    fake_bin.odoo_series(series)
    live.configure(series=series)
    assert live.one("odoo-version").status == Status.PASS


def test_skip_when_nothing_answers(live: LiveProject) -> None:
    live.configure(
        odoo_command=["/nonexistent/odoo-bin"], base_url=f"http://127.0.0.1:{closed_port()}"
    )
    result = live.one("odoo-version")
    assert result.status == Status.SKIP
    assert "command not found" in result.message and "connection refused" in result.message


def test_no_series_configured_skips_with_what_runs(live: LiveProject, fake_bin: FakeBin) -> None:
    live.configure(series=None)
    result = live.one("odoo-version")
    assert result.status == Status.SKIP
    assert "no series configured" in result.message and "18.0" in result.message
