"""Several Odoo services on one database, on a real Docker Engine + Compose v2.

A compose project with three real Odoo 18 services (the trimmed Odoo of
``../shared/odoo`` built into an image per ``../shared/docker/README.md``)
and a ``db`` service (``../shared/docker/db``). Needs a running Docker engine
(``bash ../shared/docker/setup-engine.sh``; CI: ``.ci/setup.d/50-docker.sh``);
skips with one reason without it. Marked ``docker``. The images are tagged by
a hash of their inputs (tests/support/docker_images.py): built once (~2.5
min), then kept by the engine, or loaded from ``$ODOO_OPS_CI_CACHE`` (~17 s).
The project is made once per module (``-i base``, ~25 s) and brought down
with its volumes, networks and image tags at the end.
"""

from __future__ import annotations

import hashlib
import json
import os
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
from tests.support.docker_images import engine_unavailable

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

SHARED = Path(__file__).resolve().parents[3].parent / "shared"
SERVICES = ["odoo-accounting", "odoo-core", "odoo-marketing"]


def _docker(*args: str, timeout: float = 600, cwd: Path | None = None) -> str:
    result = subprocess.run(
        ["docker", *args], capture_output=True, text=True, timeout=timeout, cwd=cwd
    )
    if result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)}: {result.stderr.strip()[-800:]}")
    return result.stdout


def _engine_ready() -> str | None:
    why = engine_unavailable()
    if why is None and not (SHARED / "odoo" / "odoo-18.0-ce-trimmed.tar.zst").is_file():
        why = f"{SHARED}/odoo is absent (the trimmed Odoo 18 to build the image from)"
    return why


def _images() -> dict[str, str]:
    from tests.support.docker_images import ensure_images

    cache = os.environ.get("ODOO_OPS_CI_CACHE")
    try:
        return ensure_images(Path(cache) if cache else None)
    except RuntimeError as exc:
        pytest.fail(f"the docker test images: {exc}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: each service's own odoo.conf (conf/<service>.conf on /etc/odoo/odoo.conf)
SERVICE_CONF = """[options]
db_host = db
db_port = 5544
db_user = odoo
db_password = odoo
data_dir = /var/lib/odoo
db_maxconn = 8
"""


def _compose(
    ports: dict[str, int], images: dict[str, str], image: str, crons: dict[str, int]
) -> str:
    lines = ["services:", "  db:", f"    image: {images['db']}", "    ports:",
             f'      - "127.0.0.1:{ports["db"]}:5544"', "    healthcheck:",
             '      test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "5544"]',
             "      interval: 1s", "      retries: 90"]  # fmt: skip
    for service in SERVICES:
        args = ["odoo", "-d", "prod", "--db-filter=^prod$",
                f"--max-cron-threads={crons.get(service, 0)}"]  # fmt: skip
        lines += [
            f"  {service}:",
            f"    image: {image}",
            "    build: ./app",  # what `deploy --build` builds: app/Dockerfile
            "    depends_on: [db]",
            f"    command: {json.dumps(args)}",
            "    volumes:",
            "      - ./data:/var/lib/odoo",  # the filestore, on this host
            f"      - ./conf/{service}.conf:/etc/odoo/odoo.conf:ro",
            "    ports:",
            f'      - "127.0.0.1:{ports[service]}:8069"',
        ]
    return "\n".join(lines) + "\n"


class Project:
    def __init__(
        self, root: Path, ports: dict[str, int], project: str, images: dict[str, str]
    ) -> None:
        self.root, self.ports, self.project, self.images = root, ports, project, images
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
    images = _images()
    tmp = tmp_path_factory.mktemp("topology-docker")
    root = tmp / "proj"
    root.mkdir()
    # unique per run (the prefix odoo-ops-t is what tests/support/docker_images.py
    # cleans up after a killed run)
    suffix = hashlib.sha256(str(tmp).encode()).hexdigest()[:8]
    name = f"odoo-ops-topo-{suffix}"
    ports = {s: _free_port() for s in [*SERVICES, "db"]}
    compose = _compose(ports, images, f"{name}/odoo:current", {"odoo-core": 1})
    (root / "docker-compose.yml").write_text(compose, encoding="utf-8")
    (root / "app" / "addons").mkdir(parents=True)
    (root / "app" / "Dockerfile").write_text(_app_dockerfile(images["odoo"], name))
    (root / "app" / "entrypoint.sh").write_text(ENTRYPOINT)
    (root / "app" / "entrypoint.sh").chmod(0o755)
    _docker("build", "-q", "-t", f"{name}/odoo:current", str(root / "app"), timeout=900)
    (root / "conf").mkdir()
    for service in SERVICES:
        (root / "conf" / f"{service}.conf").write_text(SERVICE_CONF, encoding="utf-8")
    (root / "data").mkdir()
    (root / "backups").mkdir()
    urls = "\n".join(f'"{s}" = "http://127.0.0.1:{ports[s]}"' for s in SERVICES)
    p = Project(root, ports, name, images)
    (root / "odoo-ops.toml").write_text(
        f"""default_deployment = "prod"
[deployments.prod]
runner = "compose"
compose_project = "{name}"
series = "18.0"
dsn = "{p.dsn}"
odoo_services = {json.dumps(SERVICES)}
odoo_conf = "conf/odoo-core.conf"
command_service = "odoo-core"
cron_services = ["odoo-core"]
backup_dir = "backups"
data_dir = "data"
addons_paths = ["app/addons"]
[deployments.prod.internal_urls]
{urls}
""",
        encoding="utf-8",
    )
    try:
        p.compose("up", "-d", "--wait", "db", timeout=120)
        p.compose(
            "run", "--rm", "-T", "odoo-core", "odoo", "-d", "prod", "-i", "base",
            "--stop-after-init", timeout=300,
        )  # fmt: skip
        p.compose("up", "-d", *SERVICES, timeout=180)
        p.wait_healthy(SERVICES)
        yield p
    finally:
        subprocess.run(
            ["docker", "compose", "-p", name, "down", "-v", "--remove-orphans"],
            cwd=root,
            capture_output=True,
            timeout=180,
        )
        subprocess.run(["docker", "image", "rm", f"{name}/odoo:current"], capture_output=True)
        tags = _docker("image", "ls", "--format", "{{.Repository}}:{{.Tag}}", f"{name}/odoo")
        for tag in tags.split():
            subprocess.run(["docker", "image", "rm", tag], capture_output=True)
        # the images the tests built (now untagged): gone, so a second run starts clean
        subprocess.run(
            ["docker", "image", "prune", "-f", "--filter", f"label=odoo-ops-test-project={name}"],
            capture_output=True, timeout=180,
        )  # fmt: skip
        label = f"label=com.docker.compose.project={name}"
        leftovers = _docker("ps", "-a", "-q", "--filter", label)
        assert not leftovers.split(), f"containers of {name} left after down"


#: the contract of the official Odoo image: `odoo ARGS` (or just ARGS) runs Odoo,
#: which reads $ODOO_RC
ENTRYPOINT = """#!/bin/sh
[ "$1" = odoo ] && shift
exec /opt/venv/bin/python /opt/odoo-18.0/odoo-bin \\
  --addons-path=/opt/odoo-18.0/odoo/addons,/opt/odoo-18.0/extra-addons "$@"
"""


def _app_dockerfile(base: str, project: str, extra: str = "") -> str:
    """app/Dockerfile: the deployment's own image, FROM the tier's Odoo 18 image
    with the addons of app/addons."""
    return (
        f"FROM {base}\nLABEL odoo-ops-test-project={project}\n"
        "ENV ODOO_RC=/etc/odoo/odoo.conf\n"
        "COPY entrypoint.sh /usr/local/bin/odoo-entrypoint\n"
        'ENTRYPOINT ["/usr/local/bin/odoo-entrypoint"]\n'
        f"COPY addons /opt/odoo-18.0/extra-addons/\n{extra}"
    )


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
    from odoo_ops.deploy.journal import now_iso

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
        f"FROM {project.images['odoo']}\nLABEL odoo-ops-test=new"
        f" odoo-ops-test-project={project.project}\n",
        encoding="utf-8",
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
    # _keep_images journaled a `running` deploy: it is rolled back (by hand, here),
    # or the next deploy on this project would refuse to start over it
    deployer.record.result = "rolled-back"
    deployer.record.finished_at = now_iso()
    deployer._save()


# -- deploy --build whose verify fails: everything back, image ids included -----

MARKER_MODULE = {
    "__manifest__.py": "{'name': 'e2e marker', 'version': '18.0.1.0.0', 'depends': ['base'],"
    " 'data': ['data.xml'], 'license': 'LGPL-3', 'installable': True}\n",
    "__init__.py": "",
    "data.xml": '<odoo><record id="marker" model="ir.config_parameter">'
    '<field name="key">e2e_marker.installed</field><field name="value">yes</field>'
    "</record></odoo>\n",
}
#: the new build breaks /web/health: it answers 200 with {"status": "fail"}
BREAK_HEALTH = (
    "RUN f=/opt/odoo-18.0/odoo/addons/web/controllers/home.py"
    " && sed -i \"s/health_info = {'status': 'pass'}/health_info = {'status': 'fail'}/\" $f"
    " && grep -q \"'status': 'fail'}\" $f\n"
)


def _image_id(name: str) -> str:
    return _docker("image", "inspect", "--format", "{{.Id}}", name).strip()


def _db_state(p: Project) -> dict[str, Any]:
    with psycopg.connect(p.dsn, autocommit=True) as conn:
        modules = conn.execute(
            "SELECT name, state, latest_version FROM ir_module_module ORDER BY name"
        ).fetchall()
        params = conn.execute("SELECT key, value FROM ir_config_parameter ORDER BY key").fetchall()
        attachments = conn.execute(
            "SELECT count(*), coalesce(md5(string_agg(coalesce(store_fname, ''), ','"
            " ORDER BY id)), '') FROM ir_attachment"
        ).fetchone()
    return {"modules": modules, "params": params, "attachments": attachments}


def _filestore(p: Project) -> dict[str, str]:
    root = p.root / "data" / "filestore" / "prod"
    return {
        str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(root.rglob("*"))
        if f.is_file()
    }


def test_deploy_build_whose_verify_fails_brings_every_image_back(project: Project) -> None:
    """`odoo-ops deploy --build`: the new build installs a module and breaks
    /web/health; verify fails, and the rollback puts the three services back on
    the image id they ran (docker inspect), the database and the filestore as
    they were."""
    import sys

    from odoo_ops.adapters.topology import container_image_ids
    from odoo_ops.deploy.engine import journal_of

    t = project.target()
    project.wait_healthy(SERVICES)
    for service in SERVICES:  # the login page's assets land in the filestore
        httpx.get(f"http://127.0.0.1:{project.ports[service]}/web/login", timeout=60)
    with psycopg.connect(project.dsn, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO ir_config_parameter (key, value) VALUES ('e2e.before', 'kept')"
            " ON CONFLICT (key) DO NOTHING"
        )
    before_ids = container_image_ids(t, SERVICES)
    assert len(set(before_ids.values())) == 1 and None not in before_ids.values()
    # --force below skips `check --quick`, which fails on this bare project for
    # reasons of its own (no backups yet, no admin_passwd, weak test secrets, the
    # image's python3 is not Odoo's venv); the topology checks themselves pass
    # (each service read with its own conf/<service>.conf)
    topology = _topology_checks(t)
    assert {r.status for r in topology.values()} <= {"pass", "skip"}, {
        cid: r.message for cid, r in topology.items() if r.status not in ("pass", "skip")
    }
    for service in SERVICES:  # db_maxconn is in each service's own file only
        want = f"{service}: db_maxconn 8 (conf/{service}.conf)"
        assert any(e.startswith(want) for e in topology["topology-connections"].evidence)
    before_current = _image_id(f"{project.project}/odoo:current")
    db_before, files_before = _db_state(project), _filestore(project)
    assert files_before, "no filestore to compare"

    # the new code: a module the deploy must install, and a build that breaks health
    addon = project.root / "app" / "addons" / "e2e_marker"
    addon.mkdir()
    for name, text in MARKER_MODULE.items():
        (addon / name).write_text(text, encoding="utf-8")
    dockerfile = project.root / "app" / "Dockerfile"
    original = dockerfile.read_text()
    dockerfile.write_text(original + BREAK_HEALTH)
    toml = project.root / "odoo-ops.toml"
    toml_text = toml.read_text()
    toml.write_text(toml_text + '\n[verify]\nmodules = ["e2e_marker"]\n')
    try:
        run = subprocess.run(
            [sys.executable, "-m", "odoo_ops.cli.main", "-C", str(project.root), "deploy",
             "--build", "--force", "--restart-timeout", "180"],
            capture_output=True, text=True, timeout=1200,
        )  # fmt: skip
        out = run.stdout + run.stderr
        assert run.returncode != 0, out[-3000:]
        record = max(journal_of(t).records(), key=lambda r: r.started_at)
        assert (record.result, record.failed_phase) == ("rolled-back", "verify"), out[-3000:]
        assert "/web/health" in (record.error or ""), record.error
        assert {s: k["id"] for s, k in record.images.items()} == before_ids
        # the build did make a new image (the deploy really ran it) ...
        phases = {ph.name: ph.status for ph in record.phases}
        assert phases["code"] == phases["modules"] == phases["restart"] == "ok", phases
        # ... and every service is back on the image id it ran before
        project.wait_healthy(SERVICES, timeout=180)
        assert container_image_ids(project.target(), SERVICES) == before_ids
        for service in SERVICES:
            cid = project.compose("ps", "-q", service).split()[0]
            assert _docker("inspect", "--format", "{{.Image}}", cid).strip() == before_ids[service]
            health = httpx.get(f"http://127.0.0.1:{project.ports[service]}/web/health", timeout=30)
            assert health.json()["status"] == "pass"
        assert _image_id(f"{project.project}/odoo:current") == before_current
        assert record.after_rollback == []
        # the database and the filestore as they were: the module never installed
        db_after = _db_state(project)
        assert ("e2e_marker.installed", "yes") not in db_after["params"]
        assert ("e2e.before", "kept") in db_after["params"]
        assert db_after == db_before
        assert _filestore(project) == files_before
    finally:
        dockerfile.write_text(original)
        toml.write_text(toml_text)
        shutil.rmtree(addon, ignore_errors=True)
