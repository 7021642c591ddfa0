"""Checksums of installed addons, for the selective update (``modules update --changed``).

The layout and the hashing rules are the ones of click-odoo-update
(click-odoo-contrib), so a deployment can switch between the two tools without
a needless full update:

- the checksums live in ``ir_config_parameter`` under
  ``module_auto_update.installed_checksums`` as one JSON object
  ``{"addon_name": "<sha1 hex>", ...}`` (``false`` for an installed addon whose
  directory was not found);
- the digest of an addon is ONE sha1 over its files, walked top-down with
  directories and file names sorted; for each file the relative path (UTF-8)
  and then the content are fed to the digest;
- files matching the exclude patterns are skipped: by default
  ``*.pyc,*.pyo,i18n/*.pot,i18n_extra/*.pot,static/*,tests/*`` (the parameter
  ``module_auto_update.exclude_patterns`` overrides them, as in click-odoo);
  patterns are ``fnmatch`` patterns on the relative path, where ``*`` also
  matches ``/``;
- ``.po`` files of ``i18n/`` and ``i18n_extra/`` count only for the active
  languages (``res_lang.active``), compared on the language prefix (``fr`` of
  ``fr_BE``);
- symlinked directories are not descended (``os.walk`` does not follow them).

Why ``static/`` is excluded: Odoo serves static files and builds its asset
bundles from the files on disk at run time (the bundles are versioned by their
content), so a change under ``static/`` needs no ``-u``; the manifest, which
declares the bundles, is hashed. Excluding it also keeps the checksums
identical to click-odoo-update's.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any

PARAM_INSTALLED_CHECKSUMS = "module_auto_update.installed_checksums"
PARAM_EXCLUDE_PATTERNS = "module_auto_update.exclude_patterns"
DEFAULT_EXCLUDE_PATTERNS = "*.pyc,*.pyo,i18n/*.pot,i18n_extra/*.pot,static/*,tests/*"

_MAGIC = re.compile(r"[*?\[]")


def parse_patterns(value: str | None) -> list[str]:
    """``"a, b"`` -> ``["a", "b"]``; ``None`` -> the default patterns."""
    text = DEFAULT_EXCLUDE_PATTERNS if value is None else value
    return [p.strip() for p in text.split(",") if p.strip()]


@dataclass(frozen=True)
class HashRules:
    """What is left out of an addon checksum."""

    exclude_patterns: tuple[str, ...] = tuple(parse_patterns(None))
    keep_langs: frozenset[str] = frozenset()  # language prefixes; empty = every .po

    @classmethod
    def make(cls, patterns: Iterable[str] | None = None, langs: Iterable[str] = ()) -> HashRules:
        pats = tuple(parse_patterns(None) if patterns is None else patterns)
        return cls(pats, frozenset(code.split("_")[0] for code in langs if code))

    def pruned_dirs(self) -> frozenset[str]:
        """Relative directories all of whose files a pattern excludes (``static/*``)."""
        out = set()
        for pattern in self.exclude_patterns:
            if pattern.endswith("/*") and not _MAGIC.search(pattern[:-2]):
                out.add(pattern[:-2])
        return frozenset(out)


def _excluded(relpath: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(relpath, p) for p in patterns)


def addon_files(top: str | os.PathLike[str], rules: HashRules) -> list[str]:
    """The relative paths hashed for the addon at ``top``, in digest order."""
    root = os.fspath(top)
    pruned = rules.pruned_dirs()
    patterns = rules.exclude_patterns
    keep = rules.keep_langs
    out: list[str] = []

    def walk(directory: str, reldir: str) -> None:
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError:
            return
        files: list[str] = []
        dirs: list[tuple[str, str, bool]] = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                dirs.append((entry.name, entry.path, entry.is_symlink()))
            else:
                files.append(entry.name)
        files.sort()
        lang_dir = bool(keep) and reldir in ("i18n", "i18n_extra")
        for name in files:
            rel = f"{reldir}/{name}" if reldir else name
            if _excluded(rel, patterns):
                continue
            if lang_dir:
                base, ext = os.path.splitext(name)
                if ext == ".po" and base.split("_")[0] not in keep:
                    continue
            out.append(rel)
        dirs.sort()
        for name, path, is_link in dirs:
            rel = f"{reldir}/{name}" if reldir else name
            if is_link or rel in pruned:
                continue
            walk(path, rel)

    walk(root, "")
    return out


def addon_checksum(top: str | os.PathLike[str], rules: HashRules | None = None) -> str:
    """The click-odoo-update compatible sha1 of the addon directory ``top``."""
    rules = rules or HashRules()
    root = os.fspath(top)
    digest = hashlib.sha1()
    for rel in addon_files(root, rules):
        digest.update(os.fsencode(rel))
        try:
            with open(os.path.join(root, rel), "rb") as fh:
                digest.update(fh.read())
        except OSError:
            continue  # a dangling symlink: its name counts, it has no content
    return digest.hexdigest()


def compute_checksums(
    addon_dirs: Mapping[str, str | os.PathLike[str]],
    rules: HashRules | None = None,
    *,
    jobs: int | None = None,
) -> dict[str, str]:
    """Checksums of many addons (``name -> directory``), hashed in a few threads.

    Reading files and sha1 release the GIL, so two or three threads keep the
    disk and the CPU busy at once.
    """
    rules = rules or HashRules()
    names = sorted(addon_dirs)
    workers = jobs or min(4, (os.cpu_count() or 1) + 1)
    if workers <= 1 or len(names) < 8:
        return {n: addon_checksum(addon_dirs[n], rules) for n in names}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        values = pool.map(lambda n: addon_checksum(addon_dirs[n], rules), names)
        return dict(zip(names, values, strict=True))


def load_stored(value: str | None) -> dict[str, str | bool] | None:
    """The stored JSON (``None`` when there is none or it is unreadable)."""
    if not value:
        return None
    try:
        data = json.loads(value)
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    return {str(k): v for k, v in data.items() if isinstance(v, str | bool)}


def dump_stored(checksums: Mapping[str, str | bool]) -> str:
    """The JSON stored in ``ir_config_parameter`` (same shape as click-odoo-update)."""
    return json.dumps(dict(sorted(checksums.items())))


@dataclass
class ChangedSet:
    """What :func:`changed_modules` found."""

    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)  # no stored checksum
    unchecked: list[str] = field(default_factory=list)  # not on this host's addons path
    not_installable: list[str] = field(default_factory=list)
    computed: dict[str, str] = field(default_factory=dict)
    first_run: bool = False

    @property
    def to_update(self) -> list[str]:
        return sorted({*self.changed, *self.new})

    def as_dict(self) -> dict[str, Any]:
        return {
            "first_run": self.first_run,
            "changed": self.changed,
            "new": self.new,
            "unchanged": len(self.unchanged),
            "unchecked": self.unchecked,
            "not_installable": self.not_installable,
        }


def changed_modules(
    installed: Iterable[str],
    addon_dirs: Mapping[str, str | os.PathLike[str]],
    stored: Mapping[str, str | bool] | None,
    rules: HashRules,
    *,
    not_installable: Iterable[str] = (),
    jobs: int | None = None,
) -> ChangedSet:
    """Compare the addons on disk with the stored checksums.

    ``installed`` are the modules in state installed/to upgrade; those not in
    ``addon_dirs`` cannot be hashed here and are listed as ``unchecked``.
    """
    out = ChangedSet(first_run=stored is None)
    blocked = set(not_installable)
    hashable: dict[str, str | os.PathLike[str]] = {}
    for name in sorted(set(installed)):
        if name in blocked:
            out.not_installable.append(name)
        elif name in addon_dirs:
            hashable[name] = addon_dirs[name]
        else:
            out.unchecked.append(name)
    out.computed = compute_checksums(hashable, rules, jobs=jobs)
    previous = stored or {}
    for name, digest in out.computed.items():
        old = previous.get(name)
        if old is None or old is False:
            out.new.append(name)
        elif old != digest:
            out.changed.append(name)
        else:
            out.unchanged.append(name)
    return out


def merged_checksums(
    stored: Mapping[str, str | bool] | None,
    computed: Mapping[str, str],
    installed: Iterable[str],
    *,
    only: Iterable[str] | None = None,
) -> dict[str, str | bool]:
    """The checksums to store after a successful update.

    With ``only`` (an explicit ``-u a,b``) only those entries move; otherwise
    every computed checksum is stored. Entries of modules that are no longer
    installed are dropped; modules not hashable here keep their stored value.
    """
    keep = set(installed)
    result: dict[str, str | bool] = {k: v for k, v in (stored or {}).items() if k in keep}
    names = computed.keys() if only is None else [n for n in only if n in computed]
    for name in names:
        if name in keep:
            result[name] = computed[name]
    return result


def plain_sha1_walk(top: str | os.PathLike[str]) -> dict[str, str]:
    """Every file under ``top`` hashed with sha1, nothing skipped (the benchmark floor)."""
    out: dict[str, str] = {}
    for dirpath, _dirs, files in os.walk(top):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                with open(path, "rb") as fh:
                    out[path] = hashlib.sha1(fh.read()).hexdigest()
            except OSError:
                continue
    return out
