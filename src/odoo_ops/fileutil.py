"""Writing files safely: a temporary name in the same directory, fsync, rename.

:func:`atomic_write_bytes` is for odoo-ops' own files (state, generated
projects); :func:`write_output` (and :func:`open_output` for a stream) is for a
file the user names on the command line, which is checked before anything is
written: see :func:`check_output_path`.
"""

from __future__ import annotations

import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from odoo_ops.errors import OpsError


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> Path:
    """Write ``data`` to ``path`` so a reader sees the old file or the new one, never half."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise OpsError(f"cannot write {target}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OpsError(f"cannot write {target}: {exc.strerror}") from None
    try:
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str, *, mode: int = 0o644) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


# -- files a user names on the command line ----------------------------------------

STDOUT = "-"
"""The name that means standard output, for options that write a report."""

_KINDS: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def show_path(path: str | os.PathLike[str], limit: int = 160) -> str:
    """``path`` fit for a one-line message: control characters escaped, long ones shortened."""
    text = os.fspath(path)
    if not text.isprintable():
        text = text.encode("unicode_escape", "backslashreplace").decode("ascii")
    if len(text) > limit:
        text = f"{text[: limit - 40]}...({len(text)} characters)...{text[-30:]}"
    return text


def _kind(mode: int) -> str | None:
    """What a non-regular file is ("a FIFO (named pipe)"), None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    for test, name in _KINDS:
        if test(mode):
            return name
    return "not a regular file"


def check_output_path(
    path: str | os.PathLike[str], *, create_parents: bool = False, directory: bool = False
) -> tuple[Path, os.stat_result | None]:
    """Refuse an output path odoo-ops must not write: raise :class:`OpsError`, write nothing.

    Refused: a path that exists and is not a regular file (checked with ``lstat``,
    so a symbolic link, a FIFO, a device, a socket or a directory is never
    opened, followed or replaced), and a missing parent directory unless
    ``create_parents``. With ``directory`` the output is a directory to be
    created (or an empty one): an existing directory is fine, a regular file is
    not. Returns the path and the ``lstat`` of what is there (None: nothing).
    """
    target = Path(path)
    shown = show_path(target)
    try:
        st: os.stat_result | None = os.lstat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise OpsError(f"cannot write {shown}: {exc.strerror}; nothing written") from None
    if st is not None:
        kind = _kind(st.st_mode) if not directory else (
            None if stat.S_ISDIR(st.st_mode) else _kind(st.st_mode) or "a regular file"
        )
        if kind is not None:
            raise OpsError(
                f"refusing to write {shown}: it is {kind}; nothing written",
                hint="name a regular file that does not exist or that may be replaced"
                if not directory
                else "name a directory that does not exist or is empty",
            )
        return target, st
    parent = target.parent
    try:
        parent_st = os.stat(parent)
    except FileNotFoundError:
        if create_parents:
            return target, None
        raise OpsError(
            f"directory {show_path(parent)} does not exist; nothing written",
            hint="create it first (odoo-ops does not create directories you name)",
        ) from None
    except OSError as exc:
        raise OpsError(f"cannot write {shown}: {exc.strerror}; nothing written") from None
    if not stat.S_ISDIR(parent_st.st_mode):
        raise OpsError(f"cannot write {shown}: {show_path(parent)} is not a directory;"
                       " nothing written")  # fmt: skip
    return target, None


@contextmanager
def open_output(
    path: str | os.PathLike[str], *, mode: int = 0o644, create_parents: bool = False
) -> Iterator[BinaryIO]:
    """A binary file to write the output named ``path`` into, put in place on success.

    The data goes to a temporary file in the same directory; when the block
    ends without error it is flushed, fsync'ed and renamed over ``path``. An
    error (a full disk, a failed command in the block) removes the temporary
    file and leaves ``path`` as it was. ``path`` is checked first with
    :func:`check_output_path` and again just before the rename. A new file gets
    ``mode``; a regular file being replaced keeps its permission bits and owner
    (as shell redirection would), but a private ``mode`` (no group or other
    bits) is never widened by them.
    """
    target, _ = check_output_path(path, create_parents=create_parents)
    shown = show_path(target)
    if create_parents:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OpsError(f"cannot write {shown}: {exc.strerror}; nothing written") from None
    try:
        # a short prefix: a file name near NAME_MAX must not make the temporary one too long
        fd, tmp = tempfile.mkstemp(
            prefix=f".{target.name[:32]}.", suffix=".tmp", dir=target.parent
        )
    except OSError as exc:
        raise OpsError(f"cannot write {shown}: {exc.strerror}; nothing written") from None
    done = False
    try:
        with os.fdopen(fd, "w+b") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        _, st = check_output_path(target)
        new_mode = mode
        if st is not None:
            new_mode = stat.S_IMODE(st.st_mode) & 0o777
            if not mode & 0o077:
                new_mode &= mode
            if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                try:
                    os.chown(tmp, st.st_uid, st.st_gid)
                except OSError:
                    pass
        os.chmod(tmp, new_mode)
        os.replace(tmp, target)
        done = True
    except OSError as exc:
        raise OpsError(f"cannot write {shown}: {exc.strerror}; nothing written") from None
    finally:
        if not done:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    _fsync_dir(target.parent)


def write_output(
    path: str | os.PathLike[str],
    data: str | bytes,
    *,
    mode: int = 0o644,
    create_parents: bool = False,
    allow_stdout: bool = False,
) -> Path | None:
    """Write ``data`` to the output file a user named; return its path (None: stdout).

    ``-`` is standard output when ``allow_stdout`` (a report option), refused
    otherwise. Everything else follows :func:`open_output`: a symbolic link,
    FIFO, device, socket or directory at ``path`` is refused, a missing parent
    directory too (unless ``create_parents``), a write error is an
    :class:`OpsError` and leaves no temporary file.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if os.fspath(path) == STDOUT:
        if not allow_stdout:
            raise OpsError("cannot write this output to standard output ('-')",
                           hint="name a file")  # fmt: skip
        stream = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None
        if stream is not None:
            stream.write(raw)
            stream.flush()
        else:  # a text-only stream (tests capturing output)
            sys.stdout.write(raw.decode("utf-8"))
            sys.stdout.flush()
        return None
    with open_output(path, mode=mode, create_parents=create_parents) as fh:
        fh.write(raw)
    return Path(path)


def _fsync_dir(directory: Path) -> None:
    try:
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
