"""``odoo-ops modules ...`` run as a user runs it: the installed CLI, a real database,
the ``odoo`` double as the deployment's odoo."""

from __future__ import annotations

import json

import pytest

from tests.integration.modules.conftest import World, make_world, world  # noqa: F401

pytestmark = pytest.mark.pg


def addons(w: World) -> None:
    w.addons.add("shop_core", depends=["mail"])
    w.addons.add("shop_extra", depends=["shop_core"])
    w.addons.add("tool_a", depends=["base"])


def test_plan_json_with_module_sets(world: World) -> None:  # noqa: F811
    addons(world)
    r = world.cli("modules", "plan", "--set", "all", "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert [w["addons"] for w in data["waves"]] == [["shop_core", "tool_a"], ["shop_extra"]]
    assert data["ok"] is True and "mail" in data["already_installed"]


def test_install_then_selective_update(world: World) -> None:  # noqa: F811
    addons(world)
    dry = world.cli("modules", "install", "--set", "sales", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = [line for line in dry.stdout.splitlines() if not line.startswith("#")]
    assert len(lines) == 2 and all("--stop-after-init" in line for line in lines)
    assert " -i shop_core " in lines[0] and " -i shop_extra " in lines[1]
    assert world.odoo_calls() == []

    r = world.cli("modules", "install", "--set", "all")
    assert r.returncode == 0, r.stderr
    assert "3 module(s) installed in 2 wave(s)" in r.stdout
    assert "[1] wave 1/2" in r.stderr and "log:" in r.stderr

    first = world.cli("modules", "update", "--changed")
    assert first.returncode == 0, first.stderr
    assert "no checksums stored yet" in first.stderr
    assert world.odoo_calls()[-1][world.odoo_calls()[-1].index("-u") + 1] == "all"

    (world.addons.path / "tool_a" / "models.py").write_text("x = 1\n")
    listed = world.cli("modules", "update", "--changed", "--list-only")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0] == "tool_a"
    assert "1 changed module(s)" in listed.stdout


def test_failed_install_prints_odoo_errors_and_exits_1(world: World) -> None:  # noqa: F811
    world.addons.add("broken", depends=["base"],
                     odoo_double={"fail": "install", "message": "planted: broken view"})
    r = world.cli("modules", "install", "broken")
    assert r.returncode == 1
    assert "Odoo errors:" in r.stdout and "CRITICAL" in r.stdout
    assert "planted: broken view" in r.stdout
    assert "full log:" in r.stdout
    assert r.stderr.strip().splitlines()[-1].startswith("error: wave 1/1 failed")
    assert "Traceback" not in r.stderr  # Odoo's traceback is shown, odoo-ops never crashes


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("modules", "install"), "name at least one module"),
        (("modules", "update", "--changed", "--all"), "exactly one"),
        (("modules", "install", "--set", "nope"), "unknown module set 'nope'"),
    ],
)
def test_usage_errors_are_one_line_exit_2(world: World, args: tuple[str, ...],  # noqa: F811
                                          message: str) -> None:
    r = world.cli(*args)
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith("error: ") and message in r.stderr
    assert "Traceback" not in r.stderr
