"""The generated nginx site: real `nginx -t`, then served on 127.0.0.1 in
front of a stub Odoo, with odoo-ops' own proxy checks run against it."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from odoo_ops.adapters import Target
from odoo_ops.adapters.project import resolve_project
from odoo_ops.checks import all_checks
from odoo_ops.checks.context import CheckContext
from odoo_ops.checks.run import run_checks
from odoo_ops.generate import InitOptions, apply_plan, plan_project
from tests.integration.generate.conftest import (
    Cert,
    free_port,
    needs_nginx,
    needs_openssl,
    nginx_main_conf,
    nginx_test,
)
from tests.support.web import FakeOdooWeb

pytestmark = [needs_nginx, needs_openssl]
_EXE = shutil.which("odoo-ops")
ODOO_OPS = [_EXE] if _EXE else [sys.executable, "-m", "odoo_ops.cli.main"]


def trust() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=os.environ["SSL_CERT_FILE"])


def generate(
    tmp_path: Path, cert: Cert, odoo_port: int, series: str = "18.0"
) -> tuple[Path, InitOptions]:
    opts = InitOptions(
        directory=tmp_path / "project", domain="erp.example.com", database="odoo_prod",
        cpus=2, ram_mb=8192, series=series, http_port=free_port(), https_port=free_port(),
        cert_file=str(cert.cert), key_file=str(cert.key), odoo_port=odoo_port,
        gevent_port=odoo_port, hash_rounds=1000,
    )  # fmt: skip
    apply_plan(plan_project(opts))
    return opts.directory / "proxy/nginx/erp.example.com.conf", opts


@pytest.mark.parametrize("series", ["16.0", "17.0", "18.0", "19.0"])
def test_nginx_t_accepts_the_site(tmp_path: Path, self_signed_cert: Cert, series: str) -> None:
    site, _ = generate(tmp_path, self_signed_cert, 8069, series)
    prefix = tmp_path / "nginx"
    result = nginx_test(prefix, nginx_main_conf(prefix, site))
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_nginx_t_catches_a_broken_site(tmp_path: Path, self_signed_cert: Cert) -> None:
    site, _ = generate(tmp_path, self_signed_cert, 8069)
    site.write_text(site.read_text().replace("proxy_pass", "proxy_passs", 1))
    prefix = tmp_path / "nginx"
    result = nginx_test(prefix, nginx_main_conf(prefix, site))
    assert result.returncode != 0


@pytest.fixture
def served(
    tmp_path: Path,
    self_signed_cert: Cert,
    odoo_web: FakeOdooWeb,
    nginx_runner: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[InitOptions, str]:
    site, opts = generate(tmp_path, self_signed_cert, odoo_web.port)
    prefix = tmp_path / "nginx"
    conf = nginx_main_conf(prefix, site)
    nginx_runner(prefix, conf, (opts.http_port, opts.https_port))
    # trust the self-signed certificate (httpx and ssl's default context read it)
    monkeypatch.setenv("SSL_CERT_FILE", str(self_signed_cert.cert))
    return opts, f"https://127.0.0.1:{opts.https_port}"


def test_proxy_checks_pass_through_the_generated_site(served: tuple[InitOptions, str]) -> None:
    opts, base = served
    # the generated odoo-ops.toml, pointed at where the test serves the site
    project = resolve_project(opts.directory, environ={})
    project.deployment.base_url = base
    project.deployment.http_url = f"http://127.0.0.1:{opts.http_port}/"
    ctx = CheckContext(Target(project))
    checks = [c for c in all_checks().values() if c.area == "proxy"]
    assert len(checks) >= 8
    report = run_checks(ctx, checks)
    by_id = {r.id: r for r in report.results}
    bad = {r.id: (r.status.value, r.message) for r in report.results if r.status.value != "pass"}
    assert bad == {}, bad
    assert "redirects" in by_id["proxy-https"].message


def test_security_headers_and_routes(
    served: tuple[InitOptions, str], odoo_web: FakeOdooWeb
) -> None:
    _, base = served
    with httpx.Client(base_url=base, verify=trust()) as c:
        login = c.get("/web/login")
        assert login.status_code == 200
        h = login.headers
        assert h["strict-transport-security"].startswith("max-age=31536000")
        assert h.get_list("x-frame-options") == ["SAMEORIGIN"]
        assert "frame-ancestors 'self'" in h["content-security-policy"]
        assert h["server"] == "nginx"
        assert c.get("/web/database/manager").status_code == 404
        assert c.get("/web/database/selector").status_code == 404
        odoo_web.set(
            status={"/web/static/img/logo.png": 200, "/web/assets/1/web.assets_web.min.js": 200}
        )
        static = c.get("/web/static/img/logo.png")
        assert "max-age=604800" in static.headers.get("cache-control", "")
        assets = c.get("/web/assets/1/web.assets_web.min.js")
        assert "max-age=31536000" in assets.headers.get("cache-control", "")
        ws = c.get("/websocket", headers={"Connection": "Upgrade", "Upgrade": "websocket",
                                          "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                                          "Sec-WebSocket-Version": "13"})  # fmt: skip
        assert ws.status_code == 101
        forwarded = [r for r in odoo_web.requests if r.path == "/web/login"]
        assert forwarded and forwarded[-1].headers.get("X-Forwarded-Proto") == "https"
        big = c.get("/web/health", headers={"Accept-Encoding": "gzip"})
        assert big.status_code == 200


def test_login_rate_limit(served: tuple[InitOptions, str]) -> None:
    _, base = served
    with httpx.Client(base_url=base, verify=trust()) as c:
        codes = [c.get("/web/login").status_code for _ in range(12)]
    assert codes[0] == 200
    assert 429 in codes  # burst 5 + 10/min: the 7th quick request is refused


def test_maintenance_switch(served: tuple[InitOptions, str]) -> None:
    opts, base = served
    flag = opts.directory / ".odoo-ops/maintenance/production.flag"
    with httpx.Client(base_url=base, verify=trust()) as c:
        assert c.get("/web/health").status_code == 200
        flag.write_text("on\n")
        answer = c.get("/odoo/action-contacts")
        assert answer.status_code == 503
        assert "under maintenance" in answer.text
        assert answer.headers["retry-after"] == "300"
        assert c.get("/web/login").status_code == 503
        assert c.get("/web/health").status_code == 503
        flag.unlink()
        time.sleep(0.01)
        assert c.get("/web/health").status_code == 200


def test_status_pages_behind_basic_auth_in_the_generated_site(
    tmp_path: Path,
    self_signed_cert: Cert,
    nginx_runner: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The site init writes publishes the real `odoo-ops serve` (run as its unit runs it)."""
    opts = InitOptions(
        directory=tmp_path / "project", domain="erp.example.com", database="odoo_prod",
        cpus=2, ram_mb=8192, http_port=free_port(), https_port=free_port(),
        cert_file=str(self_signed_cert.cert), key_file=str(self_signed_cert.key),
        serve_port=free_port(), hash_rounds=1000,
    )  # fmt: skip
    result = apply_plan(plan_project(opts))
    password = result.serve_password
    assert password
    root = opts.directory
    token = (root / ".odoo-ops/serve/token").read_text().strip()
    site = root / "proxy/nginx/erp.example.com.conf"
    assert token not in site.read_text() and password not in site.read_text()
    # the ExecStart of the generated unit, with this venv's odoo-ops
    unit = (root / "deploy/systemd/odoo-ops-production-serve.service").read_text()
    exec_start = re.search(r"^ExecStart=\S+ (.*)$", unit, re.M)
    assert exec_start
    argv = [*ODOO_OPS, *shlex.split(exec_start.group(1))]
    serve = subprocess.Popen(argv, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert serve.poll() is None, serve.stderr.read() if serve.stderr else b""
            try:
                socket.create_connection(("127.0.0.1", opts.serve_port), timeout=0.5).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "serve did not listen"
                time.sleep(0.1)
        # serve itself wants its token
        direct = httpx.get(f"http://127.0.0.1:{opts.serve_port}/", timeout=20)
        assert direct.status_code == 401
        prefix = tmp_path / "nginx"
        nginx_runner(prefix, nginx_main_conf(prefix, site), (opts.http_port, opts.https_port))
        monkeypatch.setenv("SSL_CERT_FILE", str(self_signed_cert.cert))
        base = f"https://127.0.0.1:{opts.https_port}"
        with httpx.Client(base_url=base, verify=trust(), timeout=20) as c:
            assert c.get("/odoo-ops/").status_code == 401
            assert c.get("/odoo-ops/", auth=("ops", "wrong")).status_code == 401
            page = c.get("/odoo-ops/", auth=("ops", password))
            assert page.status_code == 200, page.text
            assert 'href="/odoo-ops/static/style.css"' in page.text
            assert token not in page.text
            css = c.get("/odoo-ops/static/style.css", auth=("ops", password))
            assert css.status_code == 200
            # the visitor's credentials never reach serve: a wrong bearer stays at nginx
            bearer = c.get("/odoo-ops/", headers={"Authorization": f"Bearer {token}"})
            assert bearer.status_code == 401
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=15)
