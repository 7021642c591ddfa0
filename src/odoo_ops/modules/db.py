"""What the modules actions read from and write to the Odoo database.

Plain SQL on the tables Odoo 16-19 define (``ir_module_module``,
``ir_module_module_dependency``, ``ir_config_parameter``, ``ir_model_data``,
``ir_model``, ``ir_cron``, ``res_lang``). Reads run in READ ONLY transactions;
the few writes (parameters, cron flags) are explicit.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.addons.manifest import Addon

if TYPE_CHECKING:
    import psycopg

    from odoo_ops.adapters.database import Database

INSTALLED_STATES = ("installed", "to upgrade", "to remove")


@dataclass(frozen=True)
class ModuleRow:
    name: str
    state: str
    latest_version: str | None
    auto_install: bool
    depends: tuple[str, ...] = ()
    auto_install_required: tuple[str, ...] = ()

    @property
    def installed(self) -> bool:
        return self.state in INSTALLED_STATES


def read_modules(cur: psycopg.Cursor[Any]) -> dict[str, ModuleRow]:
    """Every row of ``ir_module_module`` with its dependencies."""
    cur.execute(
        "SELECT m.name, d.name, COALESCE(d.auto_install_required, false)"
        " FROM ir_module_module_dependency d JOIN ir_module_module m ON m.id = d.module_id"
        " ORDER BY m.name, d.name"
    )
    deps: dict[str, list[str]] = {}
    required: dict[str, list[str]] = {}
    for module, dep, req in cur.fetchall():
        deps.setdefault(module, []).append(dep)
        if req:
            required.setdefault(module, []).append(dep)
    cur.execute(
        "SELECT name, state, latest_version, COALESCE(auto_install, false)"
        " FROM ir_module_module ORDER BY name"
    )
    return {
        name: ModuleRow(
            name,
            state or "uninstalled",
            latest_version,
            bool(auto),
            tuple(deps.get(name, ())),
            tuple(required.get(name, ())),
        )
        for name, state, latest_version, auto in cur.fetchall()
    }


def states(db: Database) -> dict[str, ModuleRow]:
    with db.read_only() as cur:
        return read_modules(cur)


def installed_and_known(
    db: Database, *, timeout: float = 30
) -> tuple[frozenset[str], frozenset[str]]:
    """(installed, known) module names of the database: both empty when Odoo
    has not initialised it (no ``ir_module_module``)."""
    with db.read_only(timeout=timeout) as cur:
        if not table_exists(cur, "public.ir_module_module"):
            return frozenset(), frozenset()
        cur.execute("SELECT name, state FROM ir_module_module")
        rows = cur.fetchall()
    installed = frozenset(str(n) for n, s in rows if s in INSTALLED_STATES)
    return installed, frozenset(str(n) for n, _ in rows)


def addon_from_row(row: ModuleRow) -> Addon:
    """An :class:`Addon` built from the database's module list (code not on this host)."""
    auto: bool | tuple[str, ...] = False
    if row.auto_install:
        required = row.auto_install_required
        auto = True if not required or set(required) == set(row.depends) else required
    return Addon(
        name=row.name,
        path=Path(),
        manifest_path=Path(),
        version=None,
        depends=row.depends,
        auto_install=auto,
        installable=row.state != "uninstallable",
    )


def series_from_modules(modules: dict[str, ModuleRow]) -> str | None:
    base = modules.get("base")
    if base and base.latest_version:
        parts = base.latest_version.split(".")
        if len(parts) >= 2 and parts[0].isdigit():
            return f"{parts[0]}.0"
    return None


# -- ir_config_parameter ------------------------------------------------------


def get_param(cur: psycopg.Cursor[Any], key: str) -> str | None:
    cur.execute("SELECT value FROM ir_config_parameter WHERE key = %s", (key,))
    row = cur.fetchone()
    return None if row is None else str(row[0])


def set_param(cur: psycopg.Cursor[Any], key: str, value: str) -> None:
    """Insert or update a parameter (as Odoo's ``set_param`` does, without the ORM)."""
    cur.execute(
        "UPDATE ir_config_parameter SET value = %s, write_date = now() AT TIME ZONE 'UTC'"
        " WHERE key = %s",
        (value, key),
    )
    if not cur.rowcount:
        cur.execute(
            "INSERT INTO ir_config_parameter (key, value, create_date, write_date)"
            " VALUES (%s, %s, now() AT TIME ZONE 'UTC', now() AT TIME ZONE 'UTC')",
            (key, value),
        )


def delete_param(cur: psycopg.Cursor[Any], key: str) -> None:
    cur.execute("DELETE FROM ir_config_parameter WHERE key = %s", (key,))


def get_json_param(cur: psycopg.Cursor[Any], key: str) -> Any:
    value = get_param(cur, key)
    if value is None:
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return None


def active_languages(cur: psycopg.Cursor[Any]) -> list[str]:
    cur.execute("SELECT to_regclass('res_lang') IS NOT NULL")
    row = cur.fetchone()
    if not row or not row[0]:
        return []
    cur.execute("SELECT code FROM res_lang WHERE active ORDER BY code")
    return [str(r[0]) for r in cur.fetchall()]


def table_exists(cur: psycopg.Cursor[Any], table: str) -> bool:
    cur.execute("SELECT to_regclass(%s) IS NOT NULL", (table,))
    row = cur.fetchone()
    return bool(row and row[0])


def translated(value: Any) -> str:
    """A jsonb translation (``{"en_US": ...}``) or a plain string, as text."""
    if isinstance(value, dict):
        return str(value.get("en_US") or next(iter(value.values()), "") or "")
    if isinstance(value, str) and value.startswith("{"):
        try:
            data = json.loads(value)
        except json.JSONDecodeError:
            return value
        if isinstance(data, dict):
            return translated(data)
    return "" if value is None else str(value)


def dependents(modules: dict[str, ModuleRow], names: Iterable[str]) -> list[str]:
    """Installed modules that depend, directly or not, on ``names`` (not included)."""
    rev: dict[str, list[str]] = {}
    for row in modules.values():
        for dep in row.depends:
            rev.setdefault(dep, []).append(row.name)
    start = set(names)
    seen: set[str] = set()
    stack = list(start)
    while stack:
        current = stack.pop()
        for child in rev.get(current, ()):
            if child in seen or child in start:
                continue
            child_row = modules.get(child)
            if child_row is None or not child_row.installed:
                continue
            seen.add(child)
            stack.append(child)
    return sorted(seen)
