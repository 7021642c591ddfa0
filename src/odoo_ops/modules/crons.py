"""Pausing and resuming Odoo's scheduled actions (``ir_cron``).

``pause`` records exactly which crons were active — in the database
(``ir_config_parameter`` ``odoo_ops.crons_paused``) AND in a state file
(``<project>/.odoo-ops/<deployment>/crons-paused.json``) — and deactivates
them in the same transaction. ``resume`` re-activates only those, never a
cron somebody had switched off on purpose, then drops both records. The
database record wins; the state file is the fallback when the database lost
it (a restore, say).

A cron that is running holds a row lock on its ``ir_cron`` row; pausing waits
for it up to ``lock_timeout`` seconds, then fails without changing anything.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.errors import OpsError
from odoo_ops.fileutil import atomic_write_text
from odoo_ops.modules import db as dbx

if TYPE_CHECKING:
    import psycopg

    from odoo_ops.adapters import Target

PAUSED_PARAM = "odoo_ops.crons_paused"
STATE_FILE = "crons-paused.json"


def state_file(target: Target) -> Path:
    """The pause record of the database this run uses (one file per database,
    so pausing one database never overwrites or removes another's record)."""
    from urllib.parse import quote

    db = target.database_name
    if not db:
        return target.state_dir / STATE_FILE
    return target.state_dir / f"crons-paused.{quote(db, safe='')}.json"


def _legacy_state_file(target: Target) -> Path:
    """Where releases before per-database records kept the one pause record."""
    return target.state_dir / STATE_FILE


@dataclass
class Cron:
    id: int
    name: str
    active: bool
    nextcall: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "active": self.active, "nextcall": self.nextcall}


def read_crons(cur: psycopg.Cursor[Any]) -> list[Cron]:
    cur.execute("SELECT id, cron_name, active, nextcall FROM ir_cron ORDER BY id")
    return [
        Cron(int(i), dbx.translated(name), bool(active), nextcall.isoformat() if nextcall else None)
        for i, name, active, nextcall in cur.fetchall()
    ]


@dataclass
class CronsStatus:
    paused: bool
    record: dict[str, Any] | None
    record_source: str | None  # database | state-file
    crons: list[Cron] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def active(self) -> list[Cron]:
        return [c for c in self.crons if c.active]

    def as_dict(self) -> dict[str, Any]:
        return {
            "paused": self.paused,
            "record_source": self.record_source,
            "paused_at": (self.record or {}).get("paused_at"),
            "paused_ids": (self.record or {}).get("ids", []),
            "active": len(self.active),
            "crons": [c.as_dict() for c in self.crons],
            "problems": self.problems,
        }


def _read_record(target: Target, path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("database") not in (None, target.database_name):
        return None
    return data


def _file_record(target: Target) -> dict[str, Any] | None:
    record = _read_record(target, state_file(target))
    legacy = _legacy_state_file(target)
    if record is None and legacy != state_file(target):
        record = _read_record(target, legacy)
        if record is not None and record.get("database") != target.database_name:
            return None  # a legacy record that does not name this database is not its
    return record


def _drop_state_files(target: Target) -> None:
    """Remove this database's pause record (and a legacy one naming it)."""
    state_file(target).unlink(missing_ok=True)
    legacy = _legacy_state_file(target)
    if legacy != state_file(target):
        data = _read_record(target, legacy)
        if data is not None and data.get("database") == target.database_name:
            legacy.unlink(missing_ok=True)


def _valid(record: Any) -> bool:
    return isinstance(record, dict) and isinstance(record.get("ids"), list)


def crons_status(target: Target) -> CronsStatus:
    with target.database().read_only() as cur:
        crons = read_crons(cur)
        db_record = dbx.get_json_param(cur, PAUSED_PARAM)
    file_record = _file_record(target)
    problems: list[str] = []
    record, source = None, None
    if _valid(db_record):
        record, source = db_record, "database"
        if file_record is None:
            problems.append(f"no state file {state_file(target)} (the database record is used)")
        elif sorted(file_record.get("ids", [])) != sorted(db_record.get("ids", [])):
            problems.append("state file and database record differ (the database record wins)")
    elif _valid(file_record):
        record, source = file_record, "state-file"
        problems.append("the database has no pause record; the state file is used")
    if record is not None:
        still_active = [c.id for c in crons if c.active and c.id in set(record["ids"])]
        if still_active:
            problems.append(f"paused crons active again: {still_active}")
    return CronsStatus(record is not None, record, source, crons, problems)


@dataclass
class CronsChange:
    action: str
    dry_run: bool
    ids: list[int] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    already: bool = False
    missing: list[int] = field(default_factory=list)  # recorded crons that no longer exist
    commands: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "dry_run": self.dry_run,
            "ids": self.ids,
            "names": self.names,
            "already": self.already,
            "missing": self.missing,
            "commands": self.commands,
        }


def pause_crons(
    target: Target, *, dry_run: bool = False, lock_timeout: float = 30.0
) -> CronsChange:
    """Deactivate every active cron and record which ones. Call under the deployment lock.

    When a pause is already recorded nothing changes (``already``): pausing
    twice must not overwrite the first record with an empty active set.
    """
    change = CronsChange("pause", dry_run)
    status = crons_status(target)
    if status.paused:
        change.already = True
        change.ids = list((status.record or {}).get("ids", []))
        return change
    active = status.active
    change.ids = [c.id for c in active]
    change.names = [c.name for c in active]
    record = {
        "database": target.database_name,
        "paused_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "ids": change.ids,
        "names": change.names,
    }
    change.commands = [
        f"write {state_file(target)}",
        f"SQL: UPDATE ir_cron SET active = false WHERE id IN ({', '.join(map(str, change.ids))})"
        if change.ids
        else "SQL: (no active cron)",
        f"SQL: set ir_config_parameter {PAUSED_PARAM}",
    ]
    if dry_run:
        return change
    # the state file first: if the database step fails, the file only says what was active
    atomic_write_text(state_file(target), json.dumps(record, indent=2) + "\n")
    import psycopg

    try:
        with target.database().writable() as cur:
            cur.execute(f"SET LOCAL lock_timeout = {int(lock_timeout * 1000)}")
            cur.execute("SELECT id FROM ir_cron WHERE active ORDER BY id FOR UPDATE")
            now_active = [int(r[0]) for r in cur.fetchall()]
            if sorted(now_active) != sorted(change.ids):
                change.ids = now_active
                record["ids"] = now_active
                cur.execute("SELECT id, cron_name FROM ir_cron WHERE id = ANY(%s)", (now_active,))
                names = {int(i): dbx.translated(n) for i, n in cur.fetchall()}
                change.names = [names.get(i, "") for i in now_active]
                record["names"] = change.names
            if now_active:
                cur.execute("UPDATE ir_cron SET active = false WHERE id = ANY(%s)", (now_active,))
            dbx.set_param(cur, PAUSED_PARAM, json.dumps(record))
    except psycopg.errors.LockNotAvailable:
        state_file(target).unlink(missing_ok=True)
        raise OpsError(
            f"a cron is running and holds its row for more than {lock_timeout:g}s",
            hint="retry when it has finished; nothing was changed",
        ) from None
    except BaseException:
        state_file(target).unlink(missing_ok=True)
        raise
    atomic_write_text(state_file(target), json.dumps(record, indent=2) + "\n")
    return change


def resume_commands(target: Target, ids: list[int]) -> list[str]:
    """What resuming ``ids`` runs (for --dry-run and the record of a run)."""
    return [
        f"SQL: UPDATE ir_cron SET active = true WHERE id IN ({', '.join(map(str, ids))})"
        if ids
        else "SQL: (no cron to re-activate)",
        f"SQL: delete ir_config_parameter {PAUSED_PARAM}",
        f"remove {state_file(target)}",
    ]


def resume_crons(target: Target, *, dry_run: bool = False) -> CronsChange:
    """Re-activate exactly the crons the pause recorded, then drop the records."""
    change = CronsChange("resume", dry_run)
    status = crons_status(target)
    if not status.paused or status.record is None:
        change.already = True
        return change
    ids = [int(i) for i in status.record.get("ids", [])]
    existing = {c.id for c in status.crons}
    change.ids = [i for i in ids if i in existing]
    change.missing = [i for i in ids if i not in existing]
    by_id = {c.id: c.name for c in status.crons}
    change.names = [by_id[i] for i in change.ids]
    change.commands = resume_commands(target, change.ids)
    if dry_run:
        return change
    with target.database().writable() as cur:
        if change.ids:
            cur.execute("UPDATE ir_cron SET active = true WHERE id = ANY(%s)", (change.ids,))
        dbx.delete_param(cur, PAUSED_PARAM)
    _drop_state_files(target)
    return change
