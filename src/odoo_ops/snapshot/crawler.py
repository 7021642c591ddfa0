"""A small, bounded HTTP crawler for the snapshot's sitemap.

Breadth-first from the start paths, same origin only (scheme, host and port of
the base URL), redirects recorded but not followed automatically (their
same-origin target is queued), links read from HTML ``href``/``src``
attributes. Bounded by depth, number of pages and total time; it never logs
out (``/web/session/logout`` is skipped) and never sends credentials.
"""

from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass, field
from html import unescape
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

JSON_RPC_PATHS = frozenset({"/web/webclient/version_info"})
SKIP_PATHS = ("/web/session/logout", "/web/session/destroy")
DEFAULT_START = ("/web/login", "/web/health", "/web/webclient/version_info")
_LINK = re.compile(r"""\b(?:href|src)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)


@dataclass
class Page:
    path: str
    depth: int
    status: int | None = None
    location: str | None = None
    content_type: str | None = None
    seconds: float = 0.0
    error: str | None = None
    method: str = "GET"


@dataclass
class CrawlResult:
    base_url: str
    pages: list[Page] = field(default_factory=list)
    stopped: str | None = None  # why the crawl stopped early: page-limit | time-limit
    skipped_offsite: int = 0


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme.lower(), f"{(parts.hostname or '').lower()}:{port}"


def _local_path(base_url: str, ref: str, current: str) -> str | None:
    """``ref`` as a path of the same origin (no fragment), or None when it leaves it."""
    ref = unescape(ref.strip())
    if not ref or ref.startswith(("#", "mailto:", "javascript:", "tel:", "data:")):
        return None
    absolute = urljoin(base_url.rstrip("/") + current, ref)
    if _origin(absolute) != _origin(base_url):
        return ""
    parts = urlsplit(absolute)
    return urlunsplit(("", "", parts.path or "/", parts.query, ""))


def links_of(html: str) -> list[str]:
    return [m.group(1) if m.group(1) is not None else m.group(2) for m in _LINK.finditer(html)]


def crawl(
    base_url: str,
    start: tuple[str, ...] | list[str] = DEFAULT_START,
    *,
    max_depth: int = 2,
    max_pages: int = 50,
    time_limit: float = 30.0,
    timeout: float = 5.0,
    client: Any = None,
) -> CrawlResult:
    """Crawl ``base_url`` breadth-first from ``start`` within the limits."""
    import httpx

    base = base_url.rstrip("/")
    result = CrawlResult(base)
    own = client is None
    http = client or httpx.Client(
        base_url=base, timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
        follow_redirects=False, headers={"User-Agent": "odoo-ops snapshot"},
    )  # fmt: skip
    deadline = time.monotonic() + time_limit
    queue: deque[tuple[str, int]] = deque()
    seen: set[str] = set()
    for path in start:
        local = _local_path(base, path, "/")
        if local and local not in seen:
            seen.add(local)
            queue.append((local, 0))
    try:
        while queue:
            if len(result.pages) >= max_pages:
                result.stopped = "page-limit"
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                result.stopped = "time-limit"
                break
            path, depth = queue.popleft()
            page = Page(path, depth)
            result.pages.append(page)
            began = time.monotonic()
            try:
                per_request = httpx.Timeout(min(timeout, remaining))
                if path.split("?", 1)[0] in JSON_RPC_PATHS:
                    page.method = "POST"
                    response = http.post(path, json={"jsonrpc": "2.0", "method": "call",
                                                     "params": {}, "id": 1},
                                         timeout=per_request)  # fmt: skip
                else:
                    response = http.get(path, timeout=per_request)
            except httpx.HTTPError as exc:
                page.seconds = time.monotonic() - began
                page.error = type(exc).__name__
                continue
            page.seconds = time.monotonic() - began
            page.status = response.status_code
            page.content_type = (response.headers.get("content-type") or "").split(";")[0] or None
            found: list[str] = []
            if response.is_redirect and response.headers.get("location"):
                target = _local_path(base, response.headers["location"], path)
                page.location = target if target else response.headers["location"]
                if target:
                    found.append(target)
                elif target == "":
                    result.skipped_offsite += 1
            elif page.content_type == "text/html" and depth < max_depth:
                for ref in links_of(response.text):
                    target = _local_path(base, ref, path)
                    if target == "":
                        result.skipped_offsite += 1
                    elif target:
                        found.append(target)
            if depth >= max_depth:
                continue
            for target in found:
                if target in seen or target.split("?", 1)[0] in SKIP_PATHS:
                    continue
                seen.add(target)
                queue.append((target, depth + 1))
    finally:
        if own:
            http.close()
    return result
