"""The on-disk layout of an odoo-ops backup and its manifest.

A backup is a directory ``NAME/`` in the deployment's ``backup_dir``::

    NAME/
      manifest.json        what was backed up, sizes and sha256 of every file
      SHA256SUMS           sha256sum(1) lines for every file, manifest included
      db.dump | db/        the pg_dump archive (custom format file or directory
                           format folder); .zst/.lz4 when compressed outside
                           pg_dump, .age when encrypted
      filestore.tar.zst    the filestore (.age when encrypted)
      status.json          mutable: last verify, last test-restore, keep mark
                           (not covered by the checksums)

It is written as ``.NAME.partial/`` and renamed to ``NAME/`` only once every
file is complete and fsynced, so a listing never shows a half-written backup.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odoo_ops.errors import OpsError, UsageError
from odoo_ops.fileutil import atomic_write_bytes

FORMAT = "odoo-ops-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SUMS = "SHA256SUMS"
STATUS = "status.json"
PARTIAL_SUFFIX = ".partial"
OWNER_FILE = ".owner"
#: Files of a backup directory that the checksums do not cover.
UNCHECKED = frozenset({STATUS})
FILE_MODE = 0o600
DIR_MODE = 0o700
CHUNK = 1 << 20

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,150}$")


def check_name(name: str) -> str:
    """A backup name must be a plain directory name."""
    if not _NAME_RE.match(name) or name.endswith(PARTIAL_SUFFIX) or ".." in name:
        raise UsageError(
            f"invalid backup name {name!r}",
            hint="use letters, digits, '.', '_' and '-' (no leading dot)",
        )
    return name


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def parse_time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def default_name(database: str, when: dt.datetime) -> str:
    return f"{database}-{when.astimezone(dt.UTC).strftime('%Y%m%d-%H%M%S')}"


def sha256_file(path: Path) -> tuple[int, str]:
    """``(size, sha256)`` of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while True:
            block = fh.read(CHUNK)
            if not block:
                break
            size += len(block)
            digest.update(block)
    return size, digest.hexdigest()


def fsync_path(path: Path) -> None:
    """fsync a file or a directory (best effort for directories)."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def walk_files(root: Path) -> Iterator[tuple[str, Path]]:
    """``(relative posix path, path)`` of every file below ``root``, sorted."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            yield path.relative_to(root).as_posix(), path


@dataclass
class Manifest:
    """The parsed ``manifest.json`` of a backup (``raw`` keeps every field)."""

    raw: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.raw.get("name") or "")

    @property
    def database(self) -> str:
        return str(self.raw.get("database") or "")

    @property
    def deployment(self) -> str:
        return str(self.raw.get("deployment") or "")

    @property
    def created_at(self) -> dt.datetime | None:
        return parse_time(self.raw.get("created_at"))

    @property
    def finished_at(self) -> dt.datetime | None:
        return parse_time(self.raw.get("finished_at"))

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return dict(self.raw.get("files") or {})

    @property
    def tags(self) -> list[str]:
        return [str(t) for t in self.raw.get("tags") or []]

    @property
    def dump(self) -> dict[str, Any]:
        return dict(self.raw.get("dump") or {})

    @property
    def filestore(self) -> dict[str, Any]:
        return dict(self.raw.get("filestore") or {})

    @property
    def encrypted(self) -> bool:
        return bool((self.raw.get("encryption") or {}).get("tool"))

    @property
    def total_size(self) -> int:
        return sum(int(f.get("size") or 0) for f in self.files.values())


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise OpsError(f"{directory.name}: {MANIFEST} is missing") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OpsError(f"{directory.name}: {MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise OpsError(f"{directory.name}: {MANIFEST} is not an odoo-ops backup manifest")
    return Manifest(data)


def manifest_bytes(data: dict[str, Any]) -> bytes:
    return (json.dumps(data, indent=2, sort_keys=False, ensure_ascii=False) + "\n").encode()


def sums_bytes(files: dict[str, dict[str, Any]]) -> bytes:
    """sha256sum(1) format: ``HEX  PATH`` per line, sorted by path."""
    lines = [f"{files[p]['sha256']}  {p}\n" for p in sorted(files)]
    return "".join(lines).encode()


def parse_sums(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        match = re.fullmatch(r"([0-9a-f]{64}) [ *](.+)", line)
        if not match:
            raise ValueError(f"line {number} is not 'SHA256  PATH'")
        out[match.group(2)] = match.group(1)
    return out


# -- status.json -----------------------------------------------------------


def read_status(directory: Path) -> dict[str, Any]:
    try:
        data = json.loads((directory / STATUS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def update_status(directory: Path, **changes: Any) -> dict[str, Any]:
    """Merge ``changes`` into ``status.json`` (atomically, mode 0600)."""
    status = read_status(directory)
    status.update(changes)
    atomic_write_bytes(directory / STATUS, manifest_bytes(status), mode=FILE_MODE)
    return status


# -- listing ---------------------------------------------------------------


@dataclass
class BackupEntry:
    """One backup found in a backup directory."""

    name: str
    path: Path
    manifest: Manifest | None
    status: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def created_at(self) -> dt.datetime | None:
        if self.manifest and self.manifest.created_at:
            return self.manifest.created_at
        try:
            return dt.datetime.fromtimestamp(self.path.stat().st_mtime, dt.UTC)
        except OSError:
            return None

    @property
    def keep(self) -> bool:
        return bool(self.status.get("keep"))

    @property
    def verified(self) -> dict[str, Any] | None:
        value = self.status.get("verify")
        return value if isinstance(value, dict) else None

    @property
    def test_restored(self) -> dict[str, Any] | None:
        value = self.status.get("test_restore")
        return value if isinstance(value, dict) else None


def list_backups(backup_dir: Path) -> list[BackupEntry]:
    """Every backup directory (finished ones only), oldest first.

    Hidden entries (partial backups, scratch directories) are never listed.
    A directory with a damaged manifest is listed with ``error`` set.
    """
    if not backup_dir.is_dir():
        return []
    entries: list[BackupEntry] = []
    for child in backup_dir.iterdir():
        if child.name.startswith(".") or not child.is_dir():
            continue
        if not (child / MANIFEST).exists() and not (child / SUMS).exists():
            continue  # not ours
        try:
            manifest: Manifest | None = read_manifest(child)
            error = None
        except OpsError as exc:
            manifest, error = None, exc.message
        entries.append(BackupEntry(child.name, child, manifest, read_status(child), error))
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    entries.sort(key=lambda e: (e.created_at or far, e.name))
    return entries


def find_backup(backup_dir: Path, name: str) -> BackupEntry:
    check_name(name)
    path = backup_dir / name
    if not path.is_dir():
        known = [e.name for e in list_backups(backup_dir)]
        hint = f"backups: {', '.join(known[-5:])}" if known else "run `odoo-ops backup list`"
        raise OpsError(f"no backup named {name!r} in {backup_dir}", hint=hint)
    try:
        manifest: Manifest | None = read_manifest(path)
        error = None
    except OpsError as exc:
        manifest, error = None, exc.message
    return BackupEntry(name, path, manifest, read_status(path), error)


def remove_tree(path: Path) -> None:
    """Remove a directory tree, making read-only entries writable first."""

    def onerror(func: Any, p: str, exc: Any) -> None:
        try:
            os.chmod(p, 0o700)
            func(p)
        except OSError:
            pass

    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, onerror=onerror)
    elif path.exists() or path.is_symlink():
        path.unlink()
