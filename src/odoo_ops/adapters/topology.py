"""Several Odoo services on one database: which they are, how each is started.

A production often runs more than one Odoo container (or systemd unit) on the
same PostgreSQL database — e.g. ``odoo-accounting``, ``odoo-core`` and
``odoo-marketing``. Maintenance must stop them all, deploy must restart and
verify each, health must probe each. This module reads what the compose file
says about each service (image, Odoo command-line options, environment) and
asks the Docker engine which image id each one runs.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from odoo_ops.adapters.compose import ComposeFile, ComposeService

if TYPE_CHECKING:
    from odoo_ops.adapters import Target

#: Odoo command-line options and the odoo.conf key each sets.
_OPTIONS = {
    "-d": "db_name",
    "--database": "db_name",
    "--db_host": "db_host",
    "--db-host": "db_host",
    "--db_port": "db_port",
    "--db_maxconn": "db_maxconn",
    "--workers": "workers",
    "--max-cron-threads": "max_cron_threads",
    "--addons-path": "addons_path",
    "--load": "server_wide_modules",
    "--db-filter": "dbfilter",
    "--dbfilter": "dbfilter",
    "--gevent-port": "gevent_port",
    "--http-port": "http_port",
    "-p": "http_port",
    "-c": "config",
    "--config": "config",
}
#: Environment variables of the official Odoo image (and libpq) and the key each sets.
_ENV = {"HOST": "db_host", "DB_HOST": "db_host", "PGHOST": "db_host", "PGDATABASE": "db_name"}
#: Where the official Odoo image reads its odoo.conf (its ``ODOO_RC``).
IMAGE_CONF = "/etc/odoo/odoo.conf"


def _argv(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    try:
        return shlex.split(str(value))
    except ValueError:
        return str(value).split()


@dataclass
class ServiceSettings:
    """What the compose file says about one Odoo service."""

    name: str
    image: str | None
    build: bool
    options: dict[str, str] = field(default_factory=dict)  # odoo.conf key -> value
    #: the odoo.conf this service reads, as the container sees it (``-c``/``--config``,
    #: ``ODOO_RC``, or a bind mount on the image's /etc/odoo/odoo.conf); None: not said
    conf_in_container: str | None = None
    #: that file on this host, through the service's bind mounts (None: not mounted
    #: from the host -- baked into the image or on a named volume)
    conf_path: Path | None = None

    def get(self, key: str) -> str | None:
        return self.options.get(key)


def service_settings(svc: ComposeService) -> ServiceSettings:
    """Odoo options given to ``svc`` on its command line (entrypoint + command)
    and in its environment; odoo.conf values are the caller's to merge."""
    argv = _argv(svc.raw.get("entrypoint")) + _argv(svc.raw.get("command"))
    options: dict[str, str] = {}
    for key, value in svc.environment.items():
        if key in _ENV and value:
            options.setdefault(_ENV[key], value)
    i = 0
    while i < len(argv):
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in _OPTIONS:
            if not eq:
                if i + 1 >= len(argv):
                    break
                value = argv[i + 1]
                i += 1
            options[_OPTIONS[name]] = value
        i += 1
    conf = options.pop("config", None) or svc.environment.get("ODOO_RC") or None
    if conf is None:
        mount = svc.volume_for(IMAGE_CONF)
        if mount is not None and mount.source is not None:
            conf = IMAGE_CONF
    host = svc.host_path(conf) if conf else None
    return ServiceSettings(svc.name, svc.image, "build" in svc.raw, options, conf, host)


def runs_odoo(svc: ComposeService) -> bool:
    """True when the service runs an Odoo image or an Odoo command."""
    image = (svc.image or "").lower()
    if "postgres" in image or re.search(r"(^|/)(nginx|caddy|redis|traefik)([:@]|$)", image):
        return False
    if re.search(r"(^|/)odoo([-_.:]|$)", image):
        return True
    argv = " ".join(_argv(svc.raw.get("entrypoint")) + _argv(svc.raw.get("command")))
    return bool(re.search(r"(^|[\s/])(odoo|odoo-bin)(\s|$)", argv))


def discover_odoo_services(
    compose: ComposeFile, *, db_service: str = "db", preferred: str | None = None
) -> list[str]:
    """The compose services that run Odoo on the same database, in file order.

    Services are grouped by (database host, database name) as their command
    line and environment say (unknown parts match anything); the group of
    ``preferred`` wins, else the largest.
    """
    odoo = [svc for name, svc in compose.services.items() if name != db_service and runs_odoo(svc)]
    if not odoo:
        return []
    keys = {svc.name: _db_key(service_settings(svc), db_service) for svc in odoo}

    def same(a: tuple[str | None, str | None], b: tuple[str | None, str | None]) -> bool:
        return all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))

    groups = [[s.name for s in odoo if same(keys[s.name], keys[anchor.name])] for anchor in odoo]
    if preferred:
        mine = [g for g in groups if preferred in g]
        if mine:
            return max(mine, key=len)
    return max(groups, key=len)


def _db_key(settings: ServiceSettings, db_service: str) -> tuple[str | None, str | None]:
    host = settings.get("db_host")
    if host in ("db", "postgres", db_service):
        host = db_service
    name = settings.get("db_name")
    return host, (name if name and "," not in name else None)


def published_ports(svc: ComposeService) -> dict[str, str]:
    """Host port -> container port of the ports ``svc`` publishes (``ports:``
    short and long syntax; ranges are left out)."""
    out: dict[str, str] = {}
    for item in svc.raw.get("ports") or []:
        if isinstance(item, dict):
            published, target = item.get("published"), item.get("target")
            if published is not None and target is not None:
                out[str(published)] = str(target)
            continue
        text = str(item).split("/", 1)[0]  # 8072:8072/tcp
        if text.startswith("["):  # [::1]:8072:8072
            text = text.split("]:", 1)[-1]
        parts = text.rsplit(":", 2)
        if len(parts) >= 2 and "-" not in parts[-1] and "-" not in parts[-2]:
            out[parts[-2]] = parts[-1]
    return out


# -- image ids (Docker engine) -------------------------------------------------


def container_image_ids(target: Target, services: Sequence[str]) -> dict[str, str | None]:
    """The image id each service's container runs now (None: no container)."""
    from odoo_ops.adapters.hostcmd import compose_runner, run_on_host

    compose = compose_runner(target)
    out: dict[str, str | None] = {}
    if compose is None:
        return dict.fromkeys(services)
    for service in services:
        ps = run_on_host(target, compose.compose_argv("ps", "-a", "-q", service), timeout=60)
        ids = [line.strip() for line in ps.output.splitlines() if line.strip()] if ps.ok else []
        if not ids:
            out[service] = None
            continue
        inspect = run_on_host(
            target, ["docker", "inspect", "--format", "{{.Image}}", ids[0]], timeout=60
        )
        value = inspect.output.strip().splitlines()[-1:] if inspect.ok else []
        out[service] = value[0].strip() if value and value[0].startswith("sha256:") else None
    return out


def image_id(target: Target, image: str) -> str | None:
    """``docker image inspect --format '{{.Id}}' IMAGE`` (None when absent)."""
    from odoo_ops.adapters.hostcmd import run_on_host

    result = run_on_host(target, ["docker", "image", "inspect", "--format", "{{.Id}}", image])
    lines = result.output.strip().splitlines() if result.ok else []
    return lines[-1].strip() if lines and lines[-1].startswith("sha256:") else None


def rollback_tag(image: str, deploy_id: str) -> str:
    """``<repo>:odoo-ops-rollback-<deploy id>`` for a compose service's image name."""
    repo = image.split("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo[: len(repo) - len(last)] + last.split(":", 1)[0]
    return f"{repo}:odoo-ops-rollback-{deploy_id}"
