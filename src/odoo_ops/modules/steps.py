"""Running Odoo steps: one ``odoo`` command line per step, through the Runner.

Every step of a modules action (an install wave, an update, an uninstall done in
``odoo shell``) is one command line built by :class:`~odoo_ops.adapters.OdooCommand`
and run by the deployment's Runner. Its full output goes to its own log file
under the deployment's log directory
(``LOG_DIR/modules/<stamp>-<action>/<nn>-<label>.log``). With ``dry_run`` nothing
runs: the steps only record the exact host command lines.

Odoo log lines look like ``2024-05-01 10:00:00,123 42 ERROR db odoo.x: text``;
:func:`scan_log` keeps the ERROR/CRITICAL lines and the tail of the last
traceback so a failed step can say why in a few lines.
"""

from __future__ import annotations

import datetime as dt
import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.adapters.odoo_cmd import OdooCommand
    from odoo_ops.adapters.runner import Runner

LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:,\d+)? +\d+ +(DEBUG|INFO|WARNING|ERROR|CRITICAL)\b"
)
TRACEBACK_TAIL = 12
MAX_ERROR_LINES = 20


@dataclass
class LogFindings:
    errors: list[str] = field(default_factory=list)
    traceback: list[str] = field(default_factory=list)


def scan_log(text: str, *, tail: int = TRACEBACK_TAIL) -> LogFindings:
    """ERROR/CRITICAL lines and the last traceback's tail of an Odoo output."""
    out = LogFindings()
    lines = text.splitlines()
    last_tb: list[str] = []
    in_tb = False
    for line in lines:
        match = LOG_LINE.match(line)
        if match:
            in_tb = False
            if match.group(1) in ("ERROR", "CRITICAL"):
                out.errors.append(line)
            continue
        if line.startswith("Traceback (most recent call last):"):
            in_tb = True
            last_tb = [line]
            continue
        if in_tb:
            last_tb.append(line)
    if len(out.errors) > MAX_ERROR_LINES:
        out.errors = out.errors[: MAX_ERROR_LINES // 2] + out.errors[-MAX_ERROR_LINES // 2 :]
    if len(last_tb) > tail + 1:
        out.traceback = [last_tb[0], "  ...", *last_tb[-tail:]]
    else:
        out.traceback = last_tb
    return out


def command_line(argv: Sequence[str], input: str | None = None) -> str:
    """The shell form of a command (with the script fed on stdin as a here-document)."""
    text = shlex.join(argv)
    if input is not None:
        text += " <<'EOF'\n" + input.rstrip("\n") + "\nEOF"
    return text


@dataclass
class StepResult:
    """One Odoo command of an action."""

    index: int
    label: str
    argv: list[str]
    command: str
    log_file: Path | None = None
    returncode: int | None = None
    duration: float = 0.0
    timed_out: bool = False
    ran: bool = False
    errors: list[str] = field(default_factory=list)
    traceback: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.ran and self.returncode == 0 and not self.timed_out

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "label": self.label,
            "command": self.command,
            "log_file": str(self.log_file) if self.log_file else None,
            "returncode": self.returncode,
            "duration": round(self.duration, 3),
            "timed_out": self.timed_out,
            "ran": self.ran,
            "errors": self.errors,
            "traceback": self.traceback,
        }


@dataclass
class StepEvent:
    """Progress of an action: ``kind`` is ``start``, ``done``, ``line`` or ``note``."""

    kind: str
    label: str = ""
    index: int = 0
    total: int = 0
    text: str = ""
    step: StepResult | None = None


EventHandler = Callable[[StepEvent], None]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:60] or "step"


class OdooSteps:
    """Runs (or, with ``dry_run``, only records) the Odoo steps of one action."""

    def __init__(
        self,
        target: Target,
        action: str,
        *,
        dry_run: bool = False,
        on_event: EventHandler | None = None,
        timeout: float | None = None,
        database: str | None = None,
        runner: Runner | None = None,
        odoo: OdooCommand | None = None,
    ) -> None:
        self.target = target
        self.action = action
        self.dry_run = dry_run
        self.on_event = on_event
        self.timeout = timeout
        self.runner = runner or target.runner()
        self.odoo = odoo or target.odoo(database)
        self.use_run = False  # compose: ``run --rm`` (the service is stopped)
        self.steps: list[StepResult] = []
        self.total = 0
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
        self.log_dir = target.log_dir / "modules" / f"{stamp}-{_slug(action)}"

    def emit(self, event: StepEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def note(self, text: str) -> None:
        self.emit(StepEvent("note", text=text))

    def host_argv(self, argv: Sequence[str], *, stdin: bool = False) -> list[str]:
        return self.runner.wrap(argv, stdin=stdin, use_run=self.use_run)

    def run(self, label: str, argv: Sequence[str], *, input: str | None = None) -> StepResult:
        index = len(self.steps) + 1
        full = self.host_argv(argv, stdin=input is not None)
        step = StepResult(
            index=index,
            label=label,
            argv=list(argv),
            command=self.target.redactor(command_line(full, input)),
        )
        self.steps.append(step)
        total = max(self.total, index)
        self.emit(StepEvent("start", label, index, total, step.command, step))
        if self.dry_run:
            self.emit(StepEvent("done", label, index, total, "dry run", step))
            return step
        step.log_file = self.log_dir / f"{index:02d}-{_slug(label)}.log"
        step.log_file.parent.mkdir(parents=True, exist_ok=True)
        step.log_file.write_text(f"# odoo-ops {self.action}: {step.command}\n", encoding="utf-8")

        def on_line(line: str) -> None:
            self.emit(StepEvent("line", label, index, total, line))

        result = self.runner.run(
            argv,
            input=input,
            timeout=self.timeout,
            log_file=step.log_file,
            on_line=on_line,
            use_run=self.use_run,
        )
        step.ran = True
        step.returncode = result.returncode
        step.duration = result.duration
        step.timed_out = result.timed_out
        found = scan_log(result.output)
        redact = self.target.redactor
        step.errors = [redact(line) for line in found.errors]
        step.traceback = [redact(line) for line in found.traceback]
        self.emit(StepEvent("done", label, index, total, "ok" if step.ok else "failed", step))
        return step


def shell_script(*lines: str) -> str:
    """A script for ``odoo shell`` (read from stdin); ends with a commit."""
    body = [line for line in lines if line]
    return "\n".join([*body, "env.cr.commit()", ""])


def py_list(names: Sequence[str]) -> str:
    """A Python list literal of module names (validated: no quotes can slip in)."""
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(f"invalid module name {name!r}")
    return "[" + ", ".join(repr(n) for n in names) + "]"
