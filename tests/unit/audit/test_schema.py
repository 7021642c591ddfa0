"""Schema generation from columns, and SQL text of the audits."""

from __future__ import annotations

from odoo_ops.audit.broken import broken_menu_actions_sql, orphan_xmlids_sql
from odoo_ops.audit.odoo_schema import ACTION_TABLES, Schema, default_table


def _schema(cron: dict[str, str], extra: dict[str, dict[str, str]] | None = None) -> Schema:
    return Schema({"ir_module_module": {"name": "character varying"}, "ir_cron": cron,
                   **(extra or {})})


def test_version_from_columns() -> None:
    assert _schema({"numbercall": "integer", "cron_name": "jsonb"}).version == "16"
    assert _schema({"numbercall": "integer", "cron_name": "character varying"}).version == "17"
    assert _schema({"cron_name": "character varying"}).version == "18"
    assert _schema({"cron_name": "character varying"},
                   {"res_groups_privilege": {"id": "integer"}}).version == "19"


def test_text_reads_jsonb_in_english_with_fallback() -> None:
    s = Schema({"ir_ui_menu": {"name": "jsonb"}, "ir_model": {"model": "character varying"}})
    expr = s.text("ir_ui_menu", "name", "m")
    assert "m.\"name\"->>'en_US'" in expr and "jsonb_each_text" in expr
    assert s.text("ir_model", "model", "x") == 'x."model"::text'


def test_real_tables_of_models() -> None:
    assert default_table("ir.actions.report") == "ir_act_report_xml"
    assert default_table("ir.actions.act_window") == "ir_act_window"
    assert default_table("ir.actions.act_window.view") == "ir_act_window_view"
    assert default_table("res.partner") == "res_partner"


def test_sql_quotes_names() -> None:
    sql = orphan_xmlids_sql({"x.o'dd": "x_o'dd"})
    assert sql is not None and "'x.o''dd'" in sql and '"x_o\'dd"' in sql
    menu_sql = broken_menu_actions_sql(ACTION_TABLES)
    for table in ACTION_TABLES.values():
        assert f'"{table}"' in menu_sql
