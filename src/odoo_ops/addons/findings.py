"""Findings: what the addons engine reports about an addons path or a plan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ERROR = "error"
WARNING = "warning"
INFO = "info"
SEVERITIES = (ERROR, WARNING, INFO)

# Stable finding codes (kebab-case; JSON output and checks use them).
PATH_ENTRY = "addons-path-entry"
INVALID_MANIFEST = "addons-invalid-manifest"
SHADOWED = "addons-shadowed"
MISSING_DEPENDS = "addons-missing-depends"
INVALID_DEPENDS = "addons-invalid-depends"
CYCLE = "addons-cycle"
NOT_INSTALLABLE = "addons-not-installable"
DEPENDS_NOT_INSTALLABLE = "addons-depends-not-installable"
VERSION_SERIES = "addons-version-series"
VERSION_INVALID = "addons-version-invalid"
PYTHON_MISSING = "addons-python-missing"
BIN_MISSING = "addons-bin-missing"
INSTALLED_NOT_FOUND = "addons-installed-not-found"
UNKNOWN_ADDON = "addons-unknown"
BLOCKED = "addons-blocked"
NOT_IN_DATABASE = "addons-not-in-database"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing found: a stable ``code``, a ``severity`` and a message for people.

    ``addon`` is the addon concerned (when one is), ``path`` a file or directory,
    ``hint`` what to do, ``data`` the structured facts (JSON output).
    """

    code: str
    severity: str
    message: str
    addon: str | None = None
    path: str | None = None
    hint: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Errors first, then warnings, then info; by code and addon within."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(
        findings, key=lambda f: (rank.get(f.severity, 9), f.code, f.addon or "", f.message)
    )
