"""What each page of ``odoo-ops serve`` shows, computed from the records.

Functions here return plain dictionaries for the templates; they read files
only (through :mod:`odoo_ops.status.records`) and never reach the deployment.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from odoo_ops.serve.charts import Point, bar_chart, phase_bar, time_chart
from odoo_ops.status import cache as cached
from odoo_ops.status.cache import RecordCache
from odoo_ops.status.model import backup_status, deploy_status, size_text
from odoo_ops.status.records import check_changes, deploy_diff

if TYPE_CHECKING:
    from odoo_ops.adapters import Target

#: The ranges the health page offers (days).
HEALTH_RANGES = (1, 7, 30, 365)
#: How many deploys the deploys page lists (newest first).
MAX_DEPLOYS = 200


def health_page(
    target: Target, now: dt.datetime, days: int, cache: RecordCache | None = None
) -> dict[str, Any]:
    rounds = cached.health_rounds(target, cache)
    since = now - dt.timedelta(days=days)
    shown = [r for r in rounds if r.at >= since]
    latency = [Point(r.at, r.latency_ms) for r in shown if r.latency_ms is not None]
    failures = [Point(r.at, float(len(r.failing))) for r in shown]
    failed_rounds = sum(1 for r in shown if not r.healthy)
    return {
        "days": days,
        "ranges": HEALTH_RANGES,
        "rounds": len(shown),
        "failed_rounds": failed_rounds,
        "last": rounds[-1] if rounds else None,
        "latency_chart": time_chart(latency, label=f"latency over {days} d", unit="ms"),
        "failure_chart": time_chart(
            failures, label=f"failing probes per round over {days} d", line=False, colour="#c62828"
        ),
        "latency_points": len(latency),
    }


def deploys_page(
    target: Target, now: dt.datetime, cache: RecordCache | None = None
) -> dict[str, Any]:
    records = list(reversed(cached.deploys(target, cache)))[:MAX_DEPLOYS]
    items = [deploy_status(r, now) for r in records]
    scale = max((sum(p.seconds for p in d.phases) for d in items), default=1.0)
    rows = []
    for d in items:
        diff = deploy_diff(target, d.id)
        counts: dict[str, int] = {}
        for change in (diff or {}).get("changes") or []:
            if isinstance(change, dict):
                key = f"{change.get('area')}.{change.get('change')}"
                counts[key] = counts.get(key, 0) + 1
        rows.append(
            {
                "deploy": d,
                "bar": phase_bar(
                    [(p.name, p.status, p.seconds) for p in d.phases], scale_seconds=scale
                ),
                "diff": dict(sorted(counts.items())) if diff is not None else None,
                "marked": d.result in ("failed", "rolled-back", "interrupted")
                or d.kind == "rollback",
            }
        )
    return {"rows": rows, "total": len(items)}


def backups_page(
    target: Target, now: dt.datetime, cache: RecordCache | None = None
) -> dict[str, Any]:
    entries = cached.backups(target, cache)
    items = [backup_status(e, now) for e in entries]
    sized = [b for b in items if b.size_bytes is not None]
    timed = [b for b in items if b.duration_seconds is not None]
    mib = 1024 * 1024
    return {
        "backups": list(reversed(items)),
        "backup_dir": str(target.backup_dir) if target.backup_dir else None,
        "size_chart": bar_chart(
            [(b.name, round((b.size_bytes or 0) / mib, 3)) for b in sized],
            label="backup size",
            unit="MiB",
            highlight=[bool(b.damaged) for b in sized],
        ),
        "duration_chart": bar_chart(
            [(b.name, round(b.duration_seconds or 0.0, 2)) for b in timed],
            label="backup duration",
            unit="s",
        ),
        "size_text": size_text,
    }


def checks_page(
    target: Target, area: str | None, status: str | None, cache: RecordCache | None = None
) -> dict[str, Any]:
    reports = cached.check_reports(target, 2, cache)
    latest = reports[0] if reports else None
    previous = reports[1] if len(reports) > 1 else None
    results = list(latest.results) if latest else []
    areas = sorted({str(r.get("area")) for r in results})
    statuses = [
        s for s in ("fail", "warn", "pass", "skip") if any(r.get("status") == s for r in results)
    ]
    shown = [
        r
        for r in results
        if (not area or r.get("area") == area) and (not status or r.get("status") == status)
    ]
    return {
        "latest": latest,
        "previous": previous,
        "results": shown,
        "areas": areas,
        "statuses": statuses,
        "area": area or "",
        "status": status or "",
        "changes": check_changes(latest, previous) if latest else [],
        "counts": latest.counts() if latest else {},
    }


def golive_page(target: Target, now: dt.datetime) -> dict[str, Any]:
    from odoo_ops.errors import OpsError
    from odoo_ops.golive.board import build_board

    try:
        board = build_board(target, now=now)
    except OpsError as exc:
        return {"board": None, "error": exc.message}
    return {"board": board, "error": None, "counts": board.counts(), "phases": board.by_phase()}
