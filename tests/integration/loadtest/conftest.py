"""A small Odoo-like web server with a real login flow for the load tests."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

LOGIN_PAGE = (
    '<html><body><form method="post" action="/web/login">'
    '<input type="hidden" name="csrf_token" value="{csrf}"/>'
    '<input name="login"/><input type="password" name="password"/></form></body></html>'
)
WEB_PAGE = (
    '<html><head><link type="text/css" rel="stylesheet"'
    ' href="/web/assets/1a2b/web.assets_web.min.css"/>'
    '<script type="text/javascript" src="/web/assets/1a2b/web.assets_web.min.js"></script>'
    "</head><body></body></html>"
)


class OdooLike:
    """Threaded server on 127.0.0.1: /web/login (csrf + credentials), /web, assets, JSON-RPC."""

    def __init__(self, login: str = "admin", password: str = "s3cret-pass", latency: float = 0.0):
        self.login = login
        self.password = password
        self.latency = latency
        self.sessions: set[str] = set()
        self.csrf: set[str] = set()
        self.received_passwords: list[str] = []
        self.paths: list[str] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: bytes, ctype: str = "text/html",
                      headers: dict[str, str] | None = None) -> None:  # fmt: skip
                if server.latency:
                    time.sleep(server.latency)
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def _session(self) -> str | None:
                cookie = self.headers.get("Cookie", "")
                for part in cookie.split(";"):
                    k, _, v = part.strip().partition("=")
                    if k == "session_id" and v in server.sessions:
                        return v
                return None

            def do_GET(self) -> None:
                with server.lock:
                    server.paths.append("GET " + self.path)
                path = self.path.split("?", 1)[0]
                if path == "/web/login":
                    token = secrets.token_hex(8)
                    with server.lock:
                        server.csrf.add(token)
                    self._send(200, LOGIN_PAGE.format(csrf=token).encode())
                elif path == "/web/health":
                    self._send(200, b'{"status": "pass"}', "application/json")
                elif path in ("/web", "/odoo"):
                    if self._session() and path == "/web":
                        self._send(303, b"", headers={"Location": "/odoo"})  # as Odoo 18
                    elif self._session():
                        self._send(200, WEB_PAGE.encode())
                    else:
                        self._send(303, b"", headers={"Location": "/web/login?redirect=%2Fweb"})
                elif path.startswith("/web/assets/"):
                    self._send(200, b"/* bundle */" * 100, "application/javascript")
                else:
                    self._send(404, b"not found")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with server.lock:
                    server.paths.append("POST " + self.path)
                if self.path == "/web/login":
                    form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
                    with server.lock:
                        server.received_passwords.append(form.get("password", ""))
                        csrf_ok = form.get("csrf_token") in server.csrf
                    if (
                        csrf_ok
                        and form.get("login") == server.login
                        and form.get("password") == server.password
                    ):
                        sid = secrets.token_hex(16)
                        with server.lock:
                            server.sessions.add(sid)
                        cookie = f"session_id={sid}; Path=/; HttpOnly"
                        self._send(303, b"", headers={"Location": "/odoo", "Set-Cookie": cookie})
                    else:
                        self._send(200, b"<p class='alert'>Wrong login/password</p>")
                elif self.path == "/web/webclient/version_info":
                    payload = {"jsonrpc": "2.0", "id": 1, "result": {"server_version": "18.0"}}
                    self._send(200, json.dumps(payload).encode(), "application/json")
                else:
                    self._send(404, b"not found")

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def start(self) -> OdooLike:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def odoo_like() -> Iterator[OdooLike]:
    server = OdooLike().start()
    try:
        yield server
    finally:
        server.stop()
