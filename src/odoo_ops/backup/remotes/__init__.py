"""Off-site copies of backups: ``[[backup.remotes]]`` and the kinds of remote.

One module per kind behind :class:`~odoo_ops.backup.remotes.base.Remote`:
:mod:`.filedir` (``file://``), :mod:`.ssh` (``ssh://``/``sftp://``, system
OpenSSH with rsync or sftp), :mod:`.s3` (``s3://``, boto3). The actions
(push, pull, list, prune per remote) are in :mod:`.ops`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from odoo_ops.backup.remotes.base import Remote, RemoteCopy, RemoteError, WantedFile
from odoo_ops.errors import ConfigError
from odoo_ops.secrets import redact_url

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.config.schema import BackupRemote

__all__ = ["Remote", "RemoteCopy", "RemoteError", "WantedFile", "configured", "open_remote"]


def configured(target: Target) -> list[BackupRemote]:
    return list(target.project.config.backup.remotes)


def find_config(target: Target, name: str) -> BackupRemote:
    for remote in configured(target):
        if remote.name == name:
            return remote
    names = [r.name for r in configured(target)]
    raise ConfigError(
        f"no remote named {name!r} in [[backup.remotes]]",
        hint=f"remotes: {', '.join(names)}"
        if names
        else "add a [[backup.remotes]] to odoo-ops.toml",
    )


def open_remote(target: Target, cfg: BackupRemote) -> Remote:
    """The :class:`Remote` for one ``[[backup.remotes]]`` entry."""
    display = redact_url(cfg.url)
    parts = urlsplit(cfg.url)
    options: dict[str, Any] = dict(cfg.options)
    where = f"[[backup.remotes]] {cfg.name}"
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ConfigError(f"{where}: a file URL is file:///absolute/path, not {display}")
        from odoo_ops.backup.remotes.filedir import FileRemote

        return FileRemote(cfg.name, display, Path(unquote(parts.path)))
    if parts.scheme in ("ssh", "sftp"):
        if not parts.hostname or not parts.path:
            raise ConfigError(f"{where}: an ssh URL is ssh://user@host:port/path, not {display}")
        if parts.password:
            raise ConfigError(
                f"{where}: passwords in ssh URLs are not used",
                hint="use a key: identity_file in the remote's options",
            )
        from odoo_ops.backup.remotes.ssh import SshRemote

        for key in ("identity_file", "known_hosts"):
            if options.get(key):
                options[key] = str((target.root / str(options[key])).expanduser())
        if parts.scheme == "sftp":
            options.setdefault("method", "sftp")
        path = unquote(parts.path)
        return SshRemote(
            cfg.name,
            display,
            host=parts.hostname,
            user=unquote(parts.username) if parts.username else None,
            port=parts.port,
            root=path,
            options=options,
        )
    if parts.scheme == "s3":
        if not parts.netloc:
            raise ConfigError(f"{where}: an S3 URL is s3://bucket/prefix, not {display}")
        from odoo_ops.backup.remotes.s3 import S3Remote

        env: dict[str, str] = {}
        env_file = options.get("env_file")
        if env_file:
            from odoo_ops.config.envfile import read_env_file

            env = read_env_file((target.root / str(env_file)).expanduser())
        return S3Remote(
            cfg.name,
            display,
            bucket=parts.netloc,
            prefix=unquote(parts.path),
            options=options,
            env={**target.project.env, **env},
        )
    raise ConfigError(
        f"{where}: unknown kind of remote {display}",
        hint="use file:///path, ssh://user@host:port/path, sftp://… or s3://bucket/prefix",
    )
