"""Health probes of a running deployment.

Each probe returns a :class:`ProbeResult`; probes never raise for a
deployment that is down — that is what they report. All of them run in one
round (a failing probe never stops the others), each bounded by timeouts.
"""

from __future__ import annotations

import datetime as dt
import socket
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from odoo_ops.adapters import Target, Unavailable
from odoo_ops.errors import OpsError

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"


@dataclass
class ProbeResult:
    name: str
    status: str  # ok | warn | fail | skip
    message: str
    required: bool = True  # a failing optional probe is a warning, never an alert
    value: float | None = None
    unit: str | None = None
    duration: float = 0.0
    unreachable: bool = False  # the host did not answer at all

    @property
    def failing(self) -> bool:
        return self.status == FAIL


@dataclass
class HealthReport:
    deployment: str
    checked_at: str
    probes: list[ProbeResult] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not any(p.status == FAIL for p in self.probes)

    def counts(self) -> dict[str, int]:
        out = {OK: 0, WARN: 0, FAIL: 0, SKIP: 0}
        for p in self.probes:
            out[p.status] = out.get(p.status, 0) + 1
        return out


ProbeFunc = Callable[["ProbeContext"], ProbeResult]


class Unreachable(OpsError):
    """The deployment's web server did not answer at all."""


class ProbeContext:
    """The deployment as probes see it, with the few facts they share."""

    def __init__(self, target: Target, *, latency_samples: int | None = None) -> None:
        self.target = target
        self.config = target.project.config
        self.thresholds = self.config.thresholds
        self.latency_samples = latency_samples or self.config.health.latency_samples

    def series_major(self) -> int | None:
        series = self.target.series
        try:
            return int(series.split(".")[0]) if series else None
        except ValueError:
            return None

    def workers(self) -> int:
        try:
            conf = self.target.conf
        except OpsError:
            return 0
        return int(conf.get("workers") or 0) if conf else 0


def _timed(name: str, func: ProbeFunc) -> ProbeFunc:
    def run(ctx: ProbeContext) -> ProbeResult:
        start = time.monotonic()
        try:
            result = func(ctx)
        except Unavailable as exc:
            result = ProbeResult(name, SKIP, str(exc))
        except Unreachable as exc:
            result = ProbeResult(name, FAIL, str(exc), unreachable=True)
        except OpsError as exc:
            result = ProbeResult(name, FAIL, str(exc))
        result.duration = time.monotonic() - start
        return result

    return run


# -- probes -------------------------------------------------------------------


def probe_odoo_process(ctx: ProbeContext) -> ProbeResult:
    """The Odoo container (compose) or process (local) is up."""
    target = ctx.target
    dep = target.deployment
    if dep.runner == "compose":
        from odoo_ops.adapters import parse_compose_ps, run_process
        from odoo_ops.adapters.runner import ComposeRunner

        runner = target.runner()
        assert isinstance(runner, ComposeRunner)
        services = target.odoo_services
        every = ["--all"] if len(services) > 1 else []  # stopped ones too: to name them
        result = run_process(
            runner.compose_argv("ps", *every, "--format", "json", *services), timeout=15
        )
        if not result.ok:
            first = (result.output.strip().splitlines() or ["no output"])[0]
            return ProbeResult("odoo-process", FAIL, f"docker compose ps failed: {first}")
        try:
            states = [s for s in parse_compose_ps(result.output) if s.service in services]
        except ValueError as exc:
            return ProbeResult("odoo-process", FAIL, str(exc))
        if len(services) == 1:
            if not states:
                return ProbeResult("odoo-process", FAIL, f"no container for service {services[0]}")
            bad = [s for s in states if s.state != "running" or s.health == "unhealthy"]
            if bad:
                s = bad[0]
                health = f" and {s.health}" if s.health else ""
                return ProbeResult("odoo-process", FAIL, f"{s.name} is {s.state}{health}")
            return ProbeResult("odoo-process", OK, f"{len(states)} container(s) running")
        down: list[str] = []
        for service in services:
            mine = [s for s in states if s.service == service]
            running = [s for s in mine if s.state == "running" and s.health != "unhealthy"]
            if not mine:
                down.append(f"{service}: no container")
            elif not running:
                s = mine[0]
                health = f" and {s.health}" if s.health else ""
                down.append(f"{service}: {s.name} is {s.state}{health}")
        if down:
            label = "Odoo service down" if len(down) == 1 else f"{len(down)} Odoo services down"
            return ProbeResult("odoo-process", FAIL, f"{label}: " + "; ".join(down))
        message = f"all {len(services)} Odoo services running: {', '.join(services)}"
        return ProbeResult("odoo-process", OK, message)
    if dep.runner == "local":
        import psutil

        count = 0
        for proc in psutil.process_iter(["cmdline"]):
            cmd = " ".join(proc.info.get("cmdline") or [])
            if ("odoo-bin" in cmd or "/odoo " in f"{cmd} " or cmd.startswith("odoo")) and (
                "--stop-after-init" not in cmd
            ):
                count += 1
        if count == 0:
            return ProbeResult("odoo-process", FAIL, "no odoo process found on this host")
        return ProbeResult("odoo-process", OK, f"{count} odoo process(es)")
    raise Unavailable("process check is not available over ssh; the HTTP probes cover it")


def probe_database(ctx: ProbeContext) -> ProbeResult:
    db = ctx.target.database()
    try:
        seconds = db.ping()
    except OpsError as exc:
        return ProbeResult("database", FAIL, str(exc))
    ms = seconds * 1000
    limit = ctx.thresholds.db_latency_ms
    status = OK if ms <= limit else WARN
    return ProbeResult(
        "database",
        status,
        f"SELECT 1 in {ms:.0f} ms (limit {limit:g} ms)",
        value=round(ms, 1),
        unit="ms",
    )


def probe_disk(ctx: ProbeContext) -> ProbeResult:
    import psutil

    paths = [p for p in (ctx.target.data_dir(), ctx.target.backup_dir, ctx.target.root) if p]
    worst: tuple[float, str] | None = None
    for path in paths:
        probe_path = path
        while not probe_path.exists() and probe_path != probe_path.parent:
            probe_path = probe_path.parent
        usage = psutil.disk_usage(str(probe_path))
        if worst is None or usage.percent > worst[0]:
            worst = (usage.percent, str(path))
    assert worst is not None
    limit = ctx.thresholds.disk_max_percent
    status = OK if worst[0] < limit else FAIL
    return ProbeResult(
        "disk",
        status,
        f"{worst[0]:.0f}% used on {worst[1]} (limit {limit:g}%)",
        value=worst[0],
        unit="percent",
    )


def probe_memory(ctx: ProbeContext) -> ProbeResult:
    import psutil

    percent = psutil.virtual_memory().percent
    limit = ctx.thresholds.memory_max_percent
    status = OK if percent < limit else WARN
    return ProbeResult(
        "memory",
        status,
        f"{percent:.0f}% of RAM used (limit {limit:g}%)",
        value=percent,
        unit="percent",
    )


def _get(ctx: ProbeContext, path: str) -> Any:
    """GET through the HTTP adapter; a host that does not answer is :class:`Unreachable`."""
    from odoo_ops.errors import TargetError

    try:
        return ctx.target.http().get(path)
    except TargetError as exc:
        raise Unreachable(exc.message) from None


def probe_web_health(ctx: ProbeContext) -> ProbeResult:
    major = ctx.series_major()
    path = "/web/health?db_server_status=1" if (major or 0) >= 17 else "/web/health"
    response = _get(ctx, path)
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("db_server_status") is False:
        # Odoo 17+ answers 500 {"status": "fail", "db_server_status": false}
        return ProbeResult("web-health", FAIL, "Odoo cannot reach its PostgreSQL server")
    if response.status_code != 200:
        return ProbeResult("web-health", FAIL, f"{path} answered HTTP {response.status_code}")
    if not isinstance(body, dict):
        return ProbeResult("web-health", FAIL, f"{path} did not answer JSON")
    if body.get("status") != "pass":
        return ProbeResult("web-health", FAIL, f"{path} status is {body.get('status')!r}")
    ms = response.elapsed.total_seconds() * 1000
    return ProbeResult(
        "web-health", OK, f"{path}: pass in {ms:.0f} ms", value=round(ms, 1), unit="ms"
    )


def probe_login_page(ctx: ProbeContext) -> ProbeResult:
    response = _get(ctx, "/web/login")
    if response.status_code != 200:
        return ProbeResult("login-page", FAIL, f"/web/login answered HTTP {response.status_code}")
    if "password" not in response.text.lower():
        return ProbeResult("login-page", FAIL, "/web/login has no login form")
    return ProbeResult("login-page", OK, "/web/login shows the login form")


def probe_websocket(ctx: ProbeContext) -> ProbeResult:
    """With workers, Odoo serves /websocket (16+; before: /longpolling) on the gevent port."""
    if ctx.workers() <= 0:
        raise Unavailable("workers = 0: websocket is served by the main HTTP port")
    major = ctx.series_major() or 17
    path = "/websocket" if major >= 16 else "/longpolling/poll"
    response = _get(ctx, path)
    if response.status_code in (502, 503, 504):
        return ProbeResult(
            "websocket",
            FAIL,
            f"{path} answered HTTP {response.status_code}: gevent worker down or"
            " not routed by the proxy",
        )
    return ProbeResult("websocket", OK, f"{path} reaches Odoo (HTTP {response.status_code})")


def probe_redis(ctx: ProbeContext) -> ProbeResult:
    url = ctx.target.deployment.redis_url
    if not url:
        raise Unavailable("no redis_url configured")
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 6379
    start = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=3) as sock:
            sock.settimeout(3)
            if parts.password:
                user = parts.username or "default"
                sock.sendall(_resp("AUTH", user, parts.password))
                if not sock.recv(128).startswith(b"+OK"):
                    return ProbeResult("redis", FAIL, "Redis refused the credentials")
            sock.sendall(_resp("PING"))
            answer = sock.recv(128)
    except OSError as exc:
        return ProbeResult("redis", FAIL, f"Redis at {host}:{port} not reachable: {exc}")
    if not answer.startswith(b"+PONG"):
        return ProbeResult("redis", FAIL, f"Redis answered {answer[:40]!r}")
    ms = (time.monotonic() - start) * 1000
    return ProbeResult("redis", OK, f"PONG in {ms:.0f} ms", value=round(ms, 1), unit="ms")


def _resp(*parts: str) -> bytes:
    out = f"*{len(parts)}\r\n"
    for p in parts:
        out += f"${len(p.encode())}\r\n{p}\r\n"
    return out.encode()


def probe_cron_lag(ctx: ProbeContext) -> ProbeResult:
    db = ctx.target.database()
    with db.read_only() as cur:
        cur.execute("SELECT to_regclass('public.ir_cron') IS NOT NULL")
        row = cur.fetchone()
        if not row or not row[0]:
            raise Unavailable("no ir_cron table: the database is not initialised by Odoo")
        cur.execute(
            "SELECT count(*), EXTRACT(EPOCH FROM (now() AT TIME ZONE 'UTC' - min(nextcall)))"
            " FROM ir_cron WHERE active"
        )
        count, lag = cur.fetchone() or (0, None)
    if not count or lag is None:
        return ProbeResult("cron-lag", OK, "no active cron")
    minutes = max(0.0, float(lag) / 60)
    limit = ctx.thresholds.cron_lag_minutes
    status = OK if minutes <= limit else FAIL
    return ProbeResult(
        "cron-lag",
        status,
        f"oldest due cron is {minutes:.0f} min late (limit {limit:g} min)",
        value=round(minutes, 1),
        unit="minutes",
    )


def probe_latency(ctx: ProbeContext) -> ProbeResult:
    samples = []
    for _ in range(ctx.latency_samples):
        start = time.monotonic()
        response = _get(ctx, "/web/login")
        if response.status_code >= 500:
            return ProbeResult("latency", FAIL, f"/web/login answered HTTP {response.status_code}")
        samples.append((time.monotonic() - start) * 1000)
    samples.sort()
    p50 = statistics.median(samples)
    p95 = samples[min(len(samples) - 1, max(0, round(0.95 * len(samples)) - 1))]
    limit = ctx.thresholds.http_latency_ms
    status = OK if p95 <= limit else WARN
    return ProbeResult(
        "latency",
        status,
        f"/web/login p50 {p50:.0f} ms, p95 {p95:.0f} ms over {len(samples)}"
        f" requests (limit {limit:g} ms)",
        value=round(p95, 1),
        unit="ms",
    )


def odoo_service_probes(ctx: ProbeContext) -> list[tuple[str, ProbeFunc]]:
    """``odoo-http:<service>``: /web/health of each Odoo service that has its own
    internal URL (``internal_urls``), so the one that is down is named."""
    probes: list[tuple[str, ProbeFunc]] = []
    dep = ctx.target.deployment
    for service in ctx.target.odoo_services:
        url = dep.internal_urls.get(service)
        if not url:
            continue

        def run(c: ProbeContext, service: str = service, url: str = url) -> ProbeResult:
            import httpx

            from odoo_ops.adapters.http import describe_http_error

            name = f"odoo-http:{service}"
            try:
                with httpx.Client(timeout=dep.http_timeout) as client:
                    response = client.get(f"{url}/web/health")
            except httpx.HTTPError as exc:
                return ProbeResult(name, FAIL, f"{service} down: {describe_http_error(exc)}")
            if response.status_code != 200:
                return ProbeResult(
                    name, FAIL, f"{service} down: /web/health answered HTTP {response.status_code}"
                )
            return ProbeResult(name, OK, f"{service}: /web/health HTTP 200")

        probes.append((f"odoo-http:{service}", run))
    return probes


def service_probes(ctx: ProbeContext) -> list[tuple[str, ProbeFunc]]:
    probes: list[tuple[str, ProbeFunc]] = list(odoo_service_probes(ctx))
    for service in ctx.config.services:

        def run(c: ProbeContext, service: Any = service) -> ProbeResult:
            import httpx

            name = f"service:{service.name}"
            try:
                with httpx.Client(timeout=service.timeout) as client:
                    response = client.get(service.url)
            except httpx.HTTPError as exc:
                from odoo_ops.adapters.http import describe_http_error

                return ProbeResult(name, FAIL, describe_http_error(exc), required=service.required)
            if response.status_code != service.expect_status:
                return ProbeResult(
                    name,
                    FAIL,
                    f"HTTP {response.status_code}, expected {service.expect_status}",
                    required=service.required,
                )
            return ProbeResult(name, OK, f"HTTP {response.status_code}", required=service.required)

        probes.append((f"service:{service.name}", run))
    return probes


def probe_pitr_archiving(ctx: ProbeContext) -> ProbeResult:
    """WAL archiving, backups and the filestore archive of ``odoo-ops pitr`` (docs/pitr.md)."""
    from odoo_ops.pitr.status import probe_result

    status, message = probe_result(ctx.target)
    return ProbeResult("pitr-archiving", {"ok": OK, "skip": SKIP}.get(status, FAIL), message)


PROBES: list[tuple[str, ProbeFunc]] = [
    ("odoo-process", probe_odoo_process),
    ("database", probe_database),
    ("disk", probe_disk),
    ("memory", probe_memory),
    ("web-health", probe_web_health),
    ("login-page", probe_login_page),
    ("websocket", probe_websocket),
    ("redis", probe_redis),
    ("cron-lag", probe_cron_lag),
    ("latency", probe_latency),
    ("pitr-archiving", probe_pitr_archiving),
]


def run_probes(ctx: ProbeContext, *, only: set[str] | None = None) -> HealthReport:
    """One round of every probe; a failing or crashing probe never stops the others."""
    report = HealthReport(
        deployment=ctx.target.name,
        checked_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    http_down: str | None = None
    for name, func in [*PROBES, *service_probes(ctx)]:
        if only and name not in only:
            continue
        if http_down and name in ("login-page", "websocket", "latency"):
            report.probes.append(ProbeResult(name, SKIP, http_down))
            continue
        try:
            result = _timed(name, func)(ctx)
        except Exception as exc:  # a bug in a probe must not hide the other results
            result = ProbeResult(name, FAIL, f"probe crashed: {type(exc).__name__}: {exc}")
        if name.startswith("service:") and result.status == FAIL and not result.required:
            result.status = WARN
        if name == "web-health" and result.unreachable:
            http_down = f"web server not reachable ({result.message})"
        result.message = ctx.target.redactor(result.message)
        report.probes.append(result)
    return report
