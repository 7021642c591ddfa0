"""``audit modules``: the modules on disk against the modules in the database.

One row per module known to either side, with a verdict:

- ``ok`` -- code on disk and known to the database;
- ``db-only`` -- in the database, no code on the addons path (critical when
  the module is installed: Odoo cannot load it);
- ``fs-only`` -- code on disk, unknown to the database (update the apps list);
- ``shadowed`` -- two copies on the addons path (Odoo uses the first);
- ``invalid`` -- code on disk whose manifest cannot be read;
- ``core`` -- an Odoo core module while Odoo's own addons are not on the
  scanned path (their code lives in the Odoo installation or image).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from odoo_ops.audit.base import audit_session
from odoo_ops.audit.findings import ERROR, WARNING, AuditReport, Finding, stream

if TYPE_CHECKING:
    from odoo_ops.adapters.database import Database
    from odoo_ops.addons import AddonsScan

INSTALLED_STATES = frozenset({"installed", "to upgrade", "to remove"})

VERDICTS = ("ok", "db-only", "fs-only", "shadowed", "invalid", "core")


@dataclass
class ModuleRow:
    name: str
    disk_version: str | None
    db_version: str | None
    state: str | None
    path: str | None
    author: str | None
    license: str | None
    origin: str
    verdict: str
    critical: bool = False
    shadowed_paths: list[str] = field(default_factory=list)


@dataclass
class ModulesAudit:
    report: AuditReport
    rows: list[ModuleRow] = field(default_factory=list)


@functools.cache
def _core(series: str | None) -> frozenset[str]:
    from odoo_ops.addons import core_addons

    if not series:
        return frozenset()
    try:
        return core_addons(series)
    except Exception:
        return frozenset()


def _origin(name: str, author: str | None, website: str | None, series: str | None) -> str:
    from odoo_ops.addons.core import OCA_AUTHOR, OCA_WEBSITES

    if name in _core(series):
        return "core"
    if author and OCA_AUTHOR.lower() in author.lower():
        return "oca"
    if website and any(website.strip().lower().startswith(p) for p in OCA_WEBSITES):
        return "oca"
    return "custom"


def modules_sql() -> str:
    return (
        "SELECT name, state, latest_version, author, license, website"
        " FROM ir_module_module ORDER BY name"
    )


def audit_modules(
    db: Database, scan: AddonsScan | None, *, series: str | None = None,
    odoo_command: str = "odoo",
) -> ModulesAudit:
    """Compare the addons of ``scan`` with ``ir_module_module``."""
    from odoo_ops.addons import normalize_version

    scan_addons = scan.addons if scan is not None else {}
    invalid = {i.name: i for i in scan.invalid} if scan is not None else {}
    shadowed: dict[str, list[str]] = {}
    for sh in scan.shadowed if scan is not None else []:
        shadowed.setdefault(sh.name, []).append(str(sh.shadowed_path))
    core_on_path = "base" in scan_addons
    with audit_session(db, series=series) as s:
        report = AuditReport("modules", s.database, s.schema.version, s.series)
        result = ModulesAudit(report)
        seen: set[str] = set()
        for name, state, latest, author, license_, website in stream(
            s.cur, modules_sql(), log=report.queries
        ):
            seen.add(name)
            addon = scan_addons.get(name)
            installed = state in INSTALLED_STATES
            if addon is not None:
                origin = _origin(name, addon.author or author, addon.website or website, s.series)
                disk = normalize_version(addon.version, s.series) if s.series else addon.version
                verdict = "shadowed" if name in shadowed else "ok"
                row = ModuleRow(name, disk, latest, state, str(addon.path),
                                addon.author or author, addon.license or license_, origin,
                                verdict, False, shadowed.get(name, []))  # fmt: skip
            elif name in invalid:
                origin = _origin(name, author, website, s.series)
                row = ModuleRow(name, None, latest, state, str(invalid[name].path), author,
                                license_, origin, "invalid", installed)  # fmt: skip
            else:
                origin = _origin(name, author, website, s.series)
                verdict = "core" if origin == "core" and not core_on_path else "db-only"
                row = ModuleRow(name, None, latest, state, None, author, license_, origin,
                                verdict, verdict == "db-only" and installed)  # fmt: skip
            result.rows.append(row)
            _finding(report, row, odoo_command, s.database)
        for name in sorted(set(scan_addons) - seen):
            addon = scan_addons[name]
            disk = normalize_version(addon.version, s.series) if s.series else addon.version
            row = ModuleRow(name, disk, None, None, str(addon.path), addon.author,
                            addon.license, _origin(name, addon.author, addon.website, s.series),
                            "fs-only", False, shadowed.get(name, []))  # fmt: skip
            result.rows.append(row)
            _finding(report, row, odoo_command, s.database)
    result.rows.sort(key=lambda r: r.name)
    counts: dict[str, int] = {}
    for r in result.rows:
        counts[r.verdict] = counts.get(r.verdict, 0) + 1
    report.counts = counts
    if scan is None or not scan.addons:
        report.notes.append(
            "no addons found on the addons path: every module is compared with nothing on disk"
        )
    elif not core_on_path:
        report.notes.append(
            "Odoo's own addons (base, web...) are not on the scanned addons path: "
            "core modules are listed with verdict 'core', not checked against code"
        )
    return result


def _finding(report: AuditReport, row: ModuleRow, odoo: str, dbname: str | None) -> None:
    db = dbname or "DB"
    if row.verdict == "db-only" and row.critical:
        report.add(Finding(
            "module-code-missing", ERROR, f"module {row.name}",
            f"{row.name} is {row.state} in the database but has no code on the addons path",
            "Odoo cannot load it: its models, views and menus fail, and every "
            "`-u` of a module depending on it stops",
            f"put {row.name} back on the addons path, or uninstall it",
            None,
            f"echo \"env['ir.module.module'].search([('name', '=', '{row.name}')])"
            f".button_immediate_uninstall()\" | {odoo} shell -d {db} --no-http",
            {"name": row.name, "state": row.state, "latest_version": row.db_version},
        ))  # fmt: skip
    elif row.verdict == "invalid" and row.critical:
        report.add(Finding(
            "module-manifest-invalid", ERROR, f"module {row.name}",
            f"{row.name} is {row.state} but its manifest at {row.path} cannot be read",
            "Odoo skips the addon at start: its features disappear",
            f"fix {Path(row.path or '.') / '__manifest__.py'} (see `odoo-ops addons check`)",
            None, None, {"name": row.name, "path": row.path},
        ))  # fmt: skip
    elif row.verdict == "fs-only":
        report.add(Finding(
            "module-not-in-database", WARNING, f"module {row.name}",
            f"{row.name} is on the addons path ({row.path}) but the database does not know it",
            "it does not appear in Apps and cannot be installed until the apps list is updated",
            "update the apps list (Apps > Update Apps List), or run `-u base`",
            None, f"{odoo} -d {db} -u base --stop-after-init",
            {"name": row.name, "path": row.path},
        ))  # fmt: skip
    elif row.verdict == "shadowed":
        report.add(Finding(
            "module-shadowed", WARNING, f"module {row.name}",
            f"{row.name} exists more than once on the addons path; Odoo uses {row.path} "
            f"and ignores {', '.join(row.shadowed_paths)}",
            "changes made to the ignored copy have no effect; which copy runs depends "
            "on the order of addons_path",
            "remove the copy you do not want, or reorder addons_path",
            None, None, {"name": row.name, "path": row.path, "shadowed": row.shadowed_paths},
        ))  # fmt: skip
