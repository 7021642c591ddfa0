"""Discovery of the addons on an addons path.

Odoo looks for an addon in each directory of ``addons_path`` in turn and takes
the first one that holds ``NAME/__manifest__.py``. :func:`scan_addons_path` does
the same, keeps the later copies as *shadowed*, and records every manifest that
cannot be read as *invalid* without stopping.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from odoo_ops.addons.manifest import (
    LEGACY_MANIFEST_NAME,
    MANIFEST_NAME,
    Addon,
    addon_from_manifest,
    read_manifest_text,
)
from odoo_ops.errors import ManifestError

_GLOB_CHARS = frozenset("*?[")

#: ``PathEntry.status`` values.
ENTRY_OK = "ok"
ENTRY_EMPTY = "empty"
ENTRY_MISSING = "missing"
ENTRY_NOT_A_DIRECTORY = "not-a-directory"
ENTRY_IS_ADDON = "is-an-addon"
ENTRY_DUPLICATE = "duplicate"


@dataclass(frozen=True, slots=True)
class PathEntry:
    """One directory of the addons path, as given (``raw``) and as resolved.

    ``status`` is ``ok``, ``empty`` (no addon in it), ``missing``,
    ``not-a-directory``, ``is-an-addon`` (the entry is itself an addon: Odoo
    wants its parent) or ``duplicate`` (listed before; ignored).
    """

    raw: str
    path: Path
    exists: bool
    addon_count: int
    status: str = ENTRY_OK


@dataclass(frozen=True, slots=True)
class Shadowed:
    """An addon found again later on the path: Odoo uses ``winner_path``."""

    name: str
    winner_path: Path
    shadowed_path: Path


@dataclass(frozen=True, slots=True)
class InvalidAddon:
    """An addon directory whose manifest cannot be used; ``error`` says why."""

    name: str
    path: Path
    error: str
    hint: str | None = None


@dataclass
class AddonsScan:
    """What :func:`scan_addons_path` found.

    ``addons`` holds the winner of each name (the first on the path) when its
    manifest is valid; ``invalid`` the winners (and only them) that are not.
    """

    addons: dict[str, Addon] = field(default_factory=dict)
    shadowed: list[Shadowed] = field(default_factory=list)
    invalid: list[InvalidAddon] = field(default_factory=list)
    entries: list[PathEntry] = field(default_factory=list)

    @property
    def invalid_names(self) -> frozenset[str]:
        return frozenset(i.name for i in self.invalid)

    def get(self, name: str) -> Addon | None:
        return self.addons.get(name)


def split_addons_path(value: str | Iterable[str | os.PathLike[str]]) -> list[str]:
    """``"a, b,c"`` -> ``["a", "b", "c"]``; a list is flattened the same way."""
    items = [value] if isinstance(value, str) else [os.fspath(v) for v in value]
    out: list[str] = []
    for item in items:
        out.extend(part.strip() for part in item.split(",") if part.strip())
    return out


def _display(path: str, base: str) -> str:
    """``path`` relative to ``base`` when it lies under it (for messages)."""
    if path.startswith(base + os.sep):
        return path[len(base) + 1 :]
    return path


def _expand(raw: str, base: str) -> list[str]:
    text = os.path.expanduser(raw)
    if not os.path.isabs(text):
        text = os.path.join(base, text)
    text = os.path.normpath(text)
    if _GLOB_CHARS.isdisjoint(text):
        return [text]
    return sorted(glob.glob(text, recursive=True))


def scan_addons_path(
    entries: str | Iterable[str | os.PathLike[str]],
    *,
    base_dir: str | os.PathLike[str] | None = None,
) -> AddonsScan:
    """Discover the addons of an addons path.

    ``entries`` is a list of directories (or one comma-separated string); each
    may hold ``~`` and glob patterns (``addons/*``) and may be relative to
    ``base_dir`` (default: the current directory). Each entry is an *addons
    directory*: its sub-directories with a ``__manifest__.py`` are the addons.
    Hidden directories and directories without a manifest are skipped.
    """
    base = os.path.abspath(os.fspath(base_dir) if base_dir is not None else os.getcwd())
    scan = AddonsScan()
    winners: dict[str, str] = {}  # name -> addon dir of the first one found
    seen_dirs: set[str] = set()
    for raw in split_addons_path(entries):
        expanded = _expand(raw, base)
        if not expanded:  # a glob that matched nothing
            scan.entries.append(PathEntry(raw, Path(raw), False, 0, ENTRY_MISSING))
            continue
        for directory in expanded:
            scan.entries.append(_scan_entry(raw, directory, base, scan, winners, seen_dirs))
    return scan


def _scan_entry(
    raw: str,
    directory: str,
    base: str,
    scan: AddonsScan,
    winners: dict[str, str],
    seen_dirs: set[str],
) -> PathEntry:
    path = Path(directory)
    if not os.path.exists(directory):
        return PathEntry(raw, path, False, 0, ENTRY_MISSING)
    if not os.path.isdir(directory):
        return PathEntry(raw, path, True, 0, ENTRY_NOT_A_DIRECTORY)
    real = os.path.realpath(directory)
    if real in seen_dirs:
        return PathEntry(raw, path, True, 0, ENTRY_DUPLICATE)
    seen_dirs.add(real)
    if os.path.isfile(os.path.join(directory, MANIFEST_NAME)):
        return PathEntry(raw, path, True, 0, ENTRY_IS_ADDON)
    try:
        with os.scandir(directory) as it:
            children = sorted(
                (e.name, e.path) for e in it if not e.name.startswith(".") and e.is_dir()
            )
    except OSError:
        return PathEntry(raw, path, True, 0, ENTRY_MISSING)
    count = 0
    for name, addon_dir in children:
        manifest_file = os.path.join(addon_dir, MANIFEST_NAME)
        try:
            with open(manifest_file, "rb") as fh:
                data = fh.read()
        except (FileNotFoundError, NotADirectoryError):
            legacy = os.path.join(addon_dir, LEGACY_MANIFEST_NAME)
            if not os.path.isfile(legacy):
                continue  # not an addon
            count += _record(
                scan, winners, name, addon_dir,
                error=f"{_display(legacy, base)}: __openerp__.py is not read by Odoo 16+",
                hint="rename it to __manifest__.py",
            )  # fmt: skip
            continue
        except OSError as exc:
            count += _record(
                scan, winners, name, addon_dir,
                error=f"{_display(manifest_file, base)}: cannot read ({exc.strerror})",
            )  # fmt: skip
            continue
        count += 1
        if name in winners:
            scan.shadowed.append(Shadowed(name, Path(winners[name]), Path(addon_dir)))
            continue
        winners[name] = addon_dir
        source = _display(manifest_file, base)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            scan.invalid.append(
                InvalidAddon(name, Path(addon_dir), f"{source}: not valid UTF-8 ({exc.reason})")
            )
            continue
        try:
            manifest = read_manifest_text(text, source)
        except ManifestError as exc:
            scan.invalid.append(InvalidAddon(name, Path(addon_dir), exc.message, exc.hint))
            continue
        scan.addons[name] = addon_from_manifest(name, Path(addon_dir), manifest)
    return PathEntry(raw, path, True, count, ENTRY_OK if count else ENTRY_EMPTY)


def _record(
    scan: AddonsScan,
    winners: dict[str, str],
    name: str,
    addon_dir: str,
    *,
    error: str,
    hint: str | None = None,
) -> int:
    """Record an addon directory that is there but unusable; returns 1 (counted)."""
    if name in winners:
        scan.shadowed.append(Shadowed(name, Path(winners[name]), Path(addon_dir)))
        return 1
    winners[name] = addon_dir
    scan.invalid.append(InvalidAddon(name, Path(addon_dir), error, hint))
    return 1
