"""Where PITR keeps things for a deployment, and what it writes there.

Everything lives under one directory (``[pitr] dir``, default
``.odoo-ops/pitr/<deployment>`` in the project): ``pgbackrest.conf``, the
repository ``repo/`` (or ``[pitr] repo_path``), pgBackRest's ``log/``,
``lock/`` and ``spool/``, the filestore archive ``filestore/`` beside the
repository, and ``scratch/`` where restores run their temporary server.
When odoo-ops runs as root these belong to the cluster's OS user, who runs
pgBackRest (``archive_command`` runs as that user anyway).
"""

from __future__ import annotations

import os
import pwd
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from odoo_ops.errors import ConfigError, OpsError
from odoo_ops.names import InvalidName, check_deployment_name

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.config.schema import Pitr
    from odoo_ops.pitr.repository import RemoteRepository

CONF_NAME = "pgbackrest.conf"


@dataclass
class PitrSetup:
    """The resolved ``[pitr]`` of one deployment."""

    deployment: str
    database: str | None
    policy: Pitr
    base: Path
    repo: Path
    stanza: str
    pg_data: Path | None
    pg_port: int
    pg_socket: str
    pg_user: str | None
    os_user: str | None
    #: the off-site remote holding the repository (``[pitr] repository``); None: ``repo``
    remote: RemoteRepository | None = field(default=None)

    @property
    def repo_display(self) -> str:
        """Where the repository is, fit to print (a remote's URL is redacted)."""
        if self.remote is not None:
            return f"{self.remote.kind} remote {self.remote.name} ({self.remote.display})"
        return str(self.repo)

    @property
    def conf_has_secrets(self) -> bool:
        return self.remote is not None and bool(self.remote.secrets)

    @property
    def conf_path(self) -> Path:
        return self.base / CONF_NAME

    @property
    def log_dir(self) -> Path:
        return self.base / "log"

    @property
    def lock_dir(self) -> Path:
        return self.base / "lock"

    @property
    def spool_dir(self) -> Path:
        return self.base / "spool"

    @property
    def filestore_archive(self) -> Path:
        return self.base / "filestore"

    @property
    def scratch_root(self) -> Path:
        return self.base / "scratch"

    @property
    def is_set_up(self) -> bool:
        return self.conf_path.is_file()

    def require_pg_data(self) -> Path:
        if self.pg_data is None:
            raise ConfigError(
                "[pitr] pg_data is not set",
                hint="set [pitr] pg_data to the server's data directory"
                " (SHOW data_directory; e.g. /var/lib/postgresql/15/main)",
            )
        return self.pg_data

    def archive_command(self) -> str:
        """The ``archive_command`` that pushes a WAL file into this stanza."""
        exe = self.policy.server_pgbackrest or self.policy.pgbackrest
        return (
            f"{shlex.quote(exe)} --config={shlex.quote(str(self.conf_path))}"
            f" --stanza={shlex.quote(self.stanza)} archive-push %p"
        )

    def postgres_settings(self) -> dict[str, str]:
        """The server settings PITR needs (name -> value)."""
        return {
            "wal_level": "replica",
            "archive_mode": "on",
            "archive_command": self.archive_command(),
            "archive_timeout": str(self.policy.archive_timeout),
            "max_wal_senders": "3",
        }

    def pgbackrest_conf(self) -> str:
        """The text of ``pgbackrest.conf`` for this deployment (one stanza)."""
        pol = self.policy
        lines = [
            f"# Written by `odoo-ops pitr setup` for deployment {self.deployment}.",
            "# Rerun it rather than editing: it rewrites this file.",
            "[global]",
            *(self.remote.conf_lines() if self.remote else [f"repo1-path={self.repo}"]),
            f"repo1-retention-full={pol.retention_full}",
        ]
        if pol.retention_diff:
            lines.append(f"repo1-retention-diff={pol.retention_diff}")
        lines += [
            "compress-type=lz4",
            f"process-max={pol.process_max}",
            "start-fast=y",
            f"log-path={self.log_dir}",
            f"lock-path={self.lock_dir}",
            f"spool-path={self.spool_dir}",
            "log-level-console=warn",
            "log-level-stderr=error",
            "log-level-file=info",
            "",
            f"[{self.stanza}]",
            f"pg1-path={self.require_pg_data()}",
            f"pg1-port={self.pg_port}",
            f"pg1-socket-path={self.pg_socket}",
        ]
        if self.pg_user:
            lines.append(f"pg1-user={self.pg_user}")
        return "\n".join(lines) + "\n"

    def make_dirs(self) -> None:
        """Create the PITR directories, owned by the cluster's OS user when root."""
        repo = [] if self.remote else [self.repo]
        for path in (self.base, *repo, self.log_dir, self.lock_dir, self.spool_dir,
                     self.filestore_archive, self.scratch_root):  # fmt: skip
            try:
                path.mkdir(parents=True, exist_ok=True, mode=0o750)
            except OSError as exc:
                raise OpsError(f"cannot create {path}: {exc.strerror}") from None
            chown_to(path, self.os_user)


def chown_to(path: Path, user: str | None) -> None:
    """Give ``path`` to ``user`` when odoo-ops runs as root (a no-op otherwise)."""
    if user is None or os.geteuid() != 0:
        return
    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _dsn_params(target: Target) -> dict[str, str]:
    from psycopg.conninfo import conninfo_to_dict

    try:
        return {k: str(v) for k, v in conninfo_to_dict(target.dsn()).items() if v is not None}
    except OpsError:
        return {}


def resolve(target: Target) -> PitrSetup:
    """The :class:`PitrSetup` of ``target`` from ``[pitr]`` and its DSN."""
    policy = target.project.config.pitr
    name = target.name
    default_base = target.root / ".odoo-ops" / "pitr" / name
    base = target.project.path(policy.dir) if policy.dir else default_base
    repo = target.project.path(policy.repo_path) if policy.repo_path else base / "repo"
    stanza = policy.stanza or name
    try:
        check_deployment_name(stanza)
    except InvalidName as exc:
        raise ConfigError(f"[pitr] stanza: {exc.message}", hint=exc.hint) from None
    remote = None
    if policy.repository:
        if policy.repo_path:
            raise ConfigError("[pitr] sets both repository and repo_path",
                              hint="keep one: a remote's name, or a local directory")  # fmt: skip
        from odoo_ops.pitr.repository import resolve_repository

        remote = resolve_repository(target, policy.repository, stanza, base=base)
    params = _dsn_params(target)
    host = params.get("host", "")
    socket = policy.pg_socket_path or (host if host.startswith("/") else "/var/run/postgresql")
    port = policy.pg_port or int(params.get("port") or 5432)
    pg_data = target.project.path(policy.pg_data) if policy.pg_data else None
    return PitrSetup(
        deployment=name,
        database=target.database_name,
        policy=policy,
        base=base,
        repo=repo,
        stanza=stanza,
        pg_data=pg_data,
        pg_port=port,
        pg_socket=socket,
        pg_user=policy.pg_user or params.get("user"),
        os_user=_os_user(policy.os_user, pg_data),
        remote=remote,
    )


def _os_user(configured: str | None, pg_data: Path | None) -> str | None:
    """The OS user pgBackRest runs as: ``[pitr] os_user``, else (as root) the owner of
    the data directory; None = odoo-ops' own user."""
    if configured:
        try:
            pwd.getpwnam(configured)
        except KeyError:
            raise ConfigError(f"[pitr] os_user {configured!r} is not a user of this host") from None
        if os.geteuid() != 0 and pwd.getpwuid(os.geteuid()).pw_name != configured:
            raise ConfigError(
                f"[pitr] os_user is {configured!r}: odoo-ops must run as it or as root"
            )
        return None if pwd.getpwuid(os.geteuid()).pw_name == configured else configured
    if os.geteuid() != 0 or pg_data is None:
        return None
    try:
        owner = pwd.getpwuid(pg_data.stat().st_uid).pw_name
    except (OSError, KeyError):
        return None
    return None if owner == "root" else owner
