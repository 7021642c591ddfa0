"""A bounded load test: N virtual users log in and load the web client.

Each virtual user is an ``httpx.AsyncClient`` with its own cookie jar. It
optionally logs in the way a browser does (``GET /web/login`` for the
``csrf_token``, then ``POST /web/login`` with the credentials; Odoo answers a
redirect on success), then loops over the web client's routes — ``/web``,
the JSON-RPC ``/web/webclient/version_info``, ``/web/health`` and the asset
bundles the ``/web`` page links — until the duration is over or the whole
test has sent ``max_requests`` requests. Only loopback targets are accepted
unless the caller says it owns the host.

The verdict follows the go-live rule: p95 below the target (2 s) at the
target number of users, with at most 1 % errors.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import json
import math
import re
import socket
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from odoo_ops.errors import UsageError
from odoo_ops.fileutil import atomic_write_text

MAX_USERS = 1000
MAX_DURATION = 3600.0
MAX_REQUESTS = 1_000_000

_CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')
_ASSET = re.compile(r'(?:src|href)="(/web/assets/[^"]+)"')


@dataclass
class LoadTestOptions:
    base_url: str
    users: int = 10
    duration: float = 30.0
    max_requests: int = 5000
    login: str | None = None
    password: str | None = None
    timeout: float = 10.0
    ramp_up: float = 0.0
    target_users: int | None = None
    p95_target: float = 2.0
    max_error_rate: float = 1.0  # percent
    verify: bool = True

    def validate(self) -> None:
        if not 1 <= self.users <= MAX_USERS:
            raise UsageError(f"--users must be between 1 and {MAX_USERS}")
        if not 0 < self.duration <= MAX_DURATION:
            raise UsageError(f"--duration must be between 0 and {MAX_DURATION:g} seconds")
        if not 1 <= self.max_requests <= MAX_REQUESTS:
            raise UsageError(f"--max-requests must be between 1 and {MAX_REQUESTS}")
        if self.login and not self.password:
            raise UsageError(
                "--login needs a password",
                hint="set it in the environment variable named by --password-env",
            )
        if not re.match(r"^https?://[^/\s]+", self.base_url):
            raise UsageError(f"not an http(s) URL: {self.base_url!r}")


@dataclass
class RouteStats:
    route: str
    requests: int
    errors: int
    p50_seconds: float
    p95_seconds: float


@dataclass
class LoadTestResult:
    base_url: str
    users: int
    target_users: int
    started_at: str
    finished_at: str
    duration_seconds: float
    requests: int
    errors: int
    error_rate_percent: float
    rps: float
    p50_seconds: float
    p95_seconds: float
    p99_seconds: float
    max_seconds: float
    logged_in: int
    login_failures: int
    routes: list[RouteStats]
    errors_by_kind: dict[str, int]
    verdict: str
    reasons: list[str] = field(default_factory=list)
    stopped_by: str = "duration"


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (0 when empty)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def check_target_host(base_url: str, *, allow_remote: bool) -> None:
    """Refuse a host that is not this machine unless ``allow_remote``."""
    host = urlsplit(base_url).hostname or ""
    if allow_remote:
        return
    loopback = False
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            loopback = True
        else:
            try:
                infos = socket.getaddrinfo(host, None)
            except OSError:
                infos = []
            addresses = {str(info[4][0]) for info in infos}
            loopback = bool(addresses) and all(
                ipaddress.ip_address(a.split("%", 1)[0]).is_loopback for a in addresses
            )
    if not loopback:
        raise UsageError(
            f"refusing to load-test {host}: it is not a loopback address of this machine",
            hint="load-test only hosts you own: confirm with --i-own-this-host, or load Odoo's"
            " local port (--url http://127.0.0.1:8069)",
        )


class _Run:
    def __init__(self, options: LoadTestOptions) -> None:
        self.o = options
        self.sent = 0
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.route_errors: dict[str, int] = defaultdict(int)
        self.error_kinds: dict[str, int] = defaultdict(int)
        self.logged_in = 0
        self.login_failures = 0
        self.deadline = 0.0
        self.stopped_by = "duration"
        self.tls: Any = None

    def budget(self) -> bool:
        if time.monotonic() >= self.deadline:
            return False
        if self.sent >= self.o.max_requests:
            self.stopped_by = "max-requests"
            return False
        self.sent += 1
        return True

    async def request(self, client: Any, route: str, method: str, url: str, **kw: Any) -> Any:
        import httpx

        start = time.monotonic()
        try:
            response = await client.request(method, url, **kw)
        except httpx.TimeoutException:
            self.samples[route].append(time.monotonic() - start)
            self.route_errors[route] += 1
            self.error_kinds["timeout"] += 1
            return None
        except httpx.HTTPError as exc:
            self.samples[route].append(time.monotonic() - start)
            self.route_errors[route] += 1
            self.error_kinds[type(exc).__name__] += 1
            return None
        self.samples[route].append(time.monotonic() - start)
        if response.status_code >= 400:
            self.route_errors[route] += 1
            self.error_kinds[f"HTTP {response.status_code}"] += 1
        return response

    async def user(self, index: int) -> None:
        import httpx

        o = self.o
        if o.ramp_up > 0 and o.users > 1:
            await asyncio.sleep(o.ramp_up * index / o.users)
        async with httpx.AsyncClient(
            base_url=o.base_url,
            timeout=httpx.Timeout(o.timeout),
            follow_redirects=False,
            verify=self.tls,
            headers={"User-Agent": "odoo-ops loadtest"},
        ) as client:
            if o.login and not await self.log_in(client):
                return
            assets: list[str] | None = None
            step = 0
            rpc = {"jsonrpc": "2.0", "method": "call", "params": {}, "id": 1}
            while True:
                kind = step % 4
                step += 1
                if kind == 3 and not assets:
                    continue
                if not self.budget():
                    return
                if kind == 0:
                    response = await self.page(client, "/web")
                    if assets is None and response is not None and response.status_code == 200:
                        assets = sorted(set(_ASSET.findall(response.text)))[:6]
                elif kind == 1:
                    await self.request(
                        client, "/web/webclient/version_info", "POST",
                        "/web/webclient/version_info", json=rpc,
                    )  # fmt: skip
                elif kind == 2:
                    await self.request(client, "/web/health", "GET", "/web/health")
                else:
                    assert assets
                    asset = assets[(step // 4) % len(assets)]
                    await self.request(client, "assets", "GET", asset)

    async def page(self, client: Any, path: str) -> Any:
        """GET a page, following same-site redirects (each hop is one request)."""
        response = await self.request(client, path, "GET", path)
        for _ in range(3):
            if response is None or response.status_code not in (301, 302, 303, 307, 308):
                return response
            location = urlsplit(response.headers.get("location", ""))
            if location.netloc and location.netloc != urlsplit(self.o.base_url).netloc:
                return response
            if not self.budget():
                return None
            target = location.path or "/"
            query = f"?{location.query}" if location.query else ""
            response = await self.request(client, target, "GET", target + query)
        return response

    async def log_in(self, client: Any) -> bool:
        o = self.o
        if not self.budget():
            return False
        page = await self.request(client, "/web/login", "GET", "/web/login")
        match = _CSRF.search(page.text) if page is not None else None
        if not match:
            self.login_failures += 1
            self.error_kinds["login: no csrf_token on /web/login"] += 1
            return False
        if not self.budget():
            return False
        data = {"login": o.login or "", "password": o.password or "", "csrf_token": match.group(1)}
        answer = await self.request(client, "POST /web/login", "POST", "/web/login", data=data)
        location = answer.headers.get("location", "") if answer is not None else ""
        if answer is None or answer.status_code not in (301, 302, 303) or "/web/login" in location:
            self.login_failures += 1
            self.error_kinds["login refused"] += 1
            return False
        self.logged_in += 1
        return True

    async def run(self) -> float:
        import ssl

        import anyio
        import httpx

        # one TLS context for every virtual user: building one per client
        # costs a tenth of a second each and would skew the start
        self.tls = ssl.create_default_context() if self.o.verify else False
        # the first client and the async backend take most of a second to set
        # up in a fresh process: do it before the clock starts
        async with httpx.AsyncClient(verify=self.tls):
            await anyio.sleep(0)
        start = time.monotonic()
        self.deadline = start + self.o.duration
        tasks = [asyncio.ensure_future(self.user(i)) for i in range(self.o.users)]
        # in-flight requests end within their timeout after the deadline
        done, pending = await asyncio.wait(tasks, timeout=self.o.duration + self.o.timeout + 5)
        for task in pending:
            task.cancel()
        for task in done:
            exc = task.exception()
            if exc is not None:
                self.error_kinds[f"virtual user crashed: {type(exc).__name__}"] += 1
        return time.monotonic() - start


def run_loadtest(options: LoadTestOptions, *, allow_remote: bool = False) -> LoadTestResult:
    """Run the bounded load test and judge it."""
    options.validate()
    check_target_host(options.base_url, allow_remote=allow_remote)
    started = dt.datetime.now(dt.UTC)
    run = _Run(options)
    elapsed = asyncio.run(run.run())
    finished = dt.datetime.now(dt.UTC)
    every = [s for values in run.samples.values() for s in values]
    requests = len(every)
    errors = sum(run.route_errors.values())
    error_rate = errors / requests * 100 if requests else 0.0
    p95 = percentile(every, 95)
    target_users = options.target_users or options.users
    reasons: list[str] = []
    if requests == 0:
        reasons.append("no request completed")
    if p95 >= options.p95_target:
        reasons.append(f"p95 {p95:.2f} s is not below {options.p95_target:g} s")
    if error_rate > options.max_error_rate:
        reasons.append(f"{error_rate:.1f}% errors (at most {options.max_error_rate:g}%)")
    if options.users < target_users:
        reasons.append(f"{options.users} virtual users, fewer than the target {target_users}")
    if options.login and run.login_failures:
        reasons.append(f"{run.login_failures} of {options.users} virtual users could not log in")
    routes = [
        RouteStats(
            route,
            len(values),
            run.route_errors.get(route, 0),
            round(percentile(values, 50), 4),
            round(percentile(values, 95), 4),
        )
        for route, values in sorted(run.samples.items())
    ]
    return LoadTestResult(
        base_url=options.base_url,
        users=options.users,
        target_users=target_users,
        started_at=started.isoformat(timespec="seconds"),
        finished_at=finished.isoformat(timespec="seconds"),
        duration_seconds=round(elapsed, 3),
        requests=requests,
        errors=errors,
        error_rate_percent=round(error_rate, 2),
        rps=round(requests / elapsed, 2) if elapsed > 0 else 0.0,
        p50_seconds=round(percentile(every, 50), 4),
        p95_seconds=round(p95, 4),
        p99_seconds=round(percentile(every, 99), 4),
        max_seconds=round(max(every), 4) if every else 0.0,
        logged_in=run.logged_in,
        login_failures=run.login_failures,
        routes=routes,
        errors_by_kind=dict(run.error_kinds),
        verdict="fail" if reasons else "pass",
        reasons=reasons,
        stopped_by=run.stopped_by,
    )


def save_result(result: LoadTestResult, directory: Path) -> Path:
    """Store the result where the go-live board reads it."""
    from odoo_ops.jsondata import to_jsonable

    stamp = result.finished_at.replace(":", "").replace("-", "").replace("+0000", "Z")
    path = directory / f"loadtest-{stamp}.json"
    atomic_write_text(path, json.dumps(to_jsonable(result), indent=2) + "\n")
    return path
