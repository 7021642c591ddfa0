"""``odoo-ops check --only proxy`` through a real nginx in front of a real Odoo 18.

The nginx site is the one ``odoo-ops init`` generates (TLS with a self-signed
certificate the CLI is told to trust through ``SSL_CERT_FILE``), served from a
prefix in ``tmp_path`` by an nginx run as a child (``daemon off``) and stopped
by its pid.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from odoo_ops.generate import InitOptions, apply_plan, plan_project
from tests.real.conftest import RealProject, drop_project, free_port
from tests.support import pg

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
OPENSSL = shutil.which("openssl")

# CI installs both (.ci/setup.d/10-debian-tools.sh): there a missing one fails the tests
pytestmark = pytest.mark.skipif(
    (NGINX is None or OPENSSL is None) and os.environ.get("CI") != "true",
    reason="nginx and openssl are needed (Debian packages `nginx`, `openssl`; CI installs them)",
)

PROXY_CHECKS = {
    "proxy-https", "proxy-certificate", "proxy-hsts", "proxy-content-type-options",
    "proxy-frame-options", "proxy-referrer-policy", "proxy-csp", "proxy-server-header",
    "proxy-database-manager-blocked", "proxy-health",
}  # fmt: skip


@dataclass
class Nginx:
    """A real nginx serving ``site`` from ``prefix`` (a child, stopped by pid)."""

    prefix: Path
    site: Path
    ports: tuple[int, int]
    proc: subprocess.Popen[bytes] | None = None

    def main_conf(self) -> Path:
        (self.prefix / "logs").mkdir(parents=True, exist_ok=True)
        conf = self.prefix / "nginx.conf"
        # as root, workers run as nobody, who cannot enter pytest's 0700 directories
        user = "user root root;\n" if os.geteuid() == 0 else ""
        temp = "".join(
            f"  {kind}_temp_path {self.prefix}/{kind};\n"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        conf.write_text(
            user + f"pid {self.prefix}/nginx.pid;\n"
            f"error_log {self.prefix}/logs/error.log warn;\n"
            "events { worker_connections 256; }\n"
            "http {\n"
            f"  access_log {self.prefix}/logs/access.log;\n"
            + temp
            + "  types { text/html html; application/json json; text/css css;"
            " application/javascript js; }\n"
            f"  include {self.site};\n"
            "}\n"
        )
        return conf

    def start(self) -> None:
        assert NGINX and (self.proc is None or self.proc.poll() is not None)
        conf = self.main_conf()
        test = subprocess.run(
            [NGINX, "-t", "-p", str(self.prefix), "-c", str(conf)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert test.returncode == 0, test.stderr
        self.proc = subprocess.Popen(
            [NGINX, "-p", str(self.prefix), "-c", str(conf), "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        for port in self.ports:
            while True:
                assert self.proc.poll() is None, self.error_log()
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    assert time.monotonic() < deadline, f"nginx not on {port}: {self.error_log()}"
                    time.sleep(0.05)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # nginx: fast shutdown (master stops its workers)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def error_log(self) -> str:
        log = self.prefix / "logs" / "error.log"
        return log.read_text(errors="replace")[-2000:] if log.exists() else "(no error log)"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    assert OPENSSL
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "90", "-subj", "/CN=erp.example.com",
         "-addext", "subjectAltName=DNS:erp.example.com,DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@dataclass
class Proxied:
    project: RealProject
    nginx: Nginx
    cert: Path

    def check(self, *flags: str) -> dict[str, dict[str, object]]:
        proc = self.project.cli(
            "check",
            "--only",
            "proxy",
            "--format",
            "json",
            *flags,
            env={"SSL_CERT_FILE": str(self.cert)},
        )
        assert "Traceback" not in proc.stderr, proc.stderr
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr
        found = {r["id"]: r for r in json.loads(proc.stdout)["results"]}
        found["__exit__"] = {"status": proc.returncode}
        return found


@pytest.fixture(scope="module")
def proxied(
    real_project_factory: Callable[[Path], RealProject],
    certificate: tuple[Path, Path],
    tmp_path_factory: pytest.TempPathFactory,
    pg_databases: pg.DatabaseManager,
) -> Iterator[Proxied]:
    """The real server, and the site ``odoo-ops init`` writes in front of it."""
    root = tmp_path_factory.mktemp("proxied")
    project = real_project_factory(root / "project")
    cert, key = certificate
    http_port, https_port = free_port(), free_port()
    opts = InitOptions(
        directory=root / "generated", domain="erp.example.com", database=project.database,
        cpus=2, ram_mb=4096, series="18.0", http_port=http_port, https_port=https_port,
        cert_file=str(cert), key_file=str(key), odoo_port=project.port,
        gevent_port=project.port, hash_rounds=1000,
    )  # fmt: skip
    apply_plan(plan_project(opts))
    site = opts.directory / "proxy" / "nginx" / "erp.example.com.conf"
    nginx = Nginx(root / "nginx", site, (http_port, https_port))
    toml = project.root / "odoo-ops.toml"
    text, count = re.subn(
        r"(?m)^base_url = .*$",
        f'base_url = "https://127.0.0.1:{https_port}"\nhttp_url = "http://127.0.0.1:{http_port}/"',
        toml.read_text(),
    )
    assert count == 1
    toml.write_text(text)
    project.start()
    nginx.start()
    try:
        yield Proxied(project, nginx, cert)
    finally:
        nginx.stop()
        drop_project(project, pg_databases)


def test_proxy_checks_pass_through_the_generated_nginx_site(proxied: Proxied) -> None:
    found = proxied.check()
    bad = {
        k: (v["status"], v.get("message"))
        for k, v in found.items()
        if k in PROXY_CHECKS and v["status"] != "pass"
    }
    assert bad == {}, bad
    assert set(found) >= PROXY_CHECKS, sorted(found)
    assert found["__exit__"]["status"] == 0
    # what the real Odoo answered, through nginx
    assert "redirects" in str(found["proxy-https"]["message"])
    assert "PostgreSQL reachable" in str(found["proxy-health"]["message"])
    assert "nosniff" in str(found["proxy-content-type-options"]["message"])
    # requests really reached the real server through nginx
    access = (proxied.nginx.prefix / "logs" / "access.log").read_text()
    assert '"GET /web/health?db_server_status=1 HTTP/1.1" 200' in access, access[-2000:]
    assert '"GET /web/database/manager HTTP/1.1" 404' in access


def test_proxy_checks_fail_when_the_site_loses_a_header_and_the_manager_block(
    proxied: Proxied,
) -> None:
    site = proxied.nginx.site
    original = site.read_text()
    broken = original.replace('    add_header X-Content-Type-Options "nosniff" always;\n', "")
    broken = broken.replace("    location ^~ /web/database {\n        return 404;\n    }\n", "")
    assert broken.count("\n") == original.count("\n") - 4, "the generated site changed shape"
    site.write_text(broken)
    proxied.nginx.stop()
    proxied.nginx.start()
    try:
        found = proxied.check()
        strict = proxied.check("--strict")
    finally:
        site.write_text(original)
        proxied.nginx.stop()
        proxied.nginx.start()
    # both are warning-severity findings: exit 0, and 1 with --strict
    assert found["__exit__"]["status"] == 0
    assert strict["__exit__"]["status"] == 1
    assert found["proxy-content-type-options"]["status"] == "warn", found
    assert "missing" in str(found["proxy-content-type-options"]["message"])
    # the real Odoo (list_db = False) answers /web/database/* itself once nginx lets it through
    manager = found["proxy-database-manager-blocked"]
    assert manager["status"] == "warn", manager
    assert "'disabled' page answers" in str(manager["message"])
    assert "/web/database/manager, /web/database/selector" in str(manager["message"])
    # the rest of the site is unchanged
    for check_id in ("proxy-hsts", "proxy-frame-options", "proxy-health", "proxy-https"):
        assert found[check_id]["status"] == "pass", found[check_id]


def test_proxy_health_fails_when_nginx_cannot_reach_the_real_server(proxied: Proxied) -> None:
    # last in the module: the server is not started again
    proxied.project.stop()
    found = proxied.check()
    assert found["__exit__"]["status"] == 1
    health = found["proxy-health"]
    assert health["status"] == "fail", health
    assert "HTTP 502: the proxy cannot reach Odoo" in str(health["message"])
