"""topology-websocket with a Caddyfile: which Odoo service gets /websocket.

Every Caddyfile here is checked by the real ``caddy validate``, and the
route odoo-ops reads for ``/websocket`` is compared with the one Caddy itself
builds (``caddy adapt`` to JSON, its routes walked in Caddy's order): the
reader must agree with Caddy, not only with itself. The Caddyfile of
``odoo-ops init --proxy caddy`` is one of them.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from odoo_ops.adapters import Target
from odoo_ops.adapters.caddyfile import host_port, route_for
from odoo_ops.adapters.project import resolve_project
from tests.support.fakebin import FakeBin

CADDY = shutil.which("caddy")
needs_caddy = pytest.mark.skipif(
    CADDY is None, reason="caddy is not installed (Debian package `caddy`; CI installs it)"
)

COMPOSE = """\
services:
  odoo-accounting:
    image: local/odoo:18
    command: ["--max-cron-threads=0", "--db_host=db", "-d", "prod"]
  odoo-core:
    image: local/odoo:18
    command: ["--db_host=db", "-d", "prod", "--workers=2", "--max-cron-threads=1"]
    ports:
      - "127.0.0.1:8069:8069"
      - target: 8072
        published: 8072
        host_ip: 127.0.0.1
  odoo-marketing:
    image: local/odoo:18
    command: ["--max-cron-threads=0", "--db_host=db", "-d", "prod"]
  db:
    image: postgres:15
  redis:
    image: redis:7
"""

#: name -> (Caddyfile, expected status, a word of the message)
CADDYFILES: dict[str, tuple[str, str, str]] = {
    "handle-block": (
        """\
http://erp.example.com {
\t# live updates on the gevent port of the service that runs workers
\thandle /websocket* {
\t\treverse_proxy odoo-core:8072
\t}
\thandle {
\t\treverse_proxy odoo-core:8069 odoo-accounting:8069
\t}
}
""",
        "pass",
        "odoo-core",
    ),
    "only-catch-all": (
        """\
http://erp.example.com {
\treverse_proxy odoo-core:8069
}
""",
        "fail",
        "serves websockets on port 8072",
    ),
    "named-matcher-to-redis": (
        """\
http://erp.example.com {
\t@ws {
\t\tpath /websocket /websocket/*
\t}
\treverse_proxy @ws http://redis:6379
\treverse_proxy odoo-core:8069
}
""",
        "fail",
        "not one of the Odoo services",
    ),
    "inline-matcher-and-to": (
        """\
{
\tadmin off
}

http://erp.example.com {
\treverse_proxy odoo-accounting:8069
\treverse_proxy /websocket* {
\t\tto odoo-accounting:8069
\t\tlb_policy first
\t}
}
""",
        "pass",
        "odoo-accounting",
    ),
    "route-order-and-regexp": (
        """\
http://erp.example.com {
\troute {
\t\t@rt path_regexp rt ^/(websocket|longpolling)
\t\treverse_proxy @rt odoo-marketing:8072
\t\treverse_proxy odoo-core:8069
\t}
}
""",
        "fail",
        "odoo-marketing:8072 but odoo-marketing serves websockets on port 8069",
    ),
    "route-keeps-written-order": (
        """\
http://erp.example.com {
\troute {
\t\treverse_proxy odoo-core:8069
\t\treverse_proxy /websocket* odoo-core:8072
\t}
}
""",
        "fail",
        "odoo-core:8069 but odoo-core serves websockets on port 8072",
    ),
    "handles-sorted-by-path": (
        """\
http://erp.example.com {
\thandle {
\t\treverse_proxy odoo-core:8069
\t}
\thandle /websocket* {
\t\treverse_proxy odoo-core:8072
\t}
}
""",
        "pass",
        "odoo-core",
    ),
    "respond-comes-first": (
        """\
http://erp.example.com {
\treverse_proxy odoo-core:8072
\trespond /websocket 403
}
""",
        "fail",
        "routes /websocket to no Odoo service",
    ),
    "upgrade-header-matcher": (
        """\
http://erp.example.com {
\t@upgrade {
\t\theader Connection *Upgrade*
\t\theader Upgrade websocket
\t}
\t@api header X-Api-Key *
\treverse_proxy @api odoo-accounting:8069
\treverse_proxy @upgrade odoo-core:8072
\treverse_proxy odoo-core:8069
}
""",
        "pass",
        "odoo-core",
    ),
    "no-route-for-it": (
        """\
http://erp.example.com {
\treverse_proxy /web/* odoo-core:8069
\trespond "hello"
}
""",
        "fail",
        "routes /websocket to no Odoo service",
    ),
}


# -- what Caddy itself does with the file ----------------------------------------


def _adapt(path: Path) -> dict[str, Any]:
    assert CADDY
    result = subprocess.run(
        [CADDY, "adapt", "--config", str(path), "--adapter", "caddyfile"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-1500:]
    return dict(json.loads(result.stdout))


def _matches(match: list[dict[str, Any]] | None, path: str) -> bool:
    if not match:
        return True
    for matcher_set in match:  # OR of sets, AND inside one
        ok = True
        for kind, value in matcher_set.items():
            if kind == "path":
                ok = ok and any(fnmatch.fnmatchcase(path, p) for p in value)
            elif kind == "path_regexp":
                ok = ok and re.search(value["pattern"], path) is not None
            elif kind == "file":
                ok = False  # the maintenance flag file does not exist
            elif kind == "header":  # a websocket request has Upgrade/Connection only
                ok = ok and all(h.lower() in ("upgrade", "connection") for h in value)
        if ok:
            return True
    return False


def _caddy_dials(routes: list[dict[str, Any]], path: str) -> list[str] | None:
    """The upstreams Caddy's own JSON routes send ``path`` to (None: none)."""
    for route in routes:
        if not _matches(route.get("match"), path):
            continue
        for handler in route.get("handle", []):
            if handler["handler"] == "reverse_proxy":
                return [u["dial"] for u in handler.get("upstreams", [])]
            if handler["handler"] == "subroute":
                found = _caddy_dials(handler.get("routes", []), path)
                if found is not None:
                    return found
            if handler["handler"] == "static_response":
                return None
        if route.get("terminal"):
            return None
    return None


def caddy_says(path: Path) -> list[str] | None:
    config = _adapt(path)
    servers = config["apps"]["http"]["servers"]
    for server in servers.values():
        found = _caddy_dials(server.get("routes", []), "/websocket")
        if found is not None:
            return found
    return None


def odoo_ops_says(path: Path) -> list[str] | None:
    routes = route_for(path.read_text(), "/websocket")
    if not routes:
        return None
    return [":".join(host_port(u)) for u in routes[0].upstreams]


# -- the check --------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, fake_bin: FakeBin) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "docker-compose.yml").write_text(COMPOSE, encoding="utf-8")
    (root / "odoo-ops.toml").write_text(
        'default_deployment = "prod"\n[deployments.prod]\nrunner = "compose"\n'
        'series = "18.0"\ndsn = "host=127.0.0.1 dbname=x"\n'
        'odoo_services = ["odoo-accounting", "odoo-core", "odoo-marketing"]\n',
        encoding="utf-8",
    )
    fake_bin.set_compose_ps([], fmt="lines")
    return root


def websocket_check(root: Path) -> Any:
    from odoo_ops.checks import all_checks
    from odoo_ops.checks.context import CheckContext
    from odoo_ops.checks.run import run_checks

    t = Target(resolve_project(root, deployment="prod"))
    report = run_checks(CheckContext(t), [all_checks()["topology-websocket"]])
    return report.results[0]


@needs_caddy
@pytest.mark.parametrize("name", sorted(CADDYFILES))
def test_hand_written_caddyfiles(project: Path, name: str) -> None:
    text, status, word = CADDYFILES[name]
    caddyfile = project / "proxy" / "Caddyfile"
    caddyfile.parent.mkdir()
    caddyfile.write_text(text, encoding="utf-8")
    assert CADDY
    valid = subprocess.run(
        [CADDY, "validate", "--config", str(caddyfile), "--adapter", "caddyfile"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert valid.returncode == 0, valid.stderr[-1500:]
    assert odoo_ops_says(caddyfile) == caddy_says(caddyfile)  # the reader agrees with Caddy
    result = websocket_check(project)
    assert result.status == status, (result.status, result.message, result.evidence)
    assert word in result.message
    if "routes /websocket to no Odoo service" not in result.message:
        assert any("proxy/Caddyfile:" in e for e in result.evidence)


@needs_caddy
@pytest.mark.parametrize("series", ["16.0", "18.0"])
def test_generated_caddyfile(project: Path, tmp_path: Path, series: str) -> None:
    """`odoo-ops init --proxy caddy` proxies /websocket to 127.0.0.1:8072: the port
    odoo-core publishes (its gevent port: it runs workers)."""
    from odoo_ops.generate import InitOptions, apply_plan, plan_project

    opts = InitOptions(
        directory=tmp_path / "gen", domain="erp.example.com", database="prod", proxy="caddy",
        series=series, cpus=2, ram_mb=8192, hash_rounds=1000,
    )  # fmt: skip
    apply_plan(plan_project(opts))
    generated = tmp_path / "gen" / "proxy" / "Caddyfile"
    assert caddy_says(generated) == odoo_ops_says(generated) == ["127.0.0.1:8072"]
    (project / "proxy").mkdir()
    shutil.copy(generated, project / "proxy" / "Caddyfile")
    result = websocket_check(project)
    assert result.status == "pass", (result.message, result.evidence)
    assert "routed to odoo-core" in result.message
    assert "127.0.0.1:8072 is published by odoo-core (its port 8072)" in result.evidence
    # the same file, when odoo-core publishes its HTTP port as 8072: the wrong port
    compose = (project / "docker-compose.yml").read_text()
    (project / "docker-compose.yml").write_text(
        compose.replace("        published: 8072", "        published: 9072").replace(
            '"127.0.0.1:8069:8069"', '"127.0.0.1:8072:8069"'
        )
    )
    result = websocket_check(project)
    assert result.status == "fail" and "odoo-core:8069" in result.message, result.message


def test_nginx_and_caddy_together_and_unknown_hosts(project: Path) -> None:
    (project / "nginx").mkdir()
    (project / "nginx" / "site.conf").write_text(
        "server {\n location /websocket { proxy_pass http://odoo-core:8072; }\n}\n"
    )
    (project / "Caddyfile").write_text(
        "http://erp.example.com {\n\treverse_proxy /websocket odoo-core:8069\n}\n"
    )
    result = websocket_check(project)
    assert result.status == "fail" and "odoo-core:8069" in result.message
    assert any(
        e.startswith("nginx/site.conf: /websocket -> odoo-core:8072") for e in result.evidence
    )
    (project / "nginx" / "site.conf").unlink()
    (project / "Caddyfile").write_text(
        "http://erp.example.com {\n\treverse_proxy /websocket* 10.0.0.7:8072\n}\n"
    )
    result = websocket_check(project)
    assert result.status == "warn" and "no address known here" in result.message
