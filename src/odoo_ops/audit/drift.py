"""``audit drift``: versions of the code on disk against the database (the "Upgrade" badge).

Both sides are normalised to the series before comparing (``1.0`` on disk in an
18.0 deployment is ``18.0.1.0``, as Odoo stores it). Reported:

- code newer than the database: the module needs ``-u`` (new code runs on old
  data until then; Apps shows "Upgrade");
- code older than the database: a downgrade (dangerous: the data was migrated
  by a newer version);
- modules stuck in ``to upgrade``/``to install``/``to remove``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from odoo_ops.audit.base import audit_session
from odoo_ops.audit.findings import ERROR, WARNING, AuditReport, Finding, stream
from odoo_ops.audit.odoo_schema import quote_literal

if TYPE_CHECKING:
    from odoo_ops.adapters.database import Database
    from odoo_ops.addons import AddonsScan


@dataclass
class DriftRow:
    name: str
    state: str
    db_version: str | None
    disk_version: str | None
    status: str  # same | needs-update | downgrade | pending | no-code


@dataclass
class DriftAudit:
    report: AuditReport
    rows: list[DriftRow] = field(default_factory=list)


def _key(parts: tuple[int, ...]) -> tuple[int, ...]:
    """Trailing zeros do not count, as in Odoo's parse_version: 18.0.1.0 == 18.0.1.0.0."""
    out = list(parts)
    while out and out[-1] == 0:
        out.pop()
    return tuple(out)


def drift_sql() -> str:
    return (
        "SELECT name, state, latest_version FROM ir_module_module"
        " WHERE state IN ('installed', 'to upgrade', 'to install', 'to remove') ORDER BY name"
    )


def audit_drift(
    db: Database, scan: AddonsScan | None, *, series: str | None = None,
    odoo_command: str = "odoo",
) -> DriftAudit:
    from odoo_ops.addons import normalize_version, parse_version

    addons = scan.addons if scan is not None else {}
    with audit_session(db, series=series) as s:
        report = AuditReport("drift", s.database, s.schema.version, s.series)
        result = DriftAudit(report)
        dbname = s.database or "DB"
        for name, state, latest in stream(s.cur, drift_sql(), log=report.queries):
            addon = addons.get(name)
            disk = None
            if addon is not None:
                disk = normalize_version(addon.version, s.series) if s.series else addon.version
            status = "no-code" if addon is None else "same"
            if state in ("to upgrade", "to install", "to remove"):
                status = "pending"
                flag = "-i" if state == "to install" else "-u"
                back = "uninstalled" if state == "to install" else "installed"
                report.add(Finding(
                    "module-pending", ERROR, f"module {name}", f"{name} is stuck in '{state}'",
                    "Odoo's scheduler skips the database while any module is pending, and "
                    "the next start with -u/-i applies it",
                    f"finish it ({flag} {name}) or cancel it",
                    f"UPDATE ir_module_module SET state = '{back}' WHERE name = "
                    f"{quote_literal(name)} AND state = '{state}';",
                    f"{odoo_command} -d {dbname} {flag} {name} --stop-after-init",
                    {"name": name, "state": state, "db_version": latest, "disk_version": disk},
                ))  # fmt: skip
            elif addon is not None and latest:
                on_disk, in_db = _key(parse_version(disk)), _key(parse_version(latest))
                if on_disk > in_db:
                    status = "needs-update"
                    report.add(Finding(
                        "module-needs-update", WARNING, f"module {name}",
                        f"{name} is {disk} on disk but {latest} in the database",
                        "the new code runs on data not migrated yet (its migration scripts and "
                        "data files have not run); Apps shows 'Upgrade'",
                        f"update {name}", None,
                        f"{odoo_command} -d {dbname} -u {name} --stop-after-init",
                        {"name": name, "db_version": latest, "disk_version": disk},
                    ))  # fmt: skip
                elif on_disk < in_db:
                    status = "downgrade"
                    report.add(Finding(
                        "module-downgrade", ERROR, f"module {name}",
                        f"{name} is {disk} on disk, older than {latest} in the database",
                        "the code is older than the data it runs on: fields and records the "
                        "newer version created are unknown to it; an update can lose data",
                        f"deploy {name} {latest} (or newer) again; never `-u` an older version",
                        None, None,
                        {"name": name, "db_version": latest, "disk_version": disk},
                    ))  # fmt: skip
            result.rows.append(DriftRow(name, state, latest, disk, status))
    counts: dict[str, int] = {}
    for r in result.rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    report.counts = counts
    if counts.get("no-code"):
        report.notes.append(
            f"{counts['no-code']} installed module(s) have no code on the scanned addons path "
            "(see `odoo-ops audit modules`)"
        )
    return result
