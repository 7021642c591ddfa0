"""Which repositories ``oca sync`` fetches: ``[oca]`` of odoo-ops.toml or a
git-aggregator ``repos.yaml``.

``[oca]`` (``addons_dir``, ``lock_file``, ``repos_file``, ``[[oca.repos]]`` with
``name``, ``url``, ``branch`` (default: the series), ``target`` (destination
directory relative to the project; default ``<addons_dir>/<name>``)).

git-aggregator's format (https://github.com/acsone/git-aggregator)::

    ./addons/oca/server-tools:          # destination, relative to the yaml file
        defaults:
            depth: 20                   # optional
        remotes:
            oca: https://github.com/OCA/server-tools.git
            acme: git@github.com:acme/server-tools.git
        merges:
            - oca 18.0                  # the base: "remote ref"
            - acme 18.0-fix-something   # merged on top (branch, tag, sha or refs/pull/N/head)
            - {remote: oca, ref: refs/pull/123/head}
        target: acme aggregated         # where git-aggregator pushes; not used here

``$VAR`` / ``${VAR}`` in the file are expanded from the given environment, as
git-aggregator does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odoo_ops.errors import ConfigError
from odoo_ops.inputs import REPOS_FILE_LIMIT, parse_guard, read_input_text

_VAR = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class Merge:
    remote: str
    url: str
    ref: str

    def as_dict(self) -> dict[str, str]:
        return {"remote": self.remote, "url": self.url, "ref": self.ref}


@dataclass
class RepoSpec:
    """One repository to sync: where it goes and what it is made of."""

    name: str
    path: Path
    merges: list[Merge]
    depth: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def base(self) -> Merge:
        return self.merges[0]

    @property
    def aggregated(self) -> bool:
        return len(self.merges) > 1


def _expand(text: str, environ: Mapping[str, str]) -> str:
    return _VAR.sub(lambda m: environ.get(m.group(1) or m.group(2), m.group(0)), text)


def from_config(oca: Any, root: Path, series: str | None) -> list[RepoSpec]:
    """The ``[[oca.repos]]`` entries of odoo-ops.toml."""
    specs = []
    for repo in oca.repos:
        branch = repo.branch or series
        if not branch:
            raise ConfigError(
                f"oca repo {repo.name!r} has no branch and the series is unknown",
                hint="set branch, the deployment's series, or pass --series",
            )
        dest = root / (repo.target or f"{oca.addons_dir}/{repo.name}")
        specs.append(RepoSpec(repo.name, dest, [Merge("origin", repo.url, branch)]))
    return specs


def _merge_entry(item: Any, remotes: dict[str, str], where: str) -> Merge:
    if isinstance(item, str):
        parts = item.split()
        if len(parts) != 2:
            raise ConfigError(f"{where}: a merge is 'REMOTE REF' (got {item!r})")
        remote, ref = parts
    elif isinstance(item, dict):
        remote, ref = str(item.get("remote", "")), str(item.get("ref", ""))
        if not remote or not ref:
            raise ConfigError(f"{where}: a merge needs remote and ref (got {item!r})")
    else:
        raise ConfigError(f"{where}: unreadable merge entry {item!r}")
    if remote not in remotes:
        raise ConfigError(f"{where}: merge names unknown remote {remote!r}")
    return Merge(remote, remotes[remote], ref)


def from_repos_yaml(path: Path, environ: Mapping[str, str]) -> list[RepoSpec]:
    """The repositories of a git-aggregator ``repos.yaml``."""
    import yaml

    text = read_input_text(path, kind="repos file", limit=REPOS_FILE_LIMIT, error=ConfigError)
    try:
        with parse_guard(str(path), "repos file", ConfigError):
            data = yaml.safe_load(_expand(text, environ))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of destination directories")
    specs = []
    for dest, body in data.items():
        where = f"{path.name}: {dest}"
        if not isinstance(body, dict):
            raise ConfigError(f"{where}: expected remotes and merges")
        remotes = body.get("remotes") or {}
        if not isinstance(remotes, dict) or not remotes:
            raise ConfigError(f"{where}: no remotes")
        remotes = {str(k): str(v) for k, v in remotes.items()}
        merges_raw = body.get("merges") or []
        if not isinstance(merges_raw, list) or not merges_raw:
            raise ConfigError(f"{where}: no merges")
        merges = [_merge_entry(m, remotes, where) for m in merges_raw]
        defaults = body.get("defaults") or {}
        depth = defaults.get("depth") if isinstance(defaults, dict) else None
        destination = (path.parent / str(dest)).resolve()
        spec = RepoSpec(destination.name, destination, merges, depth=int(depth) if depth else None)
        if body.get("shell_command_after"):
            spec.notes.append("shell_command_after is not run by odoo-ops")
        specs.append(spec)
    return specs


def load_specs(
    oca: Any,
    root: Path,
    series: str | None,
    environ: Mapping[str, str],
    repos_file: Path | None = None,
) -> list[RepoSpec]:
    """``repos_file`` (argument or ``[oca] repos_file``) wins over ``[[oca.repos]]``."""
    chosen = repos_file or (root / oca.repos_file if oca.repos_file else None)
    specs = from_repos_yaml(chosen, environ) if chosen else from_config(oca, root, series)
    if not specs:
        raise ConfigError(
            "no OCA repositories configured",
            hint="add [[oca.repos]] to odoo-ops.toml or point [oca] repos_file at a repos.yaml",
        )
    names: dict[str, Path] = {}
    for spec in specs:
        if spec.name in names and names[spec.name] != spec.path:
            raise ConfigError(f"two repositories are named {spec.name!r}")
        names[spec.name] = spec.path
    return specs
