"""``health --watch``: probe every interval, alert once after N failures, then recover.

The alerting state is a small machine per probe:

- a probe that fails ``failures_before_alert`` rounds in a row raises ONE
  alert (not one per round);
- when it passes again, ONE recovery message follows;
- after a recovery, a new alert for the same probe waits for ``cooldown``
  seconds (flapping does not page every minute).

Delivery problems are logged and counted; they never stop the watcher or
change the probe results.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from odoo_ops.health.probes import FAIL, SKIP, HealthReport
from odoo_ops.notify import Delivery


@dataclass
class ProbeState:
    consecutive_failures: int = 0
    alerting: bool = False
    last_alert_at: float | None = None
    last_recovery_at: float | None = None


@dataclass
class Event:
    kind: str  # alert | recovery
    probe: str
    message: str
    failures: int


@dataclass
class AlertPolicy:
    failures_before_alert: int = 3
    cooldown: float = 900.0


@dataclass
class Watcher:
    """Turns rounds of probe results into alert and recovery events."""

    policy: AlertPolicy
    states: dict[str, ProbeState] = field(default_factory=dict)

    def observe(self, report: HealthReport, now: float | None = None) -> list[Event]:
        now = time.monotonic() if now is None else now
        events: list[Event] = []
        for probe in report.probes:
            if not probe.required:
                continue
            if probe.status == SKIP:
                # could not run (e.g. the web server is down and web-health says so):
                # neither a failure nor a recovery; the streak is kept as it is
                continue
            state = self.states.setdefault(probe.name, ProbeState())
            if probe.status == FAIL:
                state.consecutive_failures += 1
                cooled = (
                    state.last_recovery_at is None
                    or now - state.last_recovery_at >= self.policy.cooldown
                )
                if (
                    not state.alerting
                    and state.consecutive_failures >= self.policy.failures_before_alert
                    and cooled
                ):
                    state.alerting = True
                    state.last_alert_at = now
                    events.append(
                        Event("alert", probe.name, probe.message, state.consecutive_failures)
                    )
            else:
                if state.alerting:
                    state.alerting = False
                    state.last_recovery_at = now
                    events.append(
                        Event("recovery", probe.name, probe.message, state.consecutive_failures)
                    )
                state.consecutive_failures = 0
        return events


def event_text(deployment: str, event: Event) -> tuple[str, str, str]:
    """Title, body and level of a notification for ``event``."""
    if event.kind == "alert":
        return (
            f"[odoo-ops] {deployment}: {event.probe} FAILING",
            f"{event.probe} failed {event.failures} times in a row: {event.message}",
            "failure",
        )
    return (
        f"[odoo-ops] {deployment}: {event.probe} recovered",
        f"{event.probe} is healthy again: {event.message}",
        "success",
    )


def append_history(path: Path, report: HealthReport, *, keep_lines: int = 20_000) -> None:
    """Append one JSON line per round (the go-live board reads it); keep the file bounded."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(
        {
            "checked_at": report.checked_at,
            "healthy": report.healthy,
            "probes": {p.name: {"status": p.status, "value": p.value} for p in report.probes},
        },
        sort_keys=True,
    )
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
    if path.stat().st_size > keep_lines * 600:
        lines = path.read_text(encoding="utf-8").splitlines()[-keep_lines // 2 :]
        from odoo_ops.fileutil import atomic_write_text

        atomic_write_text(path, "\n".join(lines) + "\n")


def watch(
    probe_round: Callable[[], HealthReport],
    watcher: Watcher,
    send: Callable[[str, str, str], list[Delivery]],
    *,
    interval: float,
    max_rounds: int | None = None,
    on_round: Callable[[HealthReport, list[Event], list[Delivery]], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Probe until interrupted (or ``max_rounds``); returns the number of rounds."""
    rounds = 0
    while max_rounds is None or rounds < max_rounds:
        started = time.monotonic()
        report = probe_round()
        events = watcher.observe(report)
        deliveries: list[Delivery] = []
        for event in events:
            title, body, level = event_text(report.deployment, event)
            try:
                deliveries.extend(send(title, body, level))
            except Exception as exc:  # never let alerting stop the watcher
                deliveries.append(Delivery("unknown", False, str(exc)))
        rounds += 1
        if on_round:
            on_round(report, events, deliveries)
        if max_rounds is not None and rounds >= max_rounds:
            break
        sleep(max(0.0, interval - (time.monotonic() - started)))
    return rounds
