"""``oca sync``: fetch the OCA (and other) addon repositories, pinned by a lock file.

For each repository: shallow fetch of its branch (``git fetch --depth 1``) into
``<addons_dir>/<name>`` (a plain git checkout, detached at the commit), all
repositories in parallel. The lock file records the exact commit of every
merge and the resulting HEAD. Without ``update`` the lock is reproduced
exactly (the pinned commits are fetched, even when the branch moved on); with
``update`` the pins move to the branches' current heads. A repository whose
configuration changed (URL, branch, merges) is re-resolved and said so.

Aggregated repositories (git-aggregator ``merges`` with more than one entry)
fetch their refs with full history (or ``defaults.depth``) and merge them in
order with a fixed identity and date, so the same pins always give the same
HEAD commit.

A checkout with local changes is never touched (unless ``force``).
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from odoo_ops.adapters.runner import run_process
from odoo_ops.errors import OpsError
from odoo_ops.fileutil import atomic_write_text
from odoo_ops.oca.sources import Merge, RepoSpec
from odoo_ops.secrets import redact_text, redact_url

LOCK_VERSION = 1
GIT_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "odoo-ops",
    "GIT_AUTHOR_EMAIL": "odoo-ops@localhost",
    "GIT_COMMITTER_NAME": "odoo-ops",
    "GIT_COMMITTER_EMAIL": "odoo-ops@localhost",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00+0000",
    "GIT_COMMITTER_DATE": "2000-01-01T00:00:00+0000",
}

# -- lock file -------------------------------------------------------------------


@dataclass
class LockEntry:
    path: str
    merges: list[dict[str, str]]  # remote, url, ref, commit
    head: str

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "merges": self.merges, "head": self.head}


def read_lock(path: Path) -> dict[str, LockEntry]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        repos = data["repos"]
        return {
            str(name): LockEntry(str(e["path"]), list(e["merges"]), str(e["head"]))
            for name, e in repos.items()
        }
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise OpsError(
            f"unreadable lock file {path}: {exc}",
            hint="fix it, or delete it and run `odoo-ops oca sync --update`",
        ) from None


def write_lock(path: Path, series: str | None, entries: dict[str, LockEntry]) -> None:
    data = {
        "version": LOCK_VERSION,
        "series": series,
        "generated": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "repos": {name: entries[name].as_dict() for name in sorted(entries)},
    }
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


# -- git ---------------------------------------------------------------------------


class GitError(OpsError):
    pass


@dataclass
class Git:
    cwd: Path
    log: list[str] = field(default_factory=list)
    dry_run: bool = False
    timeout: float = 600.0

    def __call__(self, *args: str, check: bool = True) -> str:
        argv = ["git", "-C", str(self.cwd), *args]
        self.log.append(redact_text(shlex.join(argv)))  # a remote URL may hold a token
        if self.dry_run:
            return ""
        result = run_process(argv, env=GIT_ENV, timeout=self.timeout)
        if check and (result.returncode != 0 or result.timed_out):
            tail = result.output.strip().splitlines()[-1:] or [f"exit {result.returncode}"]
            raise GitError(redact_text(f"git {args[0]} failed in {self.cwd}: {tail[0]}"))
        return result.output.strip() if result.returncode == 0 else ""

    def ok(self, *args: str) -> bool:
        argv = ["git", "-C", str(self.cwd), *args]
        if self.dry_run:
            return False
        return run_process(argv, env=GIT_ENV, timeout=self.timeout).returncode == 0


# -- one repository ------------------------------------------------------------------


@dataclass
class RepoResult:
    name: str
    path: str
    action: str = ""  # cloned | updated | reproduced | unchanged | failed | planned
    head: str | None = None
    previous: str | None = None
    merges: list[dict[str, str]] = field(default_factory=list)
    error: str | None = None
    notes: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.error is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "action": self.action,
            "head": self.head,
            "previous": self.previous,
            "merges": self.merges,
            "error": self.error,
            "notes": self.notes,
            "commands": self.commands,
        }


def _same_sources(spec: RepoSpec, entry: LockEntry) -> bool:
    # the lock holds URLs with their password/token masked (it is often committed)
    locked = [(m.get("remote"), redact_url(m.get("url") or ""), m.get("ref")) for m in entry.merges]
    return locked == [(m.remote, redact_url(m.url), m.ref) for m in spec.merges]


def _fetch(git: Git, merge: Merge, commit: str | None, depth: int | None) -> str:
    """Fetch ``commit`` (or the tip of ``merge.ref``); returns the commit fetched."""
    depth_args = [f"--depth={depth}"] if depth else []
    if commit:
        if git.ok("cat-file", "-e", f"{commit}^{{commit}}"):
            return commit
        if git.ok("fetch", "-q", *depth_args, merge.remote, commit):
            return commit
        # servers that refuse unadvertised commits: fetch the ref's history
        git("fetch", "-q", merge.remote, merge.ref)
        if not git.ok("cat-file", "-e", f"{commit}^{{commit}}"):
            raise GitError(
                f"pinned commit {commit[:12]} of {redact_url(merge.url)} ({merge.ref}) is gone",
                hint="run `odoo-ops oca sync --update` to move the pin",
            )
        return commit
    git("fetch", "-q", *depth_args, merge.remote, merge.ref)
    if git.dry_run:
        return "<tip of " + merge.ref + ">"
    return git("rev-parse", "FETCH_HEAD^{commit}")


def sync_repo(
    spec: RepoSpec,
    entry: LockEntry | None,
    *,
    update: bool,
    force: bool,
    dry_run: bool,
    root: Path,
) -> RepoResult:
    try:
        rel = str(spec.path.relative_to(root))
    except ValueError:
        rel = str(spec.path)
    result = RepoResult(spec.name, rel, notes=list(spec.notes))
    git = Git(spec.path, dry_run=dry_run)
    try:
        _sync(spec, entry, result, git, update=update, force=force)
    except OpsError as exc:
        result.action = "failed"
        result.error = exc.message
    result.commands = git.log
    return result


def _sync(
    spec: RepoSpec,
    entry: LockEntry | None,
    result: RepoResult,
    git: Git,
    *,
    update: bool,
    force: bool,
) -> None:
    pins: list[str | None] = [None] * len(spec.merges)
    expected_head: str | None = None
    if entry is not None and not update:
        if _same_sources(spec, entry):
            pins = [m.get("commit") for m in entry.merges]
            expected_head = entry.head
        else:
            result.notes.append("sources changed since the lock was written: pin moved")
    exists = spec.path.exists()
    if exists:
        if not (spec.path / ".git").exists():
            raise OpsError(f"{spec.path} exists and is not a git checkout")
        if not git.dry_run:
            dirty = git("status", "--porcelain", "--untracked-files=no")
            if dirty and not force:
                raise OpsError(
                    f"{spec.path} has local changes; not touched",
                    hint="commit or discard them, or pass --force",
                )
            result.previous = git("rev-parse", "HEAD", check=False) or None
        if expected_head and result.previous == expected_head and not force:
            result.action = "unchanged"
            result.head = expected_head
            result.merges = entry.merges if entry else []
            return
    else:
        if not git.dry_run:
            spec.path.mkdir(parents=True, exist_ok=True)
        git("init", "-q")
    remotes = {m.remote: m.url for m in spec.merges}
    for name, url in remotes.items():
        current = git("remote", "get-url", name, check=False) if exists else ""
        if not current:
            git("remote", "add", name, url)
        elif current != url:
            git("remote", "set-url", name, url)
            result.notes.append(f"remote {name} now points at {redact_url(url)}")
    depth = spec.depth if spec.aggregated else (spec.depth or 1)
    commits = [_fetch(git, m, pins[i], depth) for i, m in enumerate(spec.merges)]
    git("checkout", "-q", *(["--force"] if force else []), "--detach", commits[0])
    for commit in commits[1:]:
        git("merge", "-q", "--no-edit", commit)
    head = commits[0] if git.dry_run else git("rev-parse", "HEAD")
    if expected_head and head != expected_head and not git.dry_run:
        result.notes.append(
            f"HEAD {head[:12]} differs from the locked {expected_head[:12]} (merge result changed)"
        )
    result.head = head
    result.merges = [
        {**m.as_dict(), "url": redact_url(m.url), "commit": c}
        for m, c in zip(spec.merges, commits, strict=True)
    ]
    if git.dry_run:
        result.action = "planned"
    elif not exists:
        result.action = "cloned"
    elif result.previous == head:
        result.action = "unchanged"
    elif pins[0] is not None and not update:
        result.action = "reproduced"
    else:
        result.action = "updated"


# -- the whole sync ---------------------------------------------------------------------


@dataclass
class Collision:
    addon: str
    repos: list[str]


@dataclass
class MissingDependency:
    dependency: str
    needed_by: list[str]


@dataclass
class OcaSyncResult:
    lock_file: str
    dry_run: bool
    update: bool
    repos: list[RepoResult] = field(default_factory=list)
    collisions: list[Collision] = field(default_factory=list)
    missing: list[MissingDependency] = field(default_factory=list)
    addons: int = 0
    dropped: list[str] = field(default_factory=list)  # lock entries no longer configured

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.repos)

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "lock_file": self.lock_file,
            "dry_run": self.dry_run,
            "update": self.update,
            "repos": [r.as_dict() for r in self.repos],
            "addons": self.addons,
            "collisions": [{"addon": c.addon, "repos": c.repos} for c in self.collisions],
            "missing_dependencies": [
                {"dependency": m.dependency, "needed_by": m.needed_by} for m in self.missing
            ],
            "dropped_from_lock": self.dropped,
        }


def analyse_repos(
    specs: Sequence[RepoSpec], series: str | None, extra_paths: Sequence[Path] = ()
) -> tuple[int, list[Collision], list[MissingDependency]]:
    """Addon name collisions across repos; dependencies no synced repo provides."""
    from odoo_ops.addons import core_addons, scan_addons_path

    owners: dict[str, list[str]] = {}
    depends: dict[str, tuple[str, ...]] = {}
    for spec in specs:
        if not spec.path.is_dir():
            continue
        scan = scan_addons_path([str(spec.path)])
        for name, addon in scan.addons.items():
            owners.setdefault(name, []).append(spec.name)
            depends.setdefault(name, addon.depends)
    collisions = [Collision(n, r) for n, r in sorted(owners.items()) if len(r) > 1]
    provided = set(owners)
    if extra_paths:
        provided |= set(scan_addons_path([str(p) for p in extra_paths]).addons)
    core: frozenset[str] = frozenset()
    if series:
        try:
            core = core_addons(series)
        except OpsError:
            core = frozenset()
    needed: dict[str, list[str]] = {}
    for name, deps in depends.items():
        for dep in deps:
            if dep not in provided and dep not in core:
                needed.setdefault(dep, []).append(name)
    missing = [MissingDependency(d, sorted(n)) for d, n in sorted(needed.items())]
    return len(owners), collisions, missing


def sync_oca(
    specs: Sequence[RepoSpec],
    *,
    root: Path,
    lock_file: Path,
    series: str | None,
    update: bool = False,
    force: bool = False,
    dry_run: bool = False,
    jobs: int = 4,
    only: Sequence[str] = (),
    extra_paths: Sequence[Path] = (),
    on_repo: Callable[[RepoResult], None] | None = None,
) -> OcaSyncResult:
    """Sync ``specs`` (all, or ``only`` those names) and rewrite the lock file."""
    lock = read_lock(lock_file)
    chosen = [s for s in specs if not only or s.name in only]
    unknown = sorted(set(only) - {s.name for s in specs})
    if unknown:
        raise OpsError(f"unknown repository: {', '.join(unknown)}")
    result = OcaSyncResult(str(lock_file), dry_run, update)

    def work(spec: RepoSpec) -> RepoResult:
        done = sync_repo(
            spec, lock.get(spec.name), update=update, force=force, dry_run=dry_run, root=root
        )
        if on_repo is not None:
            on_repo(done)
        return done

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        result.repos = list(pool.map(work, chosen))
    if dry_run:
        return result
    entries = dict(lock)
    configured = {s.name for s in specs}
    result.dropped = sorted(n for n in entries if n not in configured)
    for name in result.dropped:
        del entries[name]
    for repo in result.repos:
        if repo.ok and repo.head:
            entries[repo.name] = LockEntry(repo.path, repo.merges, repo.head)
    write_lock(lock_file, series, entries)
    result.addons, result.collisions, result.missing = analyse_repos(specs, series, extra_paths)
    return result
