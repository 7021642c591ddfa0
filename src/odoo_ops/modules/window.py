"""The change window every modules action runs in, and the result it fills.

:func:`change_window` takes the deployment lock (a second run fails at once,
or waits ``wait`` seconds), and with ``maintenance`` turns maintenance mode on
and pauses the crons for the duration, restoring both afterwards — also when
the action fails. It only undoes what it did: maintenance that was already on,
or crons already paused, stay as they were.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from odoo_ops.adapters.compose import parse_compose_ps
from odoo_ops.adapters.hostcmd import compose_runner, run_on_host
from odoo_ops.adapters.locking import deployment_lock
from odoo_ops.errors import OpsError
from odoo_ops.modules import crons as cronx
from odoo_ops.modules import maintenance as mx
from odoo_ops.modules.db import ModuleRow
from odoo_ops.modules.steps import OdooSteps, StepEvent, StepResult

if TYPE_CHECKING:
    from odoo_ops.adapters import Target


@dataclass
class ModuleChange:
    name: str
    state_before: str | None
    state_after: str | None
    version_before: str | None
    version_after: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "state_before": self.state_before,
            "state_after": self.state_after,
            "version_before": self.version_before,
            "version_after": self.version_after,
        }


def diff_states(before: dict[str, ModuleRow], after: dict[str, ModuleRow]) -> list[ModuleChange]:
    out = []
    for name in sorted(set(before) | set(after)):
        b, a = before.get(name), after.get(name)
        sb, sa = (b.state if b else None), (a.state if a else None)
        vb, va = (b.latest_version if b else None), (a.latest_version if a else None)
        if sb != sa or vb != va:
            out.append(ModuleChange(name, sb, sa, vb, va))
    return out


@dataclass
class ActionResult:
    """What a modules action did; ``ok`` False means the CLI exits 1."""

    action: str
    database: str | None
    dry_run: bool
    ok: bool = True
    message: str = ""
    steps: list[StepResult] = field(default_factory=list)
    window: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    changes: list[ModuleChange] = field(default_factory=list)
    failed_step: StepResult | None = None

    @property
    def error(self) -> str | None:
        """The failure message (``None`` when the action succeeded)."""
        return None if self.ok else (self.message or f"{self.action} failed")

    def fail(self, message: str, step: StepResult | None = None) -> None:
        self.ok = False
        self.message = message
        self.failed_step = step

    def base_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "database": self.database,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "message": self.message,
            "steps": [s.as_dict() for s in self.steps],
            "window": self.window,
            "notes": self.notes,
            "changes": [c.as_dict() for c in self.changes],
            "failed_step": self.failed_step.index if self.failed_step else None,
        }

    def as_dict(self) -> dict[str, Any]:
        return self.base_dict()


def compose_service_stopped(target: Target) -> bool:
    """True when the deployment runs with compose and its Odoo service is not running."""
    compose = compose_runner(target)
    if compose is None:
        return False
    service = target.deployment.odoo_service
    try:
        result = run_on_host(target, compose.compose_argv("ps", "--format", "json", service))
    except OpsError:
        return False
    if result.returncode != 0:
        return False
    try:
        containers = parse_compose_ps(result.output)
    except ValueError:
        return False
    mine = [c for c in containers if c.service in ("", service)]
    return not any(c.state == "running" for c in mine)


@contextmanager
def change_window(
    target: Target,
    steps: OdooSteps,
    result: ActionResult,
    *,
    wait: float = 0.0,
    maintenance: bool = False,
) -> Iterator[None]:
    """Lock (+ maintenance mode and paused crons) around an action's steps."""
    say = steps.note
    if steps.dry_run:
        pause_ids: list[int] = []
        if maintenance:
            on = mx.maintenance_on(target, dry_run=True)
            pause = cronx.pause_crons(target, dry_run=True)
            pause_ids = pause.ids
            result.window += [*on.commands, *pause.commands]
            workers = mx.workers_of(target)
            if workers.mode == "compose" and workers.configured:
                steps.use_run = True
        if not steps.use_run and compose_service_stopped(target):
            steps.use_run = True
        for line in result.window:
            steps.emit(StepEvent("note", text=f"would: {line}"))
        yield
        if maintenance:
            after = [
                *cronx.resume_commands(target, pause_ids),
                *mx.maintenance_off(target, dry_run=True).commands,
            ]
            result.window += after
            for line in after:
                steps.emit(StepEvent("note", text=f"would: {line}"))
        return
    with deployment_lock(target, wait):
        turned_on = False
        paused = False
        try:
            if maintenance:
                status = mx.maintenance_status(target)
                if status.state == mx.ON:
                    say("maintenance mode already on: left as it is")
                    result.window.append("maintenance already on")
                else:
                    on = mx.maintenance_on(
                        target, reason=f"odoo-ops modules {result.action}", note=say
                    )
                    turned_on = True
                    result.window += on.commands
                    for warning in on.warnings:
                        result.notes.append(warning)
                pause = cronx.pause_crons(target)
                if pause.already:
                    say("crons already paused: left as they are")
                    result.window.append("crons already paused")
                else:
                    paused = True
                    result.window += pause.commands
                    say(f"{len(pause.ids)} active cron(s) paused")
            we_stopped = turned_on and mx.workers_of(target).mode == "compose"
            if we_stopped or compose_service_stopped(target):
                steps.use_run = True
                say("the Odoo service is stopped: odoo runs in a one-off container (run --rm)")
            yield
        finally:
            errors: list[str] = []
            if paused:
                try:
                    resume = cronx.resume_crons(target)
                    result.window += resume.commands
                    say(f"{len(resume.ids)} cron(s) resumed")
                except OpsError as exc:
                    errors.append(f"resuming the crons failed: {exc.message}")
            if turned_on:
                try:
                    off = mx.maintenance_off(target, note=say)
                    result.window += off.commands
                except OpsError as exc:
                    errors.append(f"turning maintenance off failed: {exc.message}")
            if errors:
                result.notes.extend(errors)
                result.ok = False
                if not result.message:
                    result.message = "; ".join(errors)
