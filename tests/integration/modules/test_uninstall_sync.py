"""``modules uninstall``, ``reinstall`` and ``sync`` against a real database."""

from __future__ import annotations

import pytest

from odoo_ops.errors import UsageError
from odoo_ops.modules.context import load_context
from odoo_ops.modules.sync import sync_modules
from odoo_ops.modules.uninstall import reinstall_module, uninstall_impact, uninstall_modules
from tests.integration.modules.conftest import World
from tests.support import odoo_schema

pytestmark = pytest.mark.pg


def shop_world(world: World) -> World:
    """shop_core (owns model shop.order with 2 rows, a field on res.partner, a menu)
    and shop_extra depending on it, both installed; tool_a unrelated."""
    world.addons.add("shop_core", depends=["mail"])
    world.addons.add("shop_extra", depends=["shop_core"])
    world.addons.add("tool_a", depends=["base"])
    world.install_in_db("shop_core", "shop_extra", "tool_a")
    with world.db.connect() as conn:
        for name, deps in (("shop_core", ["mail"]), ("shop_extra", ["shop_core"]),
                           ("tool_a", ["base"])):
            mid = conn.execute("SELECT id FROM ir_module_module WHERE name = %s",
                               (name,)).fetchone()[0]  # type: ignore[index]
            odoo_schema.set_module_dependencies(conn, mid, deps)
        odoo_schema.add_model(conn, "shop.order", "shop_order", module="shop_core")
        conn.execute("INSERT INTO shop_order DEFAULT VALUES")
        conn.execute("INSERT INTO shop_order DEFAULT VALUES")
        fid = odoo_schema.add_field(conn, "res.partner", "x_shop_level")
        odoo_schema.add_model_data(conn, "shop_extra", "field_res_partner__x_shop_level",
                                   "ir.model.fields", fid)
        # a model extended by both shop_core and tool_a is NOT dropped
        odoo_schema.add_model(conn, "shared.thing", "shared_thing", module="shop_core")
        mid = conn.execute("SELECT id FROM ir_model WHERE model = 'shared.thing'").fetchone()
        odoo_schema.add_model_data(conn, "tool_a", "model_shared_thing", "ir.model", mid[0])  # type: ignore[index]
    return world


def test_impact_lists_dependents_tables_columns_and_records(world: World) -> None:
    shop_world(world)
    impact = uninstall_impact(load_context(world.target()), ["shop_core"])
    assert impact.dependents == ["shop_extra"]
    assert [(m.model, m.table, m.rows) for m in impact.models] == [
        ("shop.order", "shop_order", 2)
    ]
    assert impact.fields == {"res.partner": ["x_shop_level"]}
    assert impact.records["ir.model"] == 2  # shop.order and shared.thing ids
    assert impact.records["ir.model.fields"] == 1


def test_uninstall_refuses_without_force(world: World) -> None:
    shop_world(world)
    result = uninstall_modules(world.target(), ["shop_core"])
    assert result.refused and not result.ok
    assert world.odoo_calls() == []
    assert world.states()["shop_core"] == "installed"
    cli = world.cli("modules", "uninstall", "shop_core")
    assert cli.returncode == 1
    assert "also uninstalled (they depend on them): shop_extra" in cli.stdout
    assert "shop_order" in cli.stdout and "x_shop_level" in cli.stdout
    assert "error: refusing to uninstall without --force" in cli.stderr


def test_uninstall_with_force_removes_module_and_dependents(world: World) -> None:
    shop_world(world)
    result = uninstall_modules(world.target(), ["shop_core"], force=True, backup=False)
    assert result.ok, result.message
    states = world.states()
    assert states["shop_core"] == "uninstalled" and states["shop_extra"] == "uninstalled"
    assert states["tool_a"] == "installed"
    call = world.odoo_calls()[0]
    assert call[0] == "shell"
    assert result.uninstalled == ["shop_core", "shop_extra"]
    assert world.db.scalar(
        "SELECT count(*) FROM ir_model_data WHERE module IN ('shop_core', 'shop_extra')"
    ) == 0


def test_uninstall_takes_a_backup_first_when_configured(make_world) -> None:  # type: ignore[no-untyped-def]
    world = make_world()
    toml = (world.root / "odoo-ops.toml").read_text()
    toml = toml.replace('log_dir = "logs"\n', 'log_dir = "logs"\nbackup_dir = "backups"\n')
    (world.root / "odoo-ops.toml").write_text(toml)
    shop_world(world)
    result = uninstall_modules(world.target(), ["tool_a"], force=True)
    assert result.ok, result.message
    assert result.backup is not None
    backups = [p for p in (world.root / "backups").iterdir() if not p.name.startswith(".")]
    assert len(backups) == 1
    assert world.states()["tool_a"] == "uninstalled"


def test_uninstall_guards(world: World) -> None:
    shop_world(world)
    with pytest.raises(UsageError, match="base cannot"):
        uninstall_modules(world.target(), ["base"], force=True)
    with pytest.raises(UsageError, match="not installed"):
        uninstall_modules(world.target(), ["calendar"], force=True)


def test_reinstall_brings_back_the_module_and_its_dependents(world: World) -> None:
    shop_world(world)
    result = reinstall_module(world.target(), "shop_core", force=True, backup=False)
    assert result.ok, result.message
    states = world.states()
    assert states["shop_core"] == "installed" and states["shop_extra"] == "installed"
    calls = world.odoo_calls()
    assert calls[0][0] == "shell"  # uninstall
    assert [c[c.index("-i") + 1] for c in calls if "-i" in c] == ["shop_core", "shop_extra"]
    assert calls[-1][0] == "shell"  # apps list refreshed
    assert [s.label for s in result.steps] == [
        "uninstall", "install 1/2", "install 2/2", "update apps list"
    ]


def test_reinstall_refuses_without_force(world: World) -> None:
    shop_world(world)
    result = reinstall_module(world.target(), "shop_core")
    assert result.refused and world.odoo_calls() == []


def test_sync_refreshes_the_list_and_applies_stuck_modules(world: World) -> None:
    shop_world(world)
    world.addons.add("brand_new", depends=["base"])
    world.addons.add("tool_a", depends=["base"], version="1.5")
    with world.db.connect() as conn:
        conn.execute("UPDATE ir_module_module SET state = 'to upgrade' WHERE name = 'shop_extra'")
        conn.execute("UPDATE ir_module_module SET state = 'to install' WHERE name = 'calendar'")
    result = sync_modules(world.target())
    assert result.ok, result.message
    assert result.applied_upgrade == ["shop_extra"]
    assert result.applied_install == ["calendar"]
    states = world.states()
    assert states["shop_extra"] == "installed" and states["calendar"] == "installed"
    assert "brand_new" in result.new_modules and states["brand_new"] == "uninstalled"
    assert {"name": "tool_a", "database": "18.0.1.0", "disk": "18.0.1.5"} in result.outdated
    changed = {c.name: c for c in result.changes}
    assert changed["calendar"].state_before == "to install"
    assert changed["calendar"].state_after == "installed"
    assert changed["brand_new"].state_before is None
    calls = world.odoo_calls()
    assert calls[0][0] == "shell" and "-u" in calls[1]


def test_sync_with_nothing_pending_only_refreshes(world: World) -> None:
    shop_world(world)
    result = sync_modules(world.target())
    assert result.ok and result.applied_upgrade == [] and result.applied_install == []
    assert len(world.odoo_calls()) == 1
