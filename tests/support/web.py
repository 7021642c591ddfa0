"""A real HTTP server on 127.0.0.1 standing in for Odoo's web endpoints.

Answers as the real Odoo 18 server of ``../shared/reference/odoo-18/http``:

=================================  ==================================================
``GET /web/health``                 200 ``{"status": "pass"}`` (JSON, ``no-store``)
``GET /web/health?db_server_status=1``  (17+) ``{"status": "pass", "db_server_status": true}``;
                                    with ``db_server_ok=False``: 500, ``"fail"``/``false``
``GET /web/login``                  200 HTML login form, X-Frame-Options, CSP, session cookie
``GET /web/database/selector``      ``database_manager``: ``"disabled"`` (200, "The database
``GET /web/database/manager``       manager has been disabled by the administrator"),
                                    ``"enabled"`` (200, the manager), ``"blocked404"`` /
                                    ``"blocked403"`` (as a proxy blocking ``/web/database``)
``POST /web/database/list``         JSON-RPC: AccessDenied error (disabled) or the db list
``POST /web/webclient/version_info``  JSON-RPC result (server_version, _info, serie)
``GET /``                           303 -> ``/odoo`` (18+) or ``/web`` (16, 17)
``GET /web``, ``GET /odoo``         303 -> ``/web/login?redirect=...``
``GET /websocket``                  101 with ``Upgrade: websocket`` headers, else 400
=================================  ==================================================

Every answer carries ``Server: Werkzeug/2.2.2 Python/3.11.7`` and
``X-Content-Type-Options: nosniff`` unless changed with :meth:`FakeOdooWeb.set`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

LOGIN_HTML = """<!DOCTYPE html>
<html lang="en-US">
<head><meta charset="utf-8"/><title>Odoo</title></head>
<body class="bg-100">
<main class="container py-5">
<form class="oe_login_form" role="form" method="post" action="/web/login" onsubmit="">
  <input type="hidden" name="csrf_token" value="{csrf}"/>
  <div class="mb-3 field-login">
    <label for="login" class="form-label">Email</label>
    <input type="text" placeholder="Email" name="login" id="login" required="required"
      autocomplete="username" autofocus="autofocus" autocapitalize="off" class="form-control"/>
  </div>
  <div class="mb-3">
    <label for="password" class="form-label">Password</label>
    <input type="password" placeholder="Password" name="password" id="password"
      required="required" autocomplete="current-password" maxlength="4096"
      class="form-control"/>
  </div>
  <input type="hidden" name="redirect"/>
  <div class="clearfix oe_login_buttons text-center gap-1 d-grid mb-1 pt-3">
    <button type="submit" class="btn btn-primary">Log in</button>
  </div>
</form>
</main>
</body>
</html>
"""

MANAGER_DISABLED_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"/><title>Odoo</title></head>
<body><div class="container"><div class="alert alert-danger text-center">
The database manager has been disabled by the administrator
</div></div></body></html>
"""

MANAGER_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"/><title>Odoo</title></head>
<body><div class="container"><div class="list-group">{items}</div>
<form role="form" action="/web/database/create" method="post">
<input type="password" name="master_pwd" class="form-control"/>
<button type="submit" class="btn btn-primary">Create database</button>
</form></div></body></html>
"""

REDIRECT_HTML = """<!doctype html>
<html lang=en>
<title>Redirecting...</title>
<h1>Redirecting...</h1>
<p>You should be redirected automatically to the target URL: <a href="{0}">{0}</a>. \
If not, click the link.
"""


@dataclass
class RecordedRequest:
    """One request the fake server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    time: float

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body or b"null")


@dataclass
class WebSettings:
    """What the fake server answers; change with :meth:`FakeOdooWeb.set`.

    - ``version``: 16..19 (redirect of ``/``, ``db_server_status`` support);
    - ``server_version``: ``"18.0-20250702"``-like, reported by version_info;
    - ``server_header``: the ``Server`` header, ``None`` to omit it;
    - ``extra_headers``: added to every answer (``{"Strict-Transport-Security": ...}``);
    - ``path_headers``: ``{path: {header: value}}`` added to one path;
    - ``remove_headers``: header names never sent (``{"X-Frame-Options"}``);
    - ``status``: ``{path: status}`` overrides (body ``"<status> override"``);
    - ``latency``: seconds slept before every answer;
    - ``fail``: ``None``, ``"500"`` (every path answers 500) or ``"close"``
      (the connection is closed without an answer);
    - ``hang``: accept requests and never answer (until :meth:`FakeOdooWeb.stop`);
    - ``database_manager``: ``"disabled"`` | ``"enabled"`` | ``"blocked404"`` | ``"blocked403"``;
    - ``databases``: names listed when the manager is enabled;
    - ``db_server_ok``: what ``?db_server_status=1`` reports;
    - ``health``: ``None`` (normal) or a status code for ``/web/health``.
    """

    version: int = 18
    server_version: str | None = None
    server_header: str | None = "Werkzeug/2.2.2 Python/3.11.7"
    extra_headers: dict[str, str] = field(default_factory=dict)
    path_headers: dict[str, dict[str, str]] = field(default_factory=dict)
    remove_headers: set[str] = field(default_factory=set)
    status: dict[str, int] = field(default_factory=dict)
    latency: float = 0.0
    fail: str | None = None
    hang: bool = False
    database_manager: str = "disabled"
    databases: list[str] = field(default_factory=lambda: ["odoo"])
    db_server_ok: bool = True
    health: int | None = None


class FakeOdooWeb:
    """A threaded HTTP server on a free port of 127.0.0.1; see the module docstring."""

    def __init__(self, **settings: Any) -> None:
        self.settings = WebSettings(**settings)
        self.requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------
    def start(self) -> FakeOdooWeb:
        """Start serving (idempotent); returns self."""
        if self._httpd is not None:
            return self
        handler = type("Handler", (_Handler,), {"web": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        name="fake-odoo-web")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release hanging requests."""
        self._release.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeOdooWeb:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The listening port."""
        assert self._httpd is not None, "server not started"
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    # -- configuration ---------------------------------------------------------------
    def set(self, **changes: Any) -> None:
        """Change :class:`WebSettings` fields at runtime, e.g. ``set(fail="500")``."""
        with self._lock:
            for key, value in changes.items():
                if not hasattr(self.settings, key):
                    raise AttributeError(f"unknown fake web setting {key!r}")
                setattr(self.settings, key, value)
            if not self.settings.hang:
                self._release.set()
            else:
                self._release.clear()

    def reset(self) -> None:
        """Back to the default settings; forget recorded requests."""
        with self._lock:
            self.settings = WebSettings()
            self.requests.clear()
        self._release.set()

    def paths(self) -> list[str]:
        """Paths requested so far, in order."""
        return [r.path for r in self.requests]

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(req)


class _Handler(BaseHTTPRequestHandler):
    web: FakeOdooWeb
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def version_string(self) -> str:
        return self.web.settings.server_header or ""

    def send_response(self, code: int, message: str | None = None) -> None:
        # like BaseHTTPRequestHandler.send_response, with an optional Server header
        self.log_request(code)
        self.send_response_only(code, message)
        server = self.web.settings.server_header
        if server and "server" not in {h.lower() for h in self.web.settings.remove_headers}:
            self.send_header("Server", server)
        self.send_header("Date", self.date_time_string())

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.web._record(RecordedRequest(
            method=method, path=split.path, query=parse_qs(split.query),
            headers={k: v for k, v in self.headers.items()}, body=body, time=time.time()))
        s = self.web.settings
        if s.hang:
            self.web._release.wait()
            self.close_connection = True
            return
        if s.latency:
            time.sleep(s.latency)
        if s.fail == "close":
            self.close_connection = True
            return
        if s.fail == "500":
            self._answer(500, "text/html; charset=utf-8",
                         b"<h1>Internal Server Error</h1>", method=method)
            return
        if split.path in s.status:
            code = s.status[split.path]
            self._answer(code, "text/plain; charset=utf-8", f"{code} override".encode(),
                         method=method)
            return
        self._route(method, split.path, parse_qs(split.query), body)

    # -- routes ----------------------------------------------------------------------
    def _route(self, method: str, path: str, query: dict[str, list[str]], body: bytes) -> None:
        s = self.web.settings
        if path == "/web/health":
            self._health(query, method)
        elif path == "/web/login":
            csrf = secrets.token_hex(20) + "o" + str(int(time.time()) + 3600)
            self._answer(200, "text/html; charset=utf-8",
                         LOGIN_HTML.format(csrf=csrf).encode(), method=method,
                         headers={"Cache-Control": "no-cache", "X-Frame-Options": "SAMEORIGIN",
                                  "Content-Security-Policy": "frame-ancestors 'self'"},
                         cookie=True)
        elif path in ("/web/database/selector", "/web/database/manager"):
            self._manager(method)
        elif path == "/web/database/list":
            if s.database_manager == "enabled":
                self._jsonrpc(body, result=list(s.databases))
            elif s.database_manager.startswith("blocked"):
                self._manager(method)
            else:
                self._jsonrpc(body, error={
                    "code": 200, "message": "Odoo Server Error",
                    "data": {"name": "odoo.exceptions.AccessDenied", "debug": "",
                             "message": "Access Denied", "arguments": ["Access Denied"],
                             "context": {}}})
        elif path == "/web/webclient/version_info":
            if method != "POST":
                self._answer(400, "text/html; charset=utf-8", b"<h1>Bad Request</h1>",
                             method=method)
            else:
                self._jsonrpc(body, result=self._version_info())
        elif path == "/":
            self._redirect("/odoo" if s.version >= 18 else "/web", method)
        elif path in ("/web", "/odoo"):
            self._redirect(f"/web/login?redirect=%2F{path.strip('/')}%3F", method)
        elif path == "/websocket":
            self._websocket(method)
        else:
            self._answer(404, "text/html; charset=utf-8",
                         b"<!doctype html><title>404 Not Found</title><h1>Not Found</h1>",
                         method=method, cookie=True)

    def _version_info(self) -> dict[str, Any]:
        s = self.web.settings
        serie = f"{s.version}.0"
        return {"server_version": s.server_version or f"{serie}-20250702",
                "server_version_info": [s.version, 0, 0, "final", 0, ""],
                "server_serie": serie, "protocol_version": 1}

    def _health(self, query: dict[str, list[str]], method: str) -> None:
        s = self.web.settings
        info: dict[str, Any] = {"status": "pass"}
        code = s.health or 200
        if s.health and s.health >= 400:
            info["status"] = "fail"
        wants_db = query.get("db_server_status", [""])[0] not in ("", "0", "false")
        if wants_db and s.version >= 17:
            info["db_server_status"] = bool(s.db_server_ok)
            if not s.db_server_ok:
                info["status"] = "fail"
                code = 500
        self._answer(code, "application/json", json.dumps(info).encode(), method=method,
                     headers={"Cache-Control": "no-store"})

    def _manager(self, method: str) -> None:
        mode = self.web.settings.database_manager
        if mode == "blocked404":
            self._answer(404, "text/html", b"<html><body><h1>404 Not Found</h1></body></html>",
                         method=method, server="nginx")
        elif mode == "blocked403":
            self._answer(403, "text/html", b"<html><body><h1>403 Forbidden</h1></body></html>",
                         method=method, server="nginx")
        elif mode == "enabled":
            items = "".join(f'<a href="/odoo?db={d}" class="list-group-item">{d}</a>'
                            for d in self.web.settings.databases)
            self._answer(200, "text/html; charset=utf-8",
                         MANAGER_HTML.format(items=items).encode(), method=method, cookie=True)
        else:
            self._answer(200, "text/html; charset=utf-8", MANAGER_DISABLED_HTML.encode(),
                         method=method, cookie=True)

    def _jsonrpc(self, body: bytes, *, result: Any = None, error: Any = None) -> None:
        try:
            req_id = json.loads(body or b"{}").get("id")
        except (ValueError, AttributeError):
            req_id = None
        payload: dict[str, Any] = {"jsonrpc": "2.0", "id": req_id}
        if error is not None:
            payload["error"] = error
        else:
            payload["result"] = result
        self._answer(200, "application/json; charset=utf-8", json.dumps(payload).encode(),
                     method="POST", cookie=True)

    def _redirect(self, location: str, method: str) -> None:
        self._answer(303, "text/html; charset=utf-8", REDIRECT_HTML.format(location).encode(),
                     method=method, headers={"Location": location}, cookie=True)

    def _websocket(self, method: str) -> None:
        key = self.headers.get("Sec-WebSocket-Key")
        upgrade = (self.headers.get("Upgrade") or "").lower()
        if upgrade != "websocket" or not key:
            self._answer(400, "text/html; charset=utf-8",
                         b"<h1>Bad Request</h1><p>Empty or non-existent websocket key</p>",
                         method=method)
            return
        accept = base64.b64encode(hashlib.sha1((key + _WS_GUID).encode()).digest()).decode()
        self.send_response(101, "Switching Protocols")
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.close_connection = True

    def _answer(self, code: int, ctype: str, body: bytes, *, method: str,
                headers: dict[str, str] | None = None, cookie: bool = False,
                server: str | None = None) -> None:
        s = self.web.settings
        removed = {h.lower() for h in s.remove_headers}
        all_headers: dict[str, str] = {"Content-Type": ctype, "Content-Length": str(len(body))}
        all_headers.update(headers or {})
        if cookie:
            all_headers["Set-Cookie"] = (
                f"session_id={secrets.token_urlsafe(48)}; Max-Age=604800; HttpOnly; Path=/")
        all_headers["X-Content-Type-Options"] = "nosniff"
        all_headers.update(s.extra_headers)
        all_headers.update(s.path_headers.get(urlsplit(self.path).path, {}))
        saved = s.server_header
        if server is not None:
            s.server_header = server
        try:
            self.send_response(code)
        finally:
            s.server_header = saved
        for name, value in all_headers.items():
            if name.lower() not in removed:
                self.send_header(name, value)
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if method != "HEAD":
            self.wfile.write(body)
