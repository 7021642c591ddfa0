"""``modules update``: --changed with stored checksums, --all, names, the killed update."""

from __future__ import annotations

import json
import os
import signal
import time

import psutil
import pytest

from odoo_ops.errors import UsageError
from odoo_ops.modules import checksums as cks
from odoo_ops.modules.install import install_modules
from odoo_ops.modules.update import update_modules
from tests.integration.modules.conftest import World

pytestmark = pytest.mark.pg

KEY = "module_auto_update.installed_checksums"


def installed_world(world: World) -> World:
    """Three custom addons installed (in the database, as a deploy left them)."""
    for name in ("shop_core", "shop_extra", "tool_a"):
        world.addons.add(name, depends=["base"] if name != "shop_extra" else ["shop_core"])
        (world.addons.path / name / "static").mkdir()
        (world.addons.path / name / "static" / "app.js").write_text("1")
    world.install_in_db("shop_core", "shop_extra", "tool_a")
    return world


def update_args(calls: list[list[str]]) -> list[str]:
    return [c[c.index("-u") + 1] for c in calls if "-u" in c]


def test_first_run_updates_everything_once_then_only_what_changed(world: World) -> None:
    installed_world(world)
    listed = update_modules(world.target(), changed=True, list_only=True)
    assert listed.targets == ["all"] and listed.changed_set and listed.changed_set.first_run
    assert world.odoo_calls() == [] and world.checksums() is None

    first = update_modules(world.target(), changed=True)
    assert first.ok and first.checksums_stored
    assert any("no checksums stored yet" in n for n in first.notes)
    assert update_args(world.odoo_calls()) == ["all"]
    stored = world.checksums()
    assert stored is not None and set(stored) == {"shop_core", "shop_extra", "tool_a"}
    # the layout and digests are click-odoo-update's
    rules = cks.HashRules.make(None, ["en_US"])
    assert stored["tool_a"] == cks.addon_checksum(world.addons.path / "tool_a", rules)

    # nothing changed: no odoo call
    again = update_modules(world.target(), changed=True)
    assert again.ok and again.targets == [] and "nothing changed" in again.message
    assert len(world.odoo_calls()) == 1

    # static/ and tests/ changes do not count; a Python change does
    (world.addons.path / "tool_a" / "static" / "app.js").write_text("2")
    assert update_modules(world.target(), changed=True, list_only=True).targets == []
    (world.addons.path / "shop_core" / "models.py").write_text("x = 1\n")
    assert update_modules(world.target(), changed=True, list_only=True).targets == ["shop_core"]
    done = update_modules(world.target(), changed=True)
    assert done.ok and done.targets == ["shop_core"]
    assert update_args(world.odoo_calls()) == ["all", "shop_core"]
    assert world.checksums()["shop_core"] != stored["shop_core"]  # type: ignore[index]
    assert world.checksums()["tool_a"] == stored["tool_a"]  # type: ignore[index]


def test_failed_update_leaves_checksums_and_is_retried(world: World) -> None:
    installed_world(world)
    assert update_modules(world.target(), changed=True).ok
    before = world.param(KEY)
    world.addons.add("tool_a", depends=["base"], version="1.1",
                     odoo_double={"fail": "update", "message": "planted update failure"})
    failed = update_modules(world.target(), changed=True)
    assert not failed.ok and "stored checksums left unchanged" in failed.message
    assert failed.failed_step is not None and failed.failed_step.errors
    assert world.param(KEY) == before
    assert world.states()["tool_a"] == "installed"  # Odoo reset 'to upgrade'
    # fixed: the next run retries exactly that addon
    world.addons.add("tool_a", depends=["base"], version="1.1")
    retried = update_modules(world.target(), changed=True)
    assert retried.ok and retried.targets == ["tool_a"]
    assert world.param(KEY) != before
    assert world.versions()["tool_a"] == "18.0.1.1"


def test_killed_update_leaves_checksums_unchanged(world: World) -> None:
    installed_world(world)
    assert update_modules(world.target(), changed=True).ok
    before = world.param(KEY)
    world.addons.add("shop_extra", depends=["shop_core"], version="1.2",
                     odoo_double={"sleep": 30})
    proc = world.popen("modules", "update", "--changed")
    try:
        victim = None
        deadline = time.monotonic() + 20
        while victim is None and time.monotonic() < deadline:
            for child in psutil.Process(proc.pid).children(recursive=True):
                try:
                    if any("support/bin/odoo" in part for part in child.cmdline()):
                        victim = child
                except psutil.NoSuchProcess:
                    continue
            time.sleep(0.1)
        assert victim is not None, "odoo never started"
        time.sleep(1.0)  # let it mark modules and start loading
        os.kill(victim.pid, signal.SIGKILL)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err
    assert "stored checksums left unchanged" in err
    assert world.param(KEY) == before
    # the next run (fixed code) updates shop_extra again
    world.addons.add("shop_extra", depends=["shop_core"], version="1.2")
    listed = update_modules(world.target(), changed=True, list_only=True)
    assert listed.targets == ["shop_extra"]


def test_update_by_name_and_all(world: World) -> None:
    installed_world(world)
    by_name = update_modules(world.target(), ["tool_a"])
    assert by_name.ok and update_args(world.odoo_calls()) == ["tool_a"]
    assert world.checksums() is None  # no map yet: a partial one would hide the first run
    everything = update_modules(world.target(), all_modules=True)
    assert everything.ok and update_args(world.odoo_calls())[-1] == "all"
    assert set(world.checksums() or {}) == {"shop_core", "shop_extra", "tool_a"}
    (world.addons.path / "tool_a" / "x.py").write_text("changed")
    update_modules(world.target(), ["tool_a"])
    assert update_modules(world.target(), changed=True, list_only=True).targets == []


def test_update_refuses_bad_requests(world: World) -> None:
    installed_world(world)
    with pytest.raises(UsageError, match="exactly one"):
        update_modules(world.target(), ["tool_a"], changed=True)
    with pytest.raises(UsageError, match="not installed"):
        update_modules(world.target(), ["calendar"])
    with pytest.raises(UsageError, match="unknown module"):
        update_modules(world.target(), ["nope"])
    with pytest.raises(UsageError, match="--list-only"):
        update_modules(world.target(), all_modules=True, list_only=True)


def test_honours_the_exclude_patterns_parameter(world: World) -> None:
    installed_world(world)
    assert update_modules(world.target(), changed=True).ok
    with world.db.connect() as conn:
        conn.execute(
            "INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s)",
            ("module_auto_update.exclude_patterns", "*.pyc,docs/*"),
        )
    # static/ now counts: every addon has static/app.js, so all three differ
    assert update_modules(world.target(), changed=True, list_only=True).targets == [
        "shop_core", "shop_extra", "tool_a"
    ]


def test_install_stores_checksums_of_new_modules_when_a_map_exists(world: World) -> None:
    installed_world(world)
    assert update_modules(world.target(), changed=True).ok
    world.addons.add("tool_b", depends=["tool_a"])
    assert install_modules(world.target(), ["tool_b"]).ok
    stored = world.checksums() or {}
    assert "tool_b" in stored
    assert update_modules(world.target(), changed=True, list_only=True).targets == []
    assert json.loads(world.param(KEY) or "{}") == stored
