"""Helpers of the generate integration tests: a self-signed certificate, free
ports, and the generated nginx site served from a temporary prefix."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
CADDY = shutil.which("caddy")
OPENSSL = shutil.which("openssl")

needs_nginx = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (Debian package `nginx`; CI installs it)"
)
needs_caddy = pytest.mark.skipif(
    CADDY is None, reason="caddy is not installed (Debian package `caddy`; CI installs it)"
)
needs_openssl = pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cert:
    cert: Path
    key: Path


@pytest.fixture(scope="session")
def self_signed_cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    if OPENSSL is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(
        [OPENSSL, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "90", "-subj", "/CN=erp.example.com",
         "-addext", "subjectAltName=DNS:erp.example.com,DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return Cert(cert, key)


def nginx_main_conf(prefix: Path, site: Path) -> Path:
    """A main nginx.conf that includes the generated site, everything under ``prefix``."""
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    # as root, nginx workers run as `nobody`, who cannot enter pytest's 0700
    # temporary directories: in production the project directory must be
    # readable by nginx's user (www-data) for the maintenance flag and page
    user = "user root root;\n" if os.geteuid() == 0 else ""
    conf.write_text(
        user + f"pid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/logs/error.log warn;\n"
        "events { worker_connections 256; }\n"
        "http {\n"
        f"  access_log {prefix}/logs/access.log;\n"
        f"  client_body_temp_path {prefix}/client_body;\n"
        f"  proxy_temp_path {prefix}/proxy;\n"
        f"  fastcgi_temp_path {prefix}/fastcgi;\n"
        f"  uwsgi_temp_path {prefix}/uwsgi;\n"
        f"  scgi_temp_path {prefix}/scgi;\n"
        "  types { text/html html; application/json json; }\n"
        f"  include {site};\n"
        "}\n"
    )
    return conf


def nginx_test(prefix: Path, conf: Path) -> subprocess.CompletedProcess[str]:
    assert NGINX
    return subprocess.run(
        [NGINX, "-t", "-p", str(prefix), "-c", str(conf)], capture_output=True, text=True
    )


@dataclass
class RunningNginx:
    prefix: Path
    http_port: int
    https_port: int


@pytest.fixture
def nginx_runner() -> Iterator[object]:
    """Start the real nginx on a prefix (``start(prefix, conf, ports)``); stopped after the test."""
    started: list[tuple[Path, Path]] = []

    def start(prefix: Path, conf: Path, ports: tuple[int, ...]) -> None:
        assert NGINX
        subprocess.run([NGINX, "-p", str(prefix), "-c", str(conf)], check=True, capture_output=True)
        started.append((prefix, conf))
        deadline = time.monotonic() + 10
        for port in ports:
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"nginx did not listen on {port}") from None
                    time.sleep(0.05)

    yield start
    for prefix, conf in started:
        assert NGINX
        subprocess.run([NGINX, "-p", str(prefix), "-c", str(conf), "-s", "stop"],
                       capture_output=True)  # fmt: skip
        pid = prefix / "nginx.pid"
        deadline = time.monotonic() + 5
        while pid.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
