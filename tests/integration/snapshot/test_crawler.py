"""The bounded crawler against real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from odoo_ops.snapshot.crawler import crawl

PAGES: dict[str, tuple[int, str, str]] = {
    "/start": (200, "text/html", '<a href="/a">a</a> <a href=\'b?x=1#frag\'>b</a>'
               ' <a href="http://other.example/x">off</a> <a href="mailto:x@y">m</a>'
               ' <a href="/web/session/logout">logout</a> <img src="/img.png">'),
    "/a": (200, "text/html", '<a href="/a/c">c</a> <a href="/start">back</a>'),
    "/b": (200, "text/html", '<a href="/r">redirect</a>'),
    "/a/c": (200, "text/html", '<a href="/deep">too deep</a>'),
    "/deep": (200, "text/html", "deep"),
    "/img.png": (200, "image/png", "PNG"),
    "/slow": (200, "text/html", "slow"),
    "/web/session/logout": (200, "text/html", "logged out!"),
}


class _Handler(BaseHTTPRequestHandler):
    hits: list[str] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        type(self).hits.append(self.path)
        if path == "/r":
            self.send_response(303)
            self.send_header("Location", "/a/c")
            self.end_headers()
            return
        if path == "/slow":
            time.sleep(0.6)
        status, ctype, body = PAGES.get(path, (404, "text/html", "nope"))
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{ctype}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def site() -> Iterator[str]:
    _Handler.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_breadth_first_same_origin_depth_limited(site: str) -> None:
    result = crawl(site, ["/start"], max_depth=2)
    got = {p.path: (p.depth, p.status, p.content_type) for p in result.pages}
    assert got["/start"] == (0, 200, "text/html")
    assert got["/a"] == (1, 200, "text/html")
    assert got["/b?x=1"] == (1, 200, "text/html")  # fragment dropped, query kept
    assert got["/img.png"] == (1, 200, "image/png")
    assert got["/a/c"] == (2, 200, "text/html")
    assert got["/r"] == (2, 303, None)
    assert set(got) == {"/start", "/a", "/b?x=1", "/img.png", "/a/c", "/r"}
    assert got["/a/c"][0] == 2 and got["/r"][0] == 2
    assert [p.path for p in result.pages][:1] == ["/start"]
    depths = [p.depth for p in result.pages]
    assert depths == sorted(depths)  # breadth-first
    redirect = next(p for p in result.pages if p.path == "/r")
    assert redirect.status == 303 and redirect.location == "/a/c"
    assert "/deep" not in _Handler.hits and "/web/session/logout" not in _Handler.hits
    assert result.skipped_offsite == 1
    assert result.stopped is None


def test_page_and_time_limits(site: str) -> None:
    result = crawl(site, ["/start"], max_pages=3)
    assert len(result.pages) == 3 and result.stopped == "page-limit"
    began = time.monotonic()
    result = crawl(site, ["/slow", "/start", "/a"], time_limit=0.3, timeout=5)
    assert time.monotonic() - began < 2
    assert result.stopped == "time-limit" or len(result.pages) == 1
    slow = result.pages[0]
    assert slow.path == "/slow" and slow.error in ("ReadTimeout", "ConnectTimeout")


def test_against_the_odoo_web_double(odoo_web: Any) -> None:
    result = crawl(odoo_web.url, ["/web/login", "/web/health", "/web/webclient/version_info",
                                  "/"])
    pages = {(p.method, p.path): p for p in result.pages}
    assert pages[("GET", "/web/login")].status == 200
    assert pages[("GET", "/web/login")].content_type == "text/html"
    assert pages[("GET", "/web/health")].content_type == "application/json"
    assert pages[("POST", "/web/webclient/version_info")].status == 200
    root = pages[("GET", "/")]
    assert root.status == 303 and root.location == "/odoo"
    assert pages[("GET", "/odoo")].location.startswith("/web/login?redirect=")
