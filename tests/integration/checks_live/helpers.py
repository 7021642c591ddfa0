"""Helpers of the live-check tests (local to this folder).

- ``live``: a project directory with an ``odoo-ops.toml`` written from keyword
  arguments, and ``live.run("db-reachable", ...)`` running checks through the
  real framework (severity mapping, redaction) -> ``{id: CheckResult}``;
- ``tls``: a test CA and server certificates for 127.0.0.1/localhost (valid,
  expiring soon, expired, self-signed), made with ``cryptography``;
- ``header_server``: a real HTTP(S) server on 127.0.0.1 answering per path with
  the status, headers and body a test sets.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from odoo_ops.adapters import Target
from odoo_ops.adapters.project import resolve_project
from odoo_ops.checks import all_checks
from odoo_ops.checks.base import CheckResult
from odoo_ops.checks.context import CheckContext
from odoo_ops.checks.run import run_checks


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def write_config(
    path: Path,
    deployment: dict[str, Any],
    *,
    services: list[dict[str, Any]] | None = None,
    thresholds: dict[str, Any] | None = None,
    name: str = "live",
) -> Path:
    lines = [f'default_deployment = "{name}"', f"[deployments.{name}]"]
    lines += [f"{k} = {toml_value(v)}" for k, v in deployment.items() if v is not None]
    if thresholds:
        lines.append("[thresholds]")
        lines += [f"{k} = {toml_value(v)}" for k, v in thresholds.items()]
    for svc in services or []:
        lines.append("[[services]]")
        lines += [f"{k} = {toml_value(v)}" for k, v in svc.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class LiveProject:
    root: Path
    deployment: dict[str, Any] = field(default_factory=dict)
    services: list[dict[str, Any]] = field(default_factory=list)
    thresholds: dict[str, Any] = field(default_factory=dict)

    def configure(self, **deployment: Any) -> LiveProject:
        """Set deployment keys (``None`` removes one); rewrites odoo-ops.toml."""
        for key, value in deployment.items():
            if value is None:
                self.deployment.pop(key, None)
            else:
                self.deployment[key] = value
        self.write()
        return self

    def write(self) -> None:
        write_config(
            self.root / "odoo-ops.toml",
            self.deployment,
            services=self.services,
            thresholds=self.thresholds,
        )

    def target(self) -> Target:
        self.write()
        return Target(resolve_project(self.root))

    def context(self, *, full: bool = False) -> CheckContext:
        return CheckContext(self.target(), full=full)

    def run(
        self, *ids: str, full: bool = False, ctx: CheckContext | None = None
    ) -> dict[str, CheckResult]:
        checks = all_checks()
        unknown = [i for i in ids if i not in checks]
        assert not unknown, f"unknown check ids {unknown}"
        context = ctx or self.context(full=full)
        report = run_checks(context, [checks[i] for i in ids])
        return {r.id: r for r in report.results}

    def one(self, check_id: str, **kw: Any) -> CheckResult:
        return self.run(check_id, **kw)[check_id]


@pytest.fixture
def live(project_dir: Path) -> LiveProject:
    """A project with ``[deployments.live]`` (runner local, timeouts of 2 s by default)."""
    project = LiveProject(
        project_dir,
        {"runner": "local", "series": "18.0", "connect_timeout": 2, "http_timeout": 2},
    )
    project.write()
    return project


# -- TLS ------------------------------------------------------------------------------


@dataclass
class TlsMaterial:
    ca_file: Path
    certs: dict[str, tuple[Path, Path]]  # name -> (cert, key)


def _key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _pem(obj: Any, path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization

    if hasattr(obj, "public_bytes") and not hasattr(obj, "private_bytes"):
        path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
    else:
        path.write_bytes(
            obj.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return path


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    """A CA (``ca_file``) and leaf certificates for 127.0.0.1 and localhost:

    ``valid`` (1 year), ``soon`` (expires in 5 days), ``expired`` (yesterday),
    ``selfsigned`` (not signed by the CA).
    """
    pytest.importorskip("cryptography")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    root = tmp_path_factory.mktemp("tls")
    now = dt.datetime.now(dt.UTC)
    ca_key = _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "odoo-ops test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=30))
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file = _pem(ca_cert, root / "ca.pem")

    def leaf(name: str, days_from: int, days_to: int, *, self_signed: bool = False) -> None:
        key = _key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if self_signed else ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now + dt.timedelta(days=days_from))
            .not_valid_after(now + dt.timedelta(days=days_to))
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        if not self_signed:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                critical=False,
            )
        cert = builder.sign(key if self_signed else ca_key, hashes.SHA256())
        certs[name] = (_pem(cert, root / f"{name}.pem"), _pem(key, root / f"{name}.key"))

    certs: dict[str, tuple[Path, Path]] = {}
    leaf("valid", -1, 365)
    leaf("soon", -1, 5)
    leaf("expired", -30, -1)
    leaf("selfsigned", -1, 365, self_signed=True)
    return TlsMaterial(ca_file, certs)


@pytest.fixture
def trust_test_ca(tls: TlsMaterial, monkeypatch: pytest.MonkeyPatch) -> TlsMaterial:
    """Make httpx and ssl trust the test CA (SSL_CERT_FILE, as a user would set it)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_file))
    return tls


# -- HTTP(S) servers --------------------------------------------------------------------


@dataclass
class Route:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""


class HeaderServer:
    """A real HTTP(S) server on 127.0.0.1; ``routes[path] = Route(...)``, else ``default``."""

    def __init__(self, cert: tuple[Path, Path] | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.default = Route(200, {}, "ok")
        self.hits: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def version_string(self) -> str:
                return ""

            def _answer(self) -> None:
                server.hits.append(self.path)
                route = server.routes.get(self.path, server.default)
                body = route.body.encode()
                self.send_response_only(route.status)
                for key, value in route.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)

            do_GET = _answer
            do_POST = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.tls = cert is not None
        if cert is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(cert[0]), str(cert[1]))
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def url(self, host: str = "127.0.0.1") -> str:
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def header_server() -> Iterator[Callable[..., HeaderServer]]:
    made: list[HeaderServer] = []

    def factory(cert: tuple[Path, Path] | None = None) -> HeaderServer:
        server = HeaderServer(cert)
        made.append(server)
        return server

    yield factory
    for server in made:
        server.stop()


def closed_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class HangingServer:
    """Accepts TCP connections and never answers (a proxy whose upstream hangs)."""

    def __init__(self) -> None:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(50)
        self.port = int(self.sock.getsockname()[1])
        self.conns: list[Any] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.conns.append(conn)

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=2)
        for conn in self.conns:
            conn.close()
        self.sock.close()


@pytest.fixture
def hanging_server() -> Iterator[HangingServer]:
    server = HangingServer()
    yield server
    server.stop()
