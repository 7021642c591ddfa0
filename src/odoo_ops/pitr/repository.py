"""Where pgBackRest keeps the repository: a local directory, or one of the off-site
remotes of ``[[backup.remotes]]`` named by ``[pitr] repository``.

An ``s3://bucket/prefix`` remote becomes ``repo1-type=s3`` (path-style URIs, the
repository under ``/<prefix>/pitr``). pgBackRest talks to S3 over TLS only: an
``http://`` endpoint is refused; a store with a private CA names it with the
remote's ``ca_file`` option (``pitr setup`` copies it into the PITR directory,
:data:`CA_NAME`, for the cluster's OS user), and ``verify_tls = false`` turns
verification off (a test server only). The keys come from the remote's options
or its env_file / the project's environment (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``); they must be in pgBackRest's
configuration because PostgreSQL's ``archive_command`` runs without our
environment, so that file is written 0600 for the cluster's OS user and never
shown.

An ``ssh://user@host:port/path`` (or ``sftp://``) remote becomes
``repo1-type=sftp`` when the configured pgBackRest has that repository type
(pgBackRest 2.46+ built with libssh2, e.g. apt.postgresql.org's package):
pgBackRest on this database host logs in to the host with the remote's
``identity_file`` (a key without passphrase) and pushes to it, as ``backup push``
does, the repository under ``<path>/pitr``. Host keys are checked strictly
against the remote's ``known_hosts`` (else the ssh client's default files of
odoo-ops' user). ``archive_command`` runs pgBackRest as the cluster's OS user,
who may not read our key: ``pitr setup`` copies the key and the known hosts into
the PITR directory (:data:`KEY_NAME`, :data:`KNOWN_HOSTS_NAME`), 0600, owned by
that user; the key is never printed. The remote's ``ssh_options``, ``method``
and ``timeout`` apply to ``backup push`` only.

Without the sftp type (Debian 12's pgBackRest 2.45) an ssh remote is refused.
pgBackRest's other way to a repository over ssh, a *repository host*
(``repo1-host``, pgBackRest running there), is not offered: pgBackRest runs
``backup`` only on the repository host ("backup command must be run on the
repository host"), which then logs in to the database host over ssh as the
cluster's OS user (``pg1-host``) — the off-site host would hold a superuser's
key to production, the reverse of what an off-site copy is for, and it needs
the same pgBackRest version and its own configuration there. A repository host
set up by its administrator, or a mounted directory (``repo_path``), remain the
ways to keep it elsewhere then.
"""

from __future__ import annotations

import getpass
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from odoo_ops.errors import ConfigError, OpsError

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.backup.remotes.ssh import SshRemote

#: the copies ``pitr setup`` makes in the PITR directory for an sftp repository,
KEY_NAME = "repo-sftp.key"
KNOWN_HOSTS_NAME = "repo-sftp.known_hosts"
#: and for an S3 repository's private CA (the remote's ca_file)
CA_NAME = "repo-s3-ca.pem"
#: what OpenSSH's client reads when the remote names no known_hosts
SSH_KNOWN_HOSTS = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2", "/etc/ssh/ssh_known_hosts",
                   "/etc/ssh/ssh_known_hosts2")  # fmt: skip


@dataclass(frozen=True)
class PrivateCopy:
    """A file pgBackRest reads, made from ``sources`` (joined) for the cluster's OS user."""

    dest: Path
    sources: tuple[Path, ...]
    what: str  # e.g. "identity_file", for messages


@dataclass
class RemoteRepository:
    """pgBackRest ``repo1-*`` settings for a remote repository."""

    name: str
    display: str  # the remote's URL, credentials redacted
    kind: str  # s3, sftp
    settings: list[tuple[str, str]]
    secrets: list[tuple[str, str]] = field(default_factory=list)
    #: files ``pitr setup`` copies into the PITR directory (0600, the OS user's)
    copies: list[PrivateCopy] = field(default_factory=list)

    def advice(self, error: str) -> str | None:
        """What to check when pgBackRest fails with ``error`` on this repository."""
        if self.kind == "sftp" and any(
            word in error for word in ("known hosts", "public key", "authenticat")
        ):
            return (f"check known_hosts and identity_file of the remote {self.name}"
                    " (`odoo-ops pitr setup` copies them for pgBackRest)")  # fmt: skip
        return None

    def conf_lines(self) -> list[str]:
        return [f"{key}={value}" for key, value in (*self.settings, *self.secrets)]

    def install_copies(self, give: Callable[[Path], None]) -> list[Path]:
        """Write :attr:`copies` (0600, then ``give(path)``: to the cluster's OS user);
        the paths written."""
        from odoo_ops.fileutil import atomic_write_bytes

        written = []
        for copy in self.copies:
            parts = []
            for src in copy.sources:
                try:
                    data = src.read_bytes()
                except OSError as exc:
                    raise OpsError(f"cannot read the {copy.what} {src}: {exc.strerror}") from None
                parts.append(data if data.endswith(b"\n") or not data else data + b"\n")
            atomic_write_bytes(copy.dest, b"".join(parts), mode=0o600)
            give(copy.dest)
            written.append(copy.dest)
        return written


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


def _pgbackrest_version(pgbackrest: str) -> str:
    """``pgBackRest 2.45`` (what ``pgbackrest version`` says), or why there is none."""
    exe = shutil.which(pgbackrest)
    if exe is None:
        return "not found"
    try:
        out = subprocess.run([exe, "version"], capture_output=True, text=True,
                             timeout=30).stdout.strip()  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run: {exc}"
    return out.splitlines()[0] if out else "no version"


def resolve_repository(target: Target, name: str, stanza: str, *, base: Path) -> RemoteRepository:
    """The :class:`RemoteRepository` of ``[pitr] repository = "<name>"``; ``base`` is
    the PITR directory (where an sftp repository's key and known hosts, and an S3
    store's CA, are copied)."""
    from odoo_ops.backup.remotes import find_config, open_remote
    from odoo_ops.backup.remotes.s3 import S3Remote
    from odoo_ops.backup.remotes.ssh import SshRemote

    cfg = find_config(target, name)
    where = f"[pitr] repository = {name!r}"
    remote = open_remote(target, cfg)  # validates the URL the way backup push does
    if isinstance(remote, SshRemote):
        try:
            return _sftp_repository(target, where, remote, base)
        finally:
            remote.close()
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
    copies: list[PrivateCopy] = []
    if opts.get("ca_file"):
        # archive_command runs pgBackRest as the cluster's OS user, who may not read
        # the CA file where it lies: it reads setup's copy
        ca = (target.root / str(opts["ca_file"])).expanduser()
        if not ca.is_file():
            raise ConfigError(f"{where}: ca_file {ca} does not exist")
        ca_copy = base / CA_NAME
        settings.append(("repo1-storage-ca-file", _line_safe(where, "dir", str(ca_copy))))
        copies.append(PrivateCopy(ca_copy, (ca,), "ca_file"))
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
    return RemoteRepository(name, remote.display, "s3", settings, secrets, copies=copies)


def _sftp_repository(target: Target, where: str, remote: SshRemote, base: Path) -> RemoteRepository:
    """``repo1-type=sftp`` for an ``ssh://``/``sftp://`` remote (options parsed by
    :func:`~odoo_ops.backup.remotes.open_remote`: paths already absolute)."""
    pgbr = target.project.config.pitr.pgbackrest
    if not sftp_supported(pgbr):
        raise ConfigError(
            f"{where}: an ssh remote cannot hold the PITR repository with [pitr] pgbackrest ="
            f" {pgbr!r} ({_pgbackrest_version(pgbr)}): it has no sftp repository type",
            hint="install pgBackRest 2.46 or later built with libssh2 (apt.postgresql.org's"
            " package has it, Debian 12's 2.45 has not) and name it in [pitr] pgbackrest; or"
            " name an s3:// remote, or use [pitr] repo_path (e.g. a mounted NAS). A pgBackRest"
            " repository host is not offered: it would log in to this database host over ssh"
            " (docs/pitr.md)",
        )
    root = remote.root  # absolute: an ssh URL's path (~ is not expanded, by ssh either)
    opts = remote.options
    identity = opts.get("identity_file")
    if not identity:
        raise ConfigError(
            f"{where}: pgBackRest logs in to {remote.display} with a key file, and the"
            " remote names none",
            hint='add identity_file = "…" (a key without passphrase) and known_hosts = "…"'
            " to the remote's options",
        )
    key = Path(str(identity))
    if not key.is_file():
        raise ConfigError(f"{where}: identity_file {key} does not exist")
    if opts.get("known_hosts"):
        known = [Path(str(opts["known_hosts"]))]
        if not known[0].is_file():
            raise ConfigError(f"{where}: known_hosts {known[0]} does not exist")
    else:
        known = [p for p in (Path(k).expanduser() for k in SSH_KNOWN_HOSTS) if p.is_file()]
        if not known:
            raise ConfigError(
                f"{where}: no known_hosts to check the host key of {remote.host} against",
                hint='set known_hosts = "…" in the remote\'s options (ssh-keyscan -p PORT HOST'
                " > FILE, then compare the fingerprint with the host's)",
            )
    user = remote.user or getpass.getuser()
    path = f"{root.rstrip('/')}/pitr"
    key_copy, known_copy = base / KEY_NAME, base / KNOWN_HOSTS_NAME
    settings = [
        ("repo1-type", "sftp"),
        ("repo1-sftp-host", _line_safe(where, "host", remote.host)),
        ("repo1-sftp-host-port", str(remote.port or 22)),
        ("repo1-sftp-host-user", _line_safe(where, "user", user)),
        ("repo1-sftp-private-key-file", _line_safe(where, "dir", str(key_copy))),
        ("repo1-sftp-host-key-check-type", "strict"),
        # required by pgBackRest 2.55, used only to compare a repo-sftp-host-fingerprint
        ("repo1-sftp-host-key-hash-type", "sha256"),
        ("repo1-sftp-known-host", _line_safe(where, "dir", str(known_copy))),
        ("repo1-path", _line_safe(where, "path", path)),
    ]
    copies = [PrivateCopy(key_copy, (key,), "identity_file"),
              PrivateCopy(known_copy, tuple(known), "known_hosts")]  # fmt: skip
    return RemoteRepository(remote.name, remote.display, "sftp", settings, copies=copies)
