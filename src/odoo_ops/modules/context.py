"""What every modules action starts from: the deployment's database, series and addons."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from odoo_ops.addons import AddonsScan
from odoo_ops.errors import OpsError
from odoo_ops.modules.db import ModuleRow, addon_from_row, series_from_modules, states

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.adapters.database import Database


@dataclass
class ModulesContext:
    """The deployment's module list (from the database) and addons (from disk)."""

    target: Target
    db: Database
    series: str
    modules: dict[str, ModuleRow]
    scan: AddonsScan
    host_addons: dict[str, Path] = field(default_factory=dict)

    @property
    def installed(self) -> set[str]:
        """Modules Odoo counts as installed (``installed``, ``to upgrade``, ``to remove``)."""
        return {n for n, r in self.modules.items() if r.installed}

    def refresh(self) -> dict[str, ModuleRow]:
        self.modules = states(self.db)
        return self.modules

    def state_of(self, name: str) -> str:
        row = self.modules.get(name)
        return row.state if row else "unknown"


def database_of(target: Target) -> Database:
    db = target.database()
    if not target.database_name and not db.name:
        raise OpsError("no database configured", hint="pass -d DB or set database in odoo-ops.toml")
    return db


def load_context(target: Target, *, series: str | None = None) -> ModulesContext:
    """Read the module list and scan this host's addons path.

    Addons whose code is not on this host (Odoo's own addons inside an image,
    say) are known from the database's module list: their dependencies and
    ``auto_install`` flags come from ``ir_module_module_dependency``.
    """
    db = database_of(target)
    modules = states(db)
    if not modules:
        raise OpsError(
            f"database {db.name!r} has no modules (ir_module_module is empty)",
            hint="is it an Odoo database? initialise it with odoo -i base first",
        )
    found_series = series or target.series or series_from_modules(modules)
    if not found_series:
        raise OpsError(
            "cannot tell the Odoo series", hint="set series in odoo-ops.toml (e.g. 18.0)"
        )
    # a copy: the database's own modules are added to it below
    found = target.addons_scan()
    scan = dataclasses.replace(found, addons=dict(found.addons))
    host_addons = {name: addon.path for name, addon in scan.addons.items()}
    invalid = scan.invalid_names
    for name, row in modules.items():
        if name not in scan.addons and name not in invalid:
            scan.addons[name] = addon_from_row(row)
    return ModulesContext(target, db, found_series, modules, scan, host_addons)
