"""``file:///mnt/nas/odoo``: a mounted directory (NAS, second disk) as a remote."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from odoo_ops.backup.layout import (
    CHUNK,
    DIR_MODE,
    FILE_MODE,
    MANIFEST,
    PARTIAL_SUFFIX,
    BackupEntry,
    fsync_path,
    read_small_file,
    remove_tree,
    sha256_file,
)
from odoo_ops.backup.remotes.base import (
    ProgressFn,
    PushResult,
    Remote,
    RemoteCopy,
    RemoteError,
    WantedFile,
    copy_from_manifest,
)
from odoo_ops.names import check_backup_name, check_relative, path_under


class FileRemote(Remote):
    kind = "file"

    def __init__(self, name: str, display: str, root: Path) -> None:
        super().__init__(name, display)
        self.root = root

    def _fail(self, what: str, exc: OSError) -> RemoteError:
        reason = exc.strerror or str(exc)
        hint = None
        if exc.errno == errno.ENOSPC:
            hint = f"free space on {self.root} or prune the remote (odoo-ops backup prune)"
        return RemoteError(f"remote {self.name}: {what}: {reason}", hint=hint)

    def check(self) -> str:
        if not self.root.is_dir():
            raise RemoteError(
                f"remote {self.name}: {self.root} is not a directory (not mounted?)",
                hint="mount the share, or create the directory",
            )
        if not os.access(self.root, os.W_OK | os.X_OK):
            raise RemoteError(f"remote {self.name}: {self.root} is not writable by this user")
        return f"directory {self.root}"

    def _copy_dir(self, name: str) -> Path:
        return self.root / check_backup_name(name)

    def copies(self) -> list[RemoteCopy]:
        self.check()
        out = []
        for child in sorted(self.root.iterdir()):
            if child.name.startswith(".") or not child.is_dir() or child.is_symlink():
                continue
            try:
                check_backup_name(child.name)
            except Exception:
                continue
            out.append(copy_from_manifest(child.name, self.read_file(child.name, MANIFEST)))
        return out

    def read_file(self, name: str, rel: str) -> bytes | None:
        try:
            return read_small_file(path_under(self._copy_dir(name), check_relative(rel, "file")))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._fail(f"cannot read {name}/{rel}", exc) from None

    def push(
        self,
        entry: BackupEntry,
        files: list[WantedFile],
        *,
        bwlimit: int | None = None,
        progress: ProgressFn | None = None,
    ) -> PushResult:
        start = time.monotonic()
        result = PushResult(self.name, entry.name, method="copy")
        result.bytes_total = sum(f.size for f in files)
        self.check()
        final = self._copy_dir(entry.name)
        if final.exists():
            result.already_there = True
            return result
        partial = self.root / f".{entry.name}{PARTIAL_SUFFIX}"
        problems: list[str] = []
        resumed: list[WantedFile] = []
        try:
            partial.mkdir(mode=DIR_MODE, exist_ok=True)
            for wanted in files:
                dest = path_under(partial, wanted.rel)
                if dest.is_file() and dest.stat().st_size == wanted.size:
                    result.files_skipped += 1  # sent by an earlier run: read back below
                    resumed.append(wanted)
                    continue
                dest.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
                # the bytes are hashed as they are written (one read), then fsynced:
                # what reached the remote's disk is what the manifest names
                size, digest = self._copy_file(entry.path / wanted.rel, dest, bwlimit, progress)
                problems += _compare(wanted, size, digest)
                result.files_sent += 1
                result.bytes_sent += wanted.size
        except OSError as exc:
            raise self._fail(f"pushing {entry.name} stopped", exc) from None
        problems += _verify_dir(partial, resumed)
        if problems:
            # a resumed file that differs: drop it so the next run sends it again
            for problem in problems:
                rel = problem.split(":", 1)[0]
                (partial / rel).unlink(missing_ok=True)
            raise RemoteError(
                f"remote {self.name}: {entry.name} arrived damaged: {'; '.join(problems[:3])}",
                hint="run the push again (the damaged files are sent again)",
            )
        result.verified = True
        fsync_path(partial)
        try:
            os.rename(partial, final)
        except OSError as exc:
            raise self._fail(f"cannot publish {entry.name}", exc) from None
        fsync_path(self.root)
        result.seconds = round(time.monotonic() - start, 3)
        return result

    def _copy_file(
        self, src: Path, dest: Path, bwlimit: int | None, progress: ProgressFn | None
    ) -> tuple[int, str]:
        """Copy ``src`` to ``dest`` (temp name, fsync, rename); the size and sha256 sent.

        Each block is hashed on a helper thread while the next write runs
        (hashlib and write both release the GIL), so the hash costs no extra
        read and little extra time.
        """
        tmp = dest.with_name(f".{dest.name}.tmp")
        started = time.monotonic()
        sent = 0
        digest = hashlib.sha256()
        try:
            with (
                ThreadPoolExecutor(1, thread_name_prefix="odoo-ops-hash") as hasher,
                open(src, "rb") as fin,
                open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE), "wb") as fout,
            ):
                pending: Future[None] | None = None
                while True:
                    block = fin.read(CHUNK)
                    if not block:
                        break
                    if pending is not None:
                        pending.result()
                    pending = hasher.submit(digest.update, block)
                    fout.write(block)
                    sent += len(block)
                    if progress:
                        progress("upload", len(block), 0)
                    _throttle(sent, started, bwlimit)
                if pending is not None:
                    pending.result()
                fout.flush()
                os.fsync(fout.fileno())
            os.rename(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        if progress:
            progress("upload", 0, 1)
        return sent, digest.hexdigest()

    def verify(self, name: str, files: list[WantedFile]) -> list[str]:
        copy = self._copy_dir(name)
        if not copy.is_dir():
            return [f"{name}: not on remote {self.name}"]
        return _verify_dir(copy, files)

    def pull(self, name: str, dest: Path, *, progress: ProgressFn | None = None) -> None:
        copy = self._copy_dir(name)
        if not copy.is_dir():
            raise RemoteError(f"remote {self.name}: no backup named {name!r}")
        try:
            for dirpath, _dirs, filenames in os.walk(copy):
                for fname in filenames:
                    src = Path(dirpath) / fname
                    rel = src.relative_to(copy)
                    target = path_under(dest, check_relative(rel.as_posix(), "file"))
                    target.parent.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
                    self._copy_file(src, target, None, progress)
        except OSError as exc:
            raise RemoteError(f"pulling {name} from {self.name} stopped: {exc.strerror}") from None

    def delete(self, name: str) -> None:
        copy = self._copy_dir(name)
        if not copy.is_dir():
            return
        doomed = self.root / f".{name}.deleting"
        try:
            os.rename(copy, doomed)
            remove_tree(doomed)
        except OSError as exc:
            raise self._fail(f"cannot delete {name}", exc) from None


def _throttle(sent: int, started: float, bwlimit: int | None) -> None:
    """Sleep so that ``sent`` bytes took at least ``sent / bwlimit`` (KiB/s)."""
    if not bwlimit:
        return
    ahead = sent / (bwlimit * 1024) - (time.monotonic() - started)
    if ahead > 0:
        time.sleep(ahead)


def _verify_dir(root: Path, files: list[WantedFile]) -> list[str]:
    """Download-and-hash: every wanted file read back from the remote directory."""
    problems = []
    for wanted in files:
        path = root / wanted.rel
        if not path.is_file() or path.is_symlink():
            problems.append(f"{wanted.rel}: missing")
            continue
        problems += _compare(wanted, *sha256_file(path))
    return problems


def _compare(wanted: WantedFile, size: int, digest: str) -> list[str]:
    if size != wanted.size:
        return [f"{wanted.rel}: {size} bytes, manifest says {wanted.size}"]
    if digest != wanted.sha256:
        return [f"{wanted.rel}: altered (sha256 differs from the manifest)"]
    return []


def free_bytes(path: Path) -> int:
    return shutil.disk_usage(path).free
