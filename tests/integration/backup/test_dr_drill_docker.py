"""``odoo-ops dr drill`` through the compose runner on a real Docker Engine + Compose v2.

A compose project with a real Odoo 18 service (the tier's image of
tests/support/docker_images.py) and a ``db`` service (PostgreSQL 15), its
database made with ``-i base``; a real backup of it; then the drill starts
the scratch Odoo as ``docker compose run --rm … --publish 127.0.0.1:P:P``
beside the running service, logs in as admin, records the RTO, and leaves no
container behind. The second test drills the same backup onto another compose
deployment (``--target``): its own project, database server and data_dir.
Marked ``docker``; skips with the reason when no engine answers. Compose
project names are unique per run (``odoo-ops-tdr-…``: the prefix the tier's
clean-up knows).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from tests.integration.topology.test_topology_docker import (
    _docker,
    _engine_ready,
    _free_port,
    _images,
)

from odoo_ops.adapters import Target
from odoo_ops.adapters.project import resolve_project
from odoo_ops.backup.create import CreateOptions, create_backup
from odoo_ops.backup.integrity import verify_entry
from odoo_ops.backup.layout import find_backup
from odoo_ops.dr.drill import run_drill

pytestmark = [pytest.mark.docker, pytest.mark.pg, pytest.mark.timeout(900)]

#: odoo.conf of both deployments (conf/*.conf on /etc/odoo/odoo.conf)
ODOO_CONF = """[options]
db_host = db
db_port = 5544
db_user = odoo
db_password = odoo
data_dir = /var/lib/odoo
"""

#: the contract of the official image: ``odoo ARGS`` runs Odoo ($$: compose's escape)
ENTRYPOINT = [
    "/bin/sh", "-c",
    '[ "$$1" = odoo ] && shift; exec /opt/venv/bin/python /opt/odoo-18.0/odoo-bin'
    ' --addons-path=/opt/odoo-18.0/odoo/addons "$$@"',
    "odoo-entrypoint",
]  # fmt: skip


def _compose_file(
    images: dict[str, str], db_port: int, odoo_port: int, conf: str, data: str
) -> str:
    return "\n".join([
        "services:",
        "  db:",
        f"    image: {images['db']}",
        "    ports:",
        f'      - "127.0.0.1:{db_port}:5544"',
        "    healthcheck:",
        '      test: ["CMD", "pg_isready", "-h", "127.0.0.1", "-p", "5544"]',
        "      interval: 1s",
        "      retries: 90",
        "  odoo:",
        f"    image: {images['odoo']}",
        f"    entrypoint: {json.dumps(ENTRYPOINT)}",
        "    environment:",
        "      ODOO_RC: /etc/odoo/odoo.conf",
        "    depends_on: [db]",
        '    command: ["odoo", "-d", "prod", "--db-filter=^prod$$"]',
        "    volumes:",
        f"      - ./{data}:/var/lib/odoo",
        f"      - ./conf/{conf}:/etc/odoo/odoo.conf:ro",
        "    ports:",
        f'      - "127.0.0.1:{odoo_port}:8069"',
    ]) + "\n"  # fmt: skip


def _deployment(name: str, project: str, compose: str, conf: str, data: str, dsn: str) -> str:
    return (
        f"[deployments.{name}]\nrunner = \"compose\"\ncompose_project = \"{project}\"\n"
        f'compose_file = "{compose}"\nodoo_service = "odoo"\nseries = "18.0"\n'
        f'dsn = "{dsn}"\nodoo_conf = "conf/{conf}"\ndata_dir = "{data}"\n'
        'backup_dir = "backups"\nproduction = false\n'
    )


@dataclass
class Site:
    root: Path
    prod: str  # compose project names
    standby: str
    standby_dsn: str

    def target(self) -> Target:
        return Target(resolve_project(self.root, deployment="prod"))

    def compose(self, project: str, file: str, *args: str, timeout: float = 600) -> str:
        return _docker("compose", "-p", project, "-f", file, *args, timeout=timeout, cwd=self.root)

    def one_off_containers(self, project: str) -> list[str]:
        """Containers ``docker compose run`` made for ``project`` (running or not)."""
        out = _docker(
            "ps", "-a", "--format", "{{.Names}}",
            "--filter", f"label=com.docker.compose.project={project}",
            "--filter", "label=com.docker.compose.oneoff=True",
        )  # fmt: skip
        return out.split()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    why = _engine_ready()
    if why:
        pytest.skip(why)
    images = _images()
    root = tmp_path_factory.mktemp("dr-docker") / "proj"
    (root / "conf").mkdir(parents=True)
    suffix = hashlib.sha256(f"{root}{os.getpid()}".encode()).hexdigest()[:8]
    prod, standby = f"odoo-ops-tdr-{suffix}", f"odoo-ops-tdr-{suffix}-sb"
    prod_port, standby_port, live_port = _free_port(), _free_port(), _free_port()
    for name in ("prod.conf", "standby.conf"):
        (root / "conf" / name).write_text(ODOO_CONF)
    for data in ("data", "standby-data", "backups"):
        (root / data).mkdir()
    (root / "docker-compose.yml").write_text(
        _compose_file(images, prod_port, live_port, "prod.conf", "data")
    )
    (root / "standby.yml").write_text(  # its Odoo service is never started
        _compose_file(images, standby_port, _free_port(), "standby.conf", "standby-data")
    )
    prod_dsn = f"host=127.0.0.1 port={prod_port} user=odoo password=odoo dbname=prod"
    standby_dsn = f"host=127.0.0.1 port={standby_port} user=odoo password=odoo"
    (root / "odoo-ops.toml").write_text(
        'default_deployment = "prod"\n'
        + _deployment("prod", prod, "docker-compose.yml", "prod.conf", "data", prod_dsn)
        # the standby names no database of its own: it is a server waiting for one
        + _deployment(
            "standby", standby, "standby.yml", "standby.conf", "standby-data", standby_dsn
        )
        + '[dr]\nrto_minutes = 15\nrpo_minutes = 60\nlogin = "admin"\npassword = "admin"\n'
    )
    s = Site(root, prod, standby, standby_dsn)
    try:
        s.compose(prod, "docker-compose.yml", "up", "-d", "--wait", "db", timeout=180)
        s.compose(standby, "standby.yml", "up", "-d", "--wait", "db", timeout=180)
        s.compose(
            prod, "docker-compose.yml", "run", "--rm", "-T", "odoo", "odoo", "-d", "prod",
            "-i", "base", "--stop-after-init", "--without-demo=all", timeout=600,
        )  # fmt: skip
        s.compose(prod, "docker-compose.yml", "up", "-d", "odoo", timeout=180)
        _wait_serving(f"http://127.0.0.1:{live_port}/web/login")  # as a used site: assets made
        yield s
    finally:
        for project, file in ((prod, "docker-compose.yml"), (standby, "standby.yml")):
            subprocess.run(
                ["docker", "compose", "-p", project, "-f", file, "down", "-v", "--remove-orphans"],
                cwd=root, capture_output=True, timeout=180,
            )  # fmt: skip
            label = f"label=com.docker.compose.project={project}"
            left = _docker("ps", "-a", "-q", "--filter", label)
            assert not left.split(), f"containers of {project} left after down"


def _wait_serving(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=10).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} not serving within {timeout:g} s")
        time.sleep(0.5)


def _verified_backup(target: Target) -> str:
    created = create_backup(target, CreateOptions())
    assert target.backup_dir is not None
    checked = verify_entry(find_backup(target.backup_dir, created.name))
    assert checked.ok, checked.problems
    return created.name


def _log_tail(json_path: str | None) -> str:
    log = Path(str(json_path)).with_suffix(".log")
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


def test_drill_starts_a_scratch_container_with_real_docker(site: Site) -> None:
    target = site.target()
    name = _verified_backup(target)
    live = _docker("compose", "-p", site.prod, "ps", "-q", "odoo", cwd=site.root).split()
    assert len(live) == 1

    result = run_drill(target, timeout=300)

    assert result.problems == [], (result.problems, _log_tail(result.json_path))
    assert result.ok and result.backup == name and result.target == "prod"
    assert result.checks["runner"] == "compose"
    assert result.checks["login"] == "admin"  # through the scratch container's port
    assert result.checks["tables_compared"] > 5 and result.checks["modules_compared"] >= 1
    assert result.rto_seconds is not None and result.rto_seconds < 900
    print(f"compose drill (real Docker, Odoo 18): RTO {result.rto_seconds} s,"
          f" phases {result.phases}")
    # the scratch container is gone; the running service is the same container
    assert site.one_off_containers(site.prod) == []
    assert _docker("compose", "-p", site.prod, "ps", "-q", "odoo", cwd=site.root).split() == live
    # the scratch database and filestore are gone; the live ones stay
    with psycopg.connect(target.dsn(), autocommit=True) as conn:
        names = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
    assert not [n for n in names if "__drill_" in n] and "prod" in names
    assert [p.name for p in (site.root / "data" / "filestore").iterdir()] == ["prod"]


def test_drill_onto_a_second_compose_deployment(site: Site) -> None:
    target = site.target()
    _verified_backup(target)
    exe = shutil.which("odoo-ops")
    assert exe
    proc = subprocess.run(
        [exe, "dr", "drill", "--target", "standby", "--format", "json"],
        cwd=site.root, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    result = json.loads(proc.stdout) if proc.stdout.strip() else {}
    assert proc.returncode == 0, (proc.stdout, proc.stderr, _log_tail(result.get("json_path")))
    assert result["ok"] and result["target"] == "standby" and result["deployment"] == "prod"
    assert result["checks"]["runner"] == "compose" and result["checks"]["login"] == "admin"
    print(f"compose drill onto a second deployment: RTO {result['rto_seconds']} s,"
          f" phases {result['phases']}")
    # it ran in the standby's project: nothing left there, nothing made in prod's
    assert site.one_off_containers(site.standby) == []
    assert site.one_off_containers(site.prod) == []
    with psycopg.connect(f"{site.standby_dsn} dbname=postgres", autocommit=True) as conn:
        names = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
    assert names == {"postgres", "template0", "template1"}
    assert list((site.root / "standby-data" / "filestore").iterdir()) == []
    assert [p.name for p in (site.root / "data" / "filestore").iterdir()] == ["prod"]
    assert json.loads((site.root / ".odoo-ops" / "prod" / "dr" / "last.json").read_text())[
        "target"
    ] == "standby"
