"""``audit broken``: records of the database that break the web client or an update.

- modules stuck in ``to install``/``to upgrade``/``to remove``, or
  ``uninstallable`` after having been installed;
- menus whose action reference (``ir.actions.act_window,42``) names a row that
  does not exist in the table of its action model (every action model:
  window, client, server, report, URL), and menus whose parent is gone;
- window actions whose ``res_model`` is not in ``ir_model``;
- ``ir_model_data`` rows (external ids) whose record is gone, checked against
  each model's real table;
- client actions whose tag no JavaScript registers (the ``KeyNotFoundError``
  menus), with the menus leading to them.

Every query is an anti-join run by PostgreSQL; rows come through server-side
cursors, so memory does not grow with the size of the tables.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from odoo_ops.audit.base import Session, audit_session
from odoo_ops.audit.client_tags import scan_tags, web_client_tags
from odoo_ops.audit.findings import ERROR, WARNING, AuditReport, Finding, run, stream
from odoo_ops.audit.odoo_schema import (
    ACTION_TABLES,
    default_table,
    quote_ident,
    quote_literal,
)

if TYPE_CHECKING:
    from odoo_ops.adapters.database import Database
    from odoo_ops.addons import AddonsScan

PENDING_STATES = ("to install", "to upgrade", "to remove")
_ID_RE = "'^[0-9]{1,9}$'"


@dataclass
class BrokenOptions:
    odoo_command: str = "odoo"
    sample_size: int = 5


# -- SQL builders (pure: the bench runs the same text through psql) ----------------


def module_states_sql() -> str:
    return (
        "SELECT name, state, latest_version FROM ir_module_module"
        " WHERE state IN ('uninstallable', 'to install', 'to upgrade', 'to remove')"
        " ORDER BY name"
    )


def broken_menu_actions_sql(action_tables: dict[str, str]) -> str:
    """Menus whose action reference names no existing row of its action table.

    The rows of every action table are gathered once and the menus anti-joined
    against them (a hash anti-join: one pass over each table, whatever the
    number of menus).
    """
    acts = " UNION ALL ".join(
        f"SELECT {quote_literal(model)} AS amodel, a.id FROM {quote_ident(table)} a"
        for model, table in sorted(action_tables.items())
    ) or "SELECT NULL::varchar AS amodel, NULL::int AS id WHERE false"
    return (
        "WITH r AS (SELECT m.id, m.action, m.active, split_part(m.action, ',', 1) AS amodel,"
        f" CASE WHEN split_part(m.action, ',', 2) ~ {_ID_RE}"
        " THEN split_part(m.action, ',', 2)::int END AS aid"
        " FROM ir_ui_menu m WHERE m.action IS NOT NULL AND m.action <> ''),"
        f" acts AS ({acts})"
        " SELECT r.id, r.action, r.active, r.amodel, r.aid FROM r"
        " WHERE r.aid IS NULL OR NOT EXISTS"
        " (SELECT 1 FROM acts a WHERE a.amodel = r.amodel AND a.id = r.aid)"
        " ORDER BY r.id"
    )


def missing_parent_sql() -> str:
    return (
        "SELECT m.id, m.parent_id, m.active FROM ir_ui_menu m"
        " WHERE m.parent_id IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM ir_ui_menu p WHERE p.id = m.parent_id) ORDER BY m.id"
    )


def window_model_sql() -> str:
    return (
        "SELECT a.id, a.res_model FROM ir_act_window a"
        " WHERE NOT EXISTS (SELECT 1 FROM ir_model m WHERE m.model = a.res_model)"
        " ORDER BY a.id"
    )


def xmlid_models_sql() -> str:
    return (
        "SELECT d.model, (m.id IS NOT NULL) FROM (SELECT DISTINCT model FROM ir_model_data) d"
        " LEFT JOIN ir_model m ON m.model = d.model ORDER BY d.model"
    )


def orphan_xmlids_sql(model_tables: dict[str, str], sample: int = 5) -> str | None:
    """External ids whose record is gone, grouped by module and model."""
    if not model_tables:
        return None
    branches = [
        "SELECT d.id, d.module, d.name, d.model, d.res_id FROM ir_model_data d"
        f" WHERE d.model = {quote_literal(model)} AND d.res_id IS NOT NULL AND NOT EXISTS"
        f" (SELECT 1 FROM {quote_ident(table)} t WHERE t.id = d.res_id)"
        for model, table in sorted(model_tables.items())
    ]
    return (
        "SELECT o.module, o.model, count(*),"
        f" (array_agg(o.module || '.' || o.name ORDER BY o.id))[1:{int(sample)}]"
        " FROM (" + " UNION ALL ".join(branches) + ") o"
        " GROUP BY o.module, o.model ORDER BY o.module, o.model"
    )


def gone_model_xmlids_sql(models: Iterable[str], sample: int = 5) -> str | None:
    names = sorted(models)
    if not names:
        return None
    listed = ", ".join(quote_literal(m) for m in names)
    return (
        "SELECT d.module, d.model, count(*),"
        f" (array_agg(d.module || '.' || d.name ORDER BY d.id))[1:{int(sample)}]"
        f" FROM ir_model_data d WHERE d.model IN ({listed})"
        " GROUP BY d.module, d.model ORDER BY d.module, d.model"
    )


def tables_with_id_sql() -> str:
    return (
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'id' AND NOT a.attisdropped"
        " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v', 'm', 'p', 'f')"
        " AND c.relname = ANY(%s)"
    )


# -- helpers --------------------------------------------------------------------------------


def menu_paths(s: Session, ids: Iterable[int], log: list[str] | None = None) -> dict[int, str]:
    """``{menu id: "Root / Child / Menu"}`` for ``ids`` (missing parents shown as ``?``)."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    name = s.schema.text("ir_ui_menu", "name", "m")
    rows = run(s.cur, f"SELECT m.id, m.parent_path, {name} FROM ir_ui_menu m"
               " WHERE m.id = ANY(%s)", (wanted,), log=log)  # fmt: skip
    paths: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for mid, parent_path, mname in rows:
        names[mid] = mname or f"#{mid}"
        chain = [int(p) for p in str(parent_path or "").split("/") if p.isdigit()]
        paths[mid] = chain or [mid]
    ancestors = sorted({p for chain in paths.values() for p in chain} - set(names))
    if ancestors:
        for mid, mname in run(s.cur, f"SELECT m.id, {name} FROM ir_ui_menu m"
                              " WHERE m.id = ANY(%s)", (ancestors,), log=log):  # fmt: skip
            names[mid] = mname or f"#{mid}"
    return {
        mid: " / ".join(names.get(p, "?") for p in chain) for mid, chain in paths.items()
    }


def owners(s: Session, model: str, ids: Iterable[int],
           log: list[str] | None = None) -> dict[int, str]:
    """``{res_id: "module.name"}`` external ids of records of ``model``."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    out: dict[int, str] = {}
    for res_id, module, name in run(
        s.cur, "SELECT res_id, module, name FROM ir_model_data WHERE model = %s"
        " AND res_id = ANY(%s) ORDER BY id", (model, wanted), log=log,
    ):  # fmt: skip
        out.setdefault(int(res_id), f"{module}.{name}")
    return out


def menus_for_actions(s: Session, refs: Iterable[str],
                      log: list[str] | None = None) -> dict[str, list[tuple[int, bool]]]:
    """``{"ir.actions.client,12": [(menu id, active), ...]}``."""
    wanted = sorted(set(refs))
    if not wanted:
        return {}
    out: dict[str, list[tuple[int, bool]]] = {}
    for mid, action, active in run(
        s.cur, "SELECT id, action, active FROM ir_ui_menu WHERE action = ANY(%s) ORDER BY id",
        (wanted,), log=log,
    ):  # fmt: skip
        out.setdefault(action, []).append((int(mid), bool(active)))
    return out


def _update_cmd(opts: BrokenOptions, db: str | None, module: str) -> str:
    return f"{opts.odoo_command} -d {db or 'DB'} -u {module} --stop-after-init"


# -- the audit ----------------------------------------------------------------------------


def audit_broken(
    db: Database, scan: AddonsScan | None = None, *, series: str | None = None,
    options: BrokenOptions | None = None,
) -> AuditReport:
    """Run every check of ``audit broken`` in one read-only transaction."""
    opts = options or BrokenOptions()
    with audit_session(db, series=series) as s:
        report = AuditReport("broken", s.database, s.schema.version, s.series)
        check_module_states(s, report, opts)
        if s.schema.has("ir_ui_menu"):
            check_menu_actions(s, report, opts)
            check_menu_parents(s, report, opts)
        if s.schema.has("ir_act_window") and s.schema.has("ir_model"):
            check_window_models(s, report, opts)
        if s.schema.has("ir_model_data"):
            check_xmlids(s, report, opts)
        if s.schema.has("ir_act_client"):
            check_client_tags(s, report, opts, scan)
    return report


def check_module_states(s: Session, report: AuditReport, opts: BrokenOptions) -> None:
    never_installed: list[str] = []
    for name, state, latest in stream(s.cur, module_states_sql(), log=report.queries):
        if state == "uninstallable":
            if not latest:
                never_installed.append(name)
                continue
            report.add(Finding(
                "module-uninstallable", WARNING, f"module {name}",
                f"{name} was installed ({latest}) and is now 'uninstallable': its code says "
                "installable False, or is missing",
                "Odoo no longer loads it: its menus, views and models stay in the database "
                "without code behind them",
                f"restore an installable version of {name} on the addons path and update it, "
                "or uninstall it",
                None, _update_cmd(opts, s.database, name),
                {"name": name, "state": state, "latest_version": latest},
            ))  # fmt: skip
            continue
        target = {"to install": "uninstalled", "to upgrade": "installed",
                  "to remove": "installed"}[state]  # fmt: skip
        flag = {"to install": "-i", "to upgrade": "-u", "to remove": "-u"}[state]
        report.add(Finding(
            "module-pending", ERROR, f"module {name}",
            f"{name} is stuck in '{state}'",
            "Odoo's scheduler skips this database while a module is 'to install/upgrade/"
            "remove' (no scheduled action runs), and the next start with -u/-i applies it",
            f"finish the operation ({flag} {name}) or cancel it (set the state back to "
            f"'{target}')",
            f"UPDATE ir_module_module SET state = '{target}' WHERE name = "
            f"{quote_literal(name)} AND state = '{state}';",
            f"{opts.odoo_command} -d {s.database or 'DB'} {flag} {name} --stop-after-init",
            {"name": name, "state": state, "latest_version": latest},
        ))  # fmt: skip
    report.counts["modules_pending_or_uninstallable"] = len(
        [f for f in report.findings if f.kind in ("module-pending", "module-uninstallable")]
    )
    if never_installed:
        report.notes.append(
            f"{len(never_installed)} module(s) are 'uninstallable' and were never installed "
            "(harmless: Odoo lists code it cannot install): "
            + ", ".join(never_installed[:10]) + (" ..." if len(never_installed) > 10 else "")
        )


def _action_tables(s: Session) -> dict[str, str]:
    return {m: t for m, t in ACTION_TABLES.items() if s.schema.has(t)}


def check_menu_actions(s: Session, report: AuditReport, opts: BrokenOptions) -> None:
    rows = list(stream(s.cur, broken_menu_actions_sql(_action_tables(s)), log=report.queries))
    report.counts["menus_missing_action"] = len(rows)
    if not rows:
        return
    paths = menu_paths(s, [r[0] for r in rows], report.queries)
    owner = owners(s, "ir.ui.menu", [r[0] for r in rows], report.queries)
    for mid, action, active, amodel, aid in rows:
        table = ACTION_TABLES.get(amodel)
        if aid is None or table is None:
            problem = f"its action reference {action!r} is not a known action model and id"
        else:
            problem = f"its action {action} does not exist (no row {aid} in {table})"
        xmlid = owner.get(mid)
        module = xmlid.split(".", 1)[0] if xmlid else None
        fix = (f"update {module}, which defines this menu ({xmlid}), to recreate its action; "
               "or hide the menu" if module else "hide (or delete) the menu")
        report.add(Finding(
            "menu-missing-action", ERROR if active else WARNING,
            f"menu {mid} \"{paths.get(mid, '?')}\"",
            f"menu {mid} leads nowhere: {problem}",
            "clicking the menu shows an error ('The action ... does not exist' / "
            "'Record does not exist or has been deleted') instead of a screen",
            fix,
            f"UPDATE ir_ui_menu SET active = false WHERE id = {mid};",
            _update_cmd(opts, s.database, module) if module else None,
            {"menu_id": mid, "action": action, "active": bool(active), "xmlid": xmlid},
        ))  # fmt: skip


def check_menu_parents(s: Session, report: AuditReport, opts: BrokenOptions) -> None:
    rows = list(stream(s.cur, missing_parent_sql(), log=report.queries))
    report.counts["menus_missing_parent"] = len(rows)
    if not rows:
        return
    paths = menu_paths(s, [r[0] for r in rows], report.queries)
    owner = owners(s, "ir.ui.menu", [r[0] for r in rows], report.queries)
    for mid, parent_id, active in rows:
        xmlid = owner.get(mid)
        module = xmlid.split(".", 1)[0] if xmlid else None
        report.add(Finding(
            "menu-missing-parent", ERROR if active else WARNING,
            f"menu {mid} \"{paths.get(mid, '?')}\"",
            f"menu {mid}'s parent menu {parent_id} does not exist",
            "the menu and its sub-menus cannot be reached; reading the menu tree can fail "
            "with 'Record does not exist or has been deleted'",
            (f"update {module} ({xmlid}) to restore the parent, or hide the menu" if module
             else "hide the menu, or attach it to an existing parent"),
            f"UPDATE ir_ui_menu SET active = false WHERE id = {mid};",
            _update_cmd(opts, s.database, module) if module else None,
            {"menu_id": mid, "parent_id": parent_id, "active": bool(active), "xmlid": xmlid},
        ))  # fmt: skip


def check_window_models(s: Session, report: AuditReport, opts: BrokenOptions) -> None:
    rows = list(stream(s.cur, window_model_sql(), log=report.queries))
    report.counts["window_actions_missing_model"] = len(rows)
    if not rows:
        return
    ids = [r[0] for r in rows]
    owner = owners(s, "ir.actions.act_window", ids, report.queries)
    menus = menus_for_actions(s, [f"ir.actions.act_window,{i}" for i in ids], report.queries)
    paths = menu_paths(s, [m for ms in menus.values() for m, _ in ms], report.queries)
    name = s.schema.text("ir_act_window", "name", "a")
    names = dict(run(s.cur, f"SELECT a.id, {name} FROM ir_act_window a WHERE a.id = ANY(%s)",
                     (ids,), log=report.queries))  # fmt: skip
    for aid, res_model in rows:
        ref = f"ir.actions.act_window,{aid}"
        leading = menus.get(ref, [])
        xmlid = owner.get(aid)
        module = xmlid.split(".", 1)[0] if xmlid else None
        listed = ", ".join(f"{m} \"{paths.get(m, '?')}\"" for m, _ in leading)
        menu_text = f"; menus leading to it: {listed}" if leading else ""
        active = any(a for _, a in leading)
        report.add(Finding(
            "window-action-missing-model", ERROR if active or not leading else WARNING,
            f"window action {aid} \"{names.get(aid) or '?'}\"",
            f"window action {aid} opens model {res_model!r}, which is not in ir_model{menu_text}",
            "opening it fails: the web client cannot load views of a model the server "
            "does not have",
            (f"install or update the module providing {res_model!r} ({module} defines the "
             "action), or delete the action and hide its menus" if module else
             f"install the module providing {res_model!r}, or delete the action and hide "
             "its menus"),
            f"UPDATE ir_ui_menu SET active = false WHERE action = '{ref}'; "
            f"DELETE FROM ir_act_window WHERE id = {aid}; "
            f"DELETE FROM ir_model_data WHERE model = 'ir.actions.act_window' AND res_id = {aid};",
            _update_cmd(opts, s.database, module) if module else None,
            {"action_id": aid, "res_model": res_model, "xmlid": xmlid,
             "menus": [m for m, _ in leading]},
        ))  # fmt: skip


def check_xmlids(s: Session, report: AuditReport, opts: BrokenOptions) -> None:
    models: dict[str, bool] = {
        str(m): bool(known) for m, known in stream(s.cur, xmlid_models_sql(), log=report.queries)
    }
    candidates = {m: default_table(m) for m in models}
    have_id = {
        str(r[0]) for r in run(s.cur, tables_with_id_sql(),
                               (sorted(set(candidates.values())),), log=report.queries)
    }  # fmt: skip
    checkable = {m: t for m, t in candidates.items() if t in have_id}
    gone = sorted(m for m, known in models.items() if not known and m not in checkable)
    tableless = sorted(m for m, known in models.items() if known and m not in checkable)
    if tableless:
        report.notes.append(
            f"external ids of {len(tableless)} model(s) without a table were not checked "
            "(abstract models, or a _table odoo-ops does not know; ir_model has no table "
            "column, so the table is derived by Odoo's _table rule): "
            + ", ".join(tableless[:10]) + (" ..." if len(tableless) > 10 else "")
        )
    orphans = 0
    query = orphan_xmlids_sql(checkable, opts.sample_size)
    if query:
        for module, model, count, sample in stream(s.cur, query, log=report.queries):
            orphans += int(count)
            table = checkable[model]
            report.add(Finding(
                "xmlid-record-missing", WARNING, f"{count} external id(s) of {module} ({model})",
                f"{count} ir_model_data row(s) of module {module} point to {model} records "
                f"that no longer exist in {table}: {', '.join(sample)}"
                + (" ..." if count > len(sample) else ""),
                "code and data files that use these ids (env.ref, ref=\"...\") fail with "
                "'External ID not found' or 'Record does not exist or has been deleted'",
                f"update {module} to recreate the records, or delete the dangling ids",
                f"DELETE FROM ir_model_data d WHERE d.module = {quote_literal(module)} AND "
                f"d.model = {quote_literal(model)} AND d.res_id IS NOT NULL AND NOT EXISTS "
                f"(SELECT 1 FROM {quote_ident(table)} t WHERE t.id = d.res_id);",
                _update_cmd(opts, s.database, module),
                {"module": module, "model": model, "table": table, "count": int(count),
                 "sample": list(sample)},
            ))  # fmt: skip
    query = gone_model_xmlids_sql(gone, opts.sample_size)
    if query:
        for module, model, count, sample in stream(s.cur, query, log=report.queries):
            orphans += int(count)
            report.add(Finding(
                "xmlid-model-missing", WARNING, f"{count} external id(s) of {module} ({model})",
                f"{count} ir_model_data row(s) of module {module} belong to model {model}, "
                f"which is neither in ir_model nor has a table: {', '.join(sample)}"
                + (" ..." if count > len(sample) else ""),
                "leftovers of an uninstalled module: updating or uninstalling modules that "
                "reference them fails",
                f"delete the leftover ids of {model} (or reinstall the module that provides it)",
                f"DELETE FROM ir_model_data WHERE module = {quote_literal(module)} AND "
                f"model = {quote_literal(model)};",
                None,
                {"module": module, "model": model, "count": int(count), "sample": list(sample)},
            ))  # fmt: skip
    report.counts["xmlids_dangling"] = orphans
    report.counts["xmlid_models_checked"] = len(checkable)


def check_client_tags(
    s: Session, report: AuditReport, opts: BrokenOptions, scan: AddonsScan | None
) -> None:
    name = s.schema.text("ir_act_client", "name", "a")
    actions = run(s.cur, f"SELECT a.id, a.tag, {name} FROM ir_act_client a ORDER BY a.id",
                  log=report.queries)  # fmt: skip
    report.counts["client_actions"] = len(actions)
    if not actions:
        return
    if scan is None or not scan.addons:
        report.notes.append(
            f"{len(actions)} client action tag(s) not checked: no addons on the addons path "
            "to read JavaScript from"
        )
        return
    installed = {
        str(r[0]) for r in run(s.cur, "SELECT name FROM ir_module_module WHERE state IN"
                               " ('installed', 'to upgrade', 'to remove')", log=report.queries)
    }  # fmt: skip
    registered = scan_tags((n, Path(a.path)) for n, a in sorted(scan.addons.items()))
    builtin = web_client_tags(s.series)
    core_on_path = "web" in scan.addons
    core: frozenset[str] = frozenset()
    if s.series:
        try:
            from odoo_ops.addons import core_addons

            core = core_addons(s.series)
        except Exception:
            core = frozenset()
    owner = owners(s, "ir.actions.client", [a[0] for a in actions], report.queries)
    missing: list[tuple[int, str, str | None, str | None, list[str]]] = []
    unverified: list[str] = []
    for aid, tag, aname in actions:
        if tag in builtin:
            continue
        registrars = registered.get(tag, set())
        if registrars & installed:
            continue
        xmlid = owner.get(aid)
        module = xmlid.split(".", 1)[0] if xmlid else None
        if not registrars and not core_on_path and module in core:
            unverified.append(tag)
            continue
        missing.append((aid, tag, aname, xmlid, sorted(registrars)))
    report.counts["client_actions_unregistered"] = len(missing)
    if unverified:
        report.notes.append(
            f"{len(unverified)} client action tag(s) of Odoo core modules not checked: "
            "Odoo's own addons are not on the scanned addons path ("
            + ", ".join(sorted(set(unverified))[:10]) + ")"
        )
    if not missing:
        return
    menus = menus_for_actions(s, [f"ir.actions.client,{m[0]}" for m in missing], report.queries)
    paths = menu_paths(s, [m for ms in menus.values() for m, _ in ms], report.queries)
    for aid, tag, aname, xmlid, by in missing:
        leading = menus.get(f"ir.actions.client,{aid}", [])
        module = xmlid.split(".", 1)[0] if xmlid else None
        menu_names = [f"{m} \"{paths.get(m, '?')}\"" for m, _ in leading]
        command: str | None
        if by:
            problem = (f"tag {tag!r} is registered only by {', '.join(by)}, which is not "
                       "installed")
            fix = f"install {by[0]}, or delete the action and hide its menus"
            command = f"{opts.odoo_command} -d {s.database or 'DB'} -i {by[0]} --stop-after-init"
        else:
            problem = f"no addon on the addons path registers tag {tag!r}"
            fix = ("put the addon that registers it back on the addons path and update "
                   f"{module}" if module else
                   "put the addon that registers it on the addons path, or delete the action "
                   "and hide its menus")
            command = _update_cmd(opts, s.database, module) if module else None
        active = any(a for _, a in leading)
        report.add(Finding(
            "client-action-unregistered", ERROR if active or not leading else WARNING,
            f"client action {aid} \"{aname or '?'}\" (tag {tag})",
            f"{problem}; menus leading to it: {', '.join(menu_names) or 'none'}",
            "opening it raises KeyNotFoundError in the web client"
            + (f" (menus: {', '.join(menu_names)})" if menu_names else ""),
            fix,
            f"UPDATE ir_ui_menu SET active = false WHERE action = 'ir.actions.client,{aid}'; "
            f"DELETE FROM ir_act_client WHERE id = {aid}; DELETE FROM ir_model_data WHERE "
            f"model = 'ir.actions.client' AND res_id = {aid};",
            command,
            {"action_id": aid, "tag": tag, "xmlid": xmlid, "registered_by": by,
             "menus": [m for m, _ in leading]},
        ))  # fmt: skip
