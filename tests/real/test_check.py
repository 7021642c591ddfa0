"""``odoo-ops check`` and ``odoo-ops health`` against a running real Odoo 18."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.real.conftest import RealProject, drop_project
from tests.support import pg

LIVE = "odoo-version,modules-states,db-reachable,db-initialised,db-user-not-superuser"


@pytest.fixture(scope="module")
def served(
    real_project_factory: Callable[[Path], RealProject],
    tmp_path_factory: pytest.TempPathFactory, pg_databases: pg.DatabaseManager,
) -> Iterator[RealProject]:
    """One server for the read-only tests of this module."""
    project = real_project_factory(tmp_path_factory.mktemp("served") / "project")
    project.start()
    try:
        yield project
    finally:
        drop_project(project, pg_databases)


def results(proc: object) -> dict[str, dict[str, object]]:
    data = json.loads(proc.stdout)  # type: ignore[attr-defined]
    return {r["id"]: r for r in data["results"]}


def test_live_checks_pass_against_the_real_server(served: RealProject) -> None:
    proc = served.cli("check", "--only", LIVE, "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = results(proc)
    for check_id in LIVE.split(","):
        assert found[check_id]["status"] == "pass", found[check_id]
    assert "18.0" in str(found["odoo-version"]["message"])


def test_health_probes_pass_against_the_real_server(served: RealProject) -> None:
    proc = served.cli("health", "--format", "json")
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stdout + proc.stderr
