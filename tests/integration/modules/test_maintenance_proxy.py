"""The maintenance contract with the proxy, checked with a real nginx and a real Caddy:
while the flag exists every request gets 503 and the maintenance page."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from odoo_ops.modules.maintenance import PAGE_NAME, caddy_snippet, nginx_snippet


class _Odoo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"odoo is serving"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Odoo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"proxy exited: {proc.stderr.read() if proc.stderr else ''!r}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("proxy did not start")


def check_contract(port: int, flag: Path) -> None:
    url = f"http://127.0.0.1:{port}/web/login"
    assert not flag.exists()
    ok = httpx.get(url, timeout=5)
    assert ok.status_code == 200 and ok.text == "odoo is serving"
    flag.write_text("{}")
    down = httpx.get(url, timeout=5)
    assert down.status_code == 503
    assert "Down for maintenance" in down.text
    assert down.headers.get("retry-after") == "300"
    assert httpx.get(f"http://127.0.0.1:{port}/web/health", timeout=5).status_code == 503
    flag.unlink()
    assert httpx.get(url, timeout=5).status_code == 200


@pytest.fixture
def flag_dir(tmp_path: Path) -> Path:
    from odoo_ops.modules.maintenance import DEFAULT_PAGE

    directory = tmp_path / "project" / ".odoo-ops" / "maintenance"
    directory.mkdir(parents=True)
    (directory / PAGE_NAME).write_text(DEFAULT_PAGE)
    return directory


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx not installed")
def test_nginx_honours_the_flag(tmp_path: Path, upstream: int, flag_dir: Path) -> None:
    port = free_port()
    flag = flag_dir / "prod.flag"
    snippet = "\n".join("        " + line for line in nginx_snippet(flag).splitlines())
    temp = {n: tmp_path / n for n in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
user root;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {temp['body']};
    proxy_temp_path {temp['proxy']};
    fastcgi_temp_path {temp['fastcgi']};
    uwsgi_temp_path {temp['uwsgi']};
    scgi_temp_path {temp['scgi']};
    server {{
        listen 127.0.0.1:{port};
{snippet}
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
        }}
    }}
}}
""")
    test = subprocess.run(["nginx", "-t", "-c", str(conf), "-p", str(tmp_path)],
                          capture_output=True, text=True)
    assert test.returncode == 0, test.stderr
    proc = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp_path), "-g", "daemon off;"],
                            stderr=subprocess.PIPE)
    try:
        wait_port(port, proc)
        check_contract(port, flag)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy not installed")
def test_caddy_honours_the_flag(tmp_path: Path, upstream: int, flag_dir: Path) -> None:
    port = free_port()
    flag = flag_dir / "prod.flag"
    snippet = "\n".join("    " + line for line in caddy_snippet(flag).splitlines())
    caddyfile = tmp_path / "Caddyfile"
    caddyfile.write_text(f"""{{
    admin off
    auto_https off
}}

http://127.0.0.1:{port} {{
{snippet}
    handle {{
        reverse_proxy 127.0.0.1:{upstream}
    }}
}}
""")
    env = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "config"), "PATH": "/usr/bin:/bin"}
    check = subprocess.run(["caddy", "validate", "--config", str(caddyfile), "--adapter",
                            "caddyfile"], capture_output=True, text=True, env=env)
    assert check.returncode == 0, check.stderr[-2000:]
    proc = subprocess.Popen(["caddy", "run", "--config", str(caddyfile), "--adapter",
                             "caddyfile"], stderr=subprocess.PIPE, env=env)
    try:
        wait_port(port, proc)
        check_contract(port, flag)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
