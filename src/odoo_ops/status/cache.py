"""Parsed records kept between requests of ``odoo-ops serve``, re-read when their files change.

Each record source is parsed again only when its signature changes (the
``(inode, mtime, size)`` of the files and directories it comes from): the
health history and the deploy journal as whole files, backups one by one
(writing a backup's ``status.json`` renames a file inside its directory,
which changes that directory's mtime), check reports as their directory.
The go-live board reads many sources with their own readers; it is kept for
:data:`BOARD_TTL` seconds, or until the checks, backups, sign-offs or
configuration change.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from odoo_ops.backup.layout import MANIFEST, SUMS, BackupEntry, read_manifest, read_status
from odoo_ops.errors import OpsError

if TYPE_CHECKING:
    from odoo_ops.adapters import Target

T = TypeVar("T")
#: How long a go-live board is reused when nothing it reads visibly changed (seconds).
BOARD_TTL = 60.0


def signature(*paths: Path | None) -> tuple[Any, ...]:
    """What changes when any of ``paths`` is written, replaced or removed."""
    out: list[Any] = []
    for path in paths:
        if path is None:
            out.append(None)
            continue
        try:
            info = os.stat(path)
        except OSError:
            out.append(None)
            continue
        out.append((info.st_ino, info.st_mtime_ns, info.st_size))
    return tuple(out)


class RecordCache:
    """A thread-safe memo of parsed records keyed by name and file signature."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._memo: dict[Any, tuple[Any, Any, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def get(self, key: Any, sig: Any, load: Callable[[], T], ttl: float | None = None) -> T:
        with self._lock:
            hit = self._memo.get(key)
        now = self._clock()
        if hit is not None and hit[0] == sig and (ttl is None or now - hit[2] < ttl):
            return hit[1]
        value = load()
        with self._lock:
            self._memo[key] = (sig, value, now)
        return value

    def backups(self, backup_dir: Path) -> list[BackupEntry]:
        """:func:`odoo_ops.backup.layout.list_backups`, re-reading changed backups only."""
        import datetime as dt

        if not backup_dir.is_dir():
            return []
        entries: list[BackupEntry] = []
        with os.scandir(backup_dir) as found:
            children = [Path(e.path) for e in found if not e.name.startswith(".") and e.is_dir()]
        for child in children:
            key = ("backup", str(child))
            sig = signature(child)
            with self._lock:
                hit = self._memo.get(key)
            if hit is not None and hit[0] == sig:
                entries.append(hit[1])
                continue
            if not (child / MANIFEST).exists() and not (child / SUMS).exists():
                continue  # not a backup
            entries.append(self.get(key, sig, functools.partial(_load_entry, child)))
        far = dt.datetime.max.replace(tzinfo=dt.UTC)
        entries.sort(key=lambda e: (e.created_at or far, e.name))
        return entries

    def board_signature(self, target: Target) -> tuple[Any, ...]:
        config = target.project.config
        return signature(
            target.state_dir / "checks",
            target.state_dir / "loadtest",
            target.backup_dir,
            target.project.path(config.golive.signoff_file),
            target.project.config_path,
        )


def _load_entry(path: Path) -> BackupEntry:
    if path.is_symlink():
        error: str | None = f"{path.name}: is a symbolic link, not a backup directory"
        return BackupEntry(path.name, path, None, {}, error)
    try:
        manifest = read_manifest(path)
        error = None
    except OpsError as exc:
        manifest, error = None, exc.message
    return BackupEntry(path.name, path, manifest, read_status(path), error)


# -- the readers, through a cache when there is one ---------------------------------


def health_rounds(target: Target, cache: RecordCache | None = None) -> list[Any]:
    from odoo_ops.status.records import health_history_path, read_health

    if cache is None:
        return read_health(target)
    path = health_history_path(target)
    return cache.get(("health", str(path)), signature(path), lambda: read_health(target))


def deploys(target: Target, cache: RecordCache | None = None) -> list[Any]:
    from odoo_ops.status.records import deploy_dir, read_deploys

    if cache is None:
        return read_deploys(target)
    path = deploy_dir(target) / "journal.jsonl"
    return cache.get(("deploys", str(path)), signature(path), lambda: read_deploys(target))


def backups(target: Target, cache: RecordCache | None = None) -> list[BackupEntry]:
    from odoo_ops.status.records import read_backups

    if cache is None:
        return read_backups(target)
    return cache.backups(target.backup_dir) if target.backup_dir is not None else []


def check_reports(target: Target, limit: int, cache: RecordCache | None = None) -> list[Any]:
    from odoo_ops.status.records import checks_dir, read_check_reports

    if cache is None:
        return read_check_reports(target, limit)
    directory = checks_dir(target)
    return cache.get(("checks", str(directory), limit), signature(directory),
                     lambda: read_check_reports(target, limit))  # fmt: skip
