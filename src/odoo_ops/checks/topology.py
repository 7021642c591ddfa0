"""Checks of a deployment with several Odoo services on one database.

Each service's Odoo options come from its command line in the compose file
(``--addons-path``, ``--load``, ``--max-cron-threads``, ``--workers``,
``--db_maxconn``, ``--db-filter``), else from the odoo.conf that service
reads (its own ``-c``/``--config`` or ``ODOO_RC``, or a bind mount on the
image's /etc/odoo/odoo.conf, found on this host through its bind mounts),
else from the deployment's odoo.conf, else Odoo's default. Every check skips
for a deployment with one Odoo service.

- ``topology-same-image``: every service runs the same image id;
- ``topology-addons-path``: the same addons path;
- ``topology-server-wide``: the same ``--load`` (server-wide modules);
- ``topology-cron-runners``: ``max_cron_threads > 0`` on at most the services
  meant to run crons (``cron_services``; default: one);
- ``topology-connections``: ``db_maxconn × (workers or 1)`` summed over the
  services fits PostgreSQL's ``max_connections``;
- ``topology-websocket``: the proxy (nginx, or a Caddyfile:
  :mod:`odoo_ops.adapters.caddyfile`) routes ``/websocket`` to an Odoo service
  that serves it (its gevent port when it runs workers);
- ``topology-dbfilter``: the same ``dbfilter``.
"""

from __future__ import annotations

import re
from pathlib import Path

from odoo_ops.adapters import Unavailable
from odoo_ops.adapters.odoo_conf import OdooConf, read_odoo_conf
from odoo_ops.adapters.topology import ServiceSettings, container_image_ids, service_settings
from odoo_ops.checks.base import Need, Outcome, Severity, check, failed, passed, skipped, warned
from odoo_ops.checks.context import CheckContext
from odoo_ops.checks.evidence import display, walk_files
from odoo_ops.errors import OpsError
from odoo_ops.inputs import read_input_lenient

AREA = "topology"
#: Odoo's defaults for the options these checks compare.
DEFAULTS = {
    "max_cron_threads": "2",
    "workers": "0",
    "db_maxconn": "64",
    "server_wide_modules": "base,web",
    "dbfilter": "",
    "gevent_port": "8072",
    "http_port": "8069",
}


def _services(ctx: CheckContext) -> list[str]:
    services = ctx.target.odoo_services
    if len(services) < 2:
        raise Unavailable("one Odoo service: the multi-service checks do not apply")
    return services


def settings_of(ctx: CheckContext) -> dict[str, ServiceSettings]:
    """Each Odoo service's settings from the compose file (empty for systemd units)."""
    compose = ctx.target.compose_or_none()
    out: dict[str, ServiceSettings] = {}
    for name in _services(ctx):
        svc = compose.services.get(name) if compose else None
        out[name] = service_settings(svc) if svc else ServiceSettings(name, None, False)
    return out


class ConfUnreadable(OpsError):
    """A service's own odoo.conf is mounted from this host but cannot be read."""


def service_conf(ctx: CheckContext, settings: ServiceSettings) -> tuple[OdooConf | None, str]:
    """The odoo.conf ``settings``' service reads, and where it was read from: its own
    file when the compose file says which (and it is on this host), else the
    deployment's (``odoo_conf``)."""
    key = f"topology-conf:{settings.name}"
    if key not in ctx.cache:
        ctx.cache[key] = _read_service_conf(ctx, settings)
    cached: tuple[OdooConf | None, str] = ctx.cache[key]
    return cached


def _read_service_conf(ctx: CheckContext, settings: ServiceSettings) -> tuple[OdooConf | None, str]:
    if settings.conf_path is not None:
        try:
            conf = read_odoo_conf(settings.conf_path, ctx.project.env)
        except OpsError as exc:
            raise ConfUnreadable(
                f"{settings.name}: its odoo.conf {display(ctx, settings.conf_path)}"
                f" (mounted as {settings.conf_in_container}): {exc.message}"
            ) from None
        for value in conf.secret_values():
            ctx.target.redactor.add(value)
        return conf, display(ctx, settings.conf_path)
    shared: OdooConf | None
    try:
        shared = ctx.target.conf
    except OpsError:
        shared = None
    if shared is None:
        return None, "no odoo.conf"
    where = display(ctx, shared.path) if shared.path else "odoo.conf"
    if settings.conf_in_container:
        # the service names its own file, but it is not on this host (in the image,
        # on a named volume): the deployment's odoo.conf is the best guess, say so
        where += f" ({settings.conf_in_container} not on this host)"
    return shared, where


def option_from(ctx: CheckContext, settings: ServiceSettings, key: str) -> tuple[str, str]:
    """The value of ``key`` for one service and where it comes from: its command
    line, its odoo.conf, Odoo's default."""
    value = settings.get(key)
    if value is not None:
        return value, "command line"
    conf, where = service_conf(ctx, settings)
    if conf is not None and conf.raw.get(key, "").strip() and key not in conf.unresolved:
        return conf.raw[key].strip(), where
    return DEFAULTS.get(key, ""), "default"


def option(ctx: CheckContext, settings: ServiceSettings, key: str) -> str:
    """The value of ``key`` for one service: its command line, its odoo.conf, default."""
    return option_from(ctx, settings, key)[0]


def _normal(key: str, value: str) -> str:
    if key in ("addons_path", "server_wide_modules"):
        return ",".join(p.strip().rstrip("/") for p in value.split(",") if p.strip())
    return value.strip()


def _unreadable(ctx: CheckContext, settings: dict[str, ServiceSettings]) -> Outcome | None:
    """A failure when a service's own odoo.conf is on this host but unreadable."""
    problems = []
    for s in settings.values():
        try:
            service_conf(ctx, s)
        except ConfUnreadable as exc:
            problems.append(exc.message)
    if problems:
        return failed(
            "; ".join(problems),
            "fix the file (an INI file with an [options] section) or the compose mount",
        )
    return None


def _same(ctx: CheckContext, key: str, what: str, fix: str) -> Outcome:
    settings = settings_of(ctx)
    bad = _unreadable(ctx, settings)
    if bad:
        return bad
    values: dict[str, str] = {}
    evidence = []
    for name, s in settings.items():
        value, where = option_from(ctx, s, key)
        values[name] = _normal(key, value)
        evidence.append(f"{name}: {what} {values[name] or '(empty)'} ({where})")
    if len(set(values.values())) > 1:
        return failed(f"the Odoo services run with different {what}", fix, evidence)
    return passed(f"every Odoo service has the same {what}", evidence)


@check(
    "topology-same-image",
    area=AREA,
    title="every Odoo service runs the same image",
    severity=Severity.ERROR,
    needs=[Need.DOCKER, Need.FILES],
)
def same_image(ctx: CheckContext) -> Outcome:
    settings = settings_of(ctx)
    if ctx.deployment.runner != "compose":
        raise Unavailable("images apply to compose deployments")
    fix = (
        "give every Odoo service the same image (one `image:` or one build) and recreate"
        " them together: `docker compose up -d " + " ".join(settings) + "`"
    )
    names = {name: s.image for name, s in settings.items() if s.image}
    if len(set(names.values())) > 1:
        evidence = [f"{name}: image {image}" for name, image in names.items()]
        return failed("the Odoo services name different images", fix, evidence)
    try:
        ids = container_image_ids(ctx.target, list(settings))
    except OpsError as exc:
        return skipped(f"image ids not readable: {exc.message}")
    evidence = [f"{name}: {image or 'no container'}" for name, image in ids.items()]
    known = {i for i in ids.values() if i}
    if not known:
        return skipped("no container of any Odoo service: nothing to compare")
    if len(known) > 1:
        return failed(
            "the Odoo services run different image ids (one was built or pulled and not"
            " recreated): they run different code on one database",
            fix,
            evidence,
        )
    image = next(iter(known))[:19]
    return passed(f"all {len(settings)} Odoo services run image {image}", evidence)


@check(
    "topology-addons-path",
    area=AREA,
    title="every Odoo service has the same addons path",
    severity=Severity.ERROR,
    needs=[Need.FILES],
)
def same_addons_path(ctx: CheckContext) -> Outcome:
    return _same(
        ctx,
        "addons_path",
        "addons path",
        "one addons_path for all (in the shared odoo.conf, not on one service's command line)",
    )


@check(
    "topology-server-wide",
    area=AREA,
    title="every Odoo service loads the same server-wide modules",
    severity=Severity.ERROR,
    needs=[Need.FILES],
)
def same_server_wide(ctx: CheckContext) -> Outcome:
    return _same(
        ctx,
        "server_wide_modules",
        "server-wide modules (--load)",
        "one server_wide_modules for all (odoo.conf), or the same --load on every service",
    )


@check(
    "topology-dbfilter",
    area=AREA,
    title="every Odoo service has the same dbfilter",
    severity=Severity.ERROR,
    needs=[Need.FILES],
)
def same_dbfilter(ctx: CheckContext) -> Outcome:
    return _same(ctx, "dbfilter", "dbfilter", "one dbfilter for all Odoo services (odoo.conf)")


@check(
    "topology-cron-runners",
    area=AREA,
    title="crons run on at most the services meant to run them",
    severity=Severity.ERROR,
    needs=[Need.FILES],
)
def cron_runners(ctx: CheckContext) -> Outcome:
    settings = settings_of(ctx)
    bad = _unreadable(ctx, settings)
    if bad:
        return bad
    meant = list(ctx.deployment.cron_services)
    found = {name: option_from(ctx, s, "max_cron_threads") for name, s in settings.items()}
    threads = {name: value for name, (value, _where) in found.items()}
    evidence = [f"{name}: max_cron_threads {v} ({where})" for name, (v, where) in found.items()]
    runners = [name for name, value in threads.items() if _int(value) > 0]
    if meant:
        evidence.append("cron_services: " + ", ".join(meant))
        extra = [name for name in runners if name not in meant]
        if extra:
            return failed(
                f"crons run on {', '.join(extra)}, not meant to run them (cron_services)",
                f"pass --max-cron-threads=0 to {', '.join(extra)}",
                evidence,
            )
        return passed(f"crons run only on {', '.join(runners) or 'no service'}", evidence)
    if len(runners) > 1:
        return failed(
            f"{len(runners)} Odoo services run crons ({', '.join(runners)}): several cron"
            " runners on one database contend for the same jobs",
            "keep crons on one service: --max-cron-threads=0 on the others (or list the"
            " intended ones in cron_services)",
            evidence,
        )
    if not runners:
        return warned(
            "no Odoo service runs crons: scheduled actions never run",
            "give one service max_cron_threads >= 1",
            evidence,
        )
    return passed(f"crons run on {runners[0]} only", evidence)


def _int(value: str) -> int:
    try:
        return int(str(value).strip())
    except ValueError:
        return 0


@check(
    "topology-connections",
    area=AREA,
    title="the services' database connections fit max_connections",
    severity=Severity.ERROR,
    needs=[Need.FILES, Need.DATABASE],
)
def connections(ctx: CheckContext) -> Outcome:
    settings = settings_of(ctx)
    bad = _unreadable(ctx, settings)
    if bad:
        return bad
    total = 0
    evidence = []
    for name, s in settings.items():
        maxconn_value, maxconn_from = option_from(ctx, s, "db_maxconn")
        workers_value, workers_from = option_from(ctx, s, "workers")
        maxconn = _int(maxconn_value)
        processes = max(1, _int(workers_value))
        total += maxconn * processes
        evidence.append(
            f"{name}: db_maxconn {maxconn} ({maxconn_from}) x {processes} process(es)"
            f" ({workers_from}) = {maxconn * processes}"
        )
    rows = ctx.query("SHOW max_connections")
    limit = int(rows[0][0])
    evidence.append(f"PostgreSQL max_connections {limit}")
    if total > limit:
        return failed(
            f"the Odoo services may open {total} connections, PostgreSQL allows {limit}",
            "lower db_maxconn (or workers) per service, or raise max_connections",
            evidence,
        )
    return passed(f"at most {total} connections of {limit}", evidence)


# -- /websocket routing --------------------------------------------------------

_UPSTREAM = re.compile(r"\bupstream\s+(\S+)\s*\{([^}]*)\}", re.S)
_SERVER = re.compile(r"^\s*server\s+([^\s;]+)", re.M)
_LOCATION = re.compile(r"\blocation\s+(?:[=~^*]+\s*)?(/websocket)\b[^{]*\{([^}]*)\}", re.S)
_PROXY_PASS = re.compile(r"\bproxy_pass\s+https?://([^/\s;]+)")
_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "host.docker.internal"}


def _proxy_files(ctx: CheckContext) -> tuple[list[Path], list[Path]]:
    """(nginx files, Caddyfiles) of the project."""
    nginx, caddy = [], []
    for path in walk_files(ctx.project.root):
        rel = path.relative_to(ctx.project.root).as_posix().lower()
        name = path.name.lower()
        if name.startswith("caddyfile") or name.endswith((".caddy", ".caddyfile")):
            caddy.append(path)
        elif "nginx" in rel or rel.endswith((".nginx", "nginx.conf")) or "/sites-" in rel:
            nginx.append(path)
    return nginx, caddy


#: (where, what the route names, the host:port servers behind it)
_Route = tuple[str, str, list[str]]


def _nginx_routes(ctx: CheckContext, files: list[Path]) -> list[_Route]:
    upstreams: dict[str, list[str]] = {}
    found: list[tuple[str, str]] = []
    for path in files:
        text = read_input_lenient(path, kind="proxy config", limit=256 * 1024)
        if text is None:
            continue
        code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
        for name, body in _UPSTREAM.findall(code):
            upstreams[name] = _SERVER.findall(body)
        for _path, body in _LOCATION.findall(code):
            for dest in _PROXY_PASS.findall(body):
                found.append((display(ctx, path), dest))
    return [(where, dest, upstreams.get(dest, [dest])) for where, dest in found]


def _caddy_routes(ctx: CheckContext, files: list[Path]) -> list[_Route]:
    from odoo_ops.adapters.caddyfile import host_port, route_for

    out: list[_Route] = []
    for path in files:
        text = read_input_lenient(path, kind="proxy config", limit=256 * 1024)
        if text is None:
            continue
        for route in route_for(text, "/websocket"):
            servers = [":".join(host_port(u)) for u in route.upstreams]
            out.append((f"{display(ctx, path)}:{route.line}", " ".join(route.upstreams), servers))
    return out


@check(
    "topology-websocket",
    area=AREA,
    title="the proxy routes /websocket to an Odoo service that serves it",
    severity=Severity.ERROR,
    needs=[Need.FILES],
)
def websocket_route(ctx: CheckContext) -> Outcome:
    from odoo_ops.adapters.topology import published_ports

    settings = settings_of(ctx)
    nginx, caddy = _proxy_files(ctx)
    if not nginx and not caddy:
        return skipped("no nginx configuration or Caddyfile in the project to read")
    routes = _nginx_routes(ctx, nginx) + _caddy_routes(ctx, caddy)
    if not routes:
        kinds = " or ".join(
            k for k, files in (("nginx configuration", nginx), ("Caddyfile", caddy)) if files
        )
        return failed(
            f"the {kinds} routes /websocket to no Odoo service (nginx: no `location"
            " /websocket` with a proxy_pass; Caddy: no reverse_proxy takes it): the web"
            " client's live updates (bus, chat, notifications) fail",
            "nginx: `location /websocket { proxy_pass http://<odoo service>:8072; ... }` with"
            " the Upgrade/Connection headers; Caddy: `handle /websocket* { reverse_proxy"
            " <odoo service>:8072 }`",
        )
    compose = ctx.target.compose_or_none()
    compose_services = compose.services if compose else {}
    # a host port published by an Odoo service: 127.0.0.1:8072 reaches that service
    published = {
        host_port: (name, container_port)
        for name in settings
        if name in compose_services
        for host_port, container_port in published_ports(compose_services[name]).items()
    }
    evidence: list[str] = []
    problems: list[str] = []
    reached: list[str] = []
    for where, dest, servers in routes:
        via = f" ({', '.join(servers)})" if servers != [dest] else ""
        evidence.append(f"{where}: /websocket -> {dest}{via}")
        for server in servers:
            host, _, port = server.rpartition(":") if ":" in server else (server, "", "")
            host = host.strip("[]")
            if host in _LOOPBACK and port in published:
                host, port = published[port]
                evidence.append(f"{server} is published by {host} (its port {port})")
            if host not in settings:
                if host in compose_services:
                    problems.append(f"/websocket goes to {host}, not one of the Odoo services")
                continue
            reached.append(host)
            s = settings[host]
            workers = _int(option(ctx, s, "workers"))
            want = option(ctx, s, "gevent_port") if workers > 0 else option(ctx, s, "http_port")
            if port and port != want:
                problems.append(
                    f"/websocket goes to {host}:{port} but {host} serves websockets on port {want}"
                    + (" (its gevent port: it runs workers)" if workers > 0 else "")
                )
    if problems:
        return failed(
            "; ".join(problems),
            "route /websocket to an Odoo service's gevent port (8072 when it runs workers)",
            evidence,
        )
    if not reached:
        return warned(
            "/websocket is proxied, but to no address known here as one of the Odoo services",
            "proxy it to an Odoo service by its compose name, or to a port it publishes",
            evidence,
        )
    return passed("/websocket is routed to " + ", ".join(dict.fromkeys(reached)), evidence)
