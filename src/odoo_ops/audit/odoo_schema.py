"""What the database looks like: the Odoo schema generation, read from its columns.

The Odoo version is detected from the columns that exist
(``information_schema.columns``), never from the configuration:

==========================  ====  ====  ====  ====
column                       16    17    18    19
==========================  ====  ====  ====  ====
``ir_cron.numbercall``       yes   yes   --    --
``ir_cron.cron_name`` jsonb  yes   --    --    --
``ir_actions.path``          --    --    yes   yes
``res_groups_privilege``     --    --    --    yes (table)
==========================  ====  ====  ====  ====

Translated columns (``ir_ui_menu.name``, ``ir_actions.name``,
``ir_module_module.shortdesc`` ...) are ``jsonb`` (``{"en_US": ...}``) in 16+;
:meth:`Schema.text` reads them in English, falling back to any language.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from odoo_ops.errors import OpsError

#: Tables whose columns odoo-ops reads.
TABLES: tuple[str, ...] = (
    "ir_module_module", "ir_module_category", "ir_model", "ir_model_data", "ir_ui_menu",
    "ir_actions", "ir_act_window", "ir_act_client", "ir_act_server", "ir_act_report_xml",
    "ir_act_url", "ir_cron", "ir_config_parameter", "res_groups_privilege",
)  # fmt: skip

#: The table of each action model (``ir_ui_menu.action`` = ``'<model>,<id>'``).
ACTION_TABLES: dict[str, str] = {
    "ir.actions.act_window": "ir_act_window",
    "ir.actions.client": "ir_act_client",
    "ir.actions.server": "ir_act_server",
    "ir.actions.report": "ir_act_report_xml",
    "ir.actions.act_url": "ir_act_url",
}

#: Models of Odoo's core whose ``_table`` is not their name with dots replaced.
#: ``ir_model`` has no table column in 16..19 (``odoo/addons/base/models/ir_model.py``),
#: so the real table of a model is this override, else Odoo's default rule
#: (``_name.replace('.', '_')``), checked against ``pg_class``.
TABLE_OVERRIDES: dict[str, str] = {
    **ACTION_TABLES,
    "ir.actions.actions": "ir_actions",
    "ir.actions.act_window.view": "ir_act_window_view",
    "ir.actions.act_window_close": "ir_actions",
}


def default_table(model: str) -> str:
    """The table Odoo gives ``model`` when it declares no ``_table``."""
    return TABLE_OVERRIDES.get(model) or model.replace(".", "_")


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class Schema:
    """The columns of the Odoo tables present in the database, and what follows from them."""

    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    series: str | None = None  # from base's latest_version, e.g. "18.0"

    def has(self, table: str, column: str | None = None) -> bool:
        cols = self.columns.get(table)
        if cols is None:
            return False
        return column is None or column in cols

    def type_of(self, table: str, column: str) -> str | None:
        return self.columns.get(table, {}).get(column)

    @property
    def version(self) -> str:
        """``"16"``, ``"17"``, ``"18"`` or ``"19"`` from the columns (see the module doc)."""
        if self.has("ir_cron", "numbercall"):
            return "16" if self.type_of("ir_cron", "cron_name") == "jsonb" else "17"
        if self.has("res_groups_privilege"):
            return "19"
        return "18"

    @property
    def cron_has_numbercall(self) -> bool:
        return self.has("ir_cron", "numbercall")

    def text(self, table: str, column: str, alias: str) -> str:
        """SQL reading ``alias.column`` as text: English, else any language, for jsonb."""
        ref = f"{alias}.{quote_ident(column)}"
        if self.type_of(table, column) == "jsonb":
            return (
                f"COALESCE({ref}->>'en_US', "
                f"(SELECT j.value FROM jsonb_each_text({ref}) j ORDER BY j.key LIMIT 1))"
            )
        return f"{ref}::text"


def detect_schema(cur: Any, tables: Iterable[str] = TABLES) -> Schema:
    """Read the columns of ``tables``; raise :class:`OpsError` when this is not Odoo."""
    cur.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = ANY(%s)",
        (list(tables),),
    )
    columns: dict[str, dict[str, str]] = {}
    for table, column, dtype in cur.fetchall():
        columns.setdefault(str(table), {})[str(column)] = str(dtype)
    if "ir_module_module" not in columns:
        raise OpsError(
            "this database has no ir_module_module table: it is not an Odoo database",
            hint="check the database name (-d) of the deployment",
        )
    series = None
    cur.execute("SELECT latest_version FROM ir_module_module WHERE name = 'base'")
    row = cur.fetchone()
    if row and row[0]:
        parts = str(row[0]).split(".")
        if len(parts) >= 2 and parts[0].isdigit():
            series = f"{parts[0]}.{parts[1]}"
    return Schema(columns, series)


def existing_tables(cur: Any, names: Iterable[str]) -> set[str]:
    """Which of ``names`` are tables or views of the current schema."""
    wanted = sorted(set(names))
    if not wanted:
        return set()
    cur.execute(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'v', 'm', 'p', 'f')"
        " AND c.relname = ANY(%s)",
        (wanted,),
    )
    return {str(r[0]) for r in cur.fetchall()}


def require_tables(schema: Schema, *tables: str) -> None:
    missing = [t for t in tables if not schema.has(t)]
    if missing:
        raise OpsError(f"this Odoo database has no {', '.join(missing)} table(s)")
