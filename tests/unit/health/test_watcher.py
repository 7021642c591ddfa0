"""The alerting state machine: one alert after N failures, one recovery, cooldown."""

from __future__ import annotations

from odoo_ops.health.probes import FAIL, OK, HealthReport, ProbeResult
from odoo_ops.health.watch import AlertPolicy, Watcher, watch
from odoo_ops.notify import Delivery


def report(*statuses: tuple[str, str], required: bool = True) -> HealthReport:
    return HealthReport(
        deployment="prod",
        checked_at="2026-11-25T10:00:00+00:00",
        probes=[ProbeResult(name, status, f"{name} is {status}", required=required)
                for name, status in statuses],
    )


def test_alert_once_after_three_failures_then_one_recovery() -> None:
    watcher = Watcher(AlertPolicy(failures_before_alert=3, cooldown=0))
    kinds = []
    sequence = [FAIL, FAIL, FAIL, FAIL, FAIL, OK, OK]
    for i, status in enumerate(sequence):
        events = watcher.observe(report(("web-health", status), ("disk", OK)), now=float(i))
        kinds.append([e.kind for e in events])
    assert kinds == [[], [], ["alert"], [], [], ["recovery"], []]


def test_intermittent_failures_do_not_alert() -> None:
    watcher = Watcher(AlertPolicy(failures_before_alert=3, cooldown=0))
    events = []
    for i, status in enumerate([FAIL, FAIL, OK, FAIL, FAIL, OK]):
        events += watcher.observe(report(("db", status)), now=float(i))
    assert events == []


def test_cooldown_after_recovery() -> None:
    watcher = Watcher(AlertPolicy(failures_before_alert=1, cooldown=100))
    assert [e.kind for e in watcher.observe(report(("db", FAIL)), now=0)] == ["alert"]
    assert [e.kind for e in watcher.observe(report(("db", OK)), now=1)] == ["recovery"]
    # fails again within the cooldown: no new page
    assert watcher.observe(report(("db", FAIL)), now=50) == []
    assert watcher.observe(report(("db", FAIL)), now=90) == []
    # still failing after the cooldown: one alert
    assert [e.kind for e in watcher.observe(report(("db", FAIL)), now=120)] == ["alert"]


def test_optional_probes_never_alert() -> None:
    watcher = Watcher(AlertPolicy(failures_before_alert=1, cooldown=0))
    assert watcher.observe(report(("service:ocr", FAIL), required=False), now=0) == []


def test_watch_loop_survives_a_send_that_raises() -> None:
    rounds = iter([FAIL, FAIL, FAIL, OK])
    seen: list[tuple[list[str], list[Delivery]]] = []

    def send(title: str, body: str, level: str) -> list[Delivery]:
        raise RuntimeError("smtp exploded")

    count = watch(
        lambda: report(("web-health", next(rounds))),
        Watcher(AlertPolicy(failures_before_alert=3, cooldown=0)),
        send,
        interval=0,
        max_rounds=4,
        on_round=lambda r, ev, d: seen.append(([e.kind for e in ev], d)),
        sleep=lambda s: None,
    )
    assert count == 4
    assert [kinds for kinds, _ in seen] == [[], [], ["alert"], ["recovery"]]
    assert seen[2][1][0].ok is False and "smtp exploded" in (seen[2][1][0].error or "")
