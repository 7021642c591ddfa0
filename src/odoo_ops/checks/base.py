"""The check framework: declared checks, their results, and the registry.

A check is a small declared object — a stable kebab-case id, an area, a
severity, a title, what it needs — and a function that looks at the
deployment through a :class:`CheckContext` and returns an :class:`Outcome`.
Checks register themselves with the :func:`check` decorator; every module of
the ``odoo_ops.checks`` package is imported by :func:`all_checks`.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from odoo_ops.checks.context import CheckContext


class Status(enum.StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIP = "skip"


class Severity(enum.StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


class Need(enum.StrEnum):
    FILES = "files"
    DATABASE = "database"
    HTTP = "http"
    RUNNER = "runner"
    DOCKER = "docker"


@dataclass
class Outcome:
    """What a check function returns."""

    status: Status
    message: str
    remediation: str | None = None
    evidence: list[str] = field(default_factory=list)


def passed(message: str, evidence: Iterable[str] = ()) -> Outcome:
    return Outcome(Status.PASS, message, None, list(evidence))


def failed(message: str, remediation: str | None = None, evidence: Iterable[str] = ()) -> Outcome:
    """A finding; reported as ``warn`` when the check's severity is not ``error``."""
    return Outcome(Status.FAIL, message, remediation, list(evidence))


def warned(message: str, remediation: str | None = None, evidence: Iterable[str] = ()) -> Outcome:
    return Outcome(Status.WARN, message, remediation, list(evidence))


def skipped(reason: str) -> Outcome:
    return Outcome(Status.SKIP, reason)


CheckFunc = Callable[["CheckContext"], Outcome]

_ID = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Check:
    id: str
    area: str
    title: str
    severity: Severity
    needs: frozenset[Need]
    slow: bool
    func: CheckFunc
    module: str

    def __post_init__(self) -> None:
        if not _ID.match(self.id):
            raise ValueError(f"check id {self.id!r} is not kebab-case")


@dataclass
class CheckResult:
    id: str
    area: str
    title: str
    severity: Severity
    status: Status
    message: str
    remediation: str | None = None
    evidence: list[str] = field(default_factory=list)
    duration: float = 0.0


@dataclass
class CheckReport:
    results: list[CheckResult] = field(default_factory=list)
    deployment: str = ""
    duration: float = 0.0

    def counts(self) -> dict[str, int]:
        c = Counter(r.status.value for r in self.results)
        return {s.value: c.get(s.value, 0) for s in Status}

    def failed(self, *, strict: bool = False) -> bool:
        bad = {Status.FAIL, Status.WARN} if strict else {Status.FAIL}
        return any(r.status in bad for r in self.results)

    def summary(self) -> dict[str, object]:
        return {
            **self.counts(),
            "total": len(self.results),
            "deployment": self.deployment,
            "duration_seconds": round(self.duration, 3),
        }

    def to_dict(self) -> dict[str, object]:
        """The report as JSON-able data: what ``check --format json`` prints and
        what ``--save`` keeps for the go-live board."""
        return {
            "results": [
                {
                    "id": r.id,
                    "area": r.area,
                    "title": r.title,
                    "severity": r.severity.value,
                    "status": r.status.value,
                    "message": r.message,
                    "remediation": r.remediation,
                    "evidence": r.evidence,
                    "duration_seconds": round(r.duration, 3),
                }
                for r in self.results
            ],
            "summary": self.summary(),
        }


REGISTRY: dict[str, Check] = {}


def check(
    id: str,
    *,
    area: str,
    title: str,
    severity: str | Severity = Severity.ERROR,
    needs: Iterable[str | Need] = (),
    slow: bool = False,
) -> Callable[[CheckFunc], CheckFunc]:
    """Register the decorated function as the check ``id``."""

    def decorator(func: CheckFunc) -> CheckFunc:
        if id in REGISTRY and REGISTRY[id].func is not func:
            raise ValueError(f"check id {id!r} registered twice")
        REGISTRY[id] = Check(
            id=id,
            area=area,
            title=title,
            severity=Severity(severity),
            needs=frozenset(Need(n) for n in needs),
            slow=slow,
            func=func,
            module=func.__module__,
        )
        return func

    return decorator
