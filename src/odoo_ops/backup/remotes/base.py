"""The one small interface every kind of remote implements, and what they share.

A remote holds copies of backups laid out as on the local disk::

    <root>/NAME/manifest.json, SHA256SUMS, the data files   (status.json is never sent)

A copy is written under a temporary name (``<root>/.NAME.partial/`` for a
directory, objects without the completion marker for S3) and made visible
only once every file is there **and verified** against the manifest's
sha256: a rename (file, ssh/sftp) or a marker object written last (S3). So a
killed or failed upload never looks complete, and every complete copy on a
remote is a verified one. A re-run sends only what is missing.
"""

from __future__ import annotations

import abc
import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from odoo_ops.backup.layout import (
    MANIFEST,
    SUMS,
    BackupEntry,
    Manifest,
    manifest_problem,
    sha256_file,
)
from odoo_ops.errors import OpsError

#: ``progress(phase, bytes, files)`` as in :mod:`odoo_ops.backup.common`.
ProgressFn = Callable[[str, int, int], None]


class RemoteError(OpsError):
    """A remote cannot be reached, refuses us, or holds a bad copy."""


@dataclass(frozen=True)
class WantedFile:
    """One file of a backup as it must be on the remote."""

    rel: str
    size: int
    sha256: str


@dataclass
class RemoteCopy:
    """A complete (hence verified) copy of a backup on a remote."""

    name: str
    size: int = 0
    created_at: dt.datetime | None = None
    database: str = ""
    deployment: str = ""
    encrypted: bool = False
    error: str | None = None


@dataclass
class PushResult:
    remote: str
    name: str
    bytes_sent: int = 0
    bytes_total: int = 0
    files_sent: int = 0
    files_skipped: int = 0
    seconds: float = 0.0
    verified: bool = False
    already_there: bool = False
    method: str = ""
    notes: list[str] = field(default_factory=list)


def wanted_files(entry: BackupEntry) -> list[WantedFile]:
    """Every file of a local backup with its expected size and sha256, metadata last.

    The data files come from the manifest; ``SHA256SUMS`` and ``manifest.json``
    are hashed here (SHA256SUMS holds the manifest's hash: it was checked by
    ``backup verify``). Sent in this order, so the manifest arrives last.
    """
    manifest = entry.manifest
    if manifest is None:
        raise RemoteError(f"{entry.name}: {entry.error or 'no usable manifest'}: not pushed")
    out = [
        WantedFile(rel, int(info["size"]), str(info["sha256"]))
        for rel, info in sorted(manifest.files.items())
    ]
    for meta in (SUMS, MANIFEST):
        size, digest = sha256_file(entry.path / meta)
        out.append(WantedFile(meta, size, digest))
    return out


def manifest_from_bytes(name: str, data: bytes) -> Manifest:
    """A remote copy's manifest, checked like a local one (it is untrusted data)."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise RemoteError(f"{name}: {MANIFEST} on the remote is not valid JSON ({exc})") from None
    problem = manifest_problem(raw, name)
    if problem:
        raise RemoteError(f"{name}: {MANIFEST} on the remote {problem}")
    return Manifest(raw)


def copy_from_manifest(name: str, data: bytes | None) -> RemoteCopy:
    if data is None:
        return RemoteCopy(name, error=f"{MANIFEST} missing")
    try:
        manifest = manifest_from_bytes(name, data)
    except RemoteError as exc:
        return RemoteCopy(name, error=exc.message)
    return RemoteCopy(
        name,
        size=manifest.total_size,
        created_at=manifest.created_at,
        database=manifest.database,
        deployment=manifest.deployment,
        encrypted=manifest.encrypted,
    )


class Remote(abc.ABC):
    """A place off this host that holds copies of backups."""

    #: ``file``, ``ssh`` or ``s3``.
    kind: str = ""

    def __init__(self, name: str, display: str) -> None:
        self.name = name
        #: the URL with any secret masked: the only form ever printed.
        self.display = display

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} {self.display}>"

    # -- the interface -----------------------------------------------------

    @abc.abstractmethod
    def check(self) -> str:
        """Reach the remote (and create its root when allowed); a one-line description."""

    @abc.abstractmethod
    def copies(self) -> list[RemoteCopy]:
        """Complete copies, oldest first. Partial uploads are never listed."""

    @abc.abstractmethod
    def push(
        self,
        entry: BackupEntry,
        files: list[WantedFile],
        *,
        bwlimit: int | None = None,
        progress: ProgressFn | None = None,
    ) -> PushResult:
        """Upload under a temporary name, verify, then make the copy visible (last)."""

    @abc.abstractmethod
    def verify(self, name: str, files: list[WantedFile]) -> list[str]:
        """Problems of a complete copy (each naming its file); empty when it matches."""

    @abc.abstractmethod
    def pull(self, name: str, dest: Path, *, progress: ProgressFn | None = None) -> None:
        """Download every file of a complete copy into the directory ``dest``."""

    @abc.abstractmethod
    def read_file(self, name: str, rel: str) -> bytes | None:
        """A small file of a complete copy (the manifest), or None when absent."""

    @abc.abstractmethod
    def delete(self, name: str) -> None:
        """Remove a copy: hidden first, so a killed delete never leaves a half copy listed."""

    # -- shared ------------------------------------------------------------

    def close(self) -> None:  # noqa: B027 - a hook: only ssh holds something open
        """Release what the remote holds open (a shared ssh connection); idempotent."""

    def __enter__(self) -> Remote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def has(self, name: str) -> bool:
        return any(c.name == name for c in self.copies())

    def wanted_from_remote(self, name: str) -> list[WantedFile]:
        """What a remote copy must hold, from its own manifest (for pull and verify)."""
        data = self.read_file(name, MANIFEST)
        if data is None:
            raise RemoteError(
                f"remote {self.name}: no backup named {name!r}",
                hint=f"odoo-ops backup list --remote {self.name}",
            )
        manifest = manifest_from_bytes(name, data)
        out = [
            WantedFile(rel, int(info["size"]), str(info["sha256"]))
            for rel, info in sorted(manifest.files.items())
        ]
        import hashlib

        out.append(WantedFile(MANIFEST, len(data), hashlib.sha256(data).hexdigest()))
        return out


def sha256_of_stream(read: Callable[[int], bytes], chunk: int = 1 << 20) -> tuple[int, str]:
    import hashlib

    digest = hashlib.sha256()
    size = 0
    while True:
        block = read(chunk)
        if not block:
            return size, digest.hexdigest()
        size += len(block)
        digest.update(block)
