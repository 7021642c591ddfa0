"""What an OpenUpgrade run's Odoo log says: the first failure, errors, warnings.

Odoo's log lines: ``2025-07-02 10:00:00,123 4242 LEVEL db logger: message``.
The failure is located from, in order: OpenUpgrade's own
``OpenUpgrade: <module>: error in migration script <file>: ...`` line, the
``while parsing <file>:<line>`` of a data file, the module Odoo was loading or
migrating when the first ERROR/CRITICAL line came; the missing record from
``External ID not found in the system: <xmlid>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (?P<level>[A-Z]+) (?P<db>\S+) "
    r"(?P<logger>[\w.]+): (?P<msg>.*)$"
)
_OU_ERROR = re.compile(
    r"OpenUpgrade: (?P<module>\w+): error in migration script (?P<script>\S+?):\s*(?P<rest>.*)")
_WHILE_PARSING = re.compile(r"while parsing (?P<file>\S+?):(?P<line>\d+)")
_MISSING = re.compile(r"External ID not found in the system: (?P<xmlid>[\w.]+)")
_LOADING = re.compile(r"^Loading module (?P<module>\w+) \(")
_MIGRATING = re.compile(r"^module (?P<module>\w+): Running migration")
_EXCEPTION = re.compile(r"^(?:[\w.]+\.)?(?:\w*Error|\w*Exception|ParseError): (?P<msg>.+)$")
MAX_WARNINGS = 20


@dataclass
class Failure:
    module: str | None
    file: str | None  # relative to the upgrade path when it is a script of OpenUpgrade
    line: int | None
    missing_record: str | None
    message: str

    def describe(self) -> str:
        where = self.module or "?"
        if self.file:
            where += f": {self.file}" + (f":{self.line}" if self.line else "")
        text = f"{where}: {self.message}"
        if self.missing_record and self.missing_record not in self.message:
            text += f" (missing record {self.missing_record})"
        return text


@dataclass
class LogScan:
    errors: list[str] = field(default_factory=list)
    warnings: int = 0
    warning_samples: list[str] = field(default_factory=list)
    failure: Failure | None = None
    modules_loaded: int = 0


def _relative(path: str, upgrade_path: str | None) -> str:
    if upgrade_path and path.startswith(upgrade_path.rstrip("/") + "/"):
        return path[len(upgrade_path.rstrip("/")) + 1:]
    return path


def scan_log(text: str, upgrade_path: str | None = None) -> LogScan:
    out = LogScan()
    current: str | None = None
    first_error_module: str | None = None
    ou: re.Match[str] | None = None
    parsing: re.Match[str] | None = None
    missing: str | None = None
    last_exception: str | None = None
    for raw in text.splitlines():
        m = _LINE.match(raw)
        if m is None:
            if out.errors:  # a traceback or a quoted record after an error
                if parsing is None:
                    parsing = _WHILE_PARSING.search(raw) or parsing
                if missing is None:
                    found = _MISSING.search(raw)
                    missing = found["xmlid"] if found else None
                exc = _EXCEPTION.match(raw.strip())
                if exc and last_exception is None:
                    last_exception = raw.strip()
            continue
        level, msg = m["level"], m["msg"].rstrip()
        if level == "INFO":
            lm = _LOADING.match(msg) or _MIGRATING.match(msg)
            if lm:
                current = lm["module"]
                if _LOADING.match(msg):
                    out.modules_loaded += 1
        elif level == "WARNING":
            out.warnings += 1
            if len(out.warning_samples) < MAX_WARNINGS and msg not in out.warning_samples:
                out.warning_samples.append(msg)
        elif level in ("ERROR", "CRITICAL"):
            if not out.errors:
                first_error_module = current
            out.errors.append(f"{level} {m['logger']}: {msg}")
            if ou is None:
                ou = _OU_ERROR.search(msg)
            if parsing is None:
                parsing = _WHILE_PARSING.search(msg)
            if missing is None:
                found = _MISSING.search(msg)
                missing = found["xmlid"] if found else None
    if out.errors:
        module = ou["module"] if ou else first_error_module
        file = parsing["file"] if parsing else (ou["script"] if ou else None)
        line = int(parsing["line"]) if parsing else None
        if missing:
            message = f"External ID not found in the system: {missing}"
        elif last_exception:
            message = last_exception
        else:
            message = out.errors[0].split(": ", 1)[-1]
        out.failure = Failure(module, _relative(file, upgrade_path) if file else None, line,
                              missing, message)
    return out
