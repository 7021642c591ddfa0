"""The filestore archive: Odoo's attachment files, kept so a restore can follow the database.

Odoo names a stored attachment by the SHA-1 of its content
(``ir_attachment.store_fname`` = ``ab/ab12…``) and never rewrites it; its
garbage collector deletes the files no row references any more. So the
archive is content-addressed for free: ``pitr filestore-sync`` copies each
file it has not seen into ``<archive>/<database>/objects/<store_fname>``
and, when a file disappears from the filestore, notes since when — it is
kept ``[pitr] filestore_keep_days`` longer, so a restore to a moment before
the deletion still finds it. ``index.json`` holds, per file, when it was
first seen and since when it is gone.

A restore takes exactly the files the restored ``ir_attachment`` rows name:
from the archive, else from the live filestore (same name, same content),
and reports the ones neither has.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from odoo_ops.errors import OpsError
from odoo_ops.fileutil import atomic_write_text

#: ``store_fname`` as Odoo writes it: two hex digits, a slash, the SHA-1.
FNAME_RE = re.compile(r"[0-9a-f]{2}/[0-9a-f]{40}")


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SyncResult:
    database: str
    added: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    back: list[str] = field(default_factory=list)
    pruned: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    total: int = 0


@dataclass
class FilesResult:
    copied: int = 0
    from_live: int = 0
    missing: list[str] = field(default_factory=list)


class FilestoreArchive:
    """The archive of one database's filestore under ``root``."""

    def __init__(self, root: Path, database: str) -> None:
        self.root = root / database if database else root
        self.objects = self.root / "objects"
        self.index_path = self.root / "index.json"

    # -- index ----------------------------------------------------------------
    def _load(self) -> dict[str, object]:
        try:
            doc = json.loads(self.index_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"files": {}, "last_sync": None}
        except (OSError, ValueError) as exc:
            raise OpsError(
                f"cannot read the filestore archive index {self.index_path}: {exc}"
            ) from None
        if not isinstance(doc, dict) or not isinstance(doc.get("files"), dict):
            raise OpsError(f"the filestore archive index {self.index_path} is damaged")
        return doc

    def last_sync(self) -> datetime | None:
        try:
            value = self._load().get("last_sync")
        except OpsError:
            return None
        return datetime.fromisoformat(value) if isinstance(value, str) else None

    # -- sync -----------------------------------------------------------------
    def sync(self, filestore: Path, *, keep_days: float, now: datetime | None = None,
             owner: tuple[int, int] | None = None) -> SyncResult:  # fmt: skip
        """Copy new files of ``filestore`` in, note the gone ones, prune the expired."""
        import fcntl

        now = now or _now()
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise OpsError(
                    f"another filestore-sync is running on {self.root}",
                    hint="timers overlap: sync less often, or let the running one finish",
                ) from None
            return self._sync(filestore, keep_days=keep_days, now=now, owner=owner)

    def _sync(self, filestore: Path, *, keep_days: float, now: datetime,
              owner: tuple[int, int] | None) -> SyncResult:  # fmt: skip
        doc = self._load()
        files: dict[str, dict[str, str | None]] = doc["files"]  # type: ignore[assignment]
        result = SyncResult(self.root.name)
        present = set(self._scan(filestore, result))
        result.total = len(present)
        self.objects.mkdir(parents=True, exist_ok=True)
        for fname in sorted(present):
            entry = files.get(fname)
            if entry is None or not (self.objects / fname).is_file():
                if not self._copy_in(filestore / fname, fname, result):
                    continue
                files[fname] = {"seen": now.isoformat(), "gone": None}
                result.added.append(fname)
            elif entry.get("gone"):
                entry["gone"] = None
                result.back.append(fname)
        limit = now - timedelta(days=keep_days)
        for fname, entry in list(files.items()):
            if fname in present:
                continue
            if not entry.get("gone"):
                entry["gone"] = now.isoformat()
                result.gone.append(fname)
            elif datetime.fromisoformat(str(entry["gone"])) < limit:
                try:
                    (self.objects / fname).unlink()
                except FileNotFoundError:
                    pass
                del files[fname]
                result.pruned.append(fname)
        doc["last_sync"] = now.isoformat()
        atomic_write_text(self.index_path, json.dumps(doc, indent=0, sort_keys=True))
        if owner is not None and os.geteuid() == 0:
            for path in (self.root, self.objects, self.index_path):
                os.chown(path, *owner)
        return result

    @staticmethod
    def _scan(filestore: Path, result: SyncResult) -> list[str]:
        found: list[str] = []
        try:
            subdirs = sorted(filestore.iterdir())
        except FileNotFoundError:
            return found
        except OSError as exc:
            raise OpsError(f"cannot read the filestore {filestore}: {exc.strerror}") from None
        for sub in subdirs:
            if sub.is_symlink() or not sub.is_dir():
                continue
            for path in sub.iterdir():
                fname = f"{sub.name}/{path.name}"
                if not FNAME_RE.fullmatch(fname) or path.is_symlink() or not path.is_file():
                    result.ignored.append(fname)
                    continue
                found.append(fname)
        return found

    def _copy_in(self, source: Path, fname: str, result: SyncResult) -> bool:
        dest = self.objects / fname
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.tmp")
        digest = hashlib.sha1(usedforsecurity=False)
        try:
            with source.open("rb") as src, tmp.open("wb") as out:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, dest)
        except FileNotFoundError:  # deleted by Odoo's GC while we looked
            tmp.unlink(missing_ok=True)
            return False
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OpsError(f"cannot archive {source}: {exc.strerror}") from None
        if digest.hexdigest() != fname[3:]:
            result.mismatched.append(fname)  # kept under Odoo's name: that is what rows say
        return True

    # -- restore --------------------------------------------------------------
    def restore_files(self, fnames: list[str], dest: Path, *, live: Path | None,
                      owner: tuple[int, int] | None = None,
                      link_live: bool = False) -> FilesResult:  # fmt: skip
        """Copy the files ``fnames`` into the filestore ``dest`` (archive first, then live).

        ``link_live``: a file the live filestore has is hard-linked from there instead
        (Odoo never rewrites a file; an in-place restore then needs no room for copies).
        """
        result = FilesResult()
        dest.mkdir(parents=True, exist_ok=True)
        for fname in sorted(set(fnames)):
            if not FNAME_RE.fullmatch(fname):
                result.missing.append(fname)
                continue
            target = dest / fname
            if link_live and live is not None and (live / fname).is_file():
                target.parent.mkdir(exist_ok=True)
                try:
                    os.link(live / fname, target)
                    result.copied += 1
                    result.from_live += 1
                    continue
                except OSError:
                    pass  # another file system: copied below
            source = self.objects / fname
            from_live = False
            if not source.is_file() and live is not None and (live / fname).is_file():
                source, from_live = live / fname, True
            if not source.is_file():
                result.missing.append(fname)
                continue
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(source, target)
            if owner is not None and os.geteuid() == 0:
                os.chown(target.parent, *owner)
                os.chown(target, *owner)
            result.copied += 1
            result.from_live += from_live
        if owner is not None and os.geteuid() == 0:
            os.chown(dest, *owner)
        return result
