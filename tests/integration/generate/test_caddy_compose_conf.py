"""The generated Caddyfile passes `caddy validate`, docker-compose.yml the
Compose specification schema, odoo.conf every odoo.conf check of odoo-ops."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from odoo_ops.adapters import Target
from odoo_ops.adapters.project import resolve_project
from odoo_ops.checks import all_checks
from odoo_ops.checks.context import CheckContext
from odoo_ops.checks.run import run_checks
from odoo_ops.generate import InitOptions, apply_plan, plan_project
from tests.integration.generate.conftest import CADDY, needs_caddy

SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"


def project(tmp_path: Path, **kw: object) -> Path:
    base: dict[str, object] = dict(
        directory=tmp_path / "p", domain="erp.example.com", database="odoo_prod",
        cpus=2, ram_mb=8192, hash_rounds=1000,
    )  # fmt: skip
    base.update(kw)
    opts = InitOptions(**base)  # type: ignore[arg-type]
    apply_plan(plan_project(opts))
    return opts.directory


def caddy_validate(path: Path) -> subprocess.CompletedProcess[str]:
    assert CADDY
    return subprocess.run(
        [CADDY, "validate", "--config", str(path), "--adapter", "caddyfile"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


@needs_caddy
@pytest.mark.parametrize(("series", "redis"), [("16.0", False), ("18.0", True), ("19.0", False)])
def test_caddy_validate(tmp_path: Path, series: str, redis: bool) -> None:
    d = project(tmp_path, proxy="caddy", series=series, redis=redis, email="ops@example.com")
    caddyfile = d / "proxy/Caddyfile"
    result = caddy_validate(caddyfile)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Valid configuration" in result.stdout + result.stderr
    text = caddyfile.read_text()
    assert "@dbmanager path /web/database /web/database/*" in text
    assert "status 503" in text and str(d / ".odoo-ops/maintenance/production.flag") in text
    # the status pages (odoo-ops serve) behind basic auth, serve's token imported from 0600
    user, hashed = (d / ".odoo-ops/serve/htpasswd").read_text().strip().split(":", 1)
    assert "handle_path /odoo-ops/* {" in text and f"\t\t\t\t{user} {hashed}\n" in text
    assert f"import {d / '.odoo-ops/serve/caddy-token'}" in text
    token = (d / ".odoo-ops/serve/token").read_text().strip()
    assert token not in text and token in (d / ".odoo-ops/serve/caddy-token").read_text()


@needs_caddy
def test_caddy_validate_catches_a_broken_file(tmp_path: Path) -> None:
    d = project(tmp_path, proxy="caddy")
    caddyfile = d / "proxy/Caddyfile"
    caddyfile.write_text(caddyfile.read_text().replace("reverse_proxy", "reverse_proxyy", 1))
    assert caddy_validate(caddyfile).returncode != 0


@pytest.mark.parametrize("redis", [False, True])
def test_compose_matches_the_compose_specification(tmp_path: Path, redis: bool) -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a test extra")
    schema = json.loads(SCHEMA.read_text())
    d = project(tmp_path, redis=redis)
    doc = yaml.safe_load((d / "docker-compose.yml").read_text())
    jsonschema.Draft201909Validator(schema).validate(doc)
    services = doc["services"]
    assert set(services) == ({"db", "odoo", "redis"} if redis else {"db", "odoo"})
    for name, svc in services.items():
        assert "healthcheck" in svc, name
        assert svc["logging"]["options"] == {"max-size": "50m", "max-file": "5"}
        for port in svc.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), (name, port)
    deps = services["odoo"]["depends_on"]
    assert deps["db"] == {"condition": "service_healthy"}
    if redis:
        assert deps["redis"] == {"condition": "service_healthy"}
    assert "db-data" in doc["volumes"]
    # no secret value in the compose file: only ${VAR} references to .env
    env = (d / ".env").read_text()
    for line in env.splitlines():
        if "PASSWORD=" in line:
            assert line.split("=", 1)[1] not in (d / "docker-compose.yml").read_text()


def test_schema_rejects_a_broken_compose_file(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a test extra")
    schema = json.loads(SCHEMA.read_text())
    d = project(tmp_path)
    doc = yaml.safe_load((d / "docker-compose.yml").read_text())
    doc["services"]["odoo"]["depends_on"]["db"]["condition"] = "service_ready"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft201909Validator(schema).validate(doc)


@pytest.mark.parametrize("series", ["16.0", "18.0", "19.0"])
def test_generated_odoo_conf_passes_every_conf_check(tmp_path: Path, series: str) -> None:
    import psutil

    cpus = psutil.cpu_count() or 1
    ram_mb = max(2048, int(psutil.virtual_memory().total) // (1024 * 1024))
    d = project(tmp_path, series=series, cpus=cpus, ram_mb=ram_mb, users=30)
    target = Target(resolve_project(d, environ={}))
    ctx = CheckContext(target)
    checks = [c for c in all_checks().values() if c.module == "odoo_ops.checks.conf"]
    assert len(checks) >= 10
    report = run_checks(ctx, checks)
    bad = {r.id: (r.status.value, r.message) for r in report.results if r.status.value != "pass"}
    assert bad == {}, bad


def test_daemon_json_and_timers(tmp_path: Path) -> None:
    d = project(tmp_path)
    daemon = json.loads((d / "deploy/docker/daemon.json").read_text())
    assert daemon["log-opts"] == {"max-size": "50m", "max-file": "5"}
    units = d / "deploy/systemd"
    for job in ("backup-create", "backup-prune", "backup-test-restore"):
        timer = (units / f"odoo-ops-production-{job}.timer").read_text()
        assert "OnCalendar=" in timer and "Persistent=true" in timer
        service = (units / f"odoo-ops-production-{job}.service").read_text()
        words = job.replace("backup-", "backup ").split()
        assert f"-q {' '.join(words)}" in service and f"-C {d.resolve()}" in service
    watch = (units / "odoo-ops-production-health-watch.service").read_text()
    assert "health --watch" in watch and "Restart=always" in watch
    cron = (d / "deploy/cron/odoo-ops-production").read_text()
    assert "backup create" in cron and "backup prune" in cron and "backup test-restore" in cron


@pytest.mark.skipif(
    shutil.which("systemd-analyze") is None or shutil.which("odoo-ops") is None,
    reason="systemd-analyze (Debian package systemd) or the installed odoo-ops is missing",
)
def test_systemd_units_verify(tmp_path: Path) -> None:
    d = project(tmp_path, odoo_ops_bin=shutil.which("odoo-ops"))
    units = sorted(str(p) for p in (d / "deploy/systemd").iterdir())
    result = subprocess.run(
        ["systemd-analyze", "verify", *units], capture_output=True, text=True, timeout=60
    )
    problems = [
        line for line in result.stderr.splitlines()
        if "odoo-ops-" in line and "docker.service" not in line
    ]  # fmt: skip
    assert problems == [], result.stderr
