"""Readers of the records odoo-ops keeps for a deployment (files only, no network).

=====================  ==========================================================
record                 where it is
=====================  ==========================================================
health rounds          ``.odoo-ops/<deployment>/health/history.jsonl``
                       (``health --watch``; bounded by ``append_history``)
deploys and rollbacks  ``.odoo-ops/<deployment>/deploy/journal.jsonl``; the
                       snapshot diff of a deploy in ``deploy/<id>/diff.json``
backups                ``backup_dir``: ``manifest.json`` and ``status.json``
                       (verify, test-restore, off-site copy) of each backup
check reports          ``.odoo-ops/<deployment>/checks/*.json`` (``check --save``,
                       ``golive status --run-checks``)
=====================  ==========================================================

Every reader tolerates a damaged or missing record: a line or file it cannot
read is left out, never a crash. Files are read through :mod:`odoo_ops.inputs`
limits where they come from elsewhere.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.backup.layout import BackupEntry, list_backups, parse_time
from odoo_ops.deploy.journal import DeployRecord, Journal
from odoo_ops.errors import OpsError
from odoo_ops.inputs import read_input_bytes

if TYPE_CHECKING:
    from odoo_ops.adapters import Target

#: The probes whose value is a latency in milliseconds, best first.
LATENCY_PROBES = ("latency", "web-health", "login-page")
#: A record file larger than this is not one odoo-ops wrote (read nothing).
MAX_RECORD_BYTES = 64 << 20
#: How many check reports the checks page compares at most.
MAX_REPORTS = 50


def _read_text(path: Path, limit: int = MAX_RECORD_BYTES) -> str | None:
    """A record file's text, or None when it is missing, not a regular file
    (a FIFO never blocks), unreadable or larger than ``limit``."""
    try:
        data = read_input_bytes(path, kind="record", limit=limit, missing_ok=True)
    except OpsError:
        return None
    return data.decode("utf-8", errors="replace") if data is not None else None


# -- health -----------------------------------------------------------------------


@dataclass
class HealthRound:
    at: dt.datetime
    healthy: bool
    latency_ms: float | None
    failing: list[str] = field(default_factory=list)


def health_history_path(target: Target) -> Path:
    return target.state_dir / "health" / "history.jsonl"


def read_health(target: Target) -> list[HealthRound]:
    """Every recorded health round, oldest first."""
    text = _read_text(health_history_path(target))
    if not text:
        return []
    rounds: list[HealthRound] = []
    for line in text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError:
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("healthy"), bool):
            continue
        at = parse_time(doc.get("checked_at")) if isinstance(doc.get("checked_at"), str) else None
        if at is None:
            continue
        raw = doc.get("probes")
        probes: dict[str, Any] = raw if isinstance(raw, dict) else {}
        latency: float | None = None
        for name in LATENCY_PROBES:
            probe = probes.get(name)
            value = probe.get("value") if isinstance(probe, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                latency = float(value)
                break
        failing = sorted(
            str(name)
            for name, probe in probes.items()
            if isinstance(probe, dict) and probe.get("status") == "fail"
        )
        rounds.append(HealthRound(at, bool(doc["healthy"]), latency, failing))
    rounds.sort(key=lambda r: r.at)
    return rounds


# -- deploys ----------------------------------------------------------------------


def deploy_dir(target: Target) -> Path:
    return target.state_dir / "deploy"


def read_deploys(target: Target) -> list[DeployRecord]:
    """Deploys and rollbacks of the journal, oldest first."""
    return sorted(Journal(deploy_dir(target)).records(), key=lambda r: r.started_at)


def deploy_diff(target: Target, record_id: str) -> dict[str, Any] | None:
    """The snapshot diff a deploy recorded (``deploy/<id>/diff.json``), if any."""
    from odoo_ops.names import InvalidName, check_backup_name

    try:
        check_backup_name(record_id)  # a plain directory name, as the engine made it
    except InvalidName:
        return None
    text = _read_text(deploy_dir(target) / record_id / "diff.json", 16 << 20)
    if not text:
        return None
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


# -- backups ----------------------------------------------------------------------


def read_backups(target: Target) -> list[BackupEntry]:
    """The backups of the deployment's ``backup_dir``, oldest first."""
    backup_dir = target.backup_dir
    if backup_dir is None:
        return []
    return list_backups(backup_dir)


def offsite_copies(entry: BackupEntry) -> list[tuple[str, bool, dt.datetime | None]]:
    """The off-site copies ``backup push`` recorded in the backup's ``status.json``:
    ``(remote name, verified, when)`` per remote."""
    remotes = entry.status.get("remotes")
    if not isinstance(remotes, dict):
        return []
    out: list[tuple[str, bool, dt.datetime | None]] = []
    for name, record in sorted(remotes.items()):
        if not isinstance(record, dict):
            continue
        when = record.get("verified_at") or record.get("pushed_at")
        at = parse_time(when) if isinstance(when, str) else None
        out.append((str(name), record.get("verified") is True, at))
    return out


# -- check reports ----------------------------------------------------------------


@dataclass
class CheckReportFile:
    path: Path
    at: dt.datetime
    results: list[dict[str, Any]]

    def counts(self) -> dict[str, int]:
        out = {"pass": 0, "warn": 0, "fail": 0, "skip": 0}
        for r in self.results:
            status = str(r.get("status"))
            out[status] = out.get(status, 0) + 1
        return out

    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.results if r.get("status") == "fail"]


def checks_dir(target: Target) -> Path:
    return target.state_dir / "checks"


def read_check_reports(target: Target, limit: int = MAX_REPORTS) -> list[CheckReportFile]:
    """The newest ``limit`` saved check reports, newest first."""
    directory = checks_dir(target)
    if not directory.is_dir():
        return []
    stamped: list[tuple[float, str, Path]] = []
    for path in directory.glob("*.json"):
        try:
            stamped.append((path.stat().st_mtime, path.name, path))
        except OSError:
            continue
    stamped.sort(reverse=True)
    reports: list[CheckReportFile] = []
    for mtime, _, path in stamped:
        if len(reports) >= limit:
            break
        text = _read_text(path, 16 << 20)
        try:
            doc = json.loads(text) if text else None
        except (ValueError, RecursionError):
            doc = None
        if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
            continue
        summary = doc.get("summary") if isinstance(doc.get("summary"), dict) else {}
        finished = summary.get("finished_at") if isinstance(summary, dict) else None
        at = (parse_time(finished) if isinstance(finished, str) else None) or (
            dt.datetime.fromtimestamp(mtime, dt.UTC)
        )
        results = [r for r in doc["results"] if isinstance(r, dict)]
        reports.append(CheckReportFile(path, at, results))
    return reports


@dataclass
class CheckChange:
    id: str
    title: str
    before: str | None  # None: the check is new in the latest report
    after: str | None  # None: the check is gone from the latest report


def check_changes(latest: CheckReportFile, previous: CheckReportFile | None) -> list[CheckChange]:
    """The checks whose status differs between two reports (new and gone ones too)."""
    if previous is None:
        return []
    before = {str(r.get("id")): r for r in previous.results}
    after = {str(r.get("id")): r for r in latest.results}
    changes: list[CheckChange] = []
    for cid in sorted(set(before) | set(after)):
        b, a = before.get(cid), after.get(cid)
        b_status = str(b.get("status")) if b else None
        a_status = str(a.get("status")) if a else None
        if b_status != a_status:
            title = str((a or b or {}).get("title") or cid)
            changes.append(CheckChange(cid, title, b_status, a_status))
    return changes
