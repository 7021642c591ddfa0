"""Reading files that odoo-ops did not write: configs, manifests, .env, compose files.

Every file a user, a customer or a third-party repository hands to odoo-ops is
read through :func:`read_input_bytes` / :func:`read_input_text`, which

* open it without blocking (``O_NONBLOCK``): a FIFO or a device cannot hang the run;
* follow symbolic links (addons trees and deployments use them on purpose), but
  check what was actually opened with :func:`os.fstat`: only a *regular file* is
  read, so a link to ``/dev/zero``, ``/dev/urandom``, a FIFO or a directory is
  refused, not read forever;
* read at most ``limit + 1`` bytes and refuse a file larger than ``limit``
  (the ``*_LIMIT`` constants below, one per kind of file), so a huge or growing
  file cannot exhaust memory;
* decode UTF-8 with an error that names the file and the byte.

Every refusal is one line that names the file and its kind, raised as the
:class:`~odoo_ops.errors.OpsError` subclass the caller chooses
(:class:`~odoo_ops.errors.ConfigError` for configuration,
:class:`~odoo_ops.errors.ManifestError` for manifests, ...). :func:`parse_guard`
turns the ``RecursionError`` / ``MemoryError`` that parsers (``tomllib``,
``json``, ``yaml``) raise on absurdly nested input into the same kind of error.

Backups and dumps have their own reader in :mod:`odoo_ops.backup`.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Literal, overload

from odoo_ops.errors import OpsError

MiB = 1024 * 1024

#: ``__manifest__.py`` of an addon (the largest real ones are a few KiB).
MANIFEST_LIMIT = 1 * MiB
#: ``odoo-ops.toml``.
CONFIG_LIMIT = 1 * MiB
#: ``odoo.conf``.
ODOO_CONF_LIMIT = 1 * MiB
#: A ``.env`` file (``env_file``).
ENV_FILE_LIMIT = 1 * MiB
#: ``compose.yaml`` / ``docker-compose.yml``.
COMPOSE_LIMIT = 4 * MiB
#: A git-aggregator ``repos.yaml`` (``oca sync --repos-file``).
REPOS_FILE_LIMIT = 1 * MiB
#: Reports and JSON state files odoo-ops reads back (snapshots, journals, sign-offs).
REPORT_LIMIT = 16 * MiB
#: Small text files found in a deployment (``requirements.txt``, a Dockerfile, ...).
TEXT_LIMIT = 4 * MiB

#: The longest path (in bytes) and path component Linux accepts (PATH_MAX - 1, NAME_MAX).
PATH_MAX_BYTES = 4095
NAME_MAX_BYTES = 255

_FILE_TYPES = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _size_text(limit: int) -> str:
    if limit >= MiB and limit % MiB == 0:
        return f"{limit // MiB} MiB"
    if limit >= 1024 and limit % 1024 == 0:
        return f"{limit // 1024} KiB"
    return f"{limit} bytes"


def file_type(mode: int) -> str:
    """What a file of ``mode`` is, in words (``"a FIFO (named pipe)"``, ...)."""
    for test, name in _FILE_TYPES:
        if test(mode):
            return name
    return "not a regular file"


def _missing(exc: OSError) -> bool:
    return exc.errno in (errno.ENOENT, errno.ENOTDIR)


@overload
def read_input_bytes(
    path: str | os.PathLike[str],
    *,
    kind: str,
    limit: int,
    error: type[OpsError] = ...,
    display: str | None = ...,
    missing_ok: Literal[False] = ...,
) -> bytes: ...


@overload
def read_input_bytes(
    path: str | os.PathLike[str],
    *,
    kind: str,
    limit: int,
    error: type[OpsError] = ...,
    display: str | None = ...,
    missing_ok: Literal[True],
) -> bytes | None: ...


def read_input_bytes(
    path: str | os.PathLike[str],
    *,
    kind: str,
    limit: int,
    error: type[OpsError] = OpsError,
    display: str | None = None,
    missing_ok: bool = False,
) -> bytes | None:
    """The bytes of the regular file ``path`` (a ``kind`` of file, at most ``limit`` bytes).

    ``kind`` names the file in errors (``"addon manifest"``, ``"odoo.conf"``);
    ``display`` is how the path is shown (default: as given). Raises ``error``
    with a one-line message when the file is missing, not a regular file (a FIFO,
    a device, a directory, a link to one), larger than ``limit`` or unreadable.
    With ``missing_ok``, a missing file (or a missing parent) returns ``None``.
    """
    name = display if display is not None else os.fspath(path)
    try:
        # O_NONBLOCK: opening a FIFO or a device cannot wait for a writer/carrier.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        if _missing(exc):
            if missing_ok:
                return None
            raise error(f"{name}: {kind} not found") from None
        if exc.errno == errno.ENAMETOOLONG:
            raise error(f"{short(name)}: {kind} path is too long") from None
        raise error(f"{name}: cannot read {kind} ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise error(
                f"{name}: {kind} is {file_type(info.st_mode)}, not a regular file",
                hint=f"odoo-ops reads a {kind} only from a regular file",
            )
        if info.st_size > limit:
            raise error(_too_large(name, kind, limit))
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            try:
                chunk = os.read(fd, min(left, MiB))
            except BlockingIOError:  # pragma: no cover - regular files never block
                raise error(f"{name}: {kind} cannot be read without blocking") from None
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        if left <= 0:  # grew past the limit while being read (or lied about its size)
            raise error(_too_large(name, kind, limit))
        return b"".join(chunks)
    except OSError as exc:
        raise error(f"{name}: cannot read {kind} ({exc.strerror})") from None
    finally:
        os.close(fd)


def _too_large(name: str, kind: str, limit: int) -> str:
    return f"{name}: {kind} is larger than {_size_text(limit)}, the most odoo-ops reads"


def decode_input(data: bytes, *, name: str, kind: str, error: type[OpsError] = OpsError) -> str:
    """``data`` as UTF-8; ``error`` names ``name`` (the file), ``kind`` and the bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(
            f"{name}: {kind} is not valid UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None


@overload
def read_input_text(
    path: str | os.PathLike[str],
    *,
    kind: str,
    limit: int,
    error: type[OpsError] = ...,
    display: str | None = ...,
    missing_ok: Literal[False] = ...,
) -> str: ...


@overload
def read_input_text(
    path: str | os.PathLike[str],
    *,
    kind: str,
    limit: int,
    error: type[OpsError] = ...,
    display: str | None = ...,
    missing_ok: Literal[True],
) -> str | None: ...


def read_input_text(
    path: str | os.PathLike[str],
    *,
    kind: str,
    limit: int,
    error: type[OpsError] = OpsError,
    display: str | None = None,
    missing_ok: bool = False,
) -> str | None:
    """:func:`read_input_bytes`, decoded as UTF-8 (a bad byte raises ``error``)."""
    name = display if display is not None else os.fspath(path)
    data = read_input_bytes(
        path, kind=kind, limit=limit, error=error, display=display, missing_ok=True
    )
    if data is None:
        if missing_ok:
            return None
        raise error(f"{name}: {kind} not found")
    return decode_input(data, name=name, kind=kind, error=error)


def read_input_lenient(
    path: str | os.PathLike[str], *, kind: str, limit: int = TEXT_LIMIT
) -> str | None:
    """The text of ``path`` with bad UTF-8 replaced, or ``None`` when it cannot be read.

    For checks that look at a file for hints (line numbers, secrets) and skip it
    when it is missing, not a regular file or larger than ``limit``.
    """
    try:
        data = read_input_bytes(path, kind=kind, limit=limit, missing_ok=True)
    except OpsError:
        return None
    return None if data is None else data.decode("utf-8", errors="replace")


def feed_regular_file(path: str | os.PathLike[str], update: Callable[[bytes], object]) -> bool:
    """Pass the content of the regular file ``path`` to ``update``, 1 MiB at a time.

    For hashing files of any size (addon checksums) in bounded memory. Returns
    ``False``, having fed nothing, when ``path`` is missing, unreadable or not a
    regular file (a FIFO, a device, a directory, a link to one): it never blocks.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        while chunk := os.read(fd, MiB):
            update(chunk)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def path_problem(value: str | os.PathLike[str]) -> str | None:
    """Why ``value`` cannot be a path on this system (too long, NUL byte), or ``None``.

    Checked where a path enters (options, settings), so that a 100,000-character
    argument is refused in one line instead of failing every later ``stat``.
    """
    text = os.fspath(value)
    if "\0" in text:
        return "contains a NUL byte"
    raw = os.fsencode(text)
    if len(raw) > PATH_MAX_BYTES:
        return f"is too long ({len(raw)} bytes; at most {PATH_MAX_BYTES})"
    longest = max((len(part) for part in raw.split(b"/")), default=0)
    if longest > NAME_MAX_BYTES:
        return f"has a name longer than {NAME_MAX_BYTES} bytes"
    return None


def short(value: str | os.PathLike[str], width: int = 80) -> str:
    """``value`` cut to ``width`` characters for a message (``...`` marks the cut)."""
    text = os.fspath(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def check_input_path(
    value: str | os.PathLike[str], *, what: str, error: type[OpsError] = OpsError
) -> None:
    """Raise ``error`` (``"<what> <value>: is too long ..."``) when ``value`` cannot be a path."""
    problem = path_problem(value)
    if problem is not None:
        raise error(f"{what} {short(value)!r} {problem}")


def is_regular_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` (links followed) is a regular file; never raises, never blocks."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


@contextmanager
def parse_guard(name: str, kind: str, error: type[OpsError] = OpsError) -> Iterator[None]:
    """Turn a parser's ``RecursionError`` / ``MemoryError`` into ``error`` naming the file.

    ``tomllib``, ``json`` and ``yaml`` recurse once per nesting level: a file of
    100,000 ``[`` exhausts the stack rather than raising their own error.
    """
    try:
        yield
    except RecursionError:
        raise error(f"{name}: {kind} is nested too deep to be read") from None
    except MemoryError:
        raise error(f"{name}: {kind} is too large to be parsed") from None
