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

import fnmatch
import hashlib
import json
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from odoo_ops.inputs import feed_regular_file

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


@lru_cache(maxsize=32)
def _exclusion_regex(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regular expression for all the fnmatch patterns (``*`` matches ``/`` too)."""
    if not patterns:
        return None
    return re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))


def addon_files(top: str | os.PathLike[str], rules: HashRules) -> list[str]:
    """The relative paths hashed for the addon at ``top``, in digest order."""
    root = os.fspath(top)
    pruned = rules.pruned_dirs()
    regex = _exclusion_regex(tuple(rules.exclude_patterns))
    excluded = regex.match if regex is not None else None
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
            if excluded is not None and excluded(rel):
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


def addon_checksum(
    top: str | os.PathLike[str],
    rules: HashRules | None = None,
    cache: DigestCache | None = None,
) -> str:
    """The click-odoo-update compatible sha1 of the addon directory ``top``.

    With ``cache`` the files are only read when the addon's stat signature
    (names, sizes, mtimes, ctimes, inodes of the hashed files) differs from the
    one recorded with the cached digest.
    """
    rules = rules or HashRules()
    root = os.fspath(top)
    files = addon_files(root, rules)
    signature, racy = None, False
    if cache is not None:
        signature, racy = _signature(root, files)
        hit = cache.get(root, rules, signature)
        if hit is not None:
            return hit
    digest = hashlib.sha1()
    for rel in files:
        digest.update(os.fsencode(rel))
        # a dangling symlink, a FIFO or a device: its name counts, it has no content
        feed_regular_file(os.path.join(root, rel), digest.update)
    value = digest.hexdigest()
    if cache is not None and signature is not None and not racy:
        cache.put(root, rules, signature, value)
    return value


#: files modified this recently are not trusted to the stat cache (coarse mtimes)
RACY_SECONDS = 2.0


def _signature(root: str, files: Sequence[str]) -> tuple[str, bool]:
    """A digest of the stat facts of ``files``; True when one was modified just now."""
    digest = hashlib.sha1()
    limit = time.time_ns() - int(RACY_SECONDS * 1e9)
    racy = False
    for rel in files:
        try:
            st = os.stat(os.path.join(root, rel))
        except OSError:
            digest.update(f"{rel}\0-\n".encode("utf-8", "surrogateescape"))
            continue
        if st.st_mtime_ns >= limit or st.st_ctime_ns >= limit:
            racy = True
        digest.update(
            f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}"
            f"\0{st.st_dev}\n".encode("utf-8", "surrogateescape")
        )
    return digest.hexdigest(), racy


class DigestCache:
    """Digests of addon directories keyed on their stat signature, kept in a JSON file.

    Only a shortcut for this host: the stored checksums in the database are
    always the full content digests. A file's content cannot change without its
    ctime changing, so an unchanged signature means unchanged content; files
    modified in the last :data:`RACY_SECONDS` are never cached.
    """

    VERSION = 1

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else os.fspath(path)
        self.entries: dict[str, list[str]] = {}
        self.dirty = False
        if self.path and os.path.exists(self.path):
            try:
                with open(self.path, encoding="utf-8") as fh:
                    data = json.load(fh)
                if data.get("version") == self.VERSION and isinstance(data.get("entries"), dict):
                    self.entries = data["entries"]
            except (OSError, ValueError, AttributeError):
                self.entries = {}

    @staticmethod
    def _rules_key(rules: HashRules) -> str:
        return "|".join([*rules.exclude_patterns, "#", *sorted(rules.keep_langs)])

    def get(self, root: str, rules: HashRules, signature: str) -> str | None:
        entry = self.entries.get(root)
        if entry and entry[0] == self._rules_key(rules) and entry[1] == signature:
            return entry[2]
        return None

    def put(self, root: str, rules: HashRules, signature: str, digest: str) -> None:
        self.entries[root] = [self._rules_key(rules), signature, digest]
        self.dirty = True

    def save(self) -> None:
        if not self.path or not self.dirty:
            return
        from odoo_ops.fileutil import atomic_write_text

        atomic_write_text(self.path, json.dumps({"version": self.VERSION, "entries": self.entries}))
        self.dirty = False


def compute_checksums(
    addon_dirs: Mapping[str, str | os.PathLike[str]],
    rules: HashRules | None = None,
    *,
    jobs: int | None = None,
    cache: DigestCache | None = None,
) -> dict[str, str]:
    """Checksums of many addons (``name -> directory``), hashed in a few threads.

    Reading files and sha1 release the GIL, so two or three threads keep the
    disk and the CPU busy at once.
    """
    rules = rules or HashRules()
    names = sorted(addon_dirs)
    workers = jobs or min(4, (os.cpu_count() or 1) + 1)
    if workers <= 1 or len(names) < 8:
        return {n: addon_checksum(addon_dirs[n], rules, cache) for n in names}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        values = pool.map(lambda n: addon_checksum(addon_dirs[n], rules, cache), names)
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
    cache: DigestCache | None = None,
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
    out.computed = compute_checksums(hashable, rules, jobs=jobs, cache=cache)
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
