"""Several Odoo services on one database, on a real Docker Engine + Compose v2.

A compose project with three real Odoo 18 services (the trimmed Odoo of
``../shared/odoo`` built into an image per ``../shared/docker/README.md``)
and a ``db`` service (``../shared/docker/db``). Needs a running Docker engine
(``bash ../shared/docker/setup-engine.sh``); skips with one reason without it.
Marked ``docker``; the images are built once (about 2 minutes, then cached by
the engine), the project is made once per module (``-i base``, ~25 s).
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from odoo_ops.adapters import Target
from odoo_ops.adapters.project import resolve_project

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

SHARED = Path(__file__).resolve().parents[3].parent / "shared"
ODOO_IMAGE = "odoo-ops-test/odoo:18"
DB_IMAGE = "odoo-ops-test/db:15"
SERVICES = ["odoo-accounting", "odoo-core", "odoo-marketing"]


def _docker(*args: str, timeout: float = 600, cwd: Path | None = None) -> str:
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )
    if result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {result.stderr.strip()[-800:]}")
    return result.stdout


def _engine_ready() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client (run ../shared/docker/setup-engine.sh)"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, timeout=20)
        compose = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"docker does not answer: {exc}"
    if info.returncode != 0:
        return "no Docker daemon answering (run ../shared/docker/setup-engine.sh)"
    if compose.returncode != 0:
        return "no docker compose v2 plugin (run ../shared/docker/setup-engine.sh)"
    if not (SHARED / "odoo" / "odoo-18.0-ce-trimmed.tar.zst").is_file():
        return f"{SHARED}/odoo is absent (the trimmed Odoo 18 to build the image from)"
    return None


def _has_image(name: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0


def _build_images(tmp: Path) -> None:
    if not _has_image("local/bookworm:base"):
        pytest.fail("image local/bookworm:base missing: run ../shared/docker/setup-engine.sh")
    if not _has_image(DB_IMAGE):
        shutil.copytree(SHARED / "docker" / "db", tmp / "db")
        _docker("build", "-q", "-t", DB_IMAGE, str(tmp / "db"), timeout=900)
    if not _has_image(ODOO_IMAGE):
        ctx = tmp / "odoo"
        shutil.copytree(SHARED / "docker" / "odoo", ctx)
        shutil.copy(SHARED / "odoo" / "odoo-18.0-ce-trimmed.tar.zst", ctx)
        shutil.copy("/etc/ssl/certs/ca-certificates.crt", ctx / "ca.crt")
        _docker("build", "-q", "-t", ODOO_IMAGE, str(ctx), timeout=1200)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _compose(ports: dict[str, int], image: str, crons: dict[str, int]) -> str:
    lines = ["services:", "  db:", f"    image: {DB_IMAGE}", "    ports:",
             f'      - "127.0.0.1:{ports["db"]}:5544"', "    healthcheck:",
             '      test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "5544"]',
             "      interval: 1s", "      retries: 90"]
    for service in SERVICES:
        lines += [
            f"  {service}:",
            f"    image: {image}",
            "    depends_on: [db]",
            "    command: [\"--db_host=db\", \"--db_port=5544\", \"--db_user=odoo\","
            " \"--db_password=odoo\", \"-d\", \"prod\", \"--db-filter=^prod$\","
            f" \"--max-cron-threads={crons.get(service, 0)}\", \"--db_maxconn=8\"]",
            "    ports:",
            f'      - "127.0.0.1:{ports[service]}:8069"',
        ]
    return "\n".join(lines) + "\n"


class Project:
    def __init__(self, root: Path, ports: dict[str, int], project: str) -> None:
        self.root, self.ports, self.project = root, ports, project
        self.dsn = f"host=127.0.0.1 port={ports['db']} user=odoo password=odoo dbname=prod"

    def compose(self, *args: str, timeout: float = 600) -> str:
        return _docker("compose", "-p", self.project, *args, timeout=timeout, cwd=self.root)

    def target(self) -> Target:
        return Target(resolve_project(self.root, deployment="prod"))

    def wait_healthy(self, services: list[str], timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        for service in services:
            url = f"http://127.0.0.1:{self.ports[service]}/web/login"
            while True:
                try:
                    if httpx.get(url, timeout=5).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise AssertionError(f"{service} not serving within {timeout}s")
                time.sleep(0.5)

    def sessions(self) -> list[tuple[Any, ...]]:
        """Connections of the Odoo containers to the database (not ours)."""
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            return conn.execute(
                "SELECT DISTINCT client_addr FROM pg_stat_activity"
                " WHERE datname = 'prod' AND pid <> pg_backend_pid()"
                " AND client_addr IS NOT NULL"
            ).fetchall()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    why = _engine_ready()
    if why:
        pytest.skip(why)
    tmp = tmp_path_factory.mktemp("topology-docker")
    _build_images(tmp)
    root = tmp / "proj"
    root.mkdir()
    name = f"odoo-ops-topo-{root.parent.name.lower()[-12:].strip('-_')}"
    _docker("tag", ODOO_IMAGE, f"{name}/odoo:current")
    ports = {s: _free_port() for s in [*SERVICES, "db"]}
    compose = _compose(ports, f"{name}/odoo:current", {"odoo-core": 1})
    (root / "docker-compose.yml").write_text(compose, encoding="utf-8")
    urls = "\n".join(f'"{s}" = "http://127.0.0.1:{ports[s]}"' for s in SERVICES)
    p = Project(root, ports, name)
    (root / "odoo-ops.toml").write_text(
        f"""default_deployment = "prod"
[deployments.prod]
runner = "compose"
compose_project = "{name}"
series = "18.0"
dsn = "{p.dsn}"
odoo_services = {json.dumps(SERVICES)}
command_service = "odoo-core"
cron_services = ["odoo-core"]
[deployments.prod.internal_urls]
{urls}
""",
        encoding="utf-8",
    )
    try:
        p.compose("up", "-d", "--wait", "db", timeout=120)
        p.compose(
            "run", "--rm", "-T", "odoo-core", "--db_host=db", "--db_port=5544", "--db_user=odoo",
            "--db_password=odoo", "-d", "prod", "-i", "base", "--stop-after-init", timeout=300
        )
        p.compose("up", "-d", *SERVICES, timeout=180)
        p.wait_healthy(SERVICES)
        yield p
    finally:
        subprocess.run(
            ["docker", "compose", "-p", name, "down", "-v", "--remove-orphans"],
            cwd=root, capture_output=True, timeout=180,
        )
        subprocess.run(["docker", "image", "rm", f"{name}/odoo:current"], capture_output=True)
        tags = _docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", f"{name}/odoo")
        for tag in tags.split():
            subprocess.run(["docker", "image", "rm", tag], capture_output=True)


def test_maintenance_stops_all_three(project: Project) -> None:
    from odoo_ops.modules import maintenance as mx

    for service in SERVICES:  # every service opens its registry on the database
        httpx.get(f"http://127.0.0.1:{project.ports[service]}/web/login", timeout=30)
    assert len(project.sessions()) == 3
    t = project.target()
    on = mx.maintenance_on(t)
    assert on.workers_stopped
    assert project.sessions() == []  # no session of any of the three left
    status = mx.maintenance_status(t)
    assert status.state == mx.ON and status.services == dict.fromkeys(SERVICES, "stopped")
    mx.maintenance_off(t)
    project.wait_healthy(SERVICES)
    assert mx.maintenance_status(t).state == mx.OFF


def test_health_names_the_service_stopped_by_hand(project: Project) -> None:
    from odoo_ops.health.probes import ProbeContext, run_probes

    project.compose("stop", "odoo-marketing", timeout=120)
    try:
        report = run_probes(ProbeContext(project.target()))
        probes = {p.name: p for p in report.probes}
        assert probes["odoo-process"].status == "fail"
        assert "odoo-marketing" in probes["odoo-process"].message
        assert "odoo-core" not in probes["odoo-process"].message
        assert probes["odoo-http:odoo-marketing"].status == "fail"
        assert probes["odoo-http:odoo-core"].status == "ok"
    finally:
        project.compose("start", "odoo-marketing", timeout=120)
        project.wait_healthy(["odoo-marketing"])


def _topology_checks(t: Target) -> dict[str, Any]:
    from odoo_ops.checks import all_checks
    from odoo_ops.checks.context import CheckContext
    from odoo_ops.checks.run import run_checks

    checks = [c for c in all_checks().values() if c.id.startswith("topology-")]
    return {r.id: r for r in run_checks(CheckContext(t), checks).results}


def test_check_flags_images_and_cron_runners_then_images_roll_back(
    project: Project, tmp_path: Path
) -> None:
    from odoo_ops.adapters.topology import container_image_ids
    from odoo_ops.deploy.engine import Deployer, DeployOptions, restore_images

    t = project.target()
    first = _topology_checks(t)
    assert first["topology-same-image"].status == "pass", first["topology-same-image"].message
    assert first["topology-cron-runners"].status == "pass"
    assert first["topology-connections"].status == "pass"
    before = container_image_ids(t, SERVICES)
    assert len(set(before.values())) == 1 and None not in before.values()
    deployer = Deployer(t, DeployOptions(build=True))
    deployer._keep_images()  # what deploy --build does before it builds
    # a new image under the same name; only odoo-marketing is recreated on it
    (tmp_path / "Dockerfile").write_text(
        f"FROM {ODOO_IMAGE}\nLABEL odoo-ops-test=new\n", encoding="utf-8"
    )
    _docker("build", "-q", "-t", f"{project.project}/odoo:current", str(tmp_path))
    project.compose("up", "-d", "--no-deps", "odoo-marketing", timeout=180)
    compose = (project.root / "docker-compose.yml").read_text()
    (project.root / "docker-compose.yml").write_text(
        compose.replace("--max-cron-threads=0", "--max-cron-threads=2", 1)
    )
    second = _topology_checks(project.target())
    assert second["topology-same-image"].status == "fail"
    assert "different image ids" in second["topology-same-image"].message
    cron = second["topology-cron-runners"]
    assert cron.status == "fail" and "odoo-accounting" in cron.message
    (project.root / "docker-compose.yml").write_text(compose)
    # the rollback: the name points at the kept id again, the services are recreated
    restore_images(project.target(), deployer.record, lambda _m: None)
    project.wait_healthy(SERVICES)
    after = container_image_ids(project.target(), SERVICES)
    assert after == before
