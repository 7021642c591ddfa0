"""``modules install``: waves, states read back, the failing wave, dry-run, the lock."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from odoo_ops.adapters.database import lock_key
from odoo_ops.adapters.locking import deployment_lock_name
from odoo_ops.errors import LockError, OpsError
from odoo_ops.modules.install import install_modules
from odoo_ops.modules.plan import plan_modules
from tests.integration.modules.conftest import World

pytestmark = pytest.mark.pg


def three_waves(world: World, *, fail_middle: bool = False) -> None:
    world.addons.add("shop_core", depends=["mail"])
    world.addons.add(
        "shop_extra",
        depends=["shop_core"],
        odoo_double={"fail": "install", "message": "planted: shop_extra view is broken"}
        if fail_middle
        else None,
    )
    world.addons.add("shop_top", depends=["shop_extra"])
    world.addons.add("tool_a", depends=["base"])


def test_plan_against_the_database(world: World) -> None:
    three_waves(world)
    world.addons.add("shop_glue", depends=["shop_core", "contacts"], auto_install=True)
    plan = plan_modules(world.target(), ["shop_top", "tool_a"])
    assert plan.waves == [["shop_core", "tool_a"], ["shop_extra"], ["shop_top"]]
    assert "mail" in plan.plan.installed  # already installed in the database
    assert [a.name for a in plan.plan.auto_installed] == ["shop_glue"]
    assert plan.db_states["mail"] == "installed"
    assert plan.db_states["shop_core"] == "unknown"  # not in the apps list yet


def test_install_runs_one_odoo_call_per_wave(world: World) -> None:
    three_waves(world)
    events: list[str] = []
    result = install_modules(
        world.target(), ["shop_top", "tool_a"], on_event=lambda e: events.append(e.kind)
    )
    assert result.ok, result.message
    states = world.states()
    assert {states[n] for n in ("shop_core", "shop_extra", "shop_top", "tool_a")} == {"installed"}
    calls = world.odoo_calls()
    assert [c[c.index("-i") + 1] for c in calls] == ["shop_core,tool_a", "shop_extra", "shop_top"]
    assert all("--stop-after-init" in c and "-c" in c and "-d" in c for c in calls)
    # one log file per step, with Odoo's full output
    logs = [s.log_file for s in result.steps]
    assert len(set(logs)) == 3
    assert all(p is not None and p.is_relative_to(world.root / "logs") for p in logs)
    assert "Modules loaded." in logs[0].read_text()  # type: ignore[union-attr]
    assert events.count("start") == 3 and events.count("done") == 3
    assert result.installed == ["shop_core", "shop_extra", "shop_top", "tool_a"]


def test_failing_middle_wave_stops_and_keeps_earlier_waves(world: World) -> None:
    three_waves(world, fail_middle=True)
    result = install_modules(world.target(), ["shop_top", "tool_a"])
    assert not result.ok
    assert "wave 2/3 failed" in result.message
    states = world.states()
    assert states["shop_core"] == "installed" and states["tool_a"] == "installed"
    assert states["shop_extra"] == "uninstalled"  # Odoo rolled it back
    assert states["shop_top"] == "uninstalled"
    assert len(world.odoo_calls()) == 2  # wave 3 never ran
    step = result.failed_step
    assert step is not None and step.index == 2 and step.returncode != 0
    assert any("CRITICAL" in line for line in step.errors)
    assert any("ERROR" in line for line in step.errors)
    assert step.traceback[0].startswith("Traceback")
    assert "planted: shop_extra view is broken" in step.traceback[-1]
    assert [w.ok for w in result.waves] == [True, False]
    assert result.waves[1].not_installed == {"shop_extra": "uninstalled"}


def test_dry_run_prints_commands_and_changes_nothing(world: World) -> None:
    three_waves(world)
    before = world.states()
    result = install_modules(world.target(), ["shop_top"], dry_run=True)
    assert result.ok and result.dry_run
    assert [s.label for s in result.steps] == ["wave 1/3", "wave 2/3", "wave 3/3"]
    assert all(not s.ran for s in result.steps)
    assert "-i shop_core --stop-after-init" in result.steps[0].command
    assert world.odoo_calls() == []
    assert world.states() == before
    assert not (world.root / "logs").exists()


def test_unknown_module_is_refused_before_anything_runs(world: World) -> None:
    three_waves(world)
    with pytest.raises(OpsError, match="unknown addon nope"):
        install_modules(world.target(), ["nope"])
    assert world.odoo_calls() == []


@contextmanager
def lock_held_elsewhere(world: World) -> Iterator[psycopg.Connection]:
    """The deployment lock held by another session (as another odoo-ops process would)."""
    key = lock_key(deployment_lock_name(world.target()))
    conn = psycopg.connect(world.db.admin_dsn, autocommit=True)  # the 'postgres' database
    try:
        conn.execute("SELECT pg_advisory_lock(%s)", (key,))
        yield conn
    finally:
        conn.close()


def test_second_run_is_refused_while_the_lock_is_held(world: World) -> None:
    three_waves(world)
    with lock_held_elsewhere(world):
        with pytest.raises(LockError, match="another odoo-ops run"):
            install_modules(world.target(), ["tool_a"])
        start = time.monotonic()
        with pytest.raises(LockError):
            install_modules(world.target(), ["tool_a"], wait=0.6)
        assert time.monotonic() - start >= 0.5
    assert world.odoo_calls() == []


def test_second_run_waits_for_the_lock(world: World) -> None:
    three_waves(world)
    with lock_held_elsewhere(world) as holder:
        release = threading.Timer(
            0.7, lambda: holder.execute("SELECT pg_advisory_unlock_all()")
        )
        release.start()
        start = time.monotonic()
        result = install_modules(world.target(), ["tool_a"], wait=20)
        release.join()
    assert result.ok
    assert time.monotonic() - start >= 0.6
    assert world.states()["tool_a"] == "installed"


def test_two_real_runs_the_second_is_refused(world: World) -> None:
    world.addons.add("slow_one", depends=["base"], odoo_double={"sleep": 3})
    world.addons.add("tool_a", depends=["base"])
    first = world.popen("modules", "install", "slow_one")
    try:
        deadline = time.monotonic() + 20
        while not world.odoo_calls() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert world.odoo_calls(), "the first run never started odoo"
        second = world.cli("modules", "install", "tool_a")
        assert second.returncode == 1
        assert "another odoo-ops run is changing deployment" in second.stderr
        assert "--wait" in second.stderr
    finally:
        _out, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    states = world.states()
    assert states["slow_one"] == "installed" and states["tool_a"] == "uninstalled"


def test_install_over_ssh_runs_odoo_on_the_remote_host(world: World) -> None:
    world.addons.add("tool_a", depends=["base"])
    toml = (world.root / "odoo-ops.toml").read_text()
    toml = toml.replace(
        'runner = "local"',
        f'runner = "ssh"\nssh_host = "odoo.example.com"\nremote_runner = "local"\n'
        f'dsn = "{world.db.dsn}"\naddons_paths = ["addons"]',
    )
    toml = toml.replace('odoo_conf = "odoo.conf"', f'odoo_conf = "{world.root}/odoo.conf"')
    (world.root / "odoo-ops.toml").write_text(toml)
    result = install_modules(world.target(), ["tool_a"])
    assert result.ok, result.message
    assert world.states()["tool_a"] == "installed"
    ssh = world.fake.ssh_calls()
    assert len(ssh) == 1 and "odoo.example.com" in ssh[0]
    assert f"-c {world.root}/odoo.conf" in ssh[0] and "-i tool_a" in ssh[0]
    assert result.steps[0].command.startswith("ssh ")
