"""``modules uninstall`` and ``modules reinstall``.

Uninstalling a module also uninstalls every installed module that depends on
it, and Odoo deletes what the modules own: the tables of the models they
created, the columns of the fields they added, their records (menus, views,
actions, crons...). :func:`uninstall_impact` reads that from ``ir_model_data``
before anything happens; the action refuses without ``force``, takes a backup
first when the deployment has a ``backup_dir``, then runs
``button_immediate_uninstall()`` in ``odoo shell`` and checks the states.

``reinstall`` is the ``KeyNotFoundError`` repair (a client action tag whose
JavaScript is gone, stale assets): uninstall cleanly, install the module again
(with the dependents the uninstall took away), refresh the apps list.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from odoo_ops.addons import plan_install
from odoo_ops.errors import UsageError
from odoo_ops.modules import db as dbx
from odoo_ops.modules.context import ModulesContext, load_context
from odoo_ops.modules.install import InstallResult, plan_error, run_waves
from odoo_ops.modules.plan import ModulesPlan
from odoo_ops.modules.steps import EventHandler, OdooSteps, py_list, shell_script
from odoo_ops.modules.sync import UPDATE_LIST_SCRIPT
from odoo_ops.modules.update import drop_checksums_of, store_checksums_of
from odoo_ops.modules.window import change_window, diff_states

if TYPE_CHECKING:
    import psycopg

    from odoo_ops.adapters import Target


@dataclass
class DroppedModel:
    model: str
    table: str
    rows: int | None  # None: no such table (abstract/transient without rows)
    owners: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {"model": self.model, "table": self.table, "rows": self.rows, "owners": self.owners}


@dataclass
class Impact:
    """What uninstalling ``modules`` (with ``dependents``) deletes."""

    modules: list[str]
    dependents: list[str]
    models: list[DroppedModel] = field(default_factory=list)
    fields: dict[str, list[str]] = field(default_factory=dict)  # model -> fields dropped
    records: dict[str, int] = field(default_factory=dict)  # model -> records owned

    @property
    def removed(self) -> list[str]:
        return sorted({*self.modules, *self.dependents})

    def as_dict(self) -> dict[str, Any]:
        return {
            "modules": self.modules,
            "dependents": self.dependents,
            "models": [m.as_dict() for m in self.models],
            "fields": self.fields,
            "records": self.records,
        }


def _count_rows(cur: psycopg.Cursor[Any], table: str) -> int | None:
    from psycopg import sql

    if not dbx.table_exists(cur, table):
        return None
    cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table)))
    row = cur.fetchone()
    return int(row[0]) if row else 0


def uninstall_impact(ctx: ModulesContext, names: Sequence[str]) -> Impact:
    dependents = dbx.dependents(ctx.modules, names)
    impact = Impact(sorted(names), dependents)
    removed = impact.removed
    with ctx.db.read_only() as cur:
        # models owned only by removed modules: their tables are dropped
        cur.execute(
            "SELECT m.model, array_agg(DISTINCT d.module ORDER BY d.module)"
            " FROM ir_model_data d JOIN ir_model m ON m.id = d.res_id"
            " WHERE d.model = 'ir.model' GROUP BY m.model"
            " HAVING bool_and(d.module = ANY(%s)) ORDER BY m.model",
            (removed,),
        )
        for model, owners in cur.fetchall():
            table = str(model).replace(".", "_")
            impact.models.append(DroppedModel(model, table, _count_rows(cur, table), owners))
        dropped_models = {m.model for m in impact.models}
        if dbx.table_exists(cur, "ir_model_fields"):
            cur.execute(
                "SELECT f.model, f.name FROM ir_model_data d"
                " JOIN ir_model_fields f ON f.id = d.res_id"
                " WHERE d.model = 'ir.model.fields' GROUP BY f.model, f.name"
                " HAVING bool_and(d.module = ANY(%s)) ORDER BY f.model, f.name",
                (removed,),
            )
            for model, fname in cur.fetchall():
                if model not in dropped_models:
                    impact.fields.setdefault(str(model), []).append(str(fname))
        cur.execute(
            "SELECT model, count(*) FROM ir_model_data WHERE module = ANY(%s)"
            " GROUP BY model ORDER BY model",
            (removed,),
        )
        impact.records = {str(m): int(n) for m, n in cur.fetchall()}
    return impact


@dataclass
class UninstallResult(InstallResult):
    impact: Impact | None = None
    refused: bool = False
    backup: str | None = None
    uninstalled: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = super().as_dict()
        data.update(
            impact=self.impact.as_dict() if self.impact else None,
            refused=self.refused,
            backup=self.backup,
            uninstalled=self.uninstalled,
        )
        return data


def _check_names(ctx: ModulesContext, names: Sequence[str]) -> list[str]:
    wanted = list(dict.fromkeys(names))
    if not wanted:
        raise UsageError("name at least one module")
    if "base" in wanted:
        raise UsageError("base cannot be uninstalled")
    unknown = [n for n in wanted if n not in ctx.modules]
    if unknown:
        raise UsageError(f"unknown module(s): {', '.join(unknown)}")
    not_installed = [n for n in wanted if not ctx.modules[n].installed]
    if not_installed:
        states = ", ".join(f"{n} ({ctx.modules[n].state})" for n in not_installed)
        raise UsageError(f"not installed: {states}")
    return wanted


def _backup_first(
    target: Target, result: UninstallResult, steps: OdooSteps, dry_run: bool, tag: str
) -> None:
    """A backup before deleting data, when the deployment has a backup_dir."""
    if target.backup_dir is None:
        result.notes.append("no backup taken: no backup_dir is configured for this deployment")
        return
    try:
        from odoo_ops.backup.create import CreateOptions, create_backup
    except ImportError:  # pragma: no cover - the backup package is part of odoo-ops
        result.notes.append("no backup taken: odoo_ops.backup is not available")
        return
    options = CreateOptions(tags=[tag], dry_run=dry_run, take_lock=False)
    steps.note("backup before uninstall ...")
    made = create_backup(target, options)
    if dry_run:
        result.window += [f"backup: {c}" for c in made.commands]
        return
    result.backup = str(made.path) if made.path else made.name
    steps.note(f"backup written: {result.backup}")


def _uninstall_step(
    ctx: ModulesContext, steps: OdooSteps, result: UninstallResult, impact: Impact
) -> bool:
    script = shell_script(
        f"env['ir.module.module'].search([('name', 'in', {py_list(impact.modules)})])"
        ".button_immediate_uninstall()"
    )
    step = steps.run("uninstall", steps.odoo.shell(), input=script)
    result.steps.append(step)
    if steps.dry_run:
        return True
    after = ctx.refresh()
    left = sorted(n for n in impact.removed if n in after and after[n].installed)
    if not step.ok or left:
        why = f"odoo shell exited with {step.returncode}" if not step.ok else "still installed"
        if left:
            why += ": " + ", ".join(f"{n} ({after[n].state})" for n in left)
        result.fail(f"uninstall failed ({why})", step)
        return False
    result.uninstalled = impact.removed
    drop_checksums_of(ctx, impact.removed)
    return True


def uninstall_modules(
    target: Target,
    names: Sequence[str],
    *,
    force: bool = False,
    dry_run: bool = False,
    wait: float = 0.0,
    maintenance: bool = False,
    backup: bool = True,
    timeout: float | None = None,
    on_event: EventHandler | None = None,
) -> UninstallResult:
    ctx = load_context(target)
    wanted = _check_names(ctx, names)
    impact = uninstall_impact(ctx, wanted)
    result = UninstallResult("uninstall", ctx.db.name, dry_run, impact=impact)
    if not force and not dry_run:
        result.refused = True
        result.fail("refusing to uninstall without --force (this deletes the data listed above)")
        return result
    steps = OdooSteps(target, "uninstall", dry_run=dry_run, on_event=on_event, timeout=timeout)
    steps.total = 1
    before = dict(ctx.modules)
    with change_window(target, steps, result, wait=wait, maintenance=maintenance):
        if backup:
            _backup_first(target, result, steps, dry_run, "before-uninstall")
        ok = _uninstall_step(ctx, steps, result, impact)
        if not dry_run:
            result.changes = diff_states(before, ctx.modules)
            if ok:
                result.message = f"{len(result.uninstalled)} module(s) uninstalled"
        else:
            result.message = "dry run"
    return result


def reinstall_module(
    target: Target,
    name: str,
    *,
    force: bool = False,
    dry_run: bool = False,
    wait: float = 0.0,
    maintenance: bool = False,
    backup: bool = True,
    without_demo: bool = False,
    timeout: float | None = None,
    on_event: EventHandler | None = None,
) -> UninstallResult:
    """Uninstall ``name`` cleanly, install it again (with its dependents), refresh the list."""
    ctx = load_context(target)
    wanted = _check_names(ctx, [name])
    impact = uninstall_impact(ctx, wanted)
    result = UninstallResult("reinstall", ctx.db.name, dry_run, impact=impact)
    if not force and not dry_run:
        result.refused = True
        result.fail(
            "refusing to reinstall without --force (the uninstall deletes the data listed above)"
        )
        return result
    # plan the re-install against the state after the uninstall
    remaining = {n for n, r in ctx.modules.items() if r.state == "installed"} - set(impact.removed)
    plan = plan_install(
        ctx.scan, impact.removed, ctx.series, installed=remaining, available_in_db=set(ctx.modules)
    )
    result.plan = ModulesPlan(ctx.series, ctx.db.name, impact.removed, plan)
    if not plan.ok:
        raise plan_error(result.plan, host_addons=bool(ctx.host_addons))
    waves = [list(w.addons) for w in plan.waves]
    steps = OdooSteps(target, "reinstall", dry_run=dry_run, on_event=on_event, timeout=timeout)
    steps.total = len(waves) + 2
    before = dict(ctx.modules)
    with change_window(target, steps, result, wait=wait, maintenance=maintenance):
        if backup:
            _backup_first(target, result, steps, dry_run, "before-reinstall")
        if not _uninstall_step(ctx, steps, result, impact):
            return result
        if not run_waves(ctx, steps, result, waves, without_demo=without_demo, label="install"):
            if not dry_run:
                result.changes = diff_states(before, ctx.modules)
            return result
        step = steps.run("update apps list", steps.odoo.shell(), input=UPDATE_LIST_SCRIPT)
        result.steps.append(step)
        if dry_run:
            result.message = "dry run"
            return result
        after = ctx.refresh()
        result.changes = diff_states(before, after)
        if not step.ok:
            result.fail(f"updating the apps list failed (exit {step.returncode})", step)
            return result
        back = sorted(n for n in impact.removed if n in after and after[n].state == "installed")
        result.installed = back
        missing = sorted(set(impact.removed) - set(back))
        if missing:
            result.fail("not installed again: " + ", ".join(missing))
            return result
        store_checksums_of(ctx, back, only_if_present=True)
        result.message = f"{name} reinstalled" + (
            f" with {len(impact.dependents)} dependent module(s)" if impact.dependents else ""
        )
    return result
