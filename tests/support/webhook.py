"""A tiny HTTP receiver recording POSTed bodies (for alert/notification tests)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ReceivedPost:
    """One POST the receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body or b"null")

    @property
    def text(self) -> str:
        """The body decoded as UTF-8."""
        return self.body.decode("utf-8", "replace")


class WebhookReceiver:
    """Records every POST (any path) and answers ``status`` (default 200, ``{"ok": true}``)."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[ReceivedPost] = []
        self._cond = threading.Condition()
        self._httpd: ThreadingHTTPServer | None = None

    def start(self) -> WebhookReceiver:
        """Start serving on a free port of 127.0.0.1; returns self."""
        handler = type("Handler", (_Handler,), {"receiver": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True,
                         name="webhook-receiver").start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/hook`` -- any path is accepted."""
        assert self._httpd is not None, "receiver not started"
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/hook"

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[ReceivedPost]:
        """Wait until ``count`` POSTs arrived (or ``timeout``); returns those received."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            return list(self.requests)

    def _add(self, post: ReceivedPost) -> None:
        with self._cond:
            self.requests.append(post)
            self._cond.notify_all()


class _Handler(BaseHTTPRequestHandler):
    receiver: WebhookReceiver

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.receiver._add(ReceivedPost(self.path, dict(self.headers.items()), body))
        payload = b'{"ok": true}'
        self.send_response(self.receiver.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
