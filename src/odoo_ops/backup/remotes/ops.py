"""The actions on remotes: push, pull (verified on arrival), list, prune per remote."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.backup.common import (
    backup_dir_of,
    clean_stale_partials,
    ensure_dir,
    write_lock,
    write_owner,
)
from odoo_ops.backup.layout import (
    OWNER_FILE,
    PARTIAL_SUFFIX,
    BackupEntry,
    Manifest,
    find_backup,
    fsync_path,
    iso,
    list_backups,
    manifest_problem,
    read_small_file,
    remove_tree,
    update_status,
    utcnow,
)
from odoo_ops.backup.remotes import configured, find_config, open_remote
from odoo_ops.backup.remotes.base import (
    ProgressFn,
    PushResult,
    Remote,
    RemoteCopy,
    RemoteError,
    wanted_files,
)
from odoo_ops.backup.retention import Decision, Item, Policy, decide
from odoo_ops.errors import ConfigError, OpsError

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.config.schema import BackupRemote


def selected(target: Target, names: list[str] | None) -> list[BackupRemote]:
    """The remotes named (all configured ones when ``names`` is empty)."""
    if names:
        return [find_config(target, n) for n in names]
    remotes = configured(target)
    if not remotes:
        raise ConfigError(
            "no remote configured",
            hint='add [[backup.remotes]] name = "offsite" url = "…" to odoo-ops.toml',
        )
    return remotes


def push_backup(
    target: Target,
    entry: BackupEntry,
    cfg: BackupRemote,
    *,
    bwlimit: int | None = None,
    progress: ProgressFn | None = None,
    identity_file: str | None = None,
) -> PushResult:
    """Copy one verified local backup to one remote; record the outcome in status.json."""
    from odoo_ops.backup.integrity import verify_entry

    manifest = entry.manifest
    if manifest is None:
        raise OpsError(f"{entry.name}: {entry.error or 'damaged manifest'}: not pushed")
    if cfg.require_encryption and not manifest.encrypted:
        raise OpsError(
            f"remote {cfg.name} requires encrypted backups; {entry.name} is not encrypted",
            hint="make it with `odoo-ops backup create --encrypt` ([backup] age_recipients)",
        )
    checked = verify_entry(entry, record=True, project_root=target.root)
    if not checked.ok:
        raise OpsError(
            f"{entry.name} fails verification, not pushed: "
            + "; ".join(str(p) for p in checked.problems[:3]),
            hint=f"odoo-ops backup verify {entry.name}",
        )
    files = wanted_files(entry)
    with open_remote(target, cfg) as remote:
        result = remote.push(entry, files, bwlimit=bwlimit, progress=progress)
    remotes = dict(entry.status.get("remotes") or {})
    previous = remotes.get(cfg.name) if isinstance(remotes.get(cfg.name), dict) else None
    if result.already_there and previous:
        return result
    record: dict[str, Any] = {
        "url": remote.display,
        "pushed_at": iso(utcnow()),
        "bytes": result.bytes_total,
        "bytes_sent": result.bytes_sent,
        "seconds": result.seconds,
        "verified": result.verified or result.already_there,
        "verified_at": iso(utcnow()),
        "method": result.method,
    }
    remotes[cfg.name] = record
    entry.status = update_status(entry.path, remotes=remotes)
    return result


def remote_copies(target: Target, cfg: BackupRemote) -> tuple[Remote, list[RemoteCopy]]:
    with open_remote(target, cfg) as remote:
        return remote, remote.copies()


def pull_backup(
    target: Target,
    name: str,
    cfg: BackupRemote,
    *,
    force: bool = False,
    progress: ProgressFn | None = None,
    wait: float = 0.0,
) -> BackupEntry:
    """Download a copy into backup_dir, verified before it appears under its name."""
    from odoo_ops.backup.layout import check_name

    check_name(name)
    backup_dir = ensure_dir(backup_dir_of(target))
    final = backup_dir / name
    if final.exists() and not force:
        raise OpsError(
            f"a backup named {name!r} is already in {backup_dir}",
            hint="use it as it is, or pass --force to replace it with the remote's copy",
        )
    with open_remote(target, cfg) as remote:
        return _pull(target, name, cfg, remote, backup_dir, final, progress, wait)


def _pull(
    target: Target,
    name: str,
    cfg: BackupRemote,
    remote: Remote,
    backup_dir: Path,
    final: Path,
    progress: ProgressFn | None,
    wait: float,
) -> BackupEntry:
    from odoo_ops.backup.integrity import verify_entry

    if not remote.has(name):
        raise RemoteError(
            f"remote {cfg.name}: no complete backup named {name!r}",
            hint=f"odoo-ops backup list --remote {cfg.name}",
        )
    partial = backup_dir / f".{name}{PARTIAL_SUFFIX}"
    if partial.exists():
        remove_tree(partial)
    partial.mkdir(mode=0o700)
    write_owner(partial)
    try:
        remote.pull(name, partial, progress=progress)
        (partial / OWNER_FILE).unlink(missing_ok=True)
        entry = BackupEntry(name, partial, None)
        entry.manifest, entry.error = _manifest_as(partial, name)
        result = verify_entry(entry, record=False)
        if not result.ok:
            raise RemoteError(
                f"{name} from remote {cfg.name} fails verification on arrival: "
                + "; ".join(str(p) for p in result.problems[:3]),
                hint="the remote copy is damaged: push it again from a good local copy",
            )
        fsync_path(partial)
        with write_lock(target, (entry.manifest.database if entry.manifest else "") or "", wait):
            if final.exists():
                doomed = backup_dir / f".{name}.deleting"
                os.rename(final, doomed)
                remove_tree(doomed)
            os.rename(partial, final)
        fsync_path(backup_dir)
    except BaseException:
        remove_tree(partial)
        raise
    update_status(
        final,
        verify={"at": iso(utcnow()), "ok": True, "deep": False, "problems": []},
        pulled_from={"remote": cfg.name, "at": iso(utcnow())},
        remotes={cfg.name: {"url": remote.display, "verified": True, "verified_at": iso(utcnow())}},
    )
    return find_backup(backup_dir, name)


def _manifest_as(path: Path, name: str) -> tuple[Manifest | None, str | None]:
    """The manifest of a pulled copy still under its partial name, checked for ``name``."""
    try:
        data = json.loads(read_small_file(path / "manifest.json").decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        return None, f"{name}: manifest.json unreadable ({exc})"
    problem = manifest_problem(data, name)
    if problem:
        return None, f"{name}: manifest.json {problem}"
    return Manifest(data), None


def local_or_pulled(
    target: Target,
    name: str,
    remote_name: str | None,
    *,
    progress: ProgressFn | None = None,
    wait: float = 0.0,
) -> BackupEntry:
    """The local backup ``name``; with ``remote_name``, pulled (and verified) first if missing."""
    backup_dir = backup_dir_of(target)
    if remote_name and not (backup_dir / name).is_dir():
        return pull_backup(
            target, name, find_config(target, remote_name), progress=progress, wait=wait
        )
    return find_backup(backup_dir, name)


# -- retention per remote ---------------------------------------------------------


def policy_for(target: Target, cfg: BackupRemote) -> Policy:
    local = target.project.config.backup

    def pick(mine: Any, default: Any) -> Any:
        return default if mine is None else mine

    return Policy(
        keep_within=pick(cfg.keep_within, local.keep_within),
        keep_daily=pick(cfg.keep_daily, local.keep_daily),
        keep_weekly=pick(cfg.keep_weekly, local.keep_weekly),
        keep_monthly=pick(cfg.keep_monthly, local.keep_monthly),
        keep_yearly=pick(cfg.keep_yearly, local.keep_yearly),
    )


@dataclass
class RemotePrune:
    remote: str
    decisions: list[Decision] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    error: str | None = None


def prune_remote(
    target: Target, cfg: BackupRemote, *, dry_run: bool = False, now: dt.datetime | None = None
) -> RemotePrune:
    """Apply the remote's retention; its newest (verified) copy is never deleted.

    Every complete copy on a remote was verified before it was made visible,
    so the newest copy of this deployment's database is the newest verified one.
    """
    with open_remote(target, cfg) as remote:
        return _prune(target, cfg, remote, dry_run, now)


def _prune(
    target: Target, cfg: BackupRemote, remote: Remote, dry_run: bool, now: dt.datetime | None
) -> RemotePrune:
    out = RemotePrune(cfg.name)
    db = target.database_name
    mine: list[RemoteCopy] = []
    for copy in remote.copies():
        if copy.error:
            out.skipped.append(f"{copy.name} ({copy.error}: never pruned)")
        elif copy.deployment != target.name or (db and copy.database != db):
            out.skipped.append(copy.name)
        else:
            mine.append(copy)
    items = [Item(c.name, c.created_at or utcnow(), verified=True) for c in mine]
    out.decisions = decide(items, policy_for(target, cfg), now or utcnow())
    if dry_run:
        return out
    for decision in out.decisions:
        if not decision.keep:
            remote.delete(decision.name)
            out.deleted.append(decision.name)
    # the local status no longer claims a copy that is gone
    backup_dir = target.backup_dir
    if backup_dir and out.deleted:
        for entry in list_backups(backup_dir):
            remotes = dict(entry.status.get("remotes") or {})
            if entry.name in out.deleted and cfg.name in remotes:
                remotes.pop(cfg.name)
                update_status(entry.path, remotes=remotes)
        clean_stale_partials(backup_dir)
    return out
