"""``audit crons``: the scheduled actions of the database.

A cron (``ir_cron``) ``_inherits`` a server action through
``ir_actions_server_id``: its model is the server action's ``model_id`` /
``model_name`` (16..19). 16 and 17 also have ``numbercall``; 16 stores
``cron_name`` as jsonb. Reported: active crons overdue by more than one
interval, crons whose server action or model is gone, crons defined by a
module that is not installed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from odoo_ops.audit.base import Session, audit_session
from odoo_ops.audit.findings import ERROR, WARNING, AuditReport, Finding, run, stream

if TYPE_CHECKING:
    from odoo_ops.adapters.database import Database

_UNITS = {"minutes": 60, "hours": 3600, "days": 86400, "weeks": 7 * 86400, "months": 30 * 86400}


@dataclass
class CronRow:
    id: int
    name: str
    model: str | None
    active: bool
    interval: str
    nextcall: dt.datetime | None
    lastcall: dt.datetime | None
    module: str | None
    module_state: str | None
    numbercall: int | None
    status: str  # ok | inactive | overdue | action-missing | model-missing | module-not-installed
    overdue_by: str | None = None


@dataclass
class CronsAudit:
    report: AuditReport
    rows: list[CronRow] = field(default_factory=list)
    now: dt.datetime | None = None


def crons_sql(s: Session) -> str:
    name = (s.schema.text("ir_cron", "cron_name", "c") if s.schema.has("ir_cron", "cron_name")
            else "NULL")  # fmt: skip
    action_name = s.schema.text("ir_act_server", "name", "a")
    numbercall = "c.numbercall" if s.schema.cron_has_numbercall else "NULL::int"
    return (
        f"SELECT c.id, COALESCE({name}, {action_name}), c.active, c.interval_number,"
        f" c.interval_type, c.nextcall, c.lastcall, {numbercall}, a.id, a.model_name,"
        " EXISTS (SELECT 1 FROM ir_model m WHERE m.id = a.model_id"
        "         AND m.model = a.model_name),"
        " d.module, mm.state"
        " FROM ir_cron c LEFT JOIN ir_act_server a ON a.id = c.ir_actions_server_id"
        " LEFT JOIN LATERAL (SELECT x.module FROM ir_model_data x WHERE x.model = 'ir.cron'"
        "   AND x.res_id = c.id ORDER BY x.id LIMIT 1) d ON true"
        " LEFT JOIN ir_module_module mm ON mm.name = d.module"
        " ORDER BY c.id"
    )


def _human(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.1f} days"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} hours"
    return f"{max(seconds, 0) / 60:.0f} minutes"


def audit_crons(db: Database, *, series: str | None = None) -> CronsAudit:
    with audit_session(db, series=series) as s:
        report = AuditReport("crons", s.database, s.schema.version, s.series)
        result = CronsAudit(report)
        if not s.schema.has("ir_cron"):
            report.notes.append("this database has no ir_cron table")
            return result
        (now,) = run(s.cur, "SELECT (now() AT TIME ZONE 'UTC')::timestamp(0)")[0]
        result.now = now
        for row_ in stream(s.cur, crons_sql(s), log=report.queries):
            (cid, name, active, number, unit, nextcall, lastcall, numbercall, action_id,
             model, model_ok, module, mstate) = row_  # fmt: skip
            interval = f"{number} {unit}"
            row = CronRow(int(cid), name or f"cron {cid}", model, bool(active), interval,
                          nextcall, lastcall, module, mstate, numbercall, "ok")  # fmt: skip
            subject = f"cron {cid} \"{row.name}\""
            if action_id is None:
                row.status = "action-missing"
                report.add(Finding(
                    "cron-action-missing", ERROR, subject,
                    f"its server action {cid} is gone (ir_actions_server_id points nowhere)",
                    "the scheduler fails on this job every time it is due, and the Scheduled "
                    "Actions list raises 'Record does not exist or has been deleted'",
                    "delete the cron (or reinstall the module that defines it)",
                    f"DELETE FROM ir_cron WHERE id = {cid};", None,
                    {"cron_id": cid, "module": module},
                ))  # fmt: skip
            elif not model_ok:
                row.status = "model-missing"
                report.add(Finding(
                    "cron-model-missing", ERROR if active else WARNING, subject,
                    f"its model {model!r} is not in ir_model",
                    "each run fails with KeyError on the model: the job never does its work",
                    (f"update or reinstall {module}, which defines it, or deactivate the cron"
                     if module else "deactivate or delete the cron"),
                    f"UPDATE ir_cron SET active = false WHERE id = {cid};", None,
                    {"cron_id": cid, "model": model, "module": module},
                ))  # fmt: skip
            elif module and mstate not in ("installed", "to upgrade", "to remove"):
                row.status = "module-not-installed"
                report.add(Finding(
                    "cron-module-not-installed", ERROR if active else WARNING, subject,
                    f"it belongs to module {module}, which is "
                    f"{mstate or 'unknown to the database'}",
                    "a leftover of an uninstalled module: it runs code that is no longer loaded "
                    "and fails (or does work nobody expects)",
                    f"delete the cron, or install {module} again",
                    f"UPDATE ir_cron SET active = false WHERE id = {cid};", None,
                    {"cron_id": cid, "module": module, "module_state": mstate},
                ))  # fmt: skip
            elif not active:
                row.status = "inactive"
            elif nextcall is not None and unit in _UNITS and number:
                late = (now - nextcall).total_seconds()
                step = int(number) * _UNITS[unit]
                if late > step:
                    row.status = "overdue"
                    row.overdue_by = _human(late)
                    report.add(Finding(
                        "cron-overdue", WARNING, subject,
                        f"due at {nextcall:%Y-%m-%d %H:%M} UTC, {_human(late)} ago "
                        f"(runs every {interval})",
                        "the job has not run when it should: no cron worker is running "
                        "(max_cron_threads = 0, workers without a cron process), the database "
                        "is skipped (pending module operations), or the job keeps failing",
                        "check the Odoo log for this cron and that a cron worker serves this "
                        "database (dbfilter/db_name)",
                        None, None,
                        {"cron_id": cid, "nextcall": nextcall, "interval": interval},
                    ))  # fmt: skip
            result.rows.append(row)
    counts: dict[str, int] = {}
    for r in result.rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    report.counts = counts
    return result
