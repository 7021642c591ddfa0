"""Checks of the backups on this host (area ``backups``).

A backup is what ``odoo-ops backup`` writes — a directory of ``backup_dir``
with a ``manifest.json`` (its ``finished_at`` and file sizes are used when
present) — or what people have today: a ``*.dump``, ``*.sql.gz``, ``*.zip``
or ``*.tar.*`` file, at the top of ``backup_dir`` or one folder down.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from odoo_ops.checks.base import Outcome, Status, check, failed, passed
from odoo_ops.checks.evidence import display, human_bytes
from odoo_ops.errors import OpsError
from odoo_ops.inputs import REPORT_LIMIT, parse_guard, read_input_text

if TYPE_CHECKING:
    from odoo_ops.checks.context import CheckContext

AREA = "backups"

BACKUP_FILE = re.compile(r"\.(dump|sql\.gz|zip|tar\.[A-Za-z0-9]+|tgz)$", re.I)
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class FoundBackup:
    path: Path
    when: dt.datetime
    size: int
    kind: str  # "odoo-ops" or "file"
    note: str = ""


def _dir_size(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(dirpath) / name).lstat().st_size
            except OSError:
                continue
    return total


def _mtime(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)


def _from_manifest(path: Path, database: str | None) -> FoundBackup | None:
    note = ""
    when = _mtime(path)
    size = 0
    try:
        text = read_input_text(path / MANIFEST, kind="backup manifest", limit=REPORT_LIMIT)
        with parse_guard(str(path / MANIFEST), "backup manifest"):
            doc = json.loads(text)
    except (OpsError, ValueError):  # a FIFO, a huge or damaged manifest: never a hang
        doc = None
        note = "manifest.json unreadable: directory time used"
    if isinstance(doc, dict):
        if database and doc.get("database") and doc.get("database") != database:
            return None  # a backup of another database
        finished = doc.get("finished_at")
        if isinstance(finished, str):
            try:
                parsed = dt.datetime.fromisoformat(finished.replace("Z", "+00:00"))
                when = parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)
            except ValueError:
                note = "finished_at unreadable: directory time used"
        files = doc.get("files")
        if isinstance(files, dict):
            try:
                size = sum(int(f.get("size") or 0) for f in files.values() if isinstance(f, dict))
            except (TypeError, ValueError):
                size = 0
    if not size:
        size = _dir_size(path)
    return FoundBackup(path, when, size, "odoo-ops", note)


def find_backups(directory: Path, database: str | None = None) -> list[FoundBackup]:
    """Every backup in ``directory``, newest first."""
    found: list[FoundBackup] = []

    def consider_file(path: Path) -> None:
        if BACKUP_FILE.search(path.name) and path.is_file():
            st = path.stat()
            found.append(
                FoundBackup(
                    path, dt.datetime.fromtimestamp(st.st_mtime, dt.UTC), st.st_size, "file"
                )
            )

    try:
        entries = sorted(directory.iterdir())
    except OSError:
        return []
    for entry in entries:
        if entry.name.startswith(".") or entry.name.endswith(".partial"):
            continue  # being written
        try:
            if entry.is_dir():
                if (entry / MANIFEST).is_file():
                    backup = _from_manifest(entry, database)
                    if backup:
                        found.append(backup)
                    continue
                for child in sorted(entry.iterdir()):
                    if not child.name.startswith("."):
                        consider_file(child)
            else:
                consider_file(entry)
        except OSError:
            continue
    found.sort(key=lambda b: b.when, reverse=True)
    return found


def _backup_dir(ctx: CheckContext) -> Path | Outcome:
    if ctx.deployment.runner == "ssh":
        return Outcome(
            Status.SKIP,
            "the backups are on the remote host (runner ssh)",
            "run odoo-ops on the server, or set backup_dir to a local copy of the backups",
        )
    path = ctx.target.backup_dir
    if path is None:
        return Outcome(
            Status.SKIP,
            "no backup_dir configured: odoo-ops does not know where the backups are",
            'set backup_dir = "backups" (or your backup folder) for the deployment in'
            " odoo-ops.toml",
        )
    return path


def _existing_backup_dir(ctx: CheckContext) -> tuple[Path, str] | Outcome:
    """The backup directory and its display name, or the skip when it is not there."""
    path = _backup_dir(ctx)
    if isinstance(path, Outcome):
        return path
    shown = display(ctx, path)
    if not path.is_dir():
        return Outcome(Status.SKIP, f"backup_dir {shown} does not exist (see backups-dir)")
    return path, shown


def _age(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} days"


@check(
    "backups-dir",
    area=AREA,
    title="backup directory exists and is writable",
    severity="error",
    needs=["files"],
)
def backups_dir(ctx: CheckContext) -> Outcome:
    path = _backup_dir(ctx)
    if isinstance(path, Outcome):
        return path
    shown = display(ctx, path)
    if not path.exists():
        return failed(
            f"backup_dir {shown} does not exist",
            f"create it (mkdir -p {path} && chmod 700 {path}) or fix backup_dir",
        )
    if not path.is_dir():
        return failed(f"backup_dir {shown} is not a directory", "point backup_dir at a directory")
    if not os.access(path, os.W_OK | os.X_OK):
        return failed(
            f"backup_dir {shown} is not writable by this user",
            "run odoo-ops as the user that owns the backups, or fix the directory's owner/mode",
        )
    count = len(find_backups(path, ctx.target.database_name))
    return passed(f"backup_dir {shown} exists and is writable ({count} backup(s) in it)")


@check(
    "backups-free-space",
    area=AREA,
    title="free space for the next backup",
    severity="error",
    needs=["files"],
)
def backups_free_space(ctx: CheckContext) -> Outcome:
    found = _existing_backup_dir(ctx)
    if isinstance(found, Outcome):
        return found
    path, shown = found
    factor = ctx.config.thresholds.backup_free_space_factor
    free = shutil.disk_usage(path).free
    backups = find_backups(path, ctx.target.database_name)
    if not backups:
        return Outcome(
            Status.SKIP,
            f"no backup in {shown} yet to size the next one ({human_bytes(free)} free)",
            "take a backup (odoo-ops backup create), then run the check again",
        )
    newest = backups[0]
    need = int(newest.size * factor)
    evidence = [
        f"{display(ctx, newest.path)}: {human_bytes(newest.size)} (newest backup)",
        f"free on the file system of {shown}: {human_bytes(free)}",
    ]
    if free < need:
        return failed(
            f"only {human_bytes(free)} free in {shown}; the next backup needs about"
            f" {factor:g} × {human_bytes(newest.size)} = {human_bytes(need)}",
            "free space (prune old backups: odoo-ops backup prune), move backup_dir to a"
            " larger disk, or lower thresholds.backup_free_space_factor if you know better",
            evidence,
        )
    return passed(
        f"{human_bytes(free)} free ≥ {factor:g} × the newest backup ({human_bytes(newest.size)})",
        evidence,
    )


@check(
    "backups-recent",
    area=AREA,
    title="a recent backup exists",
    severity="error",
    needs=["files"],
)
def backups_recent(ctx: CheckContext) -> Outcome:
    found = _existing_backup_dir(ctx)
    if isinstance(found, Outcome):
        return found
    path, shown = found
    max_hours = ctx.config.thresholds.backup_max_age_hours
    backups = find_backups(path, ctx.target.database_name)
    if not backups:
        return failed(
            f"no backup in {shown} (looked for odoo-ops backups with manifest.json and"
            " *.dump, *.sql.gz, *.zip, *.tar.* files)",
            "take a backup now (odoo-ops backup create) and schedule one at least every"
            f" {max_hours:g} h",
        )
    newest = backups[0]
    now = dt.datetime.now(dt.UTC)
    age = now - newest.when
    note = f" ({newest.note})" if newest.note else ""
    evidence = [
        f"{display(ctx, newest.path)}: finished {newest.when.isoformat(timespec='seconds')}{note}",
        f"{len(backups)} backup(s) in {shown}",
    ]
    if age > dt.timedelta(hours=max_hours):
        return failed(
            f"the newest backup is {_age(age)} old, more than {max_hours:g} h",
            "check the backup schedule (cron/systemd timer) and its log; take a backup now",
            evidence,
        )
    return passed(
        f"newest backup {_age(max(age, dt.timedelta(0)))} old (≤ {max_hours:g} h)", evidence
    )
