"""Discovery of the addons on an addons path.

Odoo looks for an addon in each directory of ``addons_path`` in turn and takes
the first one that holds ``NAME/__manifest__.py``. :func:`scan_addons_path` does
the same, keeps the later copies as *shadowed*, and records every manifest that
cannot be read as *invalid* without stopping.
"""

from __future__ import annotations

import glob
import marshal
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from odoo_ops.addons import findings as F
from odoo_ops.addons.cache import ManifestCache, Record
from odoo_ops.addons.findings import Finding
from odoo_ops.addons.manifest import (
    LEGACY_MANIFEST_NAME,
    MANIFEST_KIND,
    MANIFEST_NAME,
    Addon,
    ManifestProblem,
    addon_fields,
    addon_from_fields,
    decode_manifest,
    parse_manifest,
)
from odoo_ops.errors import ManifestError
from odoo_ops.inputs import MANIFEST_LIMIT, read_input_bytes

_GLOB_CHARS = frozenset("*?[")
#: Parallel parsing only pays off with at least this many manifests per process.
PARALLEL_MIN_PER_JOB = 150

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
    cache_dir: str | os.PathLike[str] | None = None,
    jobs: int = 1,
) -> AddonsScan:
    """Discover the addons of an addons path.

    ``entries`` is a list of directories (or one comma-separated string); each
    may hold ``~`` and glob patterns (``addons/*``) and may be relative to
    ``base_dir`` (default: the current directory). Each entry is an *addons
    directory*: its sub-directories with a ``__manifest__.py`` are the addons.
    Hidden directories and directories without a manifest are skipped.

    ``cache_dir`` enables the parse cache (:mod:`odoo_ops.addons.cache`) kept in
    that directory. ``jobs`` > 1 parses manifests in that many processes (forked;
    only where ``os.fork`` exists, for large paths, and only from a program that
    runs no threads); ``jobs=0`` picks the number of usable CPUs (at most 4).
    """
    base = os.path.abspath(os.fspath(base_dir) if base_dir is not None else os.getcwd())
    cache = ManifestCache(cache_dir) if cache_dir is not None else None
    scan = AddonsScan()
    state = _ScanState(base, cache)
    for raw in split_addons_path(entries):
        expanded = _expand(raw, base)
        if not expanded:  # a glob that matched nothing
            scan.entries.append(PathEntry(raw, Path(raw), False, 0, ENTRY_MISSING))
            continue
        for directory in expanded:
            scan.entries.append(_scan_entry(raw, directory, scan, state))
    _resolve(scan, state, jobs)
    if cache is not None:
        cache.save()
    return scan


@dataclass
class _Pending:
    """An addon directory that won its name: its manifest still to be turned into facts."""

    name: str
    directory: Path
    manifest_file: str
    source: str
    data: bytes | None = None
    stat: os.stat_result | None = None
    record: Record | None = None


@dataclass
class _ScanState:
    base: str
    cache: ManifestCache | None
    winners: dict[str, str] = field(default_factory=dict)
    seen_dirs: set[str] = field(default_factory=set)
    pending: list[_Pending] = field(default_factory=list)


def _scan_entry(raw: str, directory: str, scan: AddonsScan, state: _ScanState) -> PathEntry:
    path = Path(directory)
    if not os.path.exists(directory):
        return PathEntry(raw, path, False, 0, ENTRY_MISSING)
    if not os.path.isdir(directory):
        return PathEntry(raw, path, True, 0, ENTRY_NOT_A_DIRECTORY)
    real = os.path.realpath(directory)
    if real in state.seen_dirs:
        return PathEntry(raw, path, True, 0, ENTRY_DUPLICATE)
    state.seen_dirs.add(real)
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
    cache = state.cache
    winners = state.winners
    for name, addon_dir in children:
        manifest_file = os.path.join(addon_dir, MANIFEST_NAME)
        if name in winners:  # Odoo never reads this one: no need to either
            legacy = os.path.join(addon_dir, LEGACY_MANIFEST_NAME)
            if os.path.isfile(manifest_file) or os.path.isfile(legacy):
                count += 1
                scan.shadowed.append(Shadowed(name, Path(winners[name]), path / name))
            continue
        item = _Pending(name, path / name, manifest_file, "")
        source = _display(manifest_file, state.base)
        try:
            if cache is not None:
                item.stat = os.stat(manifest_file)
                if stat.S_ISREG(item.stat.st_mode):
                    item.record = cache.get(manifest_file, item.stat)
            if item.record is None:
                # never blocks on a FIFO, never reads a device or a huge file
                item.data = read_input_bytes(
                    manifest_file, kind=MANIFEST_KIND, limit=MANIFEST_LIMIT,
                    error=ManifestError, display=source, missing_ok=True,
                )  # fmt: skip
                if item.data is None:
                    raise FileNotFoundError(manifest_file)
        except ManifestError as exc:
            count += 1
            _unusable(scan, state, name, addon_dir, exc.message)
            continue
        except (FileNotFoundError, NotADirectoryError):
            legacy = os.path.join(addon_dir, LEGACY_MANIFEST_NAME)
            if not os.path.isfile(legacy):
                continue  # not an addon
            count += 1
            problem = ManifestProblem(
                "__openerp__.py is not read by Odoo 16+", hint="rename it to __manifest__.py"
            )
            _unusable(scan, state, name, addon_dir, problem.located(_display(legacy, state.base)))
            continue
        except OSError as exc:
            count += 1
            reason = f"{source}: cannot read ({exc.strerror})"
            _unusable(scan, state, name, addon_dir, reason)
            continue
        count += 1
        winners[name] = addon_dir
        item.source = source
        state.pending.append(item)
    return PathEntry(raw, path, True, count, ENTRY_OK if count else ENTRY_EMPTY)


def _unusable(scan: AddonsScan, state: _ScanState, name: str, addon_dir: str, error: str) -> None:
    """An addon directory that is there but cannot be read: it still takes its name."""
    state.winners[name] = addon_dir
    hint = "rename it to __manifest__.py" if LEGACY_MANIFEST_NAME in error else None
    scan.invalid.append(InvalidAddon(name, Path(addon_dir), error, hint))


def parse_record(data: bytes) -> Record:
    """What parsing one manifest file gives, as a cacheable record.

    ``{"fields": ...}`` (see :func:`~odoo_ops.addons.manifest.addon_fields`) or
    ``{"problem": [reason, line, hint]}``.
    """
    try:
        return {"fields": addon_fields(parse_manifest(decode_manifest(data)))}
    except ManifestProblem as problem:
        return {"problem": [problem.reason, problem.line, problem.hint]}


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _parse_in_child(datas: list[bytes]) -> tuple[int, int]:
    """Fork a process that parses ``datas``; returns (pid, read end of its pipe)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: parse, send, leave without running any cleanup
        status = 1
        try:
            os.close(read_fd)
            payload = marshal.dumps([parse_record(d) for d in datas])
            view = memoryview(payload)
            while view:
                written = os.write(write_fd, view)
                view = view[written:]
            status = 0
        finally:
            os._exit(status)
    os.close(write_fd)
    return pid, read_fd


def _collect_child(pid: int, read_fd: int, expected: int) -> list[Record] | None:
    chunks = []
    try:
        while True:
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
    _pid, status = os.waitpid(pid, 0)
    if status != 0:
        return None
    try:
        records = marshal.loads(b"".join(chunks))
    except (ValueError, EOFError, TypeError):
        return None
    if not isinstance(records, list) or len(records) != expected:
        return None
    return records


def _parse_all(datas: list[bytes], jobs: int) -> list[Record]:
    if jobs == 0:
        jobs = min(_usable_cpus(), 4)
    jobs = min(jobs, len(datas) // PARALLEL_MIN_PER_JOB) if hasattr(os, "fork") else 1
    if jobs <= 1:
        return [parse_record(d) for d in datas]
    size = -(-len(datas) // jobs)
    parts = [datas[i : i + size] for i in range(0, len(datas), size)]
    children: list[tuple[int, int, list[bytes]]] = []
    for part in parts[1:]:
        try:
            pid, fd = _parse_in_child(part)
        except OSError:
            pid, fd = -1, -1
        children.append((pid, fd, part))
    records = [parse_record(d) for d in parts[0]]
    for pid, fd, part in children:
        got = _collect_child(pid, fd, len(part)) if pid > 0 else None
        records.extend(got if got is not None else [parse_record(d) for d in part])
    return records


def _resolve(scan: AddonsScan, state: _ScanState, jobs: int) -> None:
    """Turn the pending manifests into addons (or invalid ones), in path order."""
    todo = [p for p in state.pending if p.record is None]
    parsed = _parse_all([p.data or b"" for p in todo], jobs)
    for item, record in zip(todo, parsed, strict=True):
        item.record = record
        if state.cache is not None and item.stat is not None:
            state.cache.put(item.manifest_file, item.stat, record)
    for item in state.pending:
        record = item.record or {}
        fields = record.get("fields")
        if fields is not None:
            scan.addons[item.name] = addon_from_fields(item.name, item.directory, fields)
            continue
        reason, line, hint = record.get("problem") or ("unreadable manifest", None, None)
        problem = ManifestProblem(reason, line, hint)
        scan.invalid.append(
            InvalidAddon(item.name, item.directory, problem.located(item.source), hint)
        )


_ENTRY_PROBLEMS = {
    ENTRY_MISSING: (F.ERROR, "does not exist", "fix or remove the entry: Odoo refuses to start"),
    ENTRY_NOT_A_DIRECTORY: (F.ERROR, "is not a directory", "list directories only"),
    ENTRY_IS_ADDON: (
        F.ERROR,
        "is an addon itself, not a directory of addons",
        "list the directory that contains it",
    ),
    ENTRY_EMPTY: (F.WARNING, "holds no addon", "remove the entry"),
    ENTRY_DUPLICATE: (F.INFO, "is listed more than once", "remove the repeated entry"),
}


def scan_findings(scan: AddonsScan) -> list[Finding]:
    """What the scan itself found: bad path entries, invalid manifests, shadowed addons.

    Cheap (no graph work): every ``addons`` command reports these.
    """
    out: list[Finding] = []
    for entry in scan.entries:
        if entry.status in _ENTRY_PROBLEMS:
            severity, what, hint = _ENTRY_PROBLEMS[entry.status]
            out.append(
                Finding(
                    F.PATH_ENTRY, severity,
                    f"addons path entry {entry.raw} ({entry.path}) {what}",
                    path=str(entry.path), hint=hint,
                    data={"entry": entry.raw, "status": entry.status},
                )
            )  # fmt: skip

    for bad in scan.invalid:
        out.append(
            Finding(
                F.INVALID_MANIFEST, F.ERROR, bad.error, addon=bad.name, path=str(bad.path),
                hint=bad.hint,
            )
        )  # fmt: skip

    for sh in scan.shadowed:
        out.append(
            Finding(
                F.SHADOWED, F.WARNING,
                f"{sh.name} in {sh.shadowed_path.parent} is shadowed by {sh.winner_path}",
                addon=sh.name, path=str(sh.shadowed_path),
                hint="Odoo uses the first one on the addons path; remove the other copy",
                data={"winner": str(sh.winner_path), "shadowed": str(sh.shadowed_path)},
            )
        )  # fmt: skip
    return out
