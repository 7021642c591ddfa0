"""``verify``: gate a deployment on what must be in its database.

The gates come from ``odoo-ops.toml``: ``[verify] modules/sets`` (required
modules and module sets, installed), ``[thresholds] min_installed_modules,
min_categories, min_oca_modules, min_menus``, plus three built-in gates: no
broken modules, no pending upgrades, no client action without a handler.

Critical gates (a failure means the deployment is not what it should be):
required modules and sets, no broken modules, min_installed_modules.
Non-critical: the other thresholds, pending upgrades, client actions without
handler.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from odoo_ops.audit.base import audit_session
from odoo_ops.audit.broken import audit_broken
from odoo_ops.audit.drift import audit_drift
from odoo_ops.audit.findings import run
from odoo_ops.audit.modules import _origin

if TYPE_CHECKING:
    from odoo_ops.adapters.database import Database
    from odoo_ops.addons import AddonsScan
    from odoo_ops.config.schema import Config


@dataclass
class Gate:
    id: str
    title: str
    critical: bool
    passed: bool
    expected: str
    actual: str
    details: list[str] = field(default_factory=list)


@dataclass
class VerifyResult:
    database: str | None
    series: str | None
    gates: list[Gate] = field(default_factory=list)

    @property
    def critical_failures(self) -> list[Gate]:
        return [g for g in self.gates if g.critical and not g.passed]

    @property
    def other_failures(self) -> list[Gate]:
        return [g for g in self.gates if not g.critical and not g.passed]

    def exit_code(self, strict: bool = False) -> int:
        if self.critical_failures:
            return 1
        if strict and self.other_failures:
            return 2
        return 0


def _min_gate(gid: str, title: str, critical: bool, minimum: int | None, actual: int) -> Gate:
    if minimum is None:
        return Gate(gid, title, critical, True, "not set", str(actual))
    return Gate(gid, title, critical, actual >= minimum, f">= {minimum}", str(actual))


def verify(db: Database, config: Config, scan: AddonsScan | None, *,
           series: str | None = None) -> VerifyResult:
    """Evaluate every gate; never raises for a failed gate."""
    with audit_session(db, series=series) as s:
        result = VerifyResult(s.database, s.series)
        installed: dict[str, tuple[Any, Any]] = {
            str(n): (a, w) for n, a, w in run(
                s.cur, "SELECT name, author, website FROM ir_module_module"
                " WHERE state IN ('installed', 'to upgrade')")
        }  # fmt: skip
        (categories,) = run(s.cur, "SELECT count(DISTINCT category_id) FROM ir_module_module"
                            " WHERE state IN ('installed', 'to upgrade')"
                            " AND category_id IS NOT NULL")[0]  # fmt: skip
        (menus,) = run(s.cur, "SELECT count(*) FROM ir_ui_menu WHERE active")[0]
        series_ = s.series

    v = config.verify
    wanted: list[tuple[str, list[str]]] = []
    if v.modules:
        wanted.append(("required modules", list(v.modules)))
    for set_name in v.sets:
        module_set = config.module_sets.get(set_name)
        wanted.append((f"module set {set_name}", list(module_set.modules if module_set else [])))
    for title, names in wanted:
        missing = [n for n in names if n not in installed]
        gid = "modules" if title == "required modules" else "set:" + title.split()[-1]
        result.gates.append(Gate(gid, f"{title} installed", True, not missing,
                                 f"{len(names)} installed", f"{len(names) - len(missing)}",
                                 [f"not installed: {n}" for n in missing]))  # fmt: skip

    drift = audit_drift(db, scan, series=series)
    broken = audit_broken(db, scan, series=series)
    bad = [f for f in drift.report.findings if f.kind in ("module-pending", "module-downgrade")]
    bad += [f for f in broken.findings if f.kind == "module-uninstallable"]
    if scan is not None and scan.addons:
        for row in drift.rows:
            if row.status == "no-code" and (
                "base" in scan.addons or _origin(row.name, None, None, series_) != "core"
            ):
                bad.append(_no_code(row.name))
    result.gates.append(Gate(
        "no-broken-modules", "no broken modules", True, not bad, "0", str(len(bad)),
        [f.problem for f in bad],
    ))  # fmt: skip
    pending = [f for f in drift.report.findings if f.kind == "module-needs-update"]
    result.gates.append(Gate(
        "no-pending-upgrades", "no pending upgrades (code newer than the database)", False,
        not pending, "0", str(len(pending)) if scan else "unknown (no addons path)",
        [f.problem for f in pending],
    ))  # fmt: skip
    tags = [f for f in broken.findings if f.kind == "client-action-unregistered"]
    result.gates.append(Gate(
        "client-actions", "no client action without a handler", False, not tags, "0",
        str(len(tags)), [f"{f.subject}: {f.problem}" for f in tags],
    ))  # fmt: skip

    t = config.thresholds
    oca = sum(
        1 for name, (author, website) in installed.items()
        if _origin_with_scan(name, author, website, series_, scan) == "oca"
    )
    result.gates.append(_min_gate("min-installed-modules", "installed modules", True,
                                  t.min_installed_modules, len(installed)))
    result.gates.append(_min_gate("min-categories", "distinct categories of installed modules",
                                  False, t.min_categories, int(categories)))
    result.gates.append(_min_gate("min-oca-modules", "installed OCA modules", False,
                                  t.min_oca_modules, oca))
    result.gates.append(_min_gate("min-menus", "active menus", False, t.min_menus, int(menus)))
    return result


def _origin_with_scan(name: str, author: Any, website: Any, series: str | None,
                      scan: AddonsScan | None) -> str:
    addon = scan.addons.get(name) if scan is not None else None
    if addon is not None:
        return _origin(name, addon.author or author, addon.website or website, series)
    return _origin(name, author, website, series)


def _no_code(name: str) -> Any:
    from odoo_ops.audit.findings import ERROR, Finding

    return Finding("module-code-missing", ERROR, f"module {name}",
                   f"{name} is installed but has no code on the addons path", "", "")


def to_markdown(result: VerifyResult, strict: bool = False) -> str:
    code = result.exit_code(strict)
    verdict = {0: "PASS", 1: "FAIL (critical)", 2: "FAIL (non-critical, --strict)"}[code]
    lines = [
        f"# odoo-ops verify: {result.database or '?'}",
        "",
        f"- Odoo series: {result.series or '?'}",
        f"- result: **{verdict}**",
        f"- critical failures: {len(result.critical_failures)}; "
        f"other failures: {len(result.other_failures)}",
        "",
        "| gate | critical | result | expected | actual |",
        "|---|---|---|---|---|",
    ]
    for g in result.gates:
        lines.append(f"| {g.title} | {'yes' if g.critical else 'no'} | "
                     f"{'pass' if g.passed else 'FAIL'} | {g.expected} | {g.actual} |")
    failed = [g for g in result.gates if not g.passed and g.details]
    if failed:
        lines += ["", "## Details", ""]
        for g in failed:
            lines.append(f"### {g.title}")
            lines.append("")
            lines.extend(f"- {d}".replace("\n", " ") for d in g.details)
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"
