"""The one exception root of odoo-ops.

Every expected failure raises an :class:`OpsError` (or a subclass). The CLI
prints ``error: <message>`` (plus ``hint: <hint>`` when given) on one line and
exits with the error's ``exit_code``. Anything else is an unexpected error: the
CLI prints a short message and writes the traceback to a log file.
"""

from __future__ import annotations


class OpsError(Exception):
    """An expected failure with a message fit for the user."""

    exit_code: int = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(OpsError):
    """Bad options or arguments given on the command line."""

    exit_code = 2


class ConfigError(OpsError):
    """odoo-ops.toml, odoo.conf, .env or discovery failed."""

    exit_code = 2


class TargetError(OpsError):
    """The deployment could not be reached (database, HTTP, runner)."""


class LockError(OpsError):
    """Another odoo-ops run holds the deployment's lock."""


class ManifestError(OpsError):
    """An addon manifest could not be read."""
