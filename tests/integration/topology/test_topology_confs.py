"""Per-service odoo.conf: services of one deployment that mount different
odoo.conf files (``-c``/``--config``, ``ODOO_RC``, a bind mount on the image's
/etc/odoo/odoo.conf) are checked with their own file, not the deployment's.

Real files, a real PostgreSQL (``topology-connections`` reads
``max_connections``); the fake ``docker`` only answers ``compose ps`` (no
check here needs an engine).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from odoo_ops.adapters import Target
from odoo_ops.adapters.compose import load_compose
from odoo_ops.adapters.project import resolve_project
from odoo_ops.adapters.topology import service_settings
from tests.support.fakebin import FakeBin

SERVICES = ["odoo-accounting", "odoo-core", "odoo-marketing"]

COMPOSE = """\
services:
  odoo-accounting:
    image: local/odoo:18
    command: ["-c", "/srv/conf/accounting.conf", "--db_host=db", "-d", "prod"]
    volumes:
      - ./conf:/srv/conf:ro
  odoo-core:
    image: local/odoo:18
    command: --db_host=db -d prod
    environment:
      ODOO_RC: /etc/odoo-core/odoo.conf
    volumes:
      - type: bind
        source: ./core
        target: /etc/odoo-core
  odoo-marketing:
    image: local/odoo:18
    command: ["--db_host=db", "-d", "prod"]
    volumes:
      - ./marketing.conf:/etc/odoo/odoo.conf:ro
  db:
    image: postgres:15
"""

SAME = """\
[options]
addons_path = /opt/odoo/addons,/mnt/extra-addons
server_wide_modules = base,web,queue_job
dbfilter = ^prod$
db_maxconn = 8
workers = 2
max_cron_threads = {crons}
"""


def _conf(path: Path, crons: int = 0, **changes: str) -> None:
    text = SAME.format(crons=crons)
    for key, value in changes.items():
        lines = [ln for ln in text.splitlines() if not ln.startswith(key + " ")]
        text = "\n".join([*lines, f"{key} = {value}"]) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path, fake_bin: FakeBin, odoo_db: Any) -> Path:
    db = odoo_db()
    root = tmp_path / "proj"
    root.mkdir()
    (root / "docker-compose.yml").write_text(COMPOSE, encoding="utf-8")
    _conf(root / "conf" / "accounting.conf")
    _conf(root / "core" / "odoo.conf", crons=2)
    _conf(root / "marketing.conf")
    # the deployment's odoo.conf says something else: it must not be the one read
    (root / "odoo.conf").write_text(
        "[options]\naddons_path = /elsewhere\nmax_cron_threads = 5\ndb_maxconn = 900\n"
        "workers = 9\ndbfilter = .*\n",
        encoding="utf-8",
    )
    (root / "odoo-ops.toml").write_text(
        f"""default_deployment = "prod"
[deployments.prod]
runner = "compose"
series = "18.0"
dsn = "{db.dsn}"
odoo_conf = "odoo.conf"
odoo_services = {SERVICES!r}
cron_services = ["odoo-core"]
""".replace("'", '"'),
        encoding="utf-8",
    )
    fake_bin.set_compose_ps([], fmt="lines")
    return root


def _checks(root: Path) -> dict[str, Any]:
    from odoo_ops.checks import all_checks
    from odoo_ops.checks.context import CheckContext
    from odoo_ops.checks.run import run_checks

    t = Target(resolve_project(root, deployment="prod"))
    wanted = [
        c
        for c in all_checks().values()
        if c.id.startswith("topology-") and c.id not in ("topology-same-image",)
    ]
    return {r.id: r for r in run_checks(CheckContext(t), wanted).results}


def test_each_service_names_its_file(project: Path) -> None:
    compose = load_compose(project / "docker-compose.yml")
    found = {n: service_settings(compose.services[n]) for n in SERVICES}
    assert found["odoo-accounting"].conf_in_container == "/srv/conf/accounting.conf"
    assert found["odoo-accounting"].conf_path == project / "conf" / "accounting.conf"
    assert found["odoo-core"].conf_in_container == "/etc/odoo-core/odoo.conf"  # ODOO_RC
    assert found["odoo-core"].conf_path == project / "core" / "odoo.conf"
    assert found["odoo-marketing"].conf_in_container == "/etc/odoo/odoo.conf"  # image's default
    assert found["odoo-marketing"].conf_path == project / "marketing.conf"
    assert "config" not in found["odoo-accounting"].options


def test_checks_read_each_services_own_file(project: Path) -> None:
    results = _checks(project)
    for cid in ("topology-addons-path", "topology-server-wide", "topology-dbfilter"):
        assert results[cid].status == "pass", (cid, results[cid].message)
    addons = results["topology-addons-path"]
    assert any(
        "odoo-core: addons path /opt/odoo/addons,/mnt/extra-addons (core/odoo.conf)" in e
        for e in addons.evidence
    ), addons.evidence
    assert not any("/elsewhere" in e for e in addons.evidence)
    cron = results["topology-cron-runners"]
    assert cron.status == "pass" and "odoo-core" in cron.message
    conn = results["topology-connections"]
    # 3 services x db_maxconn 8 x 2 workers, not the deployment file's 900 x 9
    assert conn.status == "pass" and "at most 48 connections" in conn.message, conn.message


def test_a_different_file_is_flagged(project: Path) -> None:
    _conf(
        project / "marketing.conf",
        crons=1,
        addons_path="/opt/odoo/addons",
        server_wide_modules="base,web",
        dbfilter="^.*$",
        db_maxconn="64",
        workers="40",
    )
    results = _checks(project)
    addons = results["topology-addons-path"]
    assert addons.status == "fail"
    assert any(
        "odoo-marketing: addons path /opt/odoo/addons (marketing.conf)" in e
        for e in addons.evidence
    )
    assert results["topology-server-wide"].status == "fail"
    assert results["topology-dbfilter"].status == "fail"
    cron = results["topology-cron-runners"]
    assert cron.status == "fail" and "odoo-marketing" in cron.message
    assert "odoo-accounting" not in cron.message
    conn = results["topology-connections"]
    # 8 x 2 + 8 x 2 + 64 x 40 = 2592 > PostgreSQL's max_connections
    assert conn.status == "fail" and "2592 connections" in conn.message, conn.message


def test_command_line_wins_over_the_services_file(project: Path) -> None:
    text = (project / "docker-compose.yml").read_text()
    (project / "docker-compose.yml").write_text(
        text.replace(
            '"-d", "prod"]\n    volumes:\n      - ./marketing',
            '"-d", "prod", "--max-cron-threads=0", "--dbfilter=^x$"]\n'
            "    volumes:\n      - ./marketing",
        )
    )
    _conf(project / "marketing.conf", crons=3)
    results = _checks(project)
    assert results["topology-cron-runners"].status == "pass"
    dbf = results["topology-dbfilter"]
    assert dbf.status == "fail"
    assert any("odoo-marketing: dbfilter ^x$ (command line)" in e for e in dbf.evidence)


def test_unreadable_own_file_fails_with_one_line(project: Path) -> None:
    (project / "core" / "odoo.conf").write_text("no section here\n", encoding="utf-8")
    results = _checks(project)
    for cid in ("topology-addons-path", "topology-cron-runners", "topology-connections"):
        r = results[cid]
        assert r.status == "fail", (cid, r.status, r.message)
        assert "odoo-core: its odoo.conf core/odoo.conf" in r.message
        assert "\n" not in r.message
    (project / "core" / "odoo.conf").unlink()
    assert "not found" in _checks(project)["topology-dbfilter"].message


def test_file_not_on_this_host_falls_back_and_says_so(project: Path) -> None:
    text = (project / "docker-compose.yml").read_text()
    (project / "docker-compose.yml").write_text(
        text.replace("      - ./marketing.conf:/etc/odoo/odoo.conf:ro\n", "").replace(
            '["--db_host=db", "-d", "prod"]', '["-c", "/baked/odoo.conf", "--db_host=db"]'
        )
    )
    results = _checks(project)
    addons = results["topology-addons-path"]
    assert addons.status == "fail"  # the deployment's /elsewhere is the best guess
    assert any(
        "odoo-marketing: addons path /elsewhere (odoo.conf (/baked/odoo.conf not on this host))"
        in e
        for e in addons.evidence
    ), addons.evidence
