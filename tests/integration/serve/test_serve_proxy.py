"""``odoo-ops serve`` published under /odoo-ops/ by real nginx and real Caddy, behind basic auth.

The proxy configuration is what ``serve --print-proxy nginx|caddy`` prints;
the password hash is a real bcrypt one (``caddy hash-password``), the same
htpasswd line serving both proxies.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.generate.conftest import CADDY, NGINX, free_port, needs_caddy, needs_nginx
from tests.support.status_records import write_health

PASSWORD = "s3cret-pw-for-the-test"
pytestmark = [needs_caddy]  # caddy makes the bcrypt hash both proxies check


def odoo_ops(*args: str, cwd: Path) -> list[str]:
    exe = shutil.which("odoo-ops")
    return [*([exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]), *args]


def wait_port(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, int, Path]]:
    root = tmp_path_factory.mktemp("proxy") / "proj"
    root.mkdir()
    (root / "odoo-ops.toml").write_text('[deployments.prod]\nbackup_dir = "backups"\n')
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    write_health(root, "prod", [(now - dt.timedelta(minutes=5), True, 42.0)])
    assert CADDY is not None
    made = subprocess.run([CADDY, "hash-password", "--plaintext", PASSWORD], check=True,
                          capture_output=True, text=True)  # fmt: skip
    hashed = made.stdout.strip().splitlines()[-1]
    htpasswd = root / "odoo-ops.htpasswd"
    htpasswd.write_text(f"ops:{hashed}\n")
    port = free_port()
    serve = subprocess.Popen(odoo_ops("serve", "--bind", f"127.0.0.1:{port}", "--root-path",
                                      "/odoo-ops", cwd=root), cwd=root,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        wait_port(port, serve)
        yield root, port, htpasswd
    finally:
        serve.send_signal(signal.SIGINT)
        serve.wait(timeout=15)


def printed(root: Path, kind: str, port: int, htpasswd: Path) -> str:
    proc = subprocess.run(odoo_ops("serve", "--bind", f"127.0.0.1:{port}", "--print-proxy", kind,
                                   "--htpasswd", str(htpasswd), cwd=root),
                          cwd=root, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def check_published(base: str) -> None:
    with httpx.Client(base_url=base, timeout=20) as client:
        assert client.get("/odoo-ops/").status_code == 401
        assert client.get("/odoo-ops/", auth=("ops", "wrong")).status_code == 401
        page = client.get("/odoo-ops/", auth=("ops", PASSWORD))
        assert page.status_code == 200, page.text
        assert 'href="/odoo-ops/d/prod/health"' in page.text
        assert 'href="/odoo-ops/static/style.css"' in page.text
        health = client.get("/odoo-ops/d/prod/health", auth=("ops", PASSWORD))
        assert health.status_code == 200 and 'data-value="42"' in health.text
        css = client.get("/odoo-ops/static/style.css", auth=("ops", PASSWORD))
        assert css.status_code == 200 and "text/css" in css.headers["content-type"]
        bare = client.get("/odoo-ops", auth=("ops", PASSWORD))
        assert bare.status_code in (301, 302, 308) and bare.headers["location"].endswith(
            "/odoo-ops/")


@needs_nginx
def test_nginx_publishes_behind_basic_auth(project: tuple[Path, int, Path], tmp_path: Path) -> None:
    root, port, htpasswd = project
    location = printed(root, "nginx", port, htpasswd)
    assert f"auth_basic_user_file {htpasswd.resolve()};" in location
    listen = free_port()
    prefix = tmp_path / "nginx"
    (prefix / "logs").mkdir(parents=True)
    user = "user root root;\n" if os.geteuid() == 0 else ""
    conf = prefix / "nginx.conf"
    conf.write_text(
        f"{user}pid {prefix}/nginx.pid;\nerror_log {prefix}/logs/error.log warn;\n"
        "events { worker_connections 64; }\nhttp {\n"
        f"  access_log off;\n  client_body_temp_path {prefix}/cb;\n  proxy_temp_path {prefix}/p;\n"
        f"  server {{\n    listen 127.0.0.1:{listen};\n{location}  }}\n}}\n"
    )
    assert NGINX is not None
    tested = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(prefix)],
                            capture_output=True, text=True)  # fmt: skip
    assert tested.returncode == 0, tested.stderr
    proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(prefix), "-g", "daemon off;"],
                            stderr=subprocess.PIPE)  # fmt: skip
    try:
        wait_port(listen, proc)
        check_published(f"http://127.0.0.1:{listen}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_caddy_publishes_behind_basic_auth(project: tuple[Path, int, Path], tmp_path: Path) -> None:
    root, port, htpasswd = project
    block = printed(root, "caddy", port, htpasswd)
    listen = free_port()
    caddyfile = tmp_path / "Caddyfile"
    indented = "\n".join("\t\t" + line if line else "" for line in block.splitlines())
    caddyfile.write_text(
        "{\n\tadmin off\n\tauto_https off\n\tstorage file_system " + str(tmp_path / "data")
        + "\n}\n" + f"http://127.0.0.1:{listen} {{\n\troute {{\n{indented}\n\t}}\n}}\n"
    )
    assert CADDY is not None
    env = {**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    valid = subprocess.run([CADDY, "validate", "--config", str(caddyfile), "--adapter",
                            "caddyfile"], capture_output=True, text=True, env=env)  # fmt: skip
    assert valid.returncode == 0, valid.stderr
    proc = subprocess.Popen([CADDY, "run", "--config", str(caddyfile), "--adapter", "caddyfile"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)  # fmt: skip
    try:
        wait_port(listen, proc)
        check_published(f"http://127.0.0.1:{listen}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_print_proxy_refuses_what_it_cannot_use(project: tuple[Path, int, Path]) -> None:
    root = project[0]
    bad = root / "bad.htpasswd"
    bad.write_text("ops:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n")
    for args, message in (
        (["--print-proxy", "caddy", "--htpasswd", str(bad)], "must be bcrypt"),
        (["--print-proxy", "nginx"], "needs --htpasswd"),
        (["--print-proxy", "nginx", "--htpasswd", "/dev/zero"], "not a regular file"),
        (["--print-proxy", "nginx", "--htpasswd", str(bad), "--root-path", "x y"],
         "not a path like /odoo-ops"),
    ):
        proc = subprocess.run(odoo_ops("serve", *args, cwd=root), cwd=root, capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert proc.returncode == 2 and message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
