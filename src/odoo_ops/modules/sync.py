"""``modules sync``: the apps list made true again.

1. ``update_list()`` in ``odoo shell``: Odoo re-reads every manifest on its
   addons path (new addons appear, versions and dependencies refresh);
2. modules stuck in ``to upgrade`` / ``to install`` (an interrupted update, a
   button clicked in the Apps menu without "apply") are applied with one
   ``odoo -u`` (Odoo then also loads those marked ``to install``) or, when only
   installs are pending, one ``odoo -i``;
3. the before/after states and versions are reported, with the addons whose
   version on disk is not the one the database was updated to.

Modules stuck in ``to remove`` are reported, not removed: that is
``modules uninstall``'s job, with its guards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from odoo_ops.addons import normalize_version
from odoo_ops.modules.context import load_context
from odoo_ops.modules.steps import EventHandler, OdooSteps, shell_script
from odoo_ops.modules.window import ActionResult, change_window, diff_states

if TYPE_CHECKING:
    from odoo_ops.adapters import Target


@dataclass
class SyncResult(ActionResult):
    applied_upgrade: list[str] = field(default_factory=list)
    applied_install: list[str] = field(default_factory=list)
    to_remove: list[str] = field(default_factory=list)
    new_modules: list[str] = field(default_factory=list)
    outdated: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = self.base_dict()
        data.update(
            applied_upgrade=self.applied_upgrade,
            applied_install=self.applied_install,
            stuck_to_remove=self.to_remove,
            new_modules=self.new_modules,
            outdated=self.outdated,
        )
        return data


UPDATE_LIST_SCRIPT = shell_script("env['ir.module.module'].update_list()")


def sync_modules(
    target: Target,
    *,
    dry_run: bool = False,
    wait: float = 0.0,
    maintenance: bool = False,
    timeout: float | None = None,
    on_event: EventHandler | None = None,
) -> SyncResult:
    ctx = load_context(target)
    result = SyncResult("sync", ctx.db.name, dry_run)
    steps = OdooSteps(target, "sync", dry_run=dry_run, on_event=on_event, timeout=timeout)
    before = dict(ctx.modules)
    with change_window(target, steps, result, wait=wait, maintenance=maintenance):
        step = steps.run("update apps list", steps.odoo.shell(), input=UPDATE_LIST_SCRIPT)
        result.steps.append(step)
        if not dry_run and not step.ok:
            result.fail(f"updating the apps list failed (exit {step.returncode})", step)
            return result
        listed = ctx.refresh() if not dry_run else ctx.modules
        upgrade = sorted(n for n, r in listed.items() if r.state == "to upgrade")
        install = sorted(n for n, r in listed.items() if r.state == "to install")
        result.to_remove = sorted(n for n, r in listed.items() if r.state == "to remove")
        if upgrade or install:
            if upgrade:
                argv = steps.odoo.update(upgrade)
                label = "apply pending upgrades/installs"
            else:
                argv = steps.odoo.install(install)
                label = "apply pending installs"
            apply = steps.run(label, argv)
            result.steps.append(apply)
            result.applied_upgrade, result.applied_install = upgrade, install
            if not dry_run:
                after = ctx.refresh()
                still = sorted(
                    n
                    for n in (*upgrade, *install)
                    if after.get(n) and after[n].state != "installed"
                )
                if not apply.ok or still:
                    why = f"exit {apply.returncode}" if not apply.ok else "not installed"
                    if still:
                        why += ": " + ", ".join(still)
                    result.changes = diff_states(before, after)
                    result.fail(f"applying pending changes failed ({why})", apply)
                    return result
        if dry_run:
            result.message = "dry run"
            return result
        after = ctx.modules
        result.changes = diff_states(before, after)
        result.new_modules = sorted(n for n in after if n not in before)
        for name, row in sorted(after.items()):
            addon = ctx.scan.addons.get(name)
            if row.state != "installed" or name not in ctx.host_addons or addon is None:
                continue
            if not addon.version or not row.latest_version:
                continue
            disk = normalize_version(addon.version, ctx.series)
            if disk != row.latest_version:
                result.outdated.append({"name": name, "database": row.latest_version, "disk": disk})
        if result.to_remove:
            result.notes.append(
                "stuck in 'to remove' (not applied): "
                + ", ".join(result.to_remove)
                + " — use `odoo-ops modules uninstall` or reset them in the Apps menu"
            )
        if result.outdated:
            result.notes.append(
                f"{len(result.outdated)} installed module(s) have another version on disk:"
                " run `odoo-ops modules update --changed` (or update them by name)"
            )
        applied = len(result.applied_upgrade) + len(result.applied_install)
        result.message = (
            f"apps list updated; {applied} pending module(s) applied;"
            f" {len(result.changes)} change(s)"
        )
    return result
