"""Resolving the deployment to work on: from ``odoo-ops.toml`` or by discovery.

An adapter: it reads the project's files (compose file, mounts, odoo.conf,
``.env``) as they are on the deployment; :mod:`odoo_ops.config` only parses
and validates the configuration.

With an ``odoo-ops.toml`` the deployment is the one named by
``--deployment``, else ``default_deployment``, else the only one. Without
one, the project directory is discovered: a compose file and its Odoo and
PostgreSQL services, the odoo.conf (``-c``, ``ODOO_RC``, the file mounted on
the Odoo service, or the usual places), ``.env``, the database (``-d``,
``db_name``), the series (the Odoo image tag) and the addons directories.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from odoo_ops.adapters.compose import find_compose_file, load_compose
from odoo_ops.config.envfile import read_env_file
from odoo_ops.config.loader import LoadedConfig, find_config_file, load_config
from odoo_ops.config.schema import SUPPORTED_SERIES, Config, Deployment
from odoo_ops.errors import ConfigError
from odoo_ops.inputs import check_input_path, is_regular_file, short

ODOO_CONF_CANDIDATES = (
    "odoo.conf",
    "config/odoo.conf",
    "config/odoo/odoo.conf",
    "etc/odoo.conf",
    "etc/odoo/odoo.conf",
    "conf/odoo.conf",
    ".odoorc",
)


@dataclass
class Overrides:
    """What the command line says, winning over the file and discovery."""

    odoo_conf: str | None = None
    database: str | None = None
    series: str | None = None
    base_url: str | None = None
    addons_paths: list[str] = field(default_factory=list)


@dataclass
class Project:
    """The resolved deployment: its settings, its directory, its environment."""

    root: Path
    config: Config
    name: str
    deployment: Deployment
    config_path: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    unresolved: dict[str, list[str]] = field(default_factory=dict)
    discovered: bool = False

    def path(self, value: str | os.PathLike[str]) -> Path:
        """A setting's path, relative to the project root when not absolute."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.root / p)

    def unresolved_for(self, setting: str) -> list[str]:
        return self.unresolved.get(f"deployments.{self.name}.{setting}", [])


def _pick_deployment(config: Config, wanted: str | None, source: str) -> str:
    if wanted:
        if wanted not in config.deployments:
            names = ", ".join(sorted(config.deployments)) or "none"
            raise ConfigError(f"{source}: no deployment named {wanted!r} (deployments: {names})")
        return wanted
    if config.default_deployment:
        return config.default_deployment
    if len(config.deployments) == 1:
        return next(iter(config.deployments))
    if not config.deployments:
        raise ConfigError(f"{source}: no [deployments.NAME] section")
    raise ConfigError(
        f"{source}: several deployments and no default_deployment",
        hint="pass --deployment NAME or set default_deployment",
    )


def _discover(root: Path, overrides: Overrides, environ: Mapping[str, str]) -> Project:
    notes: list[str] = []
    values: dict[str, object] = {}
    compose_path = find_compose_file(root)
    odoo_svc = None
    if compose_path:
        compose = load_compose(compose_path)
        odoo_svc = compose.odoo_service()
        db_svc = compose.db_service()
        values.update(runner="compose", compose_file=compose_path.name)
        notes.append(f"compose file: {compose_path.name}")
        if odoo_svc:
            from odoo_ops.adapters.topology import discover_odoo_services

            several = discover_odoo_services(
                compose, db_service=db_svc.name if db_svc else "db", preferred=odoo_svc.name
            )
            if len(several) > 1:  # several Odoo services on one database (docs/topology.md)
                values["odoo_services"] = several
                notes.append(f"odoo services: {', '.join(several)}")
            else:
                values["odoo_service"] = odoo_svc.name
            tag = odoo_svc.image_tag
            if tag:
                m = re.match(r"^(\d+)(?:\.0)?", tag)
                if m and f"{int(m.group(1))}.0" in SUPPORTED_SERIES:
                    values["series"] = f"{int(m.group(1))}.0"
                elif m:
                    notes.append(f"odoo image tag {tag}: not a series odoo-ops supports")
            notes.append(f"odoo service: {odoo_svc.name} ({odoo_svc.image or 'built'})")
        if db_svc:
            values["db_service"] = db_svc.name
            notes.append(f"database service: {db_svc.name} ({db_svc.image})")
    else:
        values["runner"] = "local"
    if os.path.lexists(root / ".env"):  # read (or refused) as the env_file below
        values["env_file"] = ".env"
    conf: str | None = overrides.odoo_conf or environ.get("ODOO_RC") or None
    if not conf and odoo_svc:
        for candidate in ("/etc/odoo/odoo.conf", "/etc/odoo"):
            host = odoo_svc.host_path(candidate)
            if host and is_regular_file(host):
                conf = str(host)
                break
            if host and is_regular_file(host / "odoo.conf"):
                conf = str(host / "odoo.conf")
                break
    if not conf:
        for candidate in ODOO_CONF_CANDIDATES:
            if (root / candidate).is_file():
                conf = candidate
                break
    if conf:
        values["odoo_conf"] = conf
        notes.append(f"odoo.conf: {conf}")
    else:
        notes.append("odoo.conf: not found")
    if (root / "backups").is_dir():
        values["backup_dir"] = "backups"
    deployment = Deployment.model_validate(values)
    return Project(
        root=root,
        config=Config(deployments={"default": deployment}, default_deployment="default"),
        name="default",
        deployment=deployment,
        notes=notes,
        discovered=True,
    )


def resolve_project(
    project_dir: Path | None = None,
    *,
    config_file: Path | None = None,
    deployment: str | None = None,
    overrides: Overrides | None = None,
    environ: Mapping[str, str] | None = None,
) -> Project:
    """Find the configuration (or discover the project) and pick the deployment."""
    environ = dict(os.environ if environ is None else environ)
    overrides = overrides or Overrides()
    if project_dir is not None:
        check_input_path(project_dir, what="project directory", error=ConfigError)
    if config_file is not None:
        check_input_path(config_file, what="config file", error=ConfigError)
    root = (project_dir or Path.cwd()).expanduser()
    try:
        if not root.exists():
            raise ConfigError(f"project directory not found: {short(root)}")
        if not root.is_dir():
            raise ConfigError(f"not a directory: {short(root)}")
        root = root.resolve()
    except OSError as exc:
        raise ConfigError(f"project directory {short(root)}: {exc.strerror}") from None
    path = (
        config_file
        or (Path(environ["ODOO_OPS_CONFIG"]) if environ.get("ODOO_OPS_CONFIG") else None)
        or find_config_file(root)
    )
    if path is not None:
        loaded: LoadedConfig = load_config(path.expanduser(), environ)
        if config_file is not None and project_dir is None:
            root = path.expanduser().resolve().parent
        name = _pick_deployment(loaded.config, deployment, str(path))
        project = Project(
            root=root,
            config=loaded.config,
            name=name,
            deployment=loaded.config.deployments[name].model_copy(deep=True),
            config_path=path,
            warnings=list(loaded.warnings),
            unresolved=loaded.unresolved,
        )
        file_env = loaded.env.get(name, {})
    else:
        if deployment and deployment != "default":
            raise ConfigError(
                f"no odoo-ops.toml in {root}: cannot select deployment {deployment!r}"
            )
        project = _discover(root, overrides, environ)
        file_env = (
            read_env_file(root / project.deployment.env_file) if project.deployment.env_file else {}
        )
    project.env = {**file_env, **environ}
    dep = project.deployment
    if overrides.odoo_conf:
        dep.odoo_conf = overrides.odoo_conf
    elif not dep.odoo_conf and environ.get("ODOO_RC"):
        dep.odoo_conf = environ["ODOO_RC"]
    if overrides.database:
        dep.database = overrides.database
    if overrides.series:
        dep.series = overrides.series
    if overrides.base_url:
        dep.base_url = overrides.base_url
    if overrides.addons_paths:
        dep.addons_paths = list(overrides.addons_paths)
    for setting in _LOCAL_PATH_SETTINGS:
        value = getattr(dep, setting)
        if isinstance(value, str):
            check_input_path(value, what=setting, error=ConfigError)
    return project


#: The settings that name files or directories on this machine (checked once, here).
_LOCAL_PATH_SETTINGS = (
    "compose_file", "odoo_conf", "env_file", "data_dir", "backup_dir", "log_dir",
    "odoo_log_file",
)  # fmt: skip
