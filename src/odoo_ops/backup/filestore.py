"""The filestore as a zstd-compressed tar, written and read as a stream.

Writing walks the filestore directory in sorted order and adds each entry to
a ``tarfile`` stream compressed by ``zstandard`` (multi-threaded, in
process); reading goes the other way and extracts entry by entry with
tarfile's ``data`` filter (no absolute paths, no ``..``, no device files).
Memory stays flat: file contents move in 1 MiB chunks, and tarfile's member
list is emptied as entries go by.
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from odoo_ops.backup.layout import CHUNK

ProgressFn = Callable[[int, int], None]  # (bytes, files)


@dataclass
class TarStats:
    files: int = 0
    bytes: int = 0
    directories: int = 0
    skipped: list[str] = field(default_factory=list)


def forget_members(tar: tarfile.TarFile) -> None:
    """Empty tarfile's list of seen members (it grows without end in stream mode)."""
    members: list[Any] | None = getattr(tar, "members", None)
    if members is not None and len(members) > 1000:
        members.clear()


#: tarfile's stream buffer. tarfile keeps it as one ``bytes`` object and copies
#: what remains of it on every header read or write (``buf = buf[size:]``): with
#: 1 MiB that copying was most of the CPU of a 10,000-file filestore (a quarter
#: of the extraction's CPU saved at 64 KiB, bench/backup.py's filestore).
TAR_BUFSIZE = 64 * 1024
#: zstd level of the filestore archive: 1, the cheapest; a filestore is mostly
#: images and PDFs that no level shrinks much (bench/backup.py: level 3 is 0.3 %
#: smaller for twice the CPU)
LEVEL = 1


def _compressor(level: int, threads: int) -> Any:
    import zstandard

    return zstandard.ZstdCompressor(level=level, threads=threads)


def write_tar(
    source: Path | None,
    sink: IO[bytes] | Any,
    *,
    level: int | None = None,
    threads: int = -1,
    progress: ProgressFn | None = None,
) -> TarStats:
    """Write ``source`` (a directory, or None for an empty filestore) as tar+zstd to ``sink``."""
    stats = TarStats()
    level = LEVEL if level is None else level
    writer = _compressor(level, threads).stream_writer(sink, closefd=False, write_size=CHUNK)
    tar = tarfile.open(  # noqa: SIM115 - closed below, the sink stays open
        fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT, bufsize=TAR_BUFSIZE
    )
    tar.copybufsize = TAR_BUFSIZE  # type: ignore[attr-defined]
    try:
        if source is not None and source.is_dir():
            for dirpath, dirnames, filenames in os.walk(source):
                dirnames.sort()
                base = Path(dirpath)
                rel_dir = base.relative_to(source).as_posix()
                if rel_dir != ".":
                    info = tar.gettarinfo(str(base), rel_dir)
                    tar.addfile(info)
                    stats.directories += 1
                for name in sorted(filenames):
                    path = base / name
                    arcname = path.relative_to(source).as_posix()
                    try:
                        info = tar.gettarinfo(str(path), arcname)
                    except OSError:
                        stats.skipped.append(arcname)  # vanished meanwhile (GC)
                        continue
                    if info.isreg():
                        try:
                            with open(path, "rb") as fh:
                                tar.addfile(info, fh)
                        except FileNotFoundError:
                            stats.skipped.append(arcname)
                            continue
                        stats.files += 1
                        stats.bytes += info.size
                        if progress is not None:
                            progress(info.size, 1)
                    elif info.issym():
                        tar.addfile(info)
                    else:
                        stats.skipped.append(arcname)
                    forget_members(tar)
        tar.close()
        import zstandard

        writer.flush(zstandard.FLUSH_FRAME)  # end the frame, keep the sink open
    except BaseException:
        tar.fileobj = None  # type: ignore[assignment]
        raise
    return stats


def open_tar_reader(stream: IO[bytes] | Any) -> tarfile.TarFile:
    import zstandard

    reader = zstandard.ZstdDecompressor().stream_reader(stream, read_size=CHUNK, closefd=False)
    return tarfile.open(fileobj=reader, mode="r|", bufsize=TAR_BUFSIZE)


def scan(
    stream: IO[bytes] | Any, *, progress: ProgressFn | None = None
) -> tuple[TarStats, list[str]]:
    """Read every entry of a tar+zstd stream to its end; return counts and names."""
    stats = TarStats()
    names: list[str] = []
    tar = open_tar_reader(stream)
    for member in tar:
        if member.isreg():
            fh = tar.extractfile(member)
            assert fh is not None
            size = 0
            while True:
                block = fh.read(CHUNK)
                if not block:
                    break
                size += len(block)
            if size != member.size:
                raise tarfile.ReadError(f"entry {member.name} is short")
            stats.files += 1
            stats.bytes += size
            names.append(member.name)
            if progress is not None:
                progress(size, 1)
        elif member.isdir():
            stats.directories += 1
        forget_members(tar)
    tar.close()
    return stats, names


class UnsafeEntry(OSError):
    """A tar entry that would land outside the destination."""


def _safe_parts(name: str) -> list[str]:
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or not parts or ".." in parts:
        raise UnsafeEntry(f"unsafe path in the filestore archive: {name!r}")
    return parts


def extract(
    stream: IO[bytes] | Any, destination: Path, *, progress: ProgressFn | None = None
) -> TarStats:
    """Extract a tar+zstd stream into ``destination`` (created, mode 0700).

    Entries are checked as tarfile's ``data`` filter would (no absolute
    paths, no ``..``, no links leaving the tree, no devices), then written
    directly: regular files keep their mode (without group/other write)
    and mtime. Run as root, the files get the owner of the directory that
    holds ``destination`` (``DATA_DIR/filestore``: Odoo's user), not root.
    """
    destination.mkdir(mode=0o700, parents=False, exist_ok=True)
    root = destination
    owner: tuple[int, int] | None = None
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        st = destination.parent.stat()
        if (st.st_uid, st.st_gid) != (0, 0):
            owner = (st.st_uid, st.st_gid)
            os.chown(destination, *owner)
    stats = TarStats()
    made: set[Path] = {root}
    tar = open_tar_reader(stream)
    for member in tar:
        parts = _safe_parts(member.name)
        path = root.joinpath(*parts)
        parent = path.parent
        if parent not in made:
            _mkdirs(root, parts[:-1], made, owner)
        if member.isdir():
            _mkdirs(root, parts, made, owner)
            stats.directories += 1
        elif member.isreg():
            source = tar.extractfile(member)
            assert source is not None
            mode = (member.mode & 0o755) | 0o600
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
            with os.fdopen(fd, "wb") as out:
                while True:
                    block = source.read(CHUNK)
                    if not block:
                        break
                    out.write(block)
            os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
            if owner is not None:
                os.lchown(path, *owner)
            stats.files += 1
            stats.bytes += member.size
            if progress is not None:
                progress(member.size, 1)
        elif member.issym():
            link = member.linkname
            resolved = os.path.normpath(os.path.join(os.path.dirname(member.name), link))
            if link.startswith("/") or resolved == ".." or resolved.startswith("../"):
                raise UnsafeEntry(f"link leaving the filestore in the archive: {member.name!r}")
            os.symlink(link, path)
        else:
            stats.skipped.append(member.name)  # devices, fifos, hard links: not a filestore's
        forget_members(tar)
    tar.close()
    return stats


def _mkdirs(root: Path, parts: list[str], made: set[Path], owner: tuple[int, int] | None) -> None:
    path = root
    for part in parts:
        path = path / part
        if path in made:
            continue
        if path.is_symlink():
            raise UnsafeEntry(f"the archive writes through a link: {path.name!r}")
        try:
            path.mkdir(mode=0o755)
            if owner is not None:
                os.lchown(path, *owner)
        except FileExistsError:
            if not path.is_dir():
                raise
        made.add(path)


def dir_stats(path: Path | None) -> TarStats:
    """Files and bytes below ``path`` (regular files only)."""
    stats = TarStats()
    if path is None or not path.is_dir():
        return stats
    stack = [str(path)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    stack.append(entry.path)
                    stats.directories += 1
                elif stat.S_ISREG(st.st_mode):
                    stats.files += 1
                    stats.bytes += st.st_size
    return stats
