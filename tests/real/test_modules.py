"""``odoo-ops modules plan|install|update --changed`` with the real Odoo 18 doing the work."""

from __future__ import annotations

import json

from tests.real.conftest import RealProject

MODEL = """from odoo import fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    x_ops_code = fields.Char()
"""


def view(field: str, version: str) -> str:
    return f"""<odoo>
  <record id="partner_form_ops" model="ir.ui.view">
    <field name="name">res.partner.form.ops {version}</field>
    <field name="model">res.partner</field>
    <field name="inherit_id" ref="base.view_partner_form"/>
    <field name="arch" type="xml">
      <field name="vat" position="after"><field name="{field}"/></field>
    </field>
  </record>
</odoo>
"""


def add_shop(project: RealProject, version: str, field: str = "x_ops_code") -> None:
    project.add_addon("ops_shop", version, data={"views.xml": view(field, version)},
                      python="from . import models\n")
    (project.addons / "ops_shop" / "models.py").write_text(MODEL)


def checksums(project: RealProject) -> object:
    rows = project.sql("SELECT value FROM ir_config_parameter"
                       " WHERE key = 'module_auto_update.installed_checksums'")
    return json.loads(rows[0][0]) if rows else None


def test_plan_install_update_changed_and_a_failed_upgrade(real_project: RealProject) -> None:
    # checksums kept from earlier runs (none of the template's addons is on the
    # project's addons path), so --changed has no first run (-u all) to do
    real_project.sql("INSERT INTO ir_config_parameter (key, value, create_uid, write_uid,"
                     " create_date, write_date) VALUES ('module_auto_update.installed_checksums',"
                     " '{}', 1, 1, now(), now())")
    add_shop(real_project, "18.0.1.0.0")

    plan = real_project.cli("modules", "plan", "ops_shop", "--format", "json")
    assert plan.returncode == 0, plan.stdout + plan.stderr
    assert "ops_shop" in plan.stdout

    done = real_project.cli("modules", "install", "ops_shop")
    assert done.returncode == 0, done.stdout + done.stderr
    assert real_project.modules()["ops_shop"] == ("installed", "18.0.1.0.0")
    assert real_project.sql("SELECT count(*) FROM ir_model_fields"
                            " WHERE model = 'res.partner' AND name = 'x_ops_code'") == [(1,)]
    assert set(checksums(real_project)) == {"ops_shop"}  # type: ignore[arg-type]

    # nothing changed on disk: --changed has nothing to do
    listed = real_project.cli("modules", "update", "--changed", "--list-only",
                              "--format", "json")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert json.loads(listed.stdout)["targets"] == [], listed.stdout

    first_checksums = checksums(real_project)
    add_shop(real_project, "18.0.1.0.1")
    listed = real_project.cli("modules", "update", "--changed", "--list-only",
                              "--format", "json")
    assert json.loads(listed.stdout)["targets"] == ["ops_shop"], listed.stdout
    updated = real_project.cli("modules", "update", "--changed")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert real_project.modules()["ops_shop"] == ("installed", "18.0.1.0.1")
    arch = real_project.sql("SELECT name FROM ir_ui_view WHERE name LIKE 'res.partner.form.ops%'")
    assert arch == [("res.partner.form.ops 18.0.1.0.1",)]
    stored = checksums(real_project)
    assert stored != first_checksums
    modules_before = real_project.modules()

    # a view on a field that does not exist: the real upgrade fails
    add_shop(real_project, "18.0.1.0.2", field="x_ops_missing")
    broken = real_project.cli("modules", "update", "--changed")
    assert broken.returncode != 0, broken.stdout + broken.stderr
    assert real_project.modules() == modules_before
    assert checksums(real_project) == stored
    arch = real_project.sql("SELECT name FROM ir_ui_view WHERE name LIKE 'res.partner.form.ops%'")
    assert arch == [("res.partner.form.ops 18.0.1.0.1",)]
    # the failure is still pending: --changed lists it again
    listed = real_project.cli("modules", "update", "--changed", "--list-only",
                              "--format", "json")
    assert json.loads(listed.stdout)["targets"] == ["ops_shop"], listed.stdout
