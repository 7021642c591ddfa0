"""``modules plan``: an install plan against the live database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from odoo_ops.addons import InstallPlan, plan_install
from odoo_ops.errors import UsageError
from odoo_ops.modules.context import ModulesContext, load_context

if TYPE_CHECKING:
    from odoo_ops.adapters import Target


@dataclass
class ModulesPlan:
    """An :class:`InstallPlan` plus what the database says about each addon."""

    series: str
    database: str | None
    requested: list[str]
    plan: InstallPlan
    db_states: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.plan.ok

    @property
    def waves(self) -> list[list[str]]:
        return [list(w.addons) for w in self.plan.waves]

    def as_dict(self) -> dict[str, Any]:
        plan = self.plan
        return {
            "series": self.series,
            "database": self.database,
            "requested": self.requested,
            "ok": self.ok,
            "waves": [{"index": w.index + 1, "addons": list(w.addons)} for w in plan.waves],
            "already_installed": list(plan.installed),
            "auto_install": [
                {
                    "name": a.name,
                    "wave": a.wave + 1,
                    "triggers": list(a.triggers),
                    "also_installs": list(a.also_installs),
                }
                for a in plan.auto_installed
            ],
            "addons": [
                {
                    "name": a.name,
                    "status": a.status,
                    "wave": None if a.wave is None else a.wave + 1,
                    "db_state": self.db_states.get(a.name),
                    "requested": a.requested,
                    "on_path": a.on_path,
                    "version": a.version,
                }
                for a in plan.addons.values()
            ],
            "findings": [
                {"code": f.code, "severity": f.severity, "message": f.message, "addon": f.addon}
                for f in plan.findings
            ],
        }


def build_plan(ctx: ModulesContext, names: Sequence[str]) -> ModulesPlan:
    if not names:
        raise UsageError("name at least one module (or --set NAME)")
    installed = ctx.installed
    plan = plan_install(
        ctx.scan, names, ctx.series, installed=installed, available_in_db=set(ctx.modules)
    )
    db_states = {n: ctx.state_of(n) for n in plan.addons}
    for auto in plan.auto_installed:
        db_states[auto.name] = ctx.state_of(auto.name)
    return ModulesPlan(ctx.series, ctx.db.name, list(names), plan, db_states)


def plan_modules(target: Target, names: Sequence[str]) -> ModulesPlan:
    """What installing ``names`` would do on the deployment's database."""
    return build_plan(load_context(target), names)
