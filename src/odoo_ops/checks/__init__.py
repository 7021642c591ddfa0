"""Pre-deployment checks (``odoo-ops check``).

One module per area; each registers its checks with
:func:`~odoo_ops.checks.base.check`. :func:`all_checks` imports every module
of this package, so adding a file is all it takes to add checks.
"""

from __future__ import annotations

import importlib
import pkgutil

from odoo_ops.checks.base import (
    REGISTRY,
    Check,
    CheckResult,
    Need,
    Outcome,
    Severity,
    Status,
    check,
    failed,
    passed,
    skipped,
    warned,
)

#: Modules of the framework (no check in them): not imported by :func:`all_checks`.
_FRAMEWORK = {"base", "context", "evidence", "run"}


def check_modules() -> list[str]:
    """Names of the modules of this package that hold checks."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if m.name not in _FRAMEWORK)


def all_checks() -> dict[str, Check]:
    for name in check_modules():
        importlib.import_module(f"{__name__}.{name}")
    return dict(REGISTRY)


__all__ = [
    "REGISTRY",
    "Check",
    "CheckResult",
    "Need",
    "Outcome",
    "Severity",
    "Status",
    "all_checks",
    "check",
    "check_modules",
    "failed",
    "passed",
    "skipped",
    "warned",
]
