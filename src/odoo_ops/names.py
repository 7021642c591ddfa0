"""Names that become identifiers and paths, validated once where they enter.

Database names, backup names, deployment names and backup tags come from the
command line, ``odoo-ops.toml``, DSNs and backup manifests. Each of them ends
up as a PostgreSQL identifier, a file or directory name, or both, so each is
checked against one conservative rule before anything uses it:

* a **database name** follows Odoo's own rule (``^[a-zA-Z0-9][a-zA-Z0-9_.-]+$``
  in ``odoo/service/db.py``), relaxed to allow a single character, and
  PostgreSQL's limit of 63 bytes: never ``/``, ``..`` as a whole, NUL, a
  leading ``-`` or ``.``, whitespace or anything non-ASCII;
* a **backup name** and a **deployment name** are plain directory names of
  letters, digits, ``.``, ``_`` and ``-`` (no leading dot, no ``..``);
* a **tag** is a short word of letters, digits and ``._:@+-``.

:func:`path_under` builds a path from such names and refuses any result that
resolves (symbolic links included) outside its root; :func:`check_relative`
does the same for the relative paths a backup manifest lists.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from odoo_ops.errors import UsageError

#: PostgreSQL's NAMEDATALEN - 1: longer identifiers are silently truncated.
MAX_DATABASE_BYTES = 63
MAX_BACKUP_NAME = 151
MAX_DEPLOYMENT_NAME = 64
MAX_TAG = 64
#: The Odoo series odoo-ops knows (core addon lists, PostgreSQL minimums, templates).
SUPPORTED_SERIES = ("16.0", "17.0", "18.0", "19.0")

_DATABASE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_PLAIN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_TAG_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+-]*")
_SERIES_RE = re.compile(r"(\d{1,3})(?:\.0)?")
_PARTIAL_SUFFIX = ".partial"


class InvalidName(UsageError):
    """A name that cannot be used as an identifier or a path component."""


def shown(value: object, limit: int = 60) -> str:
    """``repr`` of ``value``, cut short so that a 100,000-character argument stays one line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 5] + "…" + text[-4:]


def _plain(value: object, what: str, pattern: re.Pattern[str], limit: int, hint: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidName(f"{what} is empty" if value == "" else f"invalid {what} {shown(value)}")
    if len(value) > limit:
        raise InvalidName(f"{what} too long ({len(value)} characters, at most {limit})", hint=hint)
    if not pattern.fullmatch(value) or ".." in value:
        raise InvalidName(f"invalid {what} {shown(value)}", hint=hint)
    return value


def check_database_name(name: object, what: str = "database name") -> str:
    """A PostgreSQL database name that is also safe as one path component."""
    hint = "use letters, digits, '_', '.' and '-', starting with a letter or digit (Odoo's rule)"
    if isinstance(name, str) and name and len(name.encode("utf-8", "replace")) > MAX_DATABASE_BYTES:
        raise InvalidName(
            f"{what} too long: {shown(name)} (PostgreSQL allows {MAX_DATABASE_BYTES} bytes)"
        )
    if not isinstance(name, str) or not name:
        raise InvalidName(f"{what} is empty" if name == "" else f"invalid {what} {shown(name)}")
    if not _DATABASE_RE.fullmatch(name):
        raise InvalidName(f"invalid {what} {shown(name)}", hint=hint)
    return name


def check_backup_name(name: object) -> str:
    """A backup name: a plain directory name inside the backup directory."""
    checked = _plain(
        name,
        "backup name",
        _PLAIN_RE,
        MAX_BACKUP_NAME,
        "use letters, digits, '.', '_' and '-' (no leading dot)",
    )
    if checked.endswith(_PARTIAL_SUFFIX):
        raise InvalidName(
            f"invalid backup name {shown(checked)}",
            hint=f"'{_PARTIAL_SUFFIX}' is the suffix of unfinished backups",
        )
    return checked


def check_deployment_name(name: object) -> str:
    """A deployment name (``[deployments.NAME]``, ``-D``): state and lock files use it."""
    return _plain(
        name,
        "deployment name",
        _PLAIN_RE,
        MAX_DEPLOYMENT_NAME,
        "use letters, digits, '.', '_' and '-', starting with a letter or digit",
    )


def check_tag(tag: object) -> str:
    """A backup tag."""
    return _plain(
        tag,
        "tag",
        _TAG_RE,
        MAX_TAG,
        "use letters, digits and '._:@+-', starting with one of the first two",
    )


def check_supported_series(series: object) -> str:
    """An Odoo series odoo-ops supports, in ``NN.0`` form (``18`` -> ``18.0``)."""
    text = f"{series:.1f}" if isinstance(series, float) else str(series).strip()
    match = _SERIES_RE.fullmatch(text)
    if not match:
        raise InvalidName(
            f"invalid Odoo series {shown(series)}", hint=f"use one of {', '.join(SUPPORTED_SERIES)}"
        )
    value = f"{int(match.group(1))}.0"
    if value not in SUPPORTED_SERIES:
        raise InvalidName(
            f"Odoo series {value} is not supported",
            hint=f"use one of {', '.join(SUPPORTED_SERIES)}",
        )
    return value


def check_relative(rel: object, what: str = "path") -> str:
    """A relative, normalised POSIX path with no ``..``: what a backup manifest may list."""
    if not isinstance(rel, str) or not rel:
        raise InvalidName(f"{what} {shown(rel)} is not a relative path")
    bad = (
        "\0" in rel
        or "\\" in rel
        or rel.startswith("/")
        or rel.endswith("/")
        or any(not c.isprintable() for c in rel)
        or len(rel) > 4096
    )
    parts = rel.split("/")
    if bad or any(p in ("", ".", "..") for p in parts) or PurePosixPath(rel).as_posix() != rel:
        raise InvalidName(f"{what} {shown(rel)} is not a plain relative path inside the backup")
    return rel


def path_under(root: Path, *parts: str) -> Path:
    """``root / parts...``, refused unless it resolves (links followed) inside ``root``.

    Each part must be a relative path without ``..``; the result is returned
    unresolved (as built), so that callers keep the names they show.
    """
    path = Path(root)
    for part in parts:
        if not isinstance(part, str) or not part or "\0" in part:
            raise InvalidName(f"invalid path component {shown(part)} under {root}")
        if os.path.isabs(part) or ".." in PurePosixPath(part).parts:
            raise InvalidName(f"{shown(part)} would lead outside {root}")
        path = path / part
    try:
        real_root = Path(os.path.realpath(root))
        real = Path(os.path.realpath(path))
    except (OSError, ValueError) as exc:
        raise InvalidName(f"cannot resolve {shown(str(path))}: {exc}") from None
    if real != real_root and real_root not in real.parents:
        raise InvalidName(f"{shown(str(path))} leads outside {root} (to {shown(str(real))})")
    return path


def click_check(
    check: Callable[[Any], str],
) -> Callable[[Any, Any, Any], Any]:
    """A click callback that validates an option or argument (``None`` and tuples too)."""

    def callback(ctx: Any, param: Any, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, tuple | list):
            return type(value)(check(v) for v in value)
        return check(value)

    return callback
