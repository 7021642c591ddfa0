"""Loading ``odoo-ops.toml``: TOML, interpolation, validation with dotted paths."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from odoo_ops.config.envfile import interpolate, read_env_file
from odoo_ops.config.schema import Config
from odoo_ops.errors import ConfigError
from odoo_ops.inputs import CONFIG_LIMIT, parse_guard, read_input_text

CONFIG_NAMES = ("odoo-ops.toml", ".odoo-ops.toml")


@dataclass
class LoadedConfig:
    """A validated configuration and what loading it noticed."""

    config: Config
    path: Path | None
    warnings: list[str] = field(default_factory=list)
    # dotted setting -> variables that were not set anywhere
    unresolved: dict[str, list[str]] = field(default_factory=dict)
    # values of the env files, per deployment name
    env: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path else Path.cwd()


def find_config_file(start: Path) -> Path | None:
    """The config file in ``start``: whatever is there under that name (a FIFO, a
    device or a directory too, so that reading it refuses it instead of ignoring it)."""
    for name in CONFIG_NAMES:
        candidate = start / name
        if os.path.lexists(candidate):
            return candidate
    return None


def _interpolate_tree(
    node: Any, env: Mapping[str, str], path: str, unresolved: dict[str, list[str]]
) -> Any:
    if isinstance(node, str):
        missing: set[str] = set()
        out = interpolate(node, env, missing)
        if missing:
            unresolved[path] = sorted(missing)
        return out
    if isinstance(node, dict):
        return {
            k: _interpolate_tree(v, env, f"{path}.{k}" if path else str(k), unresolved)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_interpolate_tree(v, env, f"{path}[{i}]", unresolved) for i, v in enumerate(node)]
    return node


def _format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _format_error(err: Mapping[str, Any]) -> str:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    where = _format_loc(loc) or "(top level)"
    msg = str(err["msg"])
    if err["type"] == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        msg = f"must be one of {expected} (got {err.get('input')!r})"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    elif err["type"] == "missing":
        msg = "is required"
    return f"{where}: {msg}"


def _collect_unknown(model: BaseModel, path: str, out: list[str]) -> None:
    for key in model.model_extra or {}:
        out.append(f"{path}.{key}" if path else key)
    for name in type(model).model_fields:
        value = getattr(model, name)
        sub = f"{path}.{name}" if path else name
        if isinstance(value, BaseModel):
            _collect_unknown(value, sub, out)
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, BaseModel):
                    _collect_unknown(v, f"{sub}.{k}", out)
        elif isinstance(value, list):
            for i, v in enumerate(value):
                if isinstance(v, BaseModel):
                    _collect_unknown(v, f"{sub}[{i}]", out)


def parse_config(
    raw: Mapping[str, Any], base_dir: Path, source: str, environ: Mapping[str, str] | None = None
) -> LoadedConfig:
    """Validate a parsed TOML document; interpolate each deployment with its env file."""
    environ = dict(os.environ if environ is None else environ)
    unresolved: dict[str, list[str]] = {}
    data = dict(raw)
    env_by_deployment: dict[str, dict[str, str]] = {}
    deployments = data.get("deployments")
    if isinstance(deployments, dict):
        new = {}
        for name, dep in deployments.items():
            if not isinstance(dep, dict):
                new[name] = dep
                continue
            file_env: dict[str, str] = {}
            env_file = dep.get("env_file")
            if isinstance(env_file, str):
                file_env = read_env_file((base_dir / env_file).expanduser())
            env_by_deployment[name] = file_env
            merged = {**file_env, **environ}  # the process environment wins, as in compose
            new[name] = _interpolate_tree(dep, merged, f"deployments.{name}", unresolved)
        data["deployments"] = new
    top_env = dict(environ)
    for key, value in list(data.items()):
        if key != "deployments":
            data[key] = _interpolate_tree(value, top_env, key, unresolved)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        errors = [_format_error(e) for e in exc.errors()]
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        message = f"{source}: {first}{more}".replace("\r", "\\r").replace("\n", "\\n")
        raise ConfigError(message) from None
    warnings: list[str] = []
    unknown: list[str] = []
    _collect_unknown(config, "", unknown)
    warnings.extend(f"{source}: unknown setting {u!r} (ignored)" for u in unknown)
    for setting, names in sorted(unresolved.items()):
        warnings.append(f"{source}: {setting} uses unset variable(s) {', '.join(names)}")
    return LoadedConfig(
        config=config,
        path=None,
        warnings=warnings,
        unresolved=unresolved,
        env=env_by_deployment,
    )


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> LoadedConfig:
    """Read and validate ``path``; raise :class:`ConfigError` with a one-line message."""
    text = read_input_text(
        path, kind="odoo-ops.toml", limit=CONFIG_LIMIT, error=ConfigError, missing_ok=True
    )
    if text is None:
        raise ConfigError(f"config file not found: {path}")
    try:
        with parse_guard(str(path), "odoo-ops.toml", ConfigError):
            raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    loaded = parse_config(raw, path.parent, str(path), environ)
    loaded.path = path
    return loaded
