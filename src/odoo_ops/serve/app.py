"""``odoo-ops serve``: the records of the project's deployments as a read-only web page.

A Starlette application; pages are Jinja2 templates of this package, charts
are SVG drawn on the server (:mod:`odoo_ops.serve.charts`), and nothing is
loaded from elsewhere (no CDN, no JavaScript). Every answer — page, JSON,
metrics — passes through the same redaction as the CLI's output.

Only GET (and HEAD) routes exist. When a token is set, every request must
carry it: ``Authorization: Bearer TOKEN``, ``?token=TOKEN`` (which also sets a
cookie so the links of the page work), or that cookie; it is compared in
constant time.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from odoo_ops.jsondata import to_jsonable
from odoo_ops.serve import pages
from odoo_ops.status.cache import RecordCache
from odoo_ops.status.model import (
    DeploymentStatus,
    PendingUpgrades,
    age_text,
    attention_reasons,
    deployment_status,
    pending_upgrades,
    size_text,
    summary_rows,
)

if TYPE_CHECKING:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from odoo_ops.adapters import Target

COOKIE = "odoo_ops_token"
#: How long a pending-upgrades answer of the database is reused (seconds).
PENDING_TTL = 60.0
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self';"
        " frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def _env(redact: Callable[[str], str]) -> jinja2.Environment:
    """The templates; every ``{{ value }}`` is redacted *before* it is escaped
    (a secret with a quote in it is then masked, not escaped past the redaction)."""

    def finalize(value: Any) -> Any:
        if isinstance(value, str) and not isinstance(value, Markup):
            return redact(value)
        return value

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("odoo_ops.serve", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=finalize,
    )
    env.globals.update(age=age_text, size=size_text, when=_when)
    return env


def redact_tree(value: Any, redact: Callable[[str], str]) -> Any:
    """Every string of a JSON-able tree redacted (before JSON escapes its quotes)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(k)): redact_tree(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_tree(v, redact) for v in value]
    return value


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if value else ""


@dataclass
class ServeState:
    """What the application serves and how."""

    targets: Sequence[Target]
    redact: Callable[[str], str]
    token: str | None = None
    ask_database: bool = False
    #: the path prefix a reverse proxy publishes the pages under (``/odoo-ops``), or ""
    root_path: str = ""
    clock: Callable[[], dt.datetime] = field(
        default=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0)
    )
    cache: RecordCache = field(default_factory=RecordCache)
    _pending: dict[str, tuple[float, PendingUpgrades]] = field(default_factory=dict)

    def target(self, name: str) -> Target | None:
        return next((t for t in self.targets if t.name == name), None)

    def status(self, target: Target) -> DeploymentStatus:
        status = deployment_status(target, now=self.clock(), ask_database=False, cache=self.cache)
        if self.ask_database:
            cached = self._pending.get(target.name)
            if cached is None or time.monotonic() - cached[0] > PENDING_TTL:
                cached = (time.monotonic(), pending_upgrades(target, ask_database=True))
                self._pending[target.name] = cached
            status.pending = cached[1]
            status.attention = attention_reasons(status)
        else:
            status.pending.reason = "not asked (serve --pending-upgrades asks the database)"
        return status


class TokenGate:
    """ASGI middleware: every HTTP request must carry the token (when one is set)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token.encode() if token else None

    def _matches(self, given: str | None) -> bool:
        if self.token is None:
            return True
        return bool(given) and hmac.compare_digest(str(given).encode(), self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.token is None:
            await self.app(scope, receive, send)
            return
        from starlette.requests import Request
        from starlette.responses import PlainTextResponse

        request = Request(scope)
        header = request.headers.get("authorization", "")
        bearer = header[7:].strip() if header.lower().startswith("bearer ") else None
        query = request.query_params.get("token")
        if self._matches(bearer) or self._matches(request.cookies.get(COOKIE)):
            await self.app(scope, receive, send)
            return
        if self._matches(query):
            cookie = f"{COOKIE}={query}; Path=/; HttpOnly; SameSite=Strict" + (
                "; Secure" if scope.get("scheme") == "https" else ""
            )

            async def send_with_cookie(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = list(message.get("headers", []))
                    headers.append((b"set-cookie", cookie.encode("latin-1")))
                    message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, receive, send_with_cookie)
            return
        response = PlainTextResponse(
            "a token is required: Authorization: Bearer TOKEN, or ?token=TOKEN\n",
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="odoo-ops"', **SECURITY_HEADERS},
        )
        await response(scope, receive, send)


def create_app(state: ServeState) -> Starlette:
    """The Starlette application serving ``state``."""
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.responses import HTMLResponse, PlainTextResponse, Response
    from starlette.routing import Route

    env = _env(state.redact)

    def html(template: str, status_code: int = 200, **context: Any) -> Response:
        names = [t.name for t in state.targets]
        context.setdefault("now", state.clock())
        context.setdefault("page", None)
        context.setdefault("base", state.root_path)
        text = env.get_template(template).render(deployments=names, **context)
        return HTMLResponse(state.redact(text), status_code, headers=SECURITY_HEADERS)

    def not_found(what: str) -> Response:
        return html("error.html.j2", 404, title="not found", message=what, current=None)

    def with_target(page: str) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            name = request.path_params["deployment"]
            target = state.target(name)
            if target is None:
                return not_found(f"no deployment named {name!r}")
            return render_page(page, request, target)

        return endpoint

    def render_page(page: str, request: Request, target: Target) -> Response:
        now = state.clock()
        common: dict[str, Any] = {"current": target.name, "page": page, "now": now}
        if page == "health":
            try:
                days = int(request.query_params.get("days", "7"))
            except ValueError:
                days = 7
            if days not in pages.HEALTH_RANGES:
                days = 7
            data = pages.health_page(target, now, days, state.cache)
            data["status"] = state.status(target).health
        elif page == "deploys":
            data = pages.deploys_page(target, now, state.cache)
        elif page == "backups":
            data = pages.backups_page(target, now, state.cache)
        elif page == "checks":
            data = pages.checks_page(
                target, request.query_params.get("area") or None,
                request.query_params.get("status") or None, state.cache,
            )  # fmt: skip
        else:
            data = pages.golive_page(target, now)
        for key in ("latency_chart", "failure_chart", "size_chart", "duration_chart"):
            if key in data:
                data[key] = Markup(data[key])  # SVG built from escaped parts
        for row in data.get("rows", []):
            row["bar"] = Markup(row["bar"])  # SVG built from escaped parts
        return html(f"{page}.html.j2", title=f"{target.name}: {page}", **common, **data)

    def overview(request: Request) -> Response:
        statuses = [state.status(t) for t in state.targets]
        cards = [{"status": s, "rows": summary_rows(s)} for s in statuses]
        return html("overview.html.j2", title="overview", cards=cards, current=None)

    def api_status(request: Request) -> Response:
        statuses = [state.status(t) for t in state.targets]
        doc = {
            "needs_attention": any(s.needs_attention for s in statuses),
            "deployments": [
                {**to_jsonable(s), "needs_attention": s.needs_attention, "verdict": s.verdict}
                for s in statuses
            ],
        }
        text = json.dumps(redact_tree(doc, state.redact), indent=2, ensure_ascii=False)
        text = state.redact(text)
        return Response(text, media_type="application/json", headers=SECURITY_HEADERS)

    def metrics(request: Request) -> Response:
        text = metrics_text([state.status(t) for t in state.targets])
        return PlainTextResponse(
            state.redact(text),
            headers={**SECURITY_HEADERS, "Content-Type": "text/plain; version=0.0.4"},
        )

    def stylesheet(request: Request) -> Response:
        css = env.get_template("style.css.j2").render()
        return Response(css, media_type="text/css", headers=SECURITY_HEADERS)

    def favicon(request: Request) -> Response:
        return Response(b"", status_code=204, headers=SECURITY_HEADERS)

    routes = [
        Route("/", overview),
        Route("/api/status", api_status),
        Route("/metrics", metrics),
        Route("/static/style.css", stylesheet),
        Route("/favicon.ico", favicon),
        *(
            Route(f"/d/{{deployment}}/{page}", with_target(page))
            for page in ("health", "deploys", "backups", "checks", "golive")
        ),
    ]

    async def missing(request: Request, exc: Exception) -> Response:
        return not_found(f"no page at {request.url.path}")

    return Starlette(
        routes=routes,
        middleware=[Middleware(TokenGate, token=state.token)],
        exception_handlers={404: missing},
    )


def metrics_text(statuses: Sequence[DeploymentStatus]) -> str:
    """The statuses in the Prometheus text format (names shared with ``health``'s)."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()

    def gauge(name: str, doc: str, labels: Sequence[str] = ("deployment",)) -> Gauge:
        return Gauge(name, doc, list(labels), registry=registry)

    healthy = gauge("odoo_ops_healthy", "1 when no probe of the last health round failed")
    last_round = gauge(
        "odoo_ops_last_round_timestamp_seconds", "Unix time of the last health round"
    )
    failing = gauge("odoo_ops_probe_failing", "1 for each probe failing in the last round",
                    ("deployment", "probe"))  # fmt: skip
    backup_age = gauge("odoo_ops_backup_age_seconds", "Age of the newest backup")
    backup_size = gauge("odoo_ops_backup_size_bytes", "Size of the newest backup")
    backup_count = gauge("odoo_ops_backups", "Number of backups in backup_dir")
    deploy_ok = gauge("odoo_ops_last_deploy_ok", "1 when the last deploy or rollback succeeded")
    deploy_seconds = gauge("odoo_ops_last_deploy_duration_seconds", "Duration of the last deploy")
    check_failures = gauge("odoo_ops_last_check_failures", "Failed checks of the last saved report")
    attention = gauge("odoo_ops_needs_attention", "1 when something needs a person")
    for s in statuses:
        dep = s.deployment
        h = s.health
        if h.state != "unknown":
            healthy.labels(dep).set(1.0 if h.state == "healthy" else 0.0)
            if h.last_round_at is not None:
                last_round.labels(dep).set(h.last_round_at.timestamp())
            for probe in h.failing:
                failing.labels(dep, probe).set(1.0)
        b = s.newest_backup
        if b is not None:
            if b.age_seconds is not None:
                backup_age.labels(dep).set(b.age_seconds)
            if b.size_bytes is not None:
                backup_size.labels(dep).set(b.size_bytes)
        if s.backup_dir is not None:
            backup_count.labels(dep).set(s.backups)
        d = s.last_deploy
        if d is not None and d.result != "running":
            deploy_ok.labels(dep).set(1.0 if d.result == "deployed" else 0.0)
            if d.duration_seconds is not None:
                deploy_seconds.labels(dep).set(d.duration_seconds)
        if s.last_check is not None:
            check_failures.labels(dep).set(len(s.last_check.failures))
        attention.labels(dep).set(1.0 if s.needs_attention else 0.0)
    return generate_latest(registry).decode()
