"""The go-live board: the checklist, its evidence, sign-offs and the verdict.

The checklist ships with odoo-ops (``checklist.toml``) and a project adapts it
in ``[golive]`` of odoo-ops.toml (extra or replaced items, skipped ids, the
go-live date). Each item is either proven by evidence odoo-ops collects or
signed by a person:

============================  ==================================================
evidence                      where it comes from
============================  ==================================================
``check:ID|AREA[,…]``         the newest ``odoo-ops check`` JSON report in
                              ``.odoo-ops/<deployment>/checks/`` (``golive status
                              --run-checks`` writes one); ``check:all`` = every
                              result of the report
``backup:recent``             the newest backup of ``backup_dir`` is younger than
                              ``thresholds.backup_max_age_hours``
``backup:test-restore``       the newest test-restore recorded next to a backup
                              (``status.json`` of ``backup test-restore``)
``health``                    probe history of ``health --watch``
                              (``.odoo-ops/<deployment>/health/history.jsonl``)
``loadtest``                  the newest ``odoo-ops loadtest`` result
                              (``.odoo-ops/<deployment>/loadtest/*.json``)
``upgrade:rehearsed``         the last ``odoo-ops upgrade rehearse`` succeeded
                              with the target code configured now
============================  ==================================================

Evidence that is not there says "no evidence yet"; it is never a pass.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.errors import ConfigError
from odoo_ops.golive.evidence import FAIL, NONE, PASS, WARN, Evidence
from odoo_ops.golive.signoff import Signoff, parse_time, read_signoffs

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.config.schema import Golive

DONE, FAILED, PENDING, ATTENTION = "done", "failed", "pending", "attention"
#: Phases that must be complete before the go decision.
BEFORE_GO = ("T-14", "T-10", "T-7", "T-5", "T-3", "T-1")


@dataclass
class Item:
    id: str
    phase: str
    category: str
    title: str
    evidence: str | None = None
    owner: str | None = None
    description: str | None = None


@dataclass
class Checklist:
    phases: list[str]
    offsets: dict[str, int]
    items: list[Item]

    def get(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)


@dataclass
class ItemState:
    item: Item
    status: str  # done | failed | pending | attention
    evidence: Evidence | None = None
    signoff: Signoff | None = None
    due: dt.date | None = None
    overdue: bool = False


@dataclass
class Criterion:
    id: str
    title: str
    status: str  # ok | triggered | no-evidence | manual
    detail: str


@dataclass
class Board:
    deployment: str
    generated_at: dt.datetime
    golive_date: dt.date | None
    phases: list[str]
    items: list[ItemState]
    rollback: list[Criterion]
    verdict: str  # GO | NO-GO
    reasons: list[str]
    signoff_file: str

    def counts(self) -> dict[str, int]:
        out = {DONE: 0, FAILED: 0, PENDING: 0, ATTENTION: 0}
        for state in self.items:
            out[state.status] += 1
        return out

    def by_phase(self) -> list[tuple[str, list[ItemState]]]:
        return [(p, [s for s in self.items if s.item.phase == p]) for p in self.phases]


# -- the checklist -------------------------------------------------------------


def shipped_checklist() -> dict[str, Any]:
    text = resources.files("odoo_ops.golive").joinpath("checklist.toml").read_text("utf-8")
    return tomllib.loads(text)


def load_checklist(config: Golive) -> Checklist:
    """The shipped checklist with the project's ``[golive]`` changes applied."""
    raw = shipped_checklist()
    phases = list(raw["phases"])
    offsets = {str(k): int(v) for k, v in raw["offsets"].items()}
    items = {i["id"]: Item(**i) for i in raw["items"]}
    for custom in config.items:
        if custom.phase not in phases:
            raise ConfigError(
                f"golive.items: {custom.id!r} has unknown phase {custom.phase!r}",
                hint=f"phases: {', '.join(phases)}",
            )
        items[custom.id] = Item(
            id=custom.id,
            phase=custom.phase,
            category=custom.category,
            title=custom.title,
            evidence=custom.evidence,
            owner=custom.owner,
            description=custom.description,
        )
    unknown = [s for s in config.skip if s not in items]
    if unknown:
        raise ConfigError(f"golive.skip names unknown item(s): {', '.join(unknown)}")
    kept = [i for i in items.values() if i.id not in set(config.skip)]
    kept.sort(key=lambda i: phases.index(i.phase))
    return Checklist(phases, offsets, kept)


# -- evidence --------------------------------------------------------------------


def _mtime(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)


def checks_dir(target: Target) -> Path:
    return target.state_dir / "checks"


def loadtest_dir(target: Target) -> Path:
    return target.state_dir / "loadtest"


def health_history(target: Target) -> Path:
    return target.state_dir / "health" / "history.jsonl"


def newest_json(directory: Path) -> tuple[Path, dict[str, Any]] | None:
    """The newest readable ``*.json`` document of ``directory``."""
    if not directory.is_dir():
        return None
    files = sorted(
        directory.glob("*.json"), key=lambda p: (p.stat().st_mtime, p.name), reverse=True
    )
    for path in files:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict):
            return path, doc
    return None


class EvidenceSources:
    """Reads each kind of evidence once per board."""

    def __init__(self, target: Target, now: dt.datetime) -> None:
        self.target = target
        self.now = now
        self._cache: dict[str, Any] = {}

    def _once(self, key: str, func: Any) -> Any:
        if key not in self._cache:
            self._cache[key] = func()
        return self._cache[key]

    def evidence(self, spec: str) -> Evidence:
        kind, _, arg = spec.partition(":")
        if kind == "check":
            return self.check(arg)
        if spec == "backup:recent":
            return self.backup_recent()
        if spec == "backup:test-restore":
            return self.backup_test_restore()
        if kind == "health":
            return self.health()
        if kind == "loadtest":
            return self.loadtest()
        if spec == "dr:rpo":  # PITR's recoverable window when it is set up, else the drill
            from odoo_ops.pitr.evidence import rpo_evidence

            found = rpo_evidence(self.target)
            if found is not None:
                return found
        if kind == "dr":  # the newest disaster-recovery drill (odoo-ops dr drill)
            from odoo_ops.dr.evidence import drill_evidence

            return drill_evidence(self.target, arg)
        if kind == "upgrade":  # the last major-upgrade rehearsal (odoo-ops upgrade rehearse)
            from odoo_ops.upgrade.evidence import rehearsal_evidence

            return rehearsal_evidence(self.target, arg)
        return Evidence(spec, NONE, f"unknown evidence kind {spec!r}")

    # -- check reports --------------------------------------------------------
    def check(self, arg: str) -> Evidence:
        found = self._once("checks", lambda: newest_json(checks_dir(self.target)))
        kind = f"check:{arg}"
        if not found:
            return Evidence(kind, NONE, "no evidence yet: no saved check report")
        path, doc = found
        results = [r for r in doc.get("results") or [] if isinstance(r, dict)]
        wanted = [w.strip() for w in arg.split(",") if w.strip()]
        if wanted != ["all"]:
            results = [r for r in results if r.get("id") in wanted or r.get("area") in wanted]
        at = parse_time((doc.get("summary") or {}).get("finished_at")) or _mtime(path)
        source = str(path)
        if not results:
            return Evidence(kind, NONE, "no evidence yet: the report has no such check", at, source)
        statuses = [str(r.get("status")) for r in results]
        bad = [f"{r.get('id')}: {r.get('message')}" for r in results if r.get("status") == FAIL]
        warn = [f"{r.get('id')}: {r.get('message')}" for r in results if r.get("status") == WARN]
        counts = ", ".join(
            f"{statuses.count(s)} {s}" for s in ("pass", "warn", "fail", "skip") if s in statuses
        )
        if bad:
            return Evidence(kind, FAIL, f"{len(bad)} failed ({counts})", at, source, bad[:10])
        if statuses.count("skip") == len(statuses):
            return Evidence(kind, NONE, f"all {len(statuses)} skipped: no evidence yet", at, source)
        if warn:
            return Evidence(kind, WARN, f"{len(warn)} warning(s) ({counts})", at, source, warn[:10])
        return Evidence(kind, PASS, counts, at, source)

    # -- backups --------------------------------------------------------------
    def _backups(self) -> list[Any]:
        def load() -> list[Any]:
            backup_dir = self.target.backup_dir
            if backup_dir is None or not backup_dir.is_dir():
                return []
            try:
                from odoo_ops.backup.layout import list_backups
            except ImportError:  # pragma: no cover - backups ship with odoo-ops
                return []
            return list(list_backups(backup_dir))

        result: list[Any] = self._once("backups", load)
        return result

    def backup_recent(self) -> Evidence:
        kind = "backup:recent"
        backups = [b for b in self._backups() if not getattr(b, "error", None)]
        if not backups:
            return Evidence(kind, NONE, "no evidence yet: no backup in backup_dir")
        newest = backups[-1]
        at = newest.created_at
        limit = self.target.project.config.thresholds.backup_max_age_hours
        if at is None:
            return Evidence(
                kind, NONE, f"{newest.name}: creation time unknown", None, str(newest.path)
            )
        age_h = (self.now - at).total_seconds() / 3600
        text = f"{newest.name}, {age_h:.1f} h old (limit {limit:g} h)"
        status = PASS if age_h <= limit else FAIL
        return Evidence(kind, status, text, at, str(newest.path))

    def backup_test_restore(self) -> Evidence:
        kind = "backup:test-restore"
        records: list[tuple[dt.datetime, Any, dict[str, Any]]] = []
        for b in self._backups():
            record = getattr(b, "test_restored", None)
            when = parse_time(record.get("at")) if record else None
            if record and when is not None:
                records.append((when, b, record))
        if not records:
            return Evidence(kind, NONE, "no evidence yet: no backup was test-restored")
        at, backup, record = max(records, key=lambda r: r[0])
        outcome = str(record.get("outcome"))
        took = record.get("duration_seconds")
        text = f"{backup.name}: {outcome}" + (
            f" in {float(took):.0f} s" if took is not None else ""
        )
        details = [str(p) for p in record.get("problems") or []][:10]
        return Evidence(
            kind, PASS if outcome == "pass" else FAIL, text, at, str(backup.path), details
        )

    # -- health ----------------------------------------------------------------
    def health_rounds(self) -> list[tuple[dt.datetime, bool]]:
        def load() -> list[tuple[dt.datetime, bool]]:
            path = health_history(self.target)
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except (FileNotFoundError, OSError, UnicodeDecodeError):
                return []
            rounds = []
            for line in lines:
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                at = parse_time(doc.get("checked_at")) if isinstance(doc, dict) else None
                if at is not None and isinstance(doc.get("healthy"), bool):
                    rounds.append((at, bool(doc["healthy"])))
            rounds.sort()
            return rounds

        result: list[tuple[dt.datetime, bool]] = self._once("health", load)
        return result

    def health(self) -> Evidence:
        rounds = self.health_rounds()
        source = str(health_history(self.target))
        if not rounds:
            return Evidence("health", NONE, "no evidence yet: no health probe history")
        last_at, last_ok = rounds[-1]
        day = [ok for at, ok in rounds if at >= last_at - dt.timedelta(hours=24)]
        healthy = sum(day) / len(day) * 100
        state = "healthy" if last_ok else "UNHEALTHY"
        text = f"last round {state}; {healthy:.1f}% healthy over 24 h ({len(day)} rounds)"
        stale = (self.now - last_at) > dt.timedelta(minutes=30)
        if stale:
            return Evidence("health", WARN, text + "; no probe in the last 30 min", last_at, source)
        return Evidence("health", PASS if last_ok else FAIL, text, last_at, source)

    # -- load test -------------------------------------------------------------
    def loadtest(self) -> Evidence:
        found = self._once("loadtest", lambda: newest_json(loadtest_dir(self.target)))
        if not found:
            return Evidence("loadtest", NONE, "no evidence yet: no load test result")
        path, doc = found
        at = parse_time(doc.get("finished_at")) or _mtime(path)
        verdict = str(doc.get("verdict") or "")
        p95 = doc.get("p95_seconds")
        users = doc.get("users")
        text = (
            f"{verdict or '?'}: p95 {float(p95):.2f} s at {users} users"
            if p95 is not None
            else verdict
        )
        reasons = [str(r) for r in doc.get("reasons") or []]
        return Evidence(
            "loadtest", PASS if verdict == "pass" else FAIL, text, at, str(path), reasons
        )


# -- rollback criteria ----------------------------------------------------------


def evaluate_rollback(
    rounds: list[tuple[dt.datetime, bool]], config: Golive, since: dt.datetime | None
) -> list[Criterion]:
    """The four rollback criteria; the two measurable ones from health rounds."""
    rb = config.rollback
    outage_id, rate_id = "outage", "error-rate"
    outage_title = f"Outage longer than {rb.outage_minutes:g} min"
    rate_title = f"Error rate above {rb.error_rate_percent:g}% for {rb.error_window_minutes:g} min"
    if since is not None:
        rounds = [r for r in rounds if r[0] >= since]
    out: list[Criterion] = []
    if not rounds:
        out.append(
            Criterion(outage_id, outage_title, "no-evidence", "no evidence yet: no health data")
        )
        out.append(Criterion(rate_id, rate_title, "no-evidence", "no evidence yet: no health data"))
    else:
        longest = dt.timedelta(0)
        start: dt.datetime | None = None
        for i, (at, ok) in enumerate(rounds):
            if not ok and start is None:
                start = at
            if start is not None and (ok or i == len(rounds) - 1):
                longest = max(longest, at - start)
                if ok:
                    start = None
        minutes = longest.total_seconds() / 60
        triggered = minutes > rb.outage_minutes
        out.append(
            Criterion(
                outage_id,
                outage_title,
                "triggered" if triggered else "ok",
                f"longest outage {minutes:.0f} min over {len(rounds)} health rounds",
            )
        )
        window = dt.timedelta(minutes=rb.error_window_minutes)
        worst = 0.0
        worst_at: dt.datetime | None = None
        j = 0
        for i, (at, _) in enumerate(rounds):
            while rounds[j][0] < at - window:
                j += 1
            span = rounds[j : i + 1]
            # a window counts once it covers (nearly) its whole length
            if at - rounds[0][0] < window * 0.9 or len(span) < 3:
                continue
            rate = sum(1 for _, ok in span if not ok) / len(span) * 100
            if rate > worst:
                worst, worst_at = rate, at
        triggered = worst > rb.error_rate_percent
        detail = f"worst {rb.error_window_minutes:g}-min window: {worst:.0f}% failed rounds"
        if worst_at is not None:
            detail += f" (ending {worst_at:%Y-%m-%d %H:%M} UTC)"
        out.append(Criterion(rate_id, rate_title, "triggered" if triggered else "ok", detail))
    out.append(Criterion("data-corruption", "Data corruption", "manual",
                         "decided by people: no automatic evidence"))  # fmt: skip
    out.append(Criterion("security-breach", "Security breach", "manual",
                         "decided by people: no automatic evidence"))  # fmt: skip
    return out


# -- the board -------------------------------------------------------------------


def build_board(target: Target, *, now: dt.datetime | None = None) -> Board:
    """Read the checklist, evidence and sign-offs; decide GO / NO-GO."""
    now = now or dt.datetime.now(dt.UTC)
    config = target.project.config.golive
    checklist = load_checklist(config)
    golive_date: dt.date | None = None
    if config.date:
        try:
            golive_date = dt.date.fromisoformat(str(config.date))
        except ValueError:
            raise ConfigError(f"golive.date must be YYYY-MM-DD (got {config.date!r})") from None
    signoff_path = target.project.path(config.signoff_file)
    signoffs = read_signoffs(signoff_path)
    sources = EvidenceSources(target, now)
    states: list[ItemState] = []
    for item in checklist.items:
        evidence = sources.evidence(item.evidence) if item.evidence else None
        signoff = signoffs.get(item.id)
        if evidence is not None and evidence.status == FAIL:
            status = FAILED
        elif evidence is not None and evidence.status == PASS:
            status = DONE
        elif evidence is not None and evidence.status == WARN:
            status = ATTENTION
        elif signoff is not None:
            status = DONE
        else:
            status = PENDING
        due = None
        overdue = False
        if golive_date is not None:
            due = golive_date + dt.timedelta(days=checklist.offsets.get(item.phase, 0))
            overdue = status != DONE and due < now.date()
        states.append(ItemState(item, status, evidence, signoff, due, overdue))
    since = dt.datetime.combine(golive_date, dt.time(), dt.UTC) if golive_date is not None else None
    rollback = evaluate_rollback(sources.health_rounds(), config, since)
    reasons: list[str] = []
    failed = [s for s in states if s.status == FAILED]
    if failed:
        reasons.append(f"{len(failed)} item(s) failed: {', '.join(s.item.id for s in failed)}")
    open_before = [s for s in states if s.item.phase in BEFORE_GO and s.status != DONE]
    if open_before:
        reasons.append(
            f"{len(open_before)} item(s) due before go-live not done: "
            + ", ".join(s.item.id for s in open_before)
        )
    triggered = [c for c in rollback if c.status == "triggered"]
    if triggered:
        reasons.append(
            "rollback criteria met: " + "; ".join(f"{c.title} ({c.detail})" for c in triggered)
        )
    return Board(
        deployment=target.name,
        generated_at=now,
        golive_date=golive_date,
        phases=checklist.phases,
        items=states,
        rollback=rollback,
        verdict="NO-GO" if reasons else "GO",
        reasons=reasons,
        signoff_file=str(signoff_path),
    )
