"""Reading ``odoo.conf`` the way Odoo does, plus ``%(env:VAR)s`` interpolation.

Odoo reads the ``[options]`` section with ``configparser`` and converts each
option by its declared type; ``False``/``None`` mean "not set". Deployments
often template secrets as ``%(env:VAR)s``; those are resolved from the process
environment and the deployment's ``.env`` file. Unresolved variables are kept
as written and reported, never silently replaced by an empty string.
"""

from __future__ import annotations

import configparser
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odoo_ops.errors import ConfigError
from odoo_ops.inputs import ODOO_CONF_LIMIT, read_input_text

# option -> (type, default) as in odoo/tools/config.py (16.0-19.0)
OPTIONS: dict[str, tuple[str, Any]] = {
    "addons_path": ("list", []),
    "upgrade_path": ("list", []),
    "server_wide_modules": ("list", ["base", "web"]),
    "data_dir": ("path", None),
    "admin_passwd": ("str", "admin"),
    "csv_internal_sep": ("str", ","),
    "db_host": ("str", None),
    "db_port": ("int", None),
    "db_user": ("str", None),
    "db_password": ("str", None),
    "db_name": ("str", None),
    "db_sslmode": ("str", "prefer"),
    "db_template": ("str", "template0"),
    "db_maxconn": ("int", 64),
    "db_maxconn_gevent": ("int", None),
    "db_replica_host": ("str", None),
    "db_replica_port": ("int", None),
    "dbfilter": ("str", ""),
    "list_db": ("bool", True),
    "proxy_mode": ("bool", False),
    "x_sendfile": ("bool", False),
    "workers": ("int", 0),
    "max_cron_threads": ("int", 2),
    "limit_memory_soft": ("int", 2048 * 1024 * 1024),
    "limit_memory_hard": ("int", 2560 * 1024 * 1024),
    "limit_memory_soft_gevent": ("int", None),
    "limit_memory_hard_gevent": ("int", None),
    "limit_time_cpu": ("int", 60),
    "limit_time_real": ("int", 120),
    "limit_time_real_cron": ("int", -1),
    "limit_request": ("int", 65536),
    "http_enable": ("bool", True),
    "http_interface": ("str", ""),
    "http_port": ("int", 8069),
    "gevent_port": ("int", 8072),
    "longpolling_port": ("int", None),
    "logfile": ("path", None),
    "log_level": ("str", "info"),
    "log_handler": ("list", [":INFO"]),
    "log_db": ("str", None),
    "log_db_level": ("str", "warning"),
    "syslog": ("bool", False),
    "without_demo": ("str", None),
    "unaccent": ("bool", False),
    "geoip_database": ("path", None),
    "smtp_server": ("str", "localhost"),
    "smtp_port": ("int", 25),
    "smtp_user": ("str", None),
    "smtp_password": ("str", None),
    "smtp_ssl": ("bool", False),
    "email_from": ("str", None),
    "transient_age_limit": ("float", 1.0),
    "osv_memory_count_limit": ("int", 0),
    "test_enable": ("bool", False),
    "pidfile": ("path", None),
    "reportgz": ("bool", False),
}

SECRET_OPTIONS = frozenset({"admin_passwd", "db_password", "smtp_password"})

_ENV_REF = re.compile(r"%\(env:([A-Za-z_][A-Za-z0-9_]*)\)s")
_OPT_REF = re.compile(r"%\(([A-Za-z_][A-Za-z0-9_]*)\)s")
_FALSY = {"", "false", "none", "no", "0", "off"}
_TRUTHY = {"true", "yes", "1", "on"}


@dataclass
class OdooConf:
    """A parsed odoo.conf: raw strings, typed values, and what was unresolved."""

    path: Path | None
    raw: dict[str, str] = field(default_factory=dict)
    unresolved: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def has(self, option: str) -> bool:
        return option in self.raw

    def get(self, option: str) -> Any:
        """The typed value of ``option`` (Odoo's default when not set)."""
        kind, default = OPTIONS.get(option, ("str", None))
        if option not in self.raw:
            return default
        value = self.raw[option].strip()
        if option in self.unresolved:
            return None
        try:
            return _convert(kind, value, default)
        except ValueError:
            return default

    def error_for(self, option: str) -> str | None:
        """Why ``option`` cannot be converted, when it cannot."""
        kind, default = OPTIONS.get(option, ("str", None))
        if option not in self.raw or option in self.unresolved:
            return None
        try:
            _convert(kind, self.raw[option].strip(), default)
        except ValueError as exc:
            return str(exc)
        return None

    @property
    def addons_path(self) -> list[str]:
        value = self.get("addons_path")
        return list(value) if value else []

    @property
    def admin_passwd_hashed(self) -> bool:
        return str(self.raw.get("admin_passwd", "")).startswith("$pbkdf2-sha512$")

    def secret_values(self) -> list[str]:
        return [self.raw[o] for o in SECRET_OPTIONS if self.raw.get(o)]


def _convert(kind: str, value: str, default: Any) -> Any:
    low = value.lower()
    if kind == "bool":
        if low in _TRUTHY:
            return True
        if low in _FALSY:
            return False
        raise ValueError(f"{value!r} is not a boolean")
    if low in ("false", "none", ""):
        return default if kind in ("list",) else None
    if kind == "int":
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an integer") from None
    if kind == "float":
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
    if kind == "list":
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


def parse_odoo_conf(
    text: str, *, path: Path | None = None, env: Mapping[str, str] | None = None
) -> OdooConf:
    """Parse odoo.conf text. Raise :class:`ConfigError` when it is not an INI file."""
    source = str(path) if path else "odoo.conf"
    parser = configparser.RawConfigParser(strict=False)
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError(f"{source}: not a valid odoo.conf: {first}") from None
    if not parser.has_section("options"):
        raise ConfigError(f"{source}: no [options] section (Odoo reads only [options])")
    conf = OdooConf(path=path, raw=dict(parser.items("options")))
    env = env or {}
    for option, value in list(conf.raw.items()):
        missing: list[str] = []

        def env_repl(m: re.Match[str], missing: list[str] = missing) -> str:
            name = m.group(1)
            if name in env:
                return env[name]
            missing.append(name)
            return m.group(0)

        value = _ENV_REF.sub(env_repl, value)

        def opt_repl(m: re.Match[str], option: str = option) -> str:
            ref = m.group(1)
            if ref != option and ref in conf.raw and "%(" not in conf.raw[ref]:
                return conf.raw[ref]
            return m.group(0)

        value = _OPT_REF.sub(opt_repl, value)
        conf.raw[option] = value
        if missing:
            conf.unresolved[option] = missing
    for option in conf.raw:
        err = conf.error_for(option)
        if err:
            conf.problems.append(f"{option}: {err}")
    return conf


def read_odoo_conf(path: Path, env: Mapping[str, str] | None = None) -> OdooConf:
    text = read_input_text(
        path, kind="odoo.conf", limit=ODOO_CONF_LIMIT, error=ConfigError, missing_ok=True
    )
    if text is None:
        raise ConfigError(f"odoo.conf not found: {path}")
    return parse_odoo_conf(text, path=path, env=env)
