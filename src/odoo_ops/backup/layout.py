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
import errno
import hashlib
import json
import os
import re
import shutil
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odoo_ops.errors import OpsError
from odoo_ops.fileutil import atomic_write_bytes
from odoo_ops.names import (
    InvalidName,
    check_backup_name,
    check_database_name,
    check_relative,
    path_under,
    shown,
)

FORMAT = "odoo-ops-backup"
FORMAT_VERSION = 1
#: the format version of a backup whose dump's data files odoo-ops compressed
#: itself (``dump.data_files``): an odoo-ops that reads only version 1 would hand
#: them to pg_restore, which cannot read them, so it must refuse them plainly
DATA_FILES_VERSION = 2
READABLE_VERSIONS = (FORMAT_VERSION, DATA_FILES_VERSION)
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


def check_name(name: str) -> str:
    """A backup name must be a plain directory name (see :mod:`odoo_ops.names`)."""
    return check_backup_name(name)


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


#: A manifest or SHA256SUMS larger than this is not one odoo-ops wrote.
MAX_METADATA_BYTES = 64 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}")
_RESERVED = frozenset({MANIFEST, SUMS, STATUS, OWNER_FILE})


def read_small_file(path: Path, limit: int = MAX_METADATA_BYTES) -> bytes:
    """The bytes of a backup's own metadata file: a regular file, not a link, at most ``limit``.

    Opened without following links and without blocking, so a FIFO, a device
    or a link planted in a backup directory is refused instead of read.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(path, flags)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if info.st_size > limit:
            raise OSError(errno.EFBIG, f"larger than {limit} bytes")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            data = fh.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"larger than {limit} bytes")
    return data


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def manifest_problem(data: Any, directory_name: str) -> str | None:
    """Why ``data`` is not a manifest odoo-ops can trust for ``directory_name``, or None.

    Checks the structure and types that the commands rely on, the format
    version, that the name is the directory's, and that every path the
    manifest lists is relative, normalised and inside the backup.
    """
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return "is not an odoo-ops backup manifest"
    version = data.get("format_version")
    if not _int(version) or version not in READABLE_VERSIONS:
        return (
            f"format_version {shown(version)} is not supported"
            f" (this odoo-ops reads versions {', '.join(map(str, READABLE_VERSIONS))})"
        )
    name = data.get("name")
    if name != directory_name:
        return f"names the backup {shown(name)}, but its directory is {shown(directory_name)}"
    try:
        check_database_name(data.get("database"), "database")
    except InvalidName as exc:
        return exc.message
    for key in ("deployment", "created_at", "finished_at", "series", "odoo_version"):
        if data.get(key) is not None and not isinstance(data.get(key), str):
            return f"{key} is not a string"
    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(
        isinstance(t, str) and 0 < len(t) <= 200 and t.isprintable() for t in tags
    ):
        return "tags is not a list of short words"
    files = data.get("files")
    if not isinstance(files, dict) or not files:
        return "files is not a table of the backup's files"
    for rel, info in files.items():
        try:
            check_relative(rel, "files lists")
        except InvalidName as exc:
            return exc.message
        if rel in _RESERVED:
            return f"files lists {rel}, which is not a data file"
        if not isinstance(info, dict) or not _int(info.get("size")):
            return f"files.{rel} has no valid size"
        if not isinstance(info.get("sha256"), str) or not _HEX64.fullmatch(info["sha256"]):
            return f"files.{rel} has no valid sha256"
    dump = data.get("dump")
    if not isinstance(dump, dict):
        return "dump is not a table"
    try:
        dump_path = check_relative(dump.get("path"), "dump.path")
    except InvalidName as exc:
        return exc.message
    if dump_path not in files and not any(r.startswith(dump_path + "/") for r in files):
        return f"dump.path {shown(dump_path)} is not one of the backup's files"
    if dump.get("outer_compression") not in (None, "", "zstd", "lz4"):
        return f"dump.outer_compression {shown(dump.get('outer_compression'))} is unknown"
    if dump.get("data_files") not in (None, "zstd"):
        return f"dump.data_files {shown(dump.get('data_files'))} is unknown"
    if (dump.get("data_files") is not None) != (version == DATA_FILES_VERSION):
        return f"dump.data_files does not match format_version {version}"
    if dump.get("data_files") and (
        dump.get("format") != "directory" or not _int(dump.get("raw_bytes"))
    ):
        return "dump.data_files needs a directory dump and its raw_bytes"
    filestore = data.get("filestore", {})
    if filestore is None:
        filestore = {}
    if not isinstance(filestore, dict):
        return "filestore is not a table"
    fs_path = filestore.get("path")
    if fs_path:
        try:
            check_relative(fs_path, "filestore.path")
        except InvalidName as exc:
            return exc.message
        if fs_path not in files:
            return f"filestore.path {shown(fs_path)} is not one of the backup's files"
    for key in ("files", "bytes", "directories"):
        if filestore.get(key) is not None and not _int(filestore.get(key)):
            return f"filestore.{key} is not a count"
    for key in ("postgresql", "encryption", "modules", "row_counts"):
        if data.get(key) is not None and not isinstance(data.get(key), dict):
            return f"{key} is not a table"
    counts = data.get("row_counts") or {}
    if not all(isinstance(k, str) and _int(v) for k, v in counts.items()):
        return "row_counts is not a table of counts"
    modules = data.get("modules") or {}
    if not all(
        isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in modules.items()
    ):
        return "modules is not a table of versions"
    return None


def read_manifest(directory: Path) -> Manifest:
    path = directory / MANIFEST
    try:
        raw = read_small_file(path)
    except FileNotFoundError:
        raise OpsError(f"{directory.name}: {MANIFEST} is missing") from None
    except OSError as exc:
        raise OpsError(f"{directory.name}: {MANIFEST} cannot be read ({exc.strerror})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OpsError(f"{directory.name}: {MANIFEST} is not valid JSON ({exc})") from None
    except RecursionError:
        raise OpsError(f"{directory.name}: {MANIFEST} is nested too deeply") from None
    problem = manifest_problem(data, directory.name)
    if problem:
        raise OpsError(f"{directory.name}: {MANIFEST} {problem}")
    return Manifest(data)


def member_path(entry: BackupEntry | Path, rel: str) -> Path:
    """The path of ``rel`` inside a backup, refused when it would lead outside it."""
    root = entry.path if isinstance(entry, BackupEntry) else entry
    return path_under(root, check_relative(rel, "backup file"))


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
        data = json.loads(read_small_file(directory / STATUS, 1 << 20).decode("utf-8"))
    except (OSError, ValueError, RecursionError):
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
        manifest, error = _load(child)
        entries.append(BackupEntry(child.name, child, manifest, read_status(child), error))
    far = dt.datetime.max.replace(tzinfo=dt.UTC)
    entries.sort(key=lambda e: (e.created_at or far, e.name))
    return entries


def _load(path: Path) -> tuple[Manifest | None, str | None]:
    """The manifest of a backup directory, or why it cannot be used."""
    if path.is_symlink():
        return None, f"{path.name}: is a symbolic link, not a backup directory"
    try:
        return read_manifest(path), None
    except OpsError as exc:
        return None, exc.message


def find_backup(backup_dir: Path, name: str) -> BackupEntry:
    path = backup_dir / check_name(name)
    if not path.is_dir():
        known = [e.name for e in list_backups(backup_dir)]
        hint = f"backups: {', '.join(known[-5:])}" if known else "run `odoo-ops backup list`"
        raise OpsError(f"no backup named {name!r} in {backup_dir}", hint=hint)
    manifest, error = _load(path)
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
