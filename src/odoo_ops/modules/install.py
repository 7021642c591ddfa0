"""``modules install``: one ``odoo -i`` per wave, checked against the database.

The plan (:mod:`odoo_ops.modules.plan`) groups the dependency closure of the
requested modules into waves. Each wave is one ``odoo -i a,b --stop-after-init``
run through the Runner; afterwards the module states are read back from the
database and the action stops at the first wave that did not bring all its
modules to ``installed`` (Odoo rolls back the failing module; earlier waves
stay installed), with the ERROR/CRITICAL lines and the traceback tail of that
wave's log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from odoo_ops.errors import OpsError
from odoo_ops.modules.context import ModulesContext, load_context
from odoo_ops.modules.plan import ModulesPlan, build_plan
from odoo_ops.modules.steps import EventHandler, OdooSteps
from odoo_ops.modules.update import store_checksums_of
from odoo_ops.modules.window import ActionResult, change_window, diff_states

if TYPE_CHECKING:
    from odoo_ops.adapters import Target


@dataclass
class WaveOutcome:
    index: int
    addons: list[str]
    ok: bool
    not_installed: dict[str, str] = field(default_factory=dict)  # name -> state

    def as_dict(self) -> dict[str, Any]:
        return {
            "wave": self.index,
            "addons": self.addons,
            "ok": self.ok,
            "not_installed": self.not_installed,
        }


@dataclass
class InstallResult(ActionResult):
    plan: ModulesPlan | None = None
    waves: list[WaveOutcome] = field(default_factory=list)
    installed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = self.base_dict()
        data["plan"] = self.plan.as_dict() if self.plan else None
        data["waves"] = [w.as_dict() for w in self.waves]
        data["installed"] = self.installed
        return data


def plan_error(plan: ModulesPlan, *, host_addons: bool = True) -> OpsError:
    first = plan.plan.errors[0]
    more = len(plan.plan.errors) - 1
    extra = f" (and {more} more problem(s))" if more > 0 else ""
    hint = "run `odoo-ops modules plan` with the same modules to see every problem"
    if not host_addons:
        hint = (
            "no addons path is readable on this host, so only the database's module list is"
            " known: run `odoo-ops modules sync` first (it refreshes that list), or set"
            " addons_paths in odoo-ops.toml"
        )
    return OpsError(f"cannot install: {first.message}{extra}", hint=hint)


def run_waves(
    ctx: ModulesContext,
    steps: OdooSteps,
    result: InstallResult,
    waves: Sequence[Sequence[str]],
    *,
    without_demo: bool = False,
    label: str = "wave",
) -> bool:
    """Install ``waves`` one ``-i`` each; True when every wave reached ``installed``."""
    total = len(waves)
    for number, addons in enumerate(waves, 1):
        argv = steps.odoo.install(addons, without_demo=without_demo)
        step = steps.run(f"{label} {number}/{total}", argv)
        result.steps.append(step)
        if steps.dry_run:
            result.waves.append(WaveOutcome(number, list(addons), True))
            continue
        after = ctx.refresh()
        missing = {
            a: (after[a].state if a in after else "unknown")
            for a in addons
            if a not in after or after[a].state != "installed"
        }
        outcome = WaveOutcome(number, list(addons), step.ok and not missing, missing)
        result.waves.append(outcome)
        if not outcome.ok:
            if missing:
                listed = ", ".join(f"{n} ({s})" for n, s in sorted(missing.items()))
                why = f"not installed: {listed}"
            else:
                why = f"odoo exited with {step.returncode}"
            if step.timed_out:
                why = f"timed out after {step.duration:.0f}s; {why}"
            result.fail(f"{label} {number}/{total} failed: {why}", step)
            return False
    return True


def install_modules(
    target: Target,
    names: Sequence[str],
    *,
    without_demo: bool = False,
    dry_run: bool = False,
    wait: float = 0.0,
    maintenance: bool = False,
    timeout: float | None = None,
    on_event: EventHandler | None = None,
) -> InstallResult:
    """Install ``names`` (and their dependency closure), wave after wave."""
    ctx = load_context(target)
    plan = build_plan(ctx, names)
    result = InstallResult("install", ctx.db.name, dry_run, plan=plan)
    if not plan.ok:
        raise plan_error(plan, host_addons=bool(ctx.host_addons))
    waves = plan.waves
    if not waves:
        result.message = "nothing to install: " + ", ".join(names) + " already installed"
        return result
    steps = OdooSteps(target, "install", dry_run=dry_run, on_event=on_event, timeout=timeout)
    steps.total = len(waves)
    before = dict(ctx.modules)
    with change_window(target, steps, result, wait=wait, maintenance=maintenance):
        ok = run_waves(ctx, steps, result, waves, without_demo=without_demo)
        if not dry_run:
            result.changes = diff_states(before, ctx.modules)
            result.installed = sorted(
                c.name
                for c in result.changes
                if c.state_after == "installed" and c.state_before != "installed"
            )
            if ok:
                stored = store_checksums_of(ctx, result.installed, only_if_present=True)
                if stored:
                    result.notes.append(
                        f"checksums of {stored} newly installed module(s) stored for --changed"
                    )
    if dry_run:
        result.message = f"dry run: {len(waves)} wave(s)"
    elif ok and result.ok:
        result.message = f"{len(result.installed)} module(s) installed in {len(waves)} wave(s)"
    return result
