"""One :class:`DeploymentStatus` per deployment, computed from its records.

Only files are read (the deploy journal, health history, backups, saved check
reports, the go-live board), so a status is quick and works when the
deployment is down. The one exception, pending module upgrades, asks the
database — only when the caller allows it, with a short connect timeout, and
says "unknown" and why when the database does not answer.
"""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from odoo_ops.backup.layout import BackupEntry, parse_time
from odoo_ops.deploy.journal import DeployRecord
from odoo_ops.errors import OpsError
from odoo_ops.status.records import CheckReportFile, HealthRound, offsite_copies

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.status.cache import RecordCache

#: A health history whose last round is older than this says so (not an alert).
HEALTH_STALE = dt.timedelta(minutes=30)
#: Deploy results that need a person.
BAD_DEPLOY_RESULTS = ("failed", "rolled-back", "interrupted")
#: Module states that mean an upgrade (or install/removal) is waiting.
PENDING_STATES = ("to upgrade", "to install", "to remove")


def _age(now: dt.datetime, at: dt.datetime | None) -> float | None:
    return round((now - at).total_seconds(), 1) if at is not None else None


def age_text(seconds: float | None) -> str:
    """``"3 min"``, ``"5.2 h"``, ``"12 d"``: how long ago, short."""
    if seconds is None:
        return "?"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.0f} d"


@dataclass
class HealthStatus:
    state: str  # healthy | unhealthy | unknown
    since: dt.datetime | None = None
    last_round_at: dt.datetime | None = None
    last_round_age_seconds: float | None = None
    stale: bool = False
    failing: list[str] = field(default_factory=list)
    rounds_24h: int = 0
    healthy_percent_24h: float | None = None
    latency_ms: float | None = None


@dataclass
class PhaseTime:
    name: str
    status: str
    seconds: float


@dataclass
class DeployStatus:
    id: str
    kind: str
    result: str
    who: str
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    age_seconds: float | None
    duration_seconds: float | None
    phases: list[PhaseTime]
    failed_phase: str | None = None
    error: str | None = None
    ref_before: str | None = None
    ref_after: str | None = None


@dataclass
class BackupStatus:
    name: str
    created_at: dt.datetime | None
    age_seconds: float | None
    size_bytes: int | None
    duration_seconds: float | None
    verified: str  # pass | fail | never
    verified_at: dt.datetime | None
    test_restored: str  # pass | fail | never
    test_restored_at: dt.datetime | None
    offsite: str  # the off-site copies (``backup push``), or "no copy"
    keep: bool = False
    damaged: str | None = None


@dataclass
class CheckStatus:
    report: str
    at: dt.datetime
    age_seconds: float
    counts: dict[str, int]
    failures: list[str]


@dataclass
class PendingUpgrades:
    state: str  # none | pending | unknown | not-asked
    modules: list[str] = field(default_factory=list)
    reason: str = ""


@dataclass
class GoliveStatus:
    verdict: str | None  # GO | NO-GO, None when the board cannot be built
    done: int = 0
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    date: str | None = None
    reason: str = ""


@dataclass
class DeploymentStatus:
    deployment: str
    generated_at: dt.datetime
    health: HealthStatus
    last_deploy: DeployStatus | None
    deploys: int
    newest_backup: BackupStatus | None
    backups: int
    backup_dir: str | None
    backup_max_age_hours: float
    last_check: CheckStatus | None
    pending: PendingUpgrades
    golive: GoliveStatus
    attention: list[str] = field(default_factory=list)

    @property
    def needs_attention(self) -> bool:
        return bool(self.attention)

    @property
    def verdict(self) -> str:
        """``NEEDS ATTENTION``; ``OK`` when healthy and nothing else is wrong;
        ``UNKNOWN`` when nothing is wrong but no health round says it is up."""
        if self.attention:
            return "NEEDS ATTENTION"
        return "OK" if self.health.state == "healthy" else "UNKNOWN"


# -- the parts ----------------------------------------------------------------------


def health_status(rounds: list[HealthRound], now: dt.datetime) -> HealthStatus:
    if not rounds:
        return HealthStatus("unknown")
    last = rounds[-1]
    since = last.at
    for r in reversed(rounds):
        if r.healthy != last.healthy:
            break
        since = r.at
    cutoff = now - dt.timedelta(hours=24)
    first = bisect.bisect_left(rounds, cutoff, key=lambda r: r.at)  # rounds are in time order
    day = rounds[first:]
    percent = round(sum(r.healthy for r in day) / len(day) * 100, 1) if day else None
    return HealthStatus(
        "healthy" if last.healthy else "unhealthy",
        since=since,
        last_round_at=last.at,
        last_round_age_seconds=_age(now, last.at),
        stale=now - last.at > HEALTH_STALE,
        failing=list(last.failing),
        rounds_24h=len(day),
        healthy_percent_24h=percent,
        latency_ms=last.latency_ms,
    )


def deploy_status(record: DeployRecord, now: dt.datetime) -> DeployStatus:
    started = parse_time(record.started_at)
    finished = parse_time(record.finished_at)
    duration = round((finished - started).total_seconds(), 1) if started and finished else None
    if duration is None and record.phases:
        duration = round(sum(p.seconds for p in record.phases), 1)
    return DeployStatus(
        id=record.id,
        kind=record.kind,
        result=record.result,
        who=record.who,
        started_at=started,
        finished_at=finished,
        age_seconds=_age(now, finished or started),
        duration_seconds=duration,
        phases=[PhaseTime(p.name, p.status, round(float(p.seconds), 2)) for p in record.phases],
        failed_phase=record.failed_phase,
        error=record.error,
        ref_before=record.ref_before,
        ref_after=record.ref_after,
    )


def _outcome(record: dict[str, Any] | None, key: str) -> tuple[str, dt.datetime | None]:
    if not record:
        return "never", None
    at = parse_time(record.get("at")) if isinstance(record.get("at"), str) else None
    if key == "verify":
        return ("pass" if record.get("ok") else "fail"), at
    return ("pass" if record.get("outcome") == "pass" else "fail"), at


def backup_status(entry: BackupEntry, now: dt.datetime) -> BackupStatus:
    created = entry.created_at
    manifest = entry.manifest
    size = manifest.total_size if manifest else None
    raw = manifest.raw if manifest else {}
    took = raw.get("duration_seconds")
    verified, verified_at = _outcome(entry.verified, "verify")
    restored, restored_at = _outcome(entry.test_restored, "test_restore")
    copies = offsite_copies(entry)
    offsite_text = (
        ", ".join(f"{name} ({'verified' if ok else 'not verified'})" for name, ok, _ in copies)
        if copies
        else "no copy"
    )
    return BackupStatus(
        name=entry.name,
        created_at=created,
        age_seconds=_age(now, created),
        size_bytes=size,
        duration_seconds=float(took) if isinstance(took, int | float) else None,
        verified=verified,
        verified_at=verified_at,
        test_restored=restored,
        test_restored_at=restored_at,
        offsite=offsite_text,
        keep=entry.keep,
        damaged=entry.error,
    )


def check_status(report: CheckReportFile, now: dt.datetime) -> CheckStatus:
    return CheckStatus(
        report=report.path.name,
        at=report.at,
        age_seconds=_age(now, report.at) or 0.0,
        counts=report.counts(),
        failures=[f"{r.get('id')}: {r.get('message')}" for r in report.failures()],
    )


def pending_upgrades(
    target: Target, *, ask_database: bool, timeout: float = 2.0
) -> PendingUpgrades:
    """Modules waiting for an upgrade, install or removal (asks the database)."""
    if not ask_database:
        return PendingUpgrades("not-asked", reason="the database was not asked")
    from odoo_ops.adapters.database import Database

    try:
        db = target.database()
        quick = Database(db.dsn, connect_timeout=timeout, statement_timeout=timeout)
        with quick.read_only(timeout=timeout) as cur:
            cur.execute(
                "SELECT name FROM ir_module_module WHERE state = ANY(%s) ORDER BY name",
                (list(PENDING_STATES),),
            )
            names = [str(row[0]) for row in cur.fetchall()]
    except OpsError as exc:
        return PendingUpgrades("unknown", reason=target.redactor(exc.message))
    except Exception as exc:  # a database error of any kind: unknown, and why
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        return PendingUpgrades("unknown", reason=target.redactor(first))
    return PendingUpgrades("pending" if names else "none", names)


def golive_status(target: Target, now: dt.datetime) -> GoliveStatus:
    from odoo_ops.golive.board import DONE, build_board

    try:
        board = build_board(target, now=now)
    except OpsError as exc:
        return GoliveStatus(None, reason=exc.message)
    counts = board.counts()
    return GoliveStatus(
        board.verdict,
        done=counts.get(DONE, 0),
        total=len(board.items),
        counts=counts,
        date=board.golive_date.isoformat() if board.golive_date else None,
    )


# -- the whole --------------------------------------------------------------------


def attention_reasons(status: DeploymentStatus) -> list[str]:
    """Why a person should look at this deployment (empty: nothing)."""
    out: list[str] = []
    h = status.health
    if h.state == "unhealthy":
        failing = f" ({', '.join(h.failing)})" if h.failing else ""
        out.append(f"unhealthy since {h.since:%Y-%m-%d %H:%M} UTC{failing}" if h.since else
                   f"unhealthy{failing}")  # fmt: skip
    d = status.last_deploy
    if d is not None and d.result in BAD_DEPLOY_RESULTS:
        where = f" in {d.failed_phase}" if d.failed_phase else ""
        out.append(f"last {d.kind} {d.id} {d.result}{where}")
    b = status.newest_backup
    limit_s = status.backup_max_age_hours * 3600
    if status.backups == 0 and status.backup_dir is not None:
        out.append("no backup")
    elif b is not None:
        if b.damaged:
            out.append(f"newest backup {b.name} is damaged: {b.damaged}")
        elif b.age_seconds is not None and b.age_seconds > limit_s:
            out.append(f"newest backup {b.name} is {age_text(b.age_seconds)} old"
                       f" (limit {status.backup_max_age_hours:g} h)")  # fmt: skip
        if b.verified == "fail":
            out.append(f"newest backup {b.name} failed its verification")
        if b.test_restored == "fail":
            out.append(f"newest backup {b.name} failed its test-restore")
    c = status.last_check
    if c is not None and c.failures:
        out.append(f"last check: {len(c.failures)} failed")
    if status.pending.state == "pending":
        out.append(f"{len(status.pending.modules)} module(s) pending upgrade: "
                   + ", ".join(status.pending.modules[:5]))  # fmt: skip
    return out


def deployment_status(
    target: Target,
    *,
    now: dt.datetime | None = None,
    ask_database: bool = True,
    golive: bool = True,
    cache: RecordCache | None = None,
) -> DeploymentStatus:
    """The status of one deployment from its records (see the module doc).

    With a ``cache`` (``odoo-ops serve``), records whose files did not change
    since the last call are not parsed again.
    """
    from odoo_ops.status import cache as cached

    now = now or dt.datetime.now(dt.UTC).replace(microsecond=0)
    deploys = cached.deploys(target, cache)
    backups = cached.backups(target, cache)
    reports = cached.check_reports(target, 1, cache)
    newest = next((b for b in reversed(backups)), None)
    if not golive:
        board = GoliveStatus(None, reason="not read")
    elif cache is None:
        board = golive_status(target, now)
    else:
        board = cache.get(("golive", target.name), cache.board_signature(target),
                          lambda: golive_status(target, now), ttl=cached.BOARD_TTL)  # fmt: skip
    status = DeploymentStatus(
        deployment=target.name,
        generated_at=now,
        health=health_status(cached.health_rounds(target, cache), now),
        last_deploy=deploy_status(deploys[-1], now) if deploys else None,
        deploys=len(deploys),
        newest_backup=backup_status(newest, now) if newest else None,
        backups=len(backups),
        backup_dir=str(target.backup_dir) if target.backup_dir is not None else None,
        backup_max_age_hours=target.project.config.thresholds.backup_max_age_hours,
        last_check=check_status(reports[0], now) if reports else None,
        pending=pending_upgrades(target, ask_database=ask_database),
        golive=board,
    )
    status.attention = attention_reasons(status)
    return status


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "?"


def size_text(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover - the loop returns first


def summary_rows(status: DeploymentStatus) -> list[tuple[str, str, str]]:
    """``(what, state, detail)`` for each part: the lines of ``odoo-ops status``."""
    rows: list[tuple[str, str, str]] = []
    h = status.health
    if h.state == "unknown":
        rows.append(("health", "unknown", "no health history (run `odoo-ops health --watch`)"))
    else:
        detail = f"since {_when(h.since)}; last round {age_text(h.last_round_age_seconds)} ago"
        if h.healthy_percent_24h is not None:
            detail += f"; {h.healthy_percent_24h:g}% healthy over 24 h ({h.rounds_24h} rounds)"
        if h.failing:
            detail += f"; failing: {', '.join(h.failing)}"
        if h.stale:
            detail += "; no recent round"
        rows.append(("health", h.state, detail))
    d = status.last_deploy
    if d is None:
        rows.append(("last deploy", "none", "no deploy in the journal"))
    else:
        took = f"{d.duration_seconds:g} s" if d.duration_seconds is not None else "?"
        detail = f"{d.kind} {d.id} by {d.who}, {age_text(d.age_seconds)} ago, took {took}"
        if d.failed_phase:
            detail += f"; failed in {d.failed_phase}: {d.error or ''}".rstrip(": ")
        rows.append(("last deploy", d.result, detail))
    b = status.newest_backup
    if status.backup_dir is None:
        rows.append(("newest backup", "unknown", "no backup_dir configured"))
    elif b is None:
        rows.append(("newest backup", "none", f"no backup in {status.backup_dir}"))
    else:
        state = (
            "damaged"
            if b.damaged
            else ("too old" if (b.age_seconds or 0) > status.backup_max_age_hours * 3600 else "ok")
        )
        detail = (f"{b.name}, {age_text(b.age_seconds)} old, {size_text(b.size_bytes)};"
                  f" verified: {b.verified}; test-restored: {b.test_restored};"
                  f" off-site: {b.offsite}; {status.backups} backup(s)")  # fmt: skip
        rows.append(("newest backup", state, detail))
    c = status.last_check
    if c is None:
        rows.append(("last check", "none", "no saved check report (`odoo-ops check --save`)"))
    else:
        counts = ", ".join(f"{n} {k}" for k, n in c.counts.items() if n)
        detail = f"{c.report}, {age_text(c.age_seconds)} ago: {counts}"
        if c.failures:
            detail += "; " + "; ".join(c.failures[:3])
        rows.append(("last check", "failed" if c.failures else "ok", detail))
    p = status.pending
    if p.state == "pending":
        rows.append(("module upgrades", "pending", ", ".join(p.modules)))
    elif p.state == "none":
        rows.append(("module upgrades", "none", "no module waits for an upgrade"))
    else:
        rows.append(("module upgrades", "unknown", p.reason))
    g = status.golive
    if g.verdict is None:
        rows.append(("go-live", "unknown", g.reason))
    else:
        date = f"; go-live date {g.date}" if g.date else ""
        rows.append(("go-live", g.verdict, f"{g.done}/{g.total} items done{date}"))
    return rows
