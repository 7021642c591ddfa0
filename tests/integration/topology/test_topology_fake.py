"""Several Odoo services on one database, with the fake ``docker`` (stateful:
compose stop/start change the containers' states) and a real PostgreSQL.

The failures here are the ones a real engine does not give on demand: a
service that will not stop, a container on another image id. The real-engine
tier is tests/real/test_topology_docker.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from odoo_ops.adapters import Target
from odoo_ops.adapters.project import resolve_project
from odoo_ops.errors import ConfigError, OpsError
from tests.support.fakebin import FakeBin

SERVICES = ["odoo-accounting", "odoo-core", "odoo-marketing"]

COMPOSE = """\
services:
  odoo-accounting:
    image: local/odoo:18
    command: ["--max-cron-threads=0", "--db_host=db", "-d", "prod", "--db_maxconn=16"]
  odoo-core:
    image: local/odoo:18
    command: ["--max-cron-threads=2", "--db_host=db", "-d", "prod", "--workers=2",
              "--db_maxconn=16"]
  odoo-marketing:
    image: local/odoo:18
    command: ["--max-cron-threads=0", "--db_host=db", "-d", "prod", "--db_maxconn=16"]
  staging:
    image: local/odoo:18
    command: ["--db_host=db", "-d", "staging"]
  db:
    image: postgres:15
  redis:
    image: redis:7
"""


def _ps(image: dict[str, str] | None = None, state: str = "running") -> list[dict[str, Any]]:
    image = image or {}
    return [
        {
            "ID": f"c{i}",
            "Service": s,
            "Name": f"p-{s}-1",
            "State": state,
            "Health": "",
            "ImageID": image.get(s, "sha256:" + "a" * 64),
        }
        for i, s in enumerate([*SERVICES, "db"])
    ]


@pytest.fixture
def world(tmp_path: Path, fake_bin: FakeBin, odoo_db: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    db = odoo_db()
    root = tmp_path / "proj"
    root.mkdir()
    (root / "docker-compose.yml").write_text(COMPOSE, encoding="utf-8")
    (root / "odoo-ops.toml").write_text(
        f"""default_deployment = "prod"
[deployments.prod]
runner = "compose"
series = "18.0"
dsn = "{db.dsn}"
[deployments.one]
runner = "compose"
series = "18.0"
dsn = "{db.dsn}"
odoo_service = "odoo-core"
""",
        encoding="utf-8",
    )
    fake_bin.set_compose_ps(_ps(), fmt="lines")
    monkeypatch.setenv("FAKE_DOCKER_STATEFUL", "1")
    return root, db, fake_bin


def target(root: Path, name: str = "prod") -> Target:
    return Target(resolve_project(root, deployment=name))


def states(fake: FakeBin) -> dict[str, str]:
    lines = fake.compose_ps_file.read_text(encoding="utf-8").splitlines()
    return {d["Service"]: d["State"] for d in map(json.loads, filter(None, lines))}


def test_schema_one_or_the_other() -> None:
    from odoo_ops.config.schema import Deployment

    d = Deployment.model_validate({"odoo_services": ["a", "b"], "command_service": "b"})
    assert (d.odoo_services, d.odoo_service) == (["a", "b"], "b")
    assert Deployment.model_validate({"odoo_service": "web"}).odoo_services == ["web"]
    for bad, why in (
        ({"odoo_service": "z", "odoo_services": ["a"]}, "not both"),
        ({"odoo_services": []}, "at least one"),
        ({"odoo_services": ["a", "a"]}, "twice"),
        ({"odoo_services": ["a"], "command_service": "z"}, "not one of"),
    ):
        with pytest.raises(ValueError, match=why):
            Deployment.model_validate(bad)


def test_discovery_same_database_only(world: Any) -> None:
    root, _db, _fake = world
    t = target(root)
    assert t.odoo_services == SERVICES  # not staging (other database), not db/redis
    assert t.command_service == "odoo-accounting"
    one = target(root, "one")
    assert one.odoo_services == ["odoo-core"] and one.command_service == "odoo-core"


def test_bad_config_is_one_line(world: Any) -> None:
    root, _db, _fake = world
    text = (root / "odoo-ops.toml").read_text() + 'odoo_services = ["odoo-accounting"]\n'
    (root / "odoo-ops.toml").write_text(text)
    with pytest.raises(ConfigError, match="not both"):
        target(root, "one")


def test_maintenance_stops_all_and_reports_each(world: Any) -> None:
    from odoo_ops.modules import maintenance as mx

    root, _db, fake = world
    t = target(root)
    on = mx.maintenance_on(t)
    assert on.workers_stopped
    assert {s: states(fake)[s] for s in SERVICES} == dict.fromkeys(SERVICES, "exited")
    assert states(fake)["db"] == "running"
    status = mx.maintenance_status(t)
    assert status.state == mx.ON and status.services == dict.fromkeys(SERVICES, "stopped")
    mx.maintenance_off(t)
    assert {s: states(fake)[s] for s in SERVICES} == dict.fromkeys(SERVICES, "running")
    assert mx.maintenance_status(t).state == mx.OFF


def test_maintenance_refuses_when_one_will_not_stop(
    world: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from odoo_ops.modules import maintenance as mx

    root, _db, _fake = world
    monkeypatch.setenv("FAKE_DOCKER_STUCK", "odoo-core")
    t = target(root)
    with pytest.raises(OpsError, match="odoo-core did not stop"):
        mx.maintenance_on(t)
    status = mx.maintenance_status(t)
    assert status.state == mx.PARTIAL
    assert status.services["odoo-core"] == "running"


def test_status_names_a_service_stopped_by_hand(world: Any) -> None:
    from odoo_ops.health.probes import ProbeContext, run_probes
    from odoo_ops.modules import maintenance as mx

    root, _db, fake = world
    ps = _ps()
    ps[2]["State"] = "exited"  # odoo-marketing
    fake.set_compose_ps(ps, fmt="lines")
    t = target(root)
    status = mx.maintenance_status(t)
    assert status.state == mx.PARTIAL and "odoo-marketing" in status.problems[-1]
    report = run_probes(ProbeContext(t), only={"odoo-process"})
    probe = report.probes[0]
    assert probe.status == "fail"
    assert "odoo-marketing" in probe.message and "odoo-core" not in probe.message


def _checks(t: Target) -> dict[str, Any]:
    from odoo_ops.checks import all_checks
    from odoo_ops.checks.context import CheckContext
    from odoo_ops.checks.run import run_checks

    checks = [c for c in all_checks().values() if c.id.startswith("topology-")]
    return {r.id: r for r in run_checks(CheckContext(t), checks).results}


def test_checks_flag_images_and_cron_runners(world: Any) -> None:
    root, _db, fake = world
    results = _checks(target(root))
    assert results["topology-same-image"].status == "pass"
    assert results["topology-cron-runners"].status == "pass"
    assert results["topology-connections"].status == "pass"
    assert results["topology-websocket"].status == "skip"  # no nginx config
    fake.set_compose_ps(_ps({"odoo-core": "sha256:" + "b" * 64}), fmt="lines")
    text = (root / "docker-compose.yml").read_text()
    (root / "docker-compose.yml").write_text(
        text.replace('"--max-cron-threads=0"', '"--max-cron-threads=1"', 1)
    )
    results = _checks(target(root))
    assert results["topology-same-image"].status == "fail"
    assert "different image ids" in results["topology-same-image"].message
    cron = results["topology-cron-runners"]
    assert cron.status == "fail" and "odoo-accounting, odoo-core" in cron.message


def test_checks_connections_and_websocket(world: Any) -> None:
    root, _db, _fake = world
    text = (root / "docker-compose.yml").read_text().replace("--workers=2", "--workers=40")
    (root / "docker-compose.yml").write_text(text)
    (root / "nginx").mkdir()
    (root / "nginx" / "site.conf").write_text(
        "upstream ws { server odoo-core:8069; }\n"
        "server {\n location /websocket { proxy_pass http://ws; }\n"
        " location / { proxy_pass http://odoo-core:8069; }\n}\n"
    )
    results = _checks(target(root))
    conn = results["topology-connections"]
    assert conn.status == "fail" and "672 connections" in conn.message  # 16*40 + 16 + 16
    ws = results["topology-websocket"]
    assert ws.status == "fail" and "port 8072" in ws.message
    (root / "nginx" / "site.conf").write_text(
        "server {\n location /websocket { proxy_pass http://odoo-core:8072; }\n}\n"
    )
    assert _checks(target(root))["topology-websocket"].status == "pass"


def test_deploy_images_tagged_and_rolled_back(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """--build records and tags each service's image id; the rollback tags it back
    and recreates the services on it."""
    from odoo_ops.deploy.engine import Deployer, DeployOptions, restore_images

    root, _db, fake = world
    old = "sha256:" + "a" * 64
    images = root.parent / "images.json"
    images.write_text(json.dumps({"local/odoo:18": old}))
    monkeypatch.setenv("FAKE_DOCKER_IMAGES", str(images))
    t = target(root)
    deployer = Deployer(t, DeployOptions(build=True))
    deployer._keep_images()
    kept = deployer.record.images
    assert set(kept) == set(SERVICES)
    tag = f"local/odoo:odoo-ops-rollback-{deployer.record.id}"
    assert kept["odoo-core"] == {"image": "local/odoo:18", "id": old, "tag": tag}
    assert json.loads(images.read_text())[tag] == old
    # the build moved the name to a new image; the rollback brings the old one back
    images.write_text(json.dumps({"local/odoo:18": "sha256:" + "c" * 64, tag: old}))
    said: list[str] = []
    restore_images(t, deployer.record, said.append)
    assert json.loads(images.read_text())["local/odoo:18"] == old
    assert any(
        "up -d --no-deps --no-build --force-recreate odoo-accounting odoo-core odoo-marketing"
        in c
        for c in fake.docker_calls()
    )
    assert "images back" in said[-1]


def test_deploy_counts_errors_of_every_service(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    from odoo_ops.deploy.engine import Deployer, DeployOptions

    root, _db, _fake = world
    logs = root.parent / "logs"
    logs.mkdir()
    (logs / "odoo-marketing.log").write_text(
        "2026-01-01 10:00:00,000 7 ERROR prod odoo.http: boom\n"
        "2026-01-01 10:00:00,000 7 INFO prod odoo.http: fine\n"
    )
    monkeypatch.setenv("FAKE_COMPOSE_LOGS_DIR", str(logs))
    deployer = Deployer(target(root), DeployOptions())
    errors = deployer._service_log_errors(re.compile(r"^\S+ \S+ \d+ (ERROR|CRITICAL) "))
    assert errors == ["odoo-marketing: 2026-01-01 10:00:00,000 7 ERROR prod odoo.http: boom"]


def test_deploy_history_shows_image_ids(world: Any) -> None:
    import os
    import subprocess
    import sys

    from odoo_ops.deploy.engine import journal_of
    from odoo_ops.deploy.journal import DeployRecord

    root, _db, _fake = world
    record = DeployRecord(id="20260101T000000-0001", kind="deploy", who="t", started_at="x")
    kept = {"image": "local/odoo:18", "id": "sha256:" + "d" * 64, "tag": "t"}
    record.images = {"odoo-core": kept}
    record.result = "rolled-back"
    journal_of(target(root)).write(record)
    out = subprocess.run(
        [sys.executable, "-m", "odoo_ops.cli.main", "-C", str(root), "deploy", "history"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "COLUMNS": "400"},
    )
    assert out.returncode == 0, out.stderr
    assert "images before" in out.stdout and "odoo-core=dddddddddddd" in out.stdout


def test_discovery_without_odoo_ops_toml(world: Any) -> None:
    root, _db, _fake = world
    (root / "odoo-ops.toml").unlink()
    t = Target(resolve_project(root))
    assert t.odoo_services == SERVICES and t.deployment.odoo_services == SERVICES
