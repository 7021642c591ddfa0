"""``backup test-restore``: prove that a backup restores.

The backup is verified, then restored into scratch copies (a database
``<db>__testrestore_<id>`` and a hidden directory in the backup directory)
through the same pipeline as a restore (:func:`~odoo_ops.backup.restore.load_copy`),
compared with its manifest — row counts, installed modules and versions,
every stored attachment file present — neutralized, and dropped. The result
is recorded in the backup's ``status.json`` (what ``backup list`` and the
go-live board show). The live database and filestore are never touched; a
kill leaves a journal that the next odoo-ops command uses to drop the copies.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.adapters.pgadmin import (
    admin_connection,
    create_database,
    drop_database,
    with_suffix,
)
from odoo_ops.backup.common import ProgressFn, backup_dir_of, write_lock, write_owner
from odoo_ops.backup.layout import find_backup, iso, remove_tree, update_status, utcnow
from odoo_ops.backup.neutralize import is_neutralized, neutralize_sql
from odoo_ops.backup.restore import load_copy, record_verified
from odoo_ops.backup.swapjournal import SwapJournal
from odoo_ops.errors import OpsError
from odoo_ops.names import check_database_name, path_under

if TYPE_CHECKING:
    from odoo_ops.adapters import Target


@dataclass
class TestRestoreResult:
    __test__ = False

    name: str
    ok: bool
    duration: float
    scratch_database: str
    checks: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def run_test_restore(
    target: Target,
    name: str,
    *,
    jobs: int | None = None,
    wait: float = 0.0,
    progress: ProgressFn | None = None,
) -> TestRestoreResult:
    """Restore into scratch copies, compare with the manifest, neutralize, drop, record."""
    start = time.monotonic()
    backup_dir = backup_dir_of(target)
    entry = find_backup(backup_dir, name)
    manifest = entry.manifest
    if manifest is None:
        raise OpsError(f"backup {name} is damaged: {entry.error}", hint="run `backup verify`")
    source_db = check_database_name(manifest.database or target.database_name or "db")
    token = secrets.token_hex(3)
    scratch = with_suffix(source_db, f"__testrestore_{token}")
    scratch_fs = path_under(backup_dir, f".scratch-{token}")
    problems: list[str] = []
    checks: dict[str, Any] = {}
    notes: list[str] = []
    policy = target.project.config.backup
    from odoo_ops.backup.integrity import verify_entry

    # the data files' sha256 are computed by load_copy on the bytes it restores
    check = verify_entry(entry, record=False, hash_data=False)
    if not check.ok:
        problems += [f"verify: {p}" for p in check.problems]
        verify_entry(entry, record=True)  # record the failure with every file hashed
    lock_db = target.database_name or source_db
    with write_lock(target, lock_db, wait):
        conn = admin_connection(target)
        # a kill leaves the journal: the next odoo-ops command drops the scratch copies
        swap = SwapJournal(
            kind="test-restore",
            database=scratch,
            tmp_db=scratch,
            lock_database=lock_db,
            fs_tmp=str(scratch_fs),
            started=iso(utcnow()),
            path=SwapJournal.new_path(target.state_dir),
        )
        try:
            if not problems:
                swap.save()
                scratch_fs.mkdir(mode=0o700)
                write_owner(scratch_fs)
                create_database(conn, scratch, dict(manifest.raw.get("postgresql") or {}))
                try:
                    loaded = load_copy(
                        target,
                        entry,
                        scratch,
                        scratch_fs / "filestore",
                        jobs or policy.jobs,
                        progress,
                        check_digests=True,
                    )
                    record_verified(entry)
                    checks["filestore_files"] = loaded.files
                    _compare(target, scratch, scratch_fs / "filestore", manifest, checks, problems)
                except OpsError as exc:
                    problems.append(exc.message)
        finally:
            try:
                drop_database(conn, scratch)
            finally:
                conn.close()
                remove_tree(scratch_fs)
            swap.remove()
    ok = not problems
    duration = round(time.monotonic() - start, 3)
    try:
        update_status(
            entry.path,
            test_restore={
                "at": iso(utcnow()),
                "duration_seconds": duration,
                "outcome": "pass" if ok else "fail",
                "problems": problems[:20],
                "checks": checks,
            },
        )
    except OpsError:
        notes.append("could not record the result in status.json")
    return TestRestoreResult(name, ok, duration, scratch, checks, problems, notes)


def _compare(
    target: Target,
    dbname: str,
    fs_dir: Path,
    manifest: Any,
    checks: dict[str, Any],
    problems: list[str],
) -> None:
    from psycopg import sql

    db = target.database().with_database(dbname)
    conn = db.connect(autocommit=True)
    try:
        counts = dict(manifest.raw.get("row_counts") or {})
        mismatched = 0
        for table, expected in sorted(counts.items()):
            row = conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()
            got = int(row[0]) if row else -1
            if got != int(expected):
                mismatched += 1
                problems.append(f"row count of {table}: {got}, manifest says {expected}")
        checks["tables_compared"] = len(counts)
        modules = dict(manifest.raw.get("modules") or {})
        if modules:
            rows = conn.execute(
                "SELECT name, latest_version FROM ir_module_module WHERE state = 'installed'"
            ).fetchall()
            restored = {str(n): (str(v) if v is not None else None) for n, v in rows}
            for mod in sorted(set(modules) | set(restored)):
                if modules.get(mod) != restored.get(mod):
                    problems.append(
                        f"module {mod}: restored {restored.get(mod)!r}, manifest says "
                        f"{modules.get(mod)!r}"
                    )
        checks["modules_compared"] = len(modules)
        has_store = conn.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = 'public'"
            " AND table_name = 'ir_attachment' AND column_name = 'store_fname'"
        ).fetchone()
        missing: list[str] = []
        missing_more = 0
        checked = 0
        if has_store:
            # a server-side cursor: millions of attachments never sit in memory at once
            with conn.transaction(), conn.cursor(name="odoo_ops_attachments") as cur:
                cur.itersize = 5000
                cur.execute(
                    "SELECT DISTINCT store_fname FROM ir_attachment WHERE store_fname <> ''"
                )
                for (fname,) in cur:
                    checked += 1
                    if not (fs_dir / str(fname)).is_file() and len(missing) < 1000:
                        missing.append(str(fname))
                    elif not (fs_dir / str(fname)).is_file():
                        missing_more += 1
        checks["attachments_checked"] = checked
        checks["attachments_missing"] = len(missing) + missing_more
        if missing:
            problems.append(
                f"{len(missing) + missing_more} stored attachment file(s) missing from"
                " the filestore"
                f" (first: {', '.join(missing[:3])})"
            )
        result = neutralize_sql(conn)
        checks["neutralized"] = is_neutralized(conn)
        checks["neutralize_applied"] = result.applied
        if not checks["neutralized"]:
            problems.append("neutralize did not mark the copy as neutralized")
    finally:
        conn.close()
