"""Reading a Docker Compose project: services, images, volumes, ``ps`` output.

Only what odoo-ops needs: which service runs Odoo and which PostgreSQL, the
bind mounts that map container paths (``/mnt/extra-addons``,
``/etc/odoo/odoo.conf``) to paths on this host, healthchecks and logging
settings, and the two JSON shapes ``docker compose ps --format json`` prints
(a JSON array before Compose 2.21, one JSON object per line since).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from odoo_ops.errors import ConfigError
from odoo_ops.inputs import COMPOSE_LIMIT, parse_guard, read_input_text

COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")


@dataclass(frozen=True)
class Mount:
    source: Path | None  # None for a named volume
    target: str
    volume: str | None = None
    read_only: bool = False


@dataclass
class ComposeService:
    name: str
    image: str | None
    raw: dict[str, Any]
    mounts: list[Mount] = field(default_factory=list)

    @property
    def environment(self) -> dict[str, str]:
        env = self.raw.get("environment") or {}
        if isinstance(env, list):
            out = {}
            for item in env:
                key, _, value = str(item).partition("=")
                out[key] = value
            return out
        return {str(k): "" if v is None else str(v) for k, v in env.items()}

    @property
    def healthcheck(self) -> dict[str, Any] | None:
        hc = self.raw.get("healthcheck")
        if not isinstance(hc, dict) or hc.get("disable"):
            return None
        return hc

    @property
    def logging(self) -> dict[str, Any] | None:
        value = self.raw.get("logging")
        return value if isinstance(value, dict) else None

    @property
    def image_tag(self) -> str | None:
        if not self.image or ":" not in self.image.rsplit("/", 1)[-1]:
            return None
        return self.image.rsplit(":", 1)[1]

    def host_path(self, container_path: str) -> Path | None:
        """The host path behind ``container_path`` through a bind mount, if any."""
        target = PurePosixPath(container_path)
        best: tuple[int, Path] | None = None
        for mount in self.mounts:
            if mount.source is None:
                continue
            mt = PurePosixPath(mount.target)
            if target == mt or mt in target.parents:
                rel = target.relative_to(mt)
                depth = len(mt.parts)
                if best is None or depth > best[0]:
                    best = (depth, mount.source / str(rel) if str(rel) != "." else mount.source)
        return best[1] if best else None

    def volume_for(self, container_path: str) -> Mount | None:
        target = PurePosixPath(container_path)
        for mount in self.mounts:
            mt = PurePosixPath(mount.target)
            if target == mt or mt in target.parents:
                return mount
        return None


@dataclass
class ComposeFile:
    path: Path
    services: dict[str, ComposeService]
    raw: dict[str, Any]

    def odoo_service(self, preferred: str | None = None) -> ComposeService | None:
        if preferred and preferred in self.services:
            return self.services[preferred]
        for svc in self.services.values():
            image = (svc.image or "").lower()
            named_odoo = re.search(r"(^|/)odoo(:|$)", image) or "odoo" in svc.name.lower()
            if named_odoo and "postgres" not in image:
                return svc
        return None

    def db_service(self, preferred: str | None = None) -> ComposeService | None:
        if preferred and preferred in self.services:
            return self.services[preferred]
        for svc in self.services.values():
            if "postgres" in (svc.image or "").lower():
                return svc
        return None


def find_compose_file(directory: Path) -> Path | None:
    """The compose file of ``directory``: whatever is there under one of the names
    (not only a regular file, so that reading it refuses a FIFO or a device)."""
    for name in COMPOSE_NAMES:
        if os.path.lexists(directory / name):
            return directory / name
    return None


def _parse_mount(item: Any, base: Path) -> Mount | None:
    if isinstance(item, str):
        parts = item.split(":")
        if len(parts) == 1:
            return Mount(source=None, target=parts[0], volume=None)
        source, target = parts[0], parts[1]
        ro = len(parts) > 2 and "ro" in parts[2].split(",")
    elif isinstance(item, dict):
        source = str(item.get("source") or "")
        target = str(item.get("target") or "")
        ro = bool(item.get("read_only"))
        if item.get("type") not in (None, "bind", "volume"):
            return None
        if not target:
            return None
    else:
        return None
    if source.startswith((".", "/", "~")):
        path = Path(source).expanduser()
        if not path.is_absolute():
            path = (base / path).resolve()
        return Mount(source=path, target=target, read_only=ro)
    return Mount(source=None, target=target, volume=source or None, read_only=ro)


def load_compose(path: Path) -> ComposeFile:
    import yaml

    text = read_input_text(
        path, kind="compose file", limit=COMPOSE_LIMIT, error=ConfigError, missing_ok=True
    )
    if text is None:
        raise ConfigError(f"compose file not found: {path}")
    try:
        with parse_guard(str(path), "compose file", ConfigError):
            data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}{where}: invalid YAML") from None
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict):
        raise ConfigError(f"{path}: not a compose file (no 'services' mapping)")
    services = {}
    for name, raw in data["services"].items():
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: services.{name} is not a mapping")
        mounts = [m for m in (_parse_mount(v, path.parent) for v in raw.get("volumes") or []) if m]
        image = raw.get("image")
        services[str(name)] = ComposeService(
            name=str(name), image=str(image) if image else None, raw=raw, mounts=mounts
        )
    return ComposeFile(path=path, services=services, raw=data)


@dataclass(frozen=True)
class ContainerState:
    service: str
    name: str
    state: str  # running, exited, ...
    health: str  # healthy, unhealthy, starting, "" when no healthcheck


def parse_compose_ps(output: str) -> list[ContainerState]:
    """Parse ``docker compose ps --format json`` in both of its output shapes."""
    text = output.strip()
    if not text:
        return []
    items: list[Any]
    if text.startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"unreadable docker compose ps output: {exc}") from None
    else:
        items = []
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"unreadable docker compose ps output: {exc}") from None
    states = []
    for item in items:
        if not isinstance(item, dict):
            continue
        states.append(
            ContainerState(
                service=str(item.get("Service", "")),
                name=str(item.get("Name", "")),
                state=str(item.get("State", "")).lower(),
                health=str(item.get("Health", "") or "").lower(),
            )
        )
    return states
