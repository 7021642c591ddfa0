"""Selecting and running checks; the report they make."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from odoo_ops.adapters import Unavailable
from odoo_ops.checks.base import Check, CheckReport, CheckResult, Outcome, Severity, Status
from odoo_ops.checks.context import CheckContext
from odoo_ops.errors import OpsError, UsageError

log = logging.getLogger(__name__)


def select_checks(
    checks: dict[str, Check],
    *,
    full: bool = False,
    only: Iterable[str] = (),
    skip: Iterable[str] = (),
) -> list[Check]:
    """Checks to run: ``only``/``skip`` take ids or areas; slow ones need ``full``."""
    only = [o for o in only if o]
    skip = [s for s in skip if s]
    known = set(checks) | {c.area for c in checks.values()}
    for name in [*only, *skip]:
        if name not in known:
            raise UsageError(f"unknown check or area {name!r}", hint="see `odoo-ops check --list`")
    chosen = []
    for c in sorted(checks.values(), key=lambda c: (c.area, c.id)):
        if only and c.id not in only and c.area not in only:
            continue
        if c.id in skip or c.area in skip:
            continue
        if c.slow and not full and c.id not in only and c.area not in only:
            continue
        chosen.append(c)
    return chosen


def _apply_severity(check: Check, outcome: Outcome) -> Status:
    if outcome.status == Status.FAIL and check.severity != Severity.ERROR:
        return Status.WARN
    return outcome.status


def run_checks(
    ctx: CheckContext,
    checks: Iterable[Check],
    *,
    on_result: Callable[[CheckResult], None] | None = None,
) -> CheckReport:
    """Run each check; an unavailable adapter makes a ``skip``, never a crash."""
    report = CheckReport(deployment=ctx.target.name)
    start = time.monotonic()
    for c in checks:
        t0 = time.monotonic()
        try:
            outcome = c.func(ctx)
            if not isinstance(outcome, Outcome):
                raise TypeError(f"check {c.id} returned {type(outcome).__name__}")
        except Unavailable as exc:
            outcome = Outcome(Status.SKIP, str(exc))
        except OpsError as exc:
            outcome = Outcome(Status.SKIP, f"cannot run: {exc}")
        except Exception as exc:  # a bug in a check must not hide the others
            log.exception("check %s crashed", c.id)
            outcome = Outcome(
                Status.FAIL,
                f"check crashed ({type(exc).__name__}: {exc}); this is a bug in odoo-ops",
                "report it with the output of `odoo-ops -v check --only " + c.id + "`",
            )
        result = CheckResult(
            id=c.id,
            area=c.area,
            title=c.title,
            severity=c.severity,
            status=_apply_severity(c, outcome),
            message=ctx.target.redactor(outcome.message),
            remediation=ctx.target.redactor(outcome.remediation) if outcome.remediation else None,
            evidence=[ctx.target.redactor(e) for e in outcome.evidence],
            duration=time.monotonic() - t0,
        )
        report.results.append(result)
        if on_result:
            on_result(result)
    report.duration = time.monotonic() - start
    return report
