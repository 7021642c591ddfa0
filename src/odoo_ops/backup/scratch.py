"""A scratch copy of a live database, made without stopping anything.

``CREATE DATABASE … TEMPLATE`` needs the source to have no other session,
which a running Odoo never allows. :func:`live_copy` fills an empty scratch
database instead:

1. from the newest *fresh* backup of the deployment -- verified (``backup
   verify``, ``test-restore`` or a restore checked its sha256s), no older than
   ``[thresholds] backup_max_age_hours`` and holding the same installed
   modules and versions as the live database -- through the backup's own
   restore pipeline (:func:`odoo_ops.backup.restore.load_copy`, ``pg_restore
   -j``);
2. else by a parallel copy of the live database: ``pg_dump -Fd -j N`` into a
   scratch directory (read-only, one consistent snapshot, no lock beyond
   ACCESS SHARE) then ``pg_restore -j N``.

The live filestore is hard-linked into the copy's filestore directory (no
bytes copied; Odoo never rewrites a stored file in place and deleting a link
leaves the original), so the rehearsal sees every attachment.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.errors import OpsError, TargetError

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.backup.layout import BackupEntry

DUMP_TIMEOUT = 3600.0


@dataclass
class ScratchFill:
    """How a scratch database was filled."""

    method: str  # "backup NAME" | "pg_dump -Fd -j N | pg_restore -j N"
    seconds: float
    jobs: int
    filestore: Path | None = None  # the hard-linked copy of the filestore, if made
    filestore_files: int = 0
    notes: list[str] | None = None


def live_modules(conn: Any) -> dict[str, str | None]:
    """``{module: latest_version}`` of the installed modules (a connection to the source)."""
    rows = conn.execute(
        "SELECT name, latest_version FROM ir_module_module WHERE state = 'installed'"
    ).fetchall()
    return {str(n): (str(v) if v is not None else None) for n, v in rows}


def fresh_backup(
    target: Target, database: str, modules: dict[str, str | None], *, now: dt.datetime | None = None
) -> tuple[BackupEntry | None, str]:
    """The newest backup fit to stand in for ``database`` now, and why (or why none is)."""
    from odoo_ops.backup.common import backup_dir_of
    from odoo_ops.backup.layout import list_backups, parse_time, utcnow

    try:
        backup_dir = backup_dir_of(target)
    except OpsError:
        return None, "no backup_dir"
    limit = dt.timedelta(hours=target.project.config.thresholds.backup_max_age_hours)
    now = now or utcnow()
    why = "no backup of this database"
    for entry in reversed(list_backups(backup_dir)):
        manifest = entry.manifest
        if manifest is None or manifest.database != database:
            continue
        created = entry.created_at
        if created is None or now - created > limit:
            hours = limit.total_seconds() / 3600
            return None, f"newest backup {entry.name} is older than {hours:g} h"
        checks = [entry.verified or {}, entry.test_restored or {}]
        ok_at = [parse_time(str(c.get("at"))) for c in checks
                 if c.get("ok") is True or c.get("outcome") == "pass"]  # fmt: skip
        if not any(at is not None and at >= created for at in ok_at):
            why = f"backup {entry.name} was never verified"
            continue
        if dict(manifest.raw.get("modules") or {}) != modules:
            return None, f"backup {entry.name} holds other modules or versions than the database"
        return entry, f"backup {entry.name}"
    return None, why


def hardlink_tree(source: Path, dest: Path) -> int:
    """Recreate ``source`` under ``dest`` with hard links (symbolic links skipped)."""
    count = 0
    for root, dirs, files in os.walk(source):
        rel = Path(root).relative_to(source)
        (dest / rel).mkdir(parents=True, exist_ok=True, mode=0o700)
        dirs[:] = [d for d in dirs if not (Path(root) / d).is_symlink()]
        for name in files:
            path = Path(root) / name
            if path.is_symlink() or not path.is_file():
                continue
            os.link(path, dest / rel / name)
            count += 1
    return count


def _dump_restore(target: Target, source: str, scratch: str, work_dir: Path, jobs: int) -> None:
    from odoo_ops.adapters.database import dsn_for_database
    from odoo_ops.backup import dbhost
    from odoo_ops.backup.pgtools import pg_env, tool
    from odoo_ops.childproc import run

    dump_dir = work_dir / "dump"
    env = {**os.environ, **pg_env(target.dsn())}
    steps = [
        [tool("pg_dump"), "-Fd", "-j", str(jobs), "-Z", "0", "--no-owner", "--no-privileges",
         "-f", str(dump_dir), "-d", dsn_for_database(target.dsn(), source)],
        [tool("pg_restore"), "-j", str(jobs), "--no-owner", "--no-privileges",
         "-d", dsn_for_database(target.dsn(), scratch), str(dump_dir)],
    ]  # fmt: skip
    for argv in steps:
        if argv[0].endswith("pg_restore"):
            mwm = dbhost.probe(target).maintenance_work_mem(jobs)
            env = {**os.environ, **pg_env(target.dsn(), options=dbhost.restore_pgoptions(mwm))}
        name = Path(argv[0]).name
        try:
            done = run(argv, capture_output=True, timeout=DUMP_TIMEOUT, env=env)
        except subprocess.TimeoutExpired:
            raise TargetError(f"{name} did not finish in {DUMP_TIMEOUT:.0f}s") from None
        if done.returncode != 0:
            lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise TargetError(f"{name} failed: {lines[-1] if lines else done.returncode}")


def live_copy(target: Target, conn: Any, source: str, scratch: str) -> ScratchFill:
    """Create ``scratch`` and fill it from ``source`` without disturbing its sessions.

    ``conn``: an autocommit connection to a maintenance database of the server.
    On failure the scratch database (and filestore links) may be left for the
    caller to drop; nothing of ``source`` is ever written.
    """
    from odoo_ops.adapters.pgadmin import create_database
    from odoo_ops.backup import dbhost

    started = time.monotonic()
    notes: list[str] = []
    src = target.database().with_database(source)
    with src.connect(autocommit=True) as source_conn:
        modules = live_modules(source_conn)
        row = source_conn.execute(
            "SELECT pg_encoding_to_char(encoding), datcollate, datctype FROM pg_database"
            " WHERE datname = current_database()"
        ).fetchone()
    pg = {"encoding": row[0], "collate": row[1], "ctype": row[2]} if row else {}
    host = dbhost.probe(target, conn)
    jobs = host.jobs
    entry, why = fresh_backup(target, source, modules)
    method = ""
    if entry is not None:
        from odoo_ops.backup.restore import load_copy

        create_database(conn, scratch, dict(entry.manifest.raw.get("postgresql") or pg)
                        if entry.manifest else pg)  # fmt: skip
        try:
            loaded = load_copy(target, entry, scratch, None, jobs, host=host)
            jobs = loaded.jobs
            method = f"backup {entry.name} (pg_restore -j {jobs})"
        except OpsError as exc:
            notes.append(f"backup {entry.name} did not restore ({exc.message}): dumped instead")
            from odoo_ops.adapters.pgadmin import drop_database

            drop_database(conn, scratch)
            entry = None
    else:
        notes.append(f"no fresh verified backup ({why}): copied the live database")
    if entry is None:
        create_database(conn, scratch, pg)
        parent = _work_parent(target)
        work = parent / f".scratch-copy-{secrets.token_hex(4)}"
        work.mkdir(mode=0o700, parents=True)
        try:
            _dump_restore(target, source, scratch, work, jobs)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        method = f"pg_dump -Fd -j {jobs} | pg_restore -j {jobs} of the live database"
    fill = ScratchFill(method, 0.0, jobs, notes=notes)
    live_fs = target.filestore_dir(source)
    copy_fs = target.filestore_dir(scratch)
    if live_fs is not None and copy_fs is not None and live_fs.is_dir() and not copy_fs.exists():
        fill.filestore = copy_fs
        fill.filestore_files = hardlink_tree(live_fs, copy_fs)
    fill.seconds = time.monotonic() - started
    return fill


def _work_parent(target: Target) -> Path:
    """Where the directory-format dump goes: the backup directory (sized for dumps),
    else the deployment's state directory."""
    from odoo_ops.backup.common import backup_dir_of

    try:
        parent = backup_dir_of(target)
    except OpsError:
        parent = target.state_dir
    parent.mkdir(parents=True, exist_ok=True)
    return parent
