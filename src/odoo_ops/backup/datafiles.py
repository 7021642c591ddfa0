"""Data files of a directory-format dump, compressed by odoo-ops (pg_dump 15 and older).

pg_dump before 16 compresses with gzip only, and gzip is the slowest part of a
backup. odoo-ops dumps uncompressed instead (``pg_dump -Fd -Z0 -j N``) and
compresses each data file with zstd **while pg_dump writes it**
(:class:`DumpCompressor` follows the growing ``NNNN.dat`` and finishes it once
no pg_dump process holds it open), so the dump costs little more than the
COPY itself. What is kept is the layout pg_dump 16 writes with ``-Z zstd``:
``toc.dat`` plus ``NNNN.dat.zst`` (zstd frames with their content checksum).

A restore decompresses the data files into a work directory
(:func:`materialize`, several files at a time, hashing the compressed bytes as
they are read), then ``pg_restore -j N`` reads the uncompressed dump.
:func:`restore_workdir` picks a place with room for them (``TMPDIR``, then
beside the backups) and removes it afterwards.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

from odoo_ops.backup.common import owner_alive, write_owner
from odoo_ops.backup.layout import CHUNK, member_path
from odoo_ops.backup.streams import FileDigest, HashingFile, HashingWriter
from odoo_ops.errors import OpsError

#: suffix of a compressed data file (what pg_dump 16 writes with ``-Z zstd``)
SUFFIX = ".zst"
#: the manifest's ``dump.data_files`` for this layout
METHOD = "zstd"
#: prefix of a restore's work directory (stale ones are removed by the next restore)
WORKDIR_PREFIX = ".odoo-ops-restore-"
_POLL = 0.05


def is_data_file(name: str) -> bool:
    """``NNNN.dat`` / ``blob_NNN.dat`` of a directory dump (not its ``toc.dat``)."""
    return name.endswith(".dat") and name != "toc.dat"


@dataclass
class Compressed:
    """What :class:`DumpCompressor` made: digests of the ``.zst`` files, raw bytes."""

    digests: dict[str, FileDigest] = field(default_factory=dict)
    raw_bytes: int = 0


class DumpCompressor:
    """Compresses the data files of a running ``pg_dump -Fd -Z0`` as they are written.

    A watcher thread lists the dump directory; each new data file gets a
    follower thread that reads what pg_dump has written so far, compresses it
    into ``NAME.dat.zst`` and, once no pg_dump process holds the file open any
    more (or pg_dump has exited), reads the rest, ends the frame and removes
    the raw file. :meth:`finish` is called after pg_dump exited successfully.
    """

    def __init__(self, dump_dir: Path, pid: int, level: int) -> None:
        self.dump_dir = dump_dir
        self.level = level
        self._pid = pid
        self._exited = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._open: set[str] = set()
        self._open_at = 0.0
        self._followers: dict[str, threading.Thread] = {}
        self._errors: list[tuple[str, BaseException]] = []
        self.result = Compressed()
        #: /proc names open files by their real path
        self._real_prefix = os.path.realpath(dump_dir) + os.sep
        self._raw: dict[str, int] = {}
        #: files whose first compression ended too early (compressed again)
        self.recompressed: list[str] = []
        self._watcher = threading.Thread(target=self._watch, daemon=True)
        self._watcher.start()

    # -- which files pg_dump still writes ------------------------------------

    def _writing(self, since: float) -> set[str]:
        """Names of the dump's files that a pg_dump process has open.

        A scan started after ``since`` and less than 50 ms ago is reused.
        """
        import psutil

        with self._lock:
            now = time.monotonic()
            if self._open_at > since and now - self._open_at < _POLL:
                return self._open
            names: set[str] = set()
            try:
                leader = psutil.Process(self._pid)
                procs = [leader, *leader.children(recursive=True)]
            except psutil.Error:
                procs = []
            prefix = self._real_prefix
            for proc in procs:
                try:
                    files = proc.open_files()
                except psutil.Error:
                    continue
                names.update(
                    f.path[len(prefix) :] for f in files if f.path.startswith(prefix)
                )
            self._open, self._open_at = names, now
            return names

    def _closed(self, name: str, since: float) -> bool:
        """No pg_dump process holds ``name`` open in a scan newer than ``since``."""
        return self._exited.is_set() or name not in self._writing(since)

    # -- threads -------------------------------------------------------------

    def _watch(self) -> None:
        while not self._stop.is_set():
            done = self._exited.is_set()
            self._start_new()
            if done:
                return
            self._exited.wait(_POLL * 2)

    def _start_new(self) -> None:
        try:
            names = os.listdir(self.dump_dir)
        except FileNotFoundError:
            return
        for name in sorted(names):
            if is_data_file(name) and name not in self._followers:
                thread = threading.Thread(target=self._follow, args=(name,), daemon=True)
                self._followers[name] = thread
                thread.start()

    def _follow(self, name: str) -> None:
        import zstandard

        raw_path = self.dump_dir / name
        seen = time.monotonic()  # the file exists: pg_dump has opened it by now
        writer: HashingWriter | None = None
        try:
            writer = HashingWriter(self.dump_dir / (name + SUFFIX))
            compressor = zstandard.ZstdCompressor(level=self.level, write_checksum=True)
            stream = compressor.stream_writer(
                cast(IO[bytes], writer), closefd=False, write_size=CHUNK
            )
            raw = 0
            with open(raw_path, "rb") as src:
                while not self._stop.is_set():
                    block = src.read(CHUNK)
                    if block:
                        stream.write(block)
                        raw += len(block)
                        continue
                    if self._closed(name, seen):
                        # closed before this check: everything written is readable now
                        while block := src.read(CHUNK):
                            stream.write(block)
                            raw += len(block)
                        break
                    time.sleep(_POLL)
            if self._stop.is_set():
                writer.abort()
                return
            stream.flush(zstandard.FLUSH_FRAME)
            digest = writer.close()
            with self._lock:
                self.result.digests[name + SUFFIX] = digest
                self._raw[name] = raw
        except BaseException as exc:
            if writer is not None:
                writer.abort()
            with self._lock:
                self._errors.append((name, exc))

    # -- end -----------------------------------------------------------------

    def finish(self) -> Compressed:
        """pg_dump has exited successfully: compress what is left, wait, report.

        Each raw file is removed only now, after its size was compared with
        the bytes compressed: a file that a follower ended too early (pg_dump
        wrote more after it looked closed) is compressed again, whole.
        """
        self._exited.set()
        self._watcher.join()
        for thread in list(self._followers.values()):
            thread.join()
        if self._errors:
            name, exc = self._errors[0]
            why = getattr(exc, "strerror", None) or str(exc)
            raise OpsError(f"backup failed: compressing {name} of the dump: {why}")
        for name, raw in sorted(self._raw.items()):
            raw_path = self.dump_dir / name
            if raw_path.stat().st_size != raw:
                (self.dump_dir / (name + SUFFIX)).unlink()
                self._follow(name)  # pg_dump has exited: reads the whole file
                if self._errors:
                    name, exc = self._errors[0]
                    raise OpsError(f"backup failed: compressing {name} of the dump: {exc}")
                self.recompressed.append(name)
            raw_path.unlink()
        self.result.raw_bytes = sum(self._raw.values())
        return self.result

    def abort(self) -> None:
        """pg_dump failed or was killed: stop every follower (the caller removes the files)."""
        self._stop.set()
        self._exited.set()
        self._watcher.join()
        for thread in list(self._followers.values()):
            thread.join()


# -- restore side ------------------------------------------------------------


def decompress_file(source: Path, dest: Path | None, *, hashed: bool) -> FileDigest | None:
    """``source`` (one zstd frame) into ``dest`` (``None``: read and discard).

    The frame's content checksum is checked by zstd; ``hashed``: the size and
    sha256 of the compressed bytes read are returned.
    """
    import zstandard

    src = HashingFile(source)
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(
            cast(IO[bytes], src), read_size=CHUNK, closefd=False
        )
        out = open(dest, "xb") if dest is not None else None  # noqa: SIM115
        try:
            while block := reader.read(CHUNK):
                if out is not None:
                    out.write(block)
        finally:
            if out is not None:
                out.close()
        digest = src.digest()
    finally:
        src.close()
    return digest if hashed else None


@dataclass
class Materialized:
    """A dump directory pg_restore can read, and what was learnt reading the backup's."""

    path: Path
    digests: dict[str, FileDigest | BaseException] = field(default_factory=dict)
    failed: str | None = None


def materialize(source: Path, dest: Path, *, jobs: int, hashed: bool) -> Materialized:
    """Decompress the dump directory ``source`` into ``dest`` (made here), ``jobs`` at a time.

    Files that are not compressed (``toc.dat``, ``blobs.toc``) are copied.
    Digests (``hashed``) are keyed by the name inside ``source``; a file that
    cannot be read or decompressed is recorded in ``digests`` as its error and
    named in ``failed``.
    """
    dest.mkdir(mode=0o700)
    result = Materialized(dest)
    names = sorted(
        (e for e in os.scandir(source) if e.is_file(follow_symlinks=False)),
        key=lambda e: e.stat().st_size,
        reverse=True,  # the largest first: it bounds the wall time
    )

    lock = threading.Lock()

    def one(entry: os.DirEntry[str]) -> None:
        name = entry.name
        try:
            if name.endswith(SUFFIX):
                digest = decompress_file(
                    Path(entry.path), dest / name[: -len(SUFFIX)], hashed=hashed
                )
            else:
                shutil.copyfile(entry.path, dest / name)
                digest = HashingFile(Path(entry.path)).digest() if hashed else None
            if digest is not None:
                result.digests[name] = digest
        except Exception as exc:  # a damaged frame, a read error
            # the checksum names damage best: hash what is there when it can be read
            try:
                result.digests[name] = HashingFile(Path(entry.path)).digest() if hashed else exc
            except OSError:
                result.digests[name] = exc
            with lock:
                if result.failed is None:
                    result.failed = f"{name}: {getattr(exc, 'strerror', None) or exc}"

    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="unzstd") as pool:
        list(pool.map(one, names))
    return result


def check_frames(source: Path) -> list[tuple[str, str]]:
    """Decompress every ``.zst`` data file of ``source`` and discard it: (name, problem)."""
    problems: list[tuple[str, str]] = []
    for entry in sorted(os.scandir(source), key=lambda e: e.name):
        if entry.name.endswith(SUFFIX):
            try:
                decompress_file(Path(entry.path), None, hashed=False)
            except Exception as exc:
                why = getattr(exc, "strerror", None) or str(exc)
                problems.append((entry.name, f"cannot be decompressed ({why})"))
    return problems


def _candidates(backup_dir: Path | None) -> list[Path]:
    places = [Path(tempfile.gettempdir())]
    if backup_dir is not None:
        places.append(backup_dir)
    return places


def _remove_stale(place: Path) -> None:
    with contextlib.suppress(OSError):
        for entry in os.scandir(place):
            if entry.name.startswith(WORKDIR_PREFIX) and entry.is_dir(follow_symlinks=False):
                # an hour old and its owner gone (a fresh one may not have its owner yet)
                old = time.time() - entry.stat(follow_symlinks=False).st_mtime > 3600
                if old and not owner_alive(Path(entry.path)):
                    shutil.rmtree(entry.path, ignore_errors=True)


@contextlib.contextmanager
def restore_workdir(needed: int, backup_dir: Path | None) -> Iterator[Path]:
    """A private directory with room for ``needed`` bytes, removed on the way out.

    Tried in order: the temporary directory (``TMPDIR``), then the backup
    directory. Work directories left by killed restores are removed first.
    """
    margin = needed // 20 + 64 * 1024 * 1024
    free_seen: list[str] = []
    for place in _candidates(backup_dir):
        if not place.is_dir():
            continue
        _remove_stale(place)
        try:
            free = shutil.disk_usage(place).free
        except OSError:
            continue
        if free < needed + margin:
            free_seen.append(f"{place}: {free / 1024**3:.1f} GiB free")
            continue
        path = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX, dir=place))
        write_owner(path)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
        return
    raise OpsError(
        f"the restore needs {needed / 1024**3:.1f} GiB of temporary space to decompress the"
        f" dump ({'; '.join(free_seen) or 'no usable directory'})",
        hint="free some space, or point TMPDIR at a file system with room",
    )


@contextlib.contextmanager
def decompressed(
    backup: Path, dump: dict[str, Any], *, jobs: int, hashed: bool
) -> Iterator[Materialized]:
    """The dump ``dump`` (a manifest's ``dump`` table) of the backup directory
    ``backup``, decompressed into a work directory for as long as the block runs.

    The caller reads :attr:`Materialized.failed` (a file that could not be
    decompressed) and the digests.
    """
    source = member_path(backup, str(dump["path"]))  # inside the backup, links resolved
    with restore_workdir(raw_bytes_of(dump), backup.parent) as work:
        yield materialize(source, work / "db", jobs=jobs, hashed=hashed)


def describe_restore(dump_dir: Path, jobs: int, argv: list[str]) -> list[str]:
    """The commands a restore of such a dump runs (for ``--dry-run``)."""
    from shlex import join

    parallel = ["-j", str(jobs)] if jobs > 1 else ["--single-transaction"]
    return [
        f"zstd -d {dump_dir}/*.dat{SUFFIX} -> WORKDIR/ ({jobs} at a time)",
        join([*argv, *parallel, "WORKDIR"]),
    ]


def raw_bytes_of(dump: dict[str, Any]) -> int:
    value = dump.get("raw_bytes")
    return int(value) if isinstance(value, int) and value >= 0 else 0
