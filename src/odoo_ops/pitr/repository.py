"""Where pgBackRest keeps the repository: a local directory, or one of the off-site
remotes of ``[[backup.remotes]]`` named by ``[pitr] repository``.

An ``s3://bucket/prefix`` remote becomes ``repo1-type=s3`` (path-style URIs, the
repository under ``/<prefix>/pitr``). pgBackRest talks to S3 over TLS only: an
``http://`` endpoint is refused; a store with a private CA names it with the
remote's ``ca_file`` option, and ``verify_tls = false`` turns verification off
(a test server only). The keys come from the remote's options or its env_file /
the project's environment (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``); they must be in pgBackRest's configuration because
PostgreSQL's ``archive_command`` runs without our environment, so that file is
written 0600 for the cluster's OS user and never shown.

``ssh://``/``sftp://`` remotes are refused. Debian's pgBackRest 2.45 has no
sftp repository type, and its own way to a repository over ssh
(``repo1-host``, a *repository host* running pgBackRest) is not fit for an
off-site remote: pgBackRest runs ``backup`` only on the repository host
("backup command must be run on the repository host"), which then logs in to
the database host over ssh as the cluster's OS user (``pg1-host``) — the
off-site host would hold a superuser's key to production, the reverse of what
an off-site copy is for, and it needs the same pgBackRest version and its own
configuration there. A repository host set up by its administrator, or a
mounted directory (``repo_path``), remain the ways to keep it elsewhere.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from odoo_ops.errors import ConfigError

if TYPE_CHECKING:
    from odoo_ops.adapters import Target


@dataclass
class RemoteRepository:
    """pgBackRest ``repo1-*`` settings for a remote repository."""

    name: str
    display: str  # the remote's URL, credentials redacted
    kind: str  # s3
    settings: list[tuple[str, str]]
    secrets: list[tuple[str, str]] = field(default_factory=list)
    local_files: list[Path] = field(default_factory=list)

    def conf_lines(self) -> list[str]:
        return [f"{key}={value}" for key, value in (*self.settings, *self.secrets)]


def _truthy(value: object) -> bool:
    return str(value).strip().lower() not in ("0", "false", "no", "n", "off", "")


def _line_safe(where: str, what: str, value: str) -> str:
    if any(ch in value for ch in "\r\n\0") or value != value.strip():
        raise ConfigError(f"{where}: {what} holds a line break or surrounding spaces")
    return value


def sftp_supported(pgbackrest: str) -> bool:
    """Whether this pgBackRest offers ``repo-type=sftp`` (built with libssh2)."""
    exe = shutil.which(pgbackrest)
    if exe is None:
        return False
    try:
        out = subprocess.run([exe, "help", "backup", "repo-type"], capture_output=True,
                             text=True, timeout=30).stdout  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "* sftp" in out


def resolve_repository(target: Target, name: str, stanza: str) -> RemoteRepository:
    """The :class:`RemoteRepository` of ``[pitr] repository = "<name>"``."""
    from odoo_ops.backup.remotes import find_config, open_remote
    from odoo_ops.backup.remotes.s3 import S3Remote

    cfg = find_config(target, name)
    where = f"[pitr] repository = {name!r}"
    remote = open_remote(target, cfg)  # validates the URL the way backup push does
    scheme = urlsplit(cfg.url).scheme
    if scheme in ("ssh", "sftp"):
        pgbr = target.project.config.pitr.pgbackrest
        why = ("odoo-ops does not map ssh remotes to it" if sftp_supported(pgbr)
               else "the pgBackRest here has no sftp repository type (built without libssh2),"
               " and a pgBackRest repository host would need ssh access back to this"
               " database host (docs/pitr.md)")  # fmt: skip
        raise ConfigError(
            f"{where}: an ssh remote cannot hold the PITR repository: {why}",
            hint="name an s3:// remote, or use a local repository ([pitr] repo_path,"
            " e.g. on a mounted NAS)",
        )
    if not isinstance(remote, S3Remote):
        raise ConfigError(
            f"{where}: remote {remote.display} is a local directory",
            hint=f'use [pitr] repo_path = "{urlsplit(cfg.url).path}" for a file:// remote',
        )
    opts, env = remote.options, remote.env

    def pick(option: str, variable: str) -> str | None:
        value = opts.get(option) or env.get(variable)
        return _line_safe(where, option, str(value)) if value else None

    endpoint = pick("endpoint_url", "AWS_ENDPOINT_URL")
    region = pick("region", "AWS_DEFAULT_REGION") or "us-east-1"
    settings: list[tuple[str, str]] = [("repo1-type", "s3")]
    if endpoint:
        parts = urlsplit(endpoint if "//" in endpoint else f"https://{endpoint}")
        if parts.scheme != "https":
            raise ConfigError(
                f"{where}: pgBackRest reaches S3 over TLS only, the endpoint is {parts.scheme}://",
                hint="serve the store over https (ca_file names a private CA)",
            )
        if not parts.hostname:
            raise ConfigError(f"{where}: endpoint_url {endpoint!r} names no host")
        settings.append(("repo1-s3-endpoint", parts.hostname))
        if parts.port:
            settings.append(("repo1-storage-port", str(parts.port)))
    else:
        settings.append(("repo1-s3-endpoint", f"s3.{region}.amazonaws.com"))
    prefix = remote.prefix.strip("/")
    path = f"/{prefix}/pitr" if prefix else "/pitr"
    settings += [
        ("repo1-s3-bucket", remote.bucket),
        ("repo1-s3-region", region),
        ("repo1-s3-uri-style", "path" if opts.get("addressing_style", "path") == "path"
         else "host"),
        ("repo1-path", _line_safe(where, "prefix", path)),
    ]  # fmt: skip
    local: list[Path] = []
    if opts.get("ca_file"):
        ca = (target.root / str(opts["ca_file"])).expanduser()
        if not ca.is_file():
            raise ConfigError(f"{where}: ca_file {ca} does not exist")
        settings.append(("repo1-storage-ca-file", _line_safe(where, "ca_file", str(ca))))
        local.append(ca)
    if "verify_tls" in opts and not _truthy(opts["verify_tls"]):
        settings.append(("repo1-storage-verify-tls", "n"))
    key = pick("access_key_id", "AWS_ACCESS_KEY_ID")
    secret = pick("secret_access_key", "AWS_SECRET_ACCESS_KEY")
    token = pick("session_token", "AWS_SESSION_TOKEN")
    if not key or not secret:
        raise ConfigError(
            f"{where}: no S3 keys for pgBackRest",
            hint="set access_key_id and secret_access_key in the remote's options"
            ' (as "${AWS_SECRET_ACCESS_KEY}") or AWS_* in its env_file',
        )
    secrets = [("repo1-s3-key", key), ("repo1-s3-key-secret", secret)]
    if token:
        secrets.append(("repo1-s3-token", token))
    return RemoteRepository(name, remote.display, "s3", settings, secrets, local)
