"""Records of a deployment as odoo-ops' own writers make them, for status and serve.

Health rounds go through ``health.watch.append_history`` (the writer
``health --watch`` uses), deploys through the journal's record format
(``deploy.journal.DeployRecord``), check reports through
``golive.report.save_check_report``'s format. Backups are made by the tests
with ``odoo-ops backup create`` against real PostgreSQL; :func:`clone_backup`
copies a real one under other names and dates for volume (the bench).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

from odoo_ops.backup.layout import MANIFEST, iso, manifest_bytes, read_manifest
from odoo_ops.deploy.journal import DeployRecord, PhaseRecord
from odoo_ops.health.probes import FAIL, OK, HealthReport, ProbeResult
from odoo_ops.health.watch import append_history

UTC = dt.UTC
PHASES = ("preflight", "lock", "maintenance", "rollback-point", "code", "addons", "modules",
          "restart", "verify", "snapshot", "finish")  # fmt: skip


def state_dir(root: Path, deployment: str) -> Path:
    return root / ".odoo-ops" / deployment


def health_round(
    at: dt.datetime, healthy: bool, latency_ms: float, deployment: str = "prod"
) -> HealthReport:
    probes = [
        ProbeResult("database", OK, "ok", value=3.0, unit="ms"),
        ProbeResult("web-health", OK if healthy else FAIL, "/web/health", value=latency_ms,
                    unit="ms"),
        ProbeResult("latency", OK if healthy else FAIL, "p50", value=latency_ms, unit="ms"),
    ]  # fmt: skip
    return HealthReport(deployment, at.isoformat(timespec="seconds"), probes)


def write_health(
    root: Path, deployment: str, rounds: list[tuple[dt.datetime, bool, float]]
) -> Path:
    """Append ``(at, healthy, latency_ms)`` rounds with health's own writer."""
    path = state_dir(root, deployment) / "health" / "history.jsonl"
    for at, healthy, latency in rounds:
        append_history(path, health_round(at, healthy, latency, deployment))
    return path


def deploy_record(
    record_id: str,
    started: dt.datetime,
    seconds: list[float],
    result: str = "deployed",
    *,
    kind: str = "deploy",
    failed_phase: str | None = None,
    error: str | None = None,
) -> DeployRecord:
    phases = []
    for name, took in zip(PHASES, seconds, strict=False):
        status = "failed" if name == failed_phase else "ok"
        phases.append(PhaseRecord(name, status, took))
    return DeployRecord(
        id=record_id, kind=kind, who="ops@host", started_at=started.isoformat(timespec="seconds"),
        ref_before="a" * 40, ref_after="b" * 40, phases=phases, result=result,
        failed_phase=failed_phase, error=error,
        finished_at=(started + dt.timedelta(seconds=sum(seconds))).isoformat(timespec="seconds"),
    )  # fmt: skip


def write_journal(root: Path, deployment: str, records: list[DeployRecord]) -> Path:
    """Journal lines in the format ``deploy.journal.Journal`` writes."""
    path = state_dir(root, deployment) / "deploy" / "journal.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(asdict(r), sort_keys=True) + "\n" for r in records))
    return path


def write_diff(root: Path, deployment: str, record_id: str, changes: list[dict[str, Any]]) -> None:
    out = state_dir(root, deployment) / "deploy" / record_id / "diff.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"a": "before", "b": "after", "changes": changes, "missing": []}))


def write_check_report(
    root: Path, deployment: str, at: dt.datetime, results: list[tuple[str, str, str]]
) -> Path:
    """A saved check report: ``(id, area, status)`` results, named as ``check --save`` names."""
    path = state_dir(root, deployment) / "checks" / f"check-{at:%Y%m%dT%H%M%SZ}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "results": [
            {"id": cid, "area": area, "title": f"title of {cid}", "severity": "error",
             "status": status, "message": f"{cid} says {status}", "remediation": "fix it",
             "evidence": [], "duration_seconds": 0.01}
            for cid, area, status in results
        ],
        "summary": {"total": len(results), "deployment": deployment, "duration_seconds": 0.1},
    }  # fmt: skip
    path.write_text(json.dumps(doc, indent=2))
    stamp = at.timestamp()
    import os

    os.utime(path, (stamp, stamp))
    return path


def clone_backup(
    source: Path, name: str, created: dt.datetime, duration: float, into: Path | None = None
) -> Path:
    """A copy of the real backup ``source`` named ``name``, made at ``created``.

    Its manifest is rewritten (name, dates, duration), so its checksums no
    longer match: fine for listing and status, not for ``backup verify``.
    """
    target = (into or source.parent) / name
    raw = read_manifest(source).raw
    shutil.copytree(source, target)
    raw.update(name=name, created_at=iso(created),
               finished_at=iso(created + dt.timedelta(seconds=duration)),
               duration_seconds=duration)  # fmt: skip
    (target / MANIFEST).write_bytes(manifest_bytes(raw))
    return target
