"""Maintenance mode (flag, workers, marker) and cron pause/resume."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from odoo_ops.modules import crons as cronx
from odoo_ops.modules import maintenance as mx
from odoo_ops.modules.install import install_modules
from tests.integration.modules.conftest import World
from tests.support import odoo_schema

pytestmark = pytest.mark.pg


def active_ids(world: World) -> set[int]:
    with world.db.connect() as conn:
        return {int(r[0]) for r in conn.execute("SELECT id FROM ir_cron WHERE active")}


def all_ids(world: World) -> set[int]:
    with world.db.connect() as conn:
        return {int(r[0]) for r in conn.execute("SELECT id FROM ir_cron")}


# -- crons ----------------------------------------------------------------------


def test_pause_resume_restores_exactly_the_active_set(world: World) -> None:
    target = world.target()
    before = active_ids(world)
    inactive_before = all_ids(world) - before
    assert before and inactive_before  # the seed has an inactive fetchmail cron
    paused = cronx.pause_crons(target)
    assert set(paused.ids) == before
    assert active_ids(world) == set()
    record = json.loads(world.param(cronx.PAUSED_PARAM) or "{}")
    assert set(record["ids"]) == before
    state = json.loads(cronx.state_file(target).read_text())
    assert set(state["ids"]) == before
    # while paused: someone adds a new active cron; a second pause changes nothing
    with world.db.connect() as conn:
        new_id = odoo_schema.add_cron(conn, 18, "Added while paused", model="res.partner")
    again = cronx.pause_crons(target)
    assert again.already and set(again.ids) == before
    assert json.loads(world.param(cronx.PAUSED_PARAM) or "{}")["ids"] == record["ids"]
    resumed = cronx.resume_crons(target)
    assert set(resumed.ids) == before
    assert active_ids(world) == before | {new_id}  # the new one was never touched
    assert not (all_ids(world) - {new_id} - before) & active_ids(world)  # inactive stay off
    assert world.param(cronx.PAUSED_PARAM) is None
    assert not cronx.state_file(target).exists()
    assert cronx.resume_crons(target).already


def test_resume_falls_back_to_the_state_file(world: World) -> None:
    target = world.target()
    before = active_ids(world)
    cronx.pause_crons(target)
    with world.db.connect() as conn:  # e.g. the database was restored from a backup
        conn.execute("DELETE FROM ir_config_parameter WHERE key = %s", (cronx.PAUSED_PARAM,))
    status = cronx.crons_status(target)
    assert status.paused and status.record_source == "state-file"
    assert any("state file is used" in p for p in status.problems)
    cronx.resume_crons(target)
    assert active_ids(world) == before


def test_resume_skips_crons_that_no_longer_exist(world: World) -> None:
    target = world.target()
    before = active_ids(world)
    cronx.pause_crons(target)
    gone = min(before)
    with world.db.connect() as conn:
        conn.execute("DELETE FROM ir_cron WHERE id = %s", (gone,))
    resumed = cronx.resume_crons(target)
    assert resumed.missing == [gone]
    assert active_ids(world) == before - {gone}


def test_pause_dry_run_changes_nothing(world: World) -> None:
    target = world.target()
    before = active_ids(world)
    change = cronx.pause_crons(target, dry_run=True)
    assert set(change.ids) == before
    assert any("UPDATE ir_cron SET active = false" in c for c in change.commands)
    assert active_ids(world) == before
    assert world.param(cronx.PAUSED_PARAM) is None


def test_crons_cli(world: World) -> None:
    before = active_ids(world)
    paused = world.cli("crons", "pause", "--format", "json")
    assert paused.returncode == 0, paused.stderr
    assert set(json.loads(paused.stdout)["ids"]) == before
    status = world.cli("crons", "status", "--format", "json")
    data = json.loads(status.stdout)
    assert data["paused"] and data["active"] == 0
    resumed = world.cli("crons", "resume")
    assert resumed.returncode == 0 and "resumed" in resumed.stdout
    assert active_ids(world) == before


# -- maintenance ------------------------------------------------------------------


def command_world(make_world, tmp_path: Path) -> tuple[World, Path]:  # type: ignore[no-untyped-def]
    """Workers stopped/started by real commands that keep a 'running' file."""
    running = tmp_path / "odoo-running"
    running.write_text("1")
    calls = tmp_path / "worker-calls.log"
    stop = ["sh", "-c", f"echo stop >> {calls} && rm -f {running}"]
    start = ["sh", "-c", f"echo start >> {calls} && touch {running}"]
    status = ["test", "-f", str(running)]
    world = make_world()
    toml = (world.root / "odoo-ops.toml").read_text().replace(
        "[deployments.prod.maintenance]\nstop_workers = false\n",
        "[deployments.prod.maintenance]\n"
        f"stop_command = {json.dumps(stop)}\n"
        f"start_command = {json.dumps(start)}\n"
        f"status_command = {json.dumps(status)}\n",
    )
    (world.root / "odoo-ops.toml").write_text(toml)
    return world, calls


def test_maintenance_on_off_and_status_tell_the_truth(make_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, calls = command_world(make_world, tmp_path)
    target = world.target()
    flag = world.root / ".odoo-ops" / "maintenance" / "prod.flag"
    assert mx.flag_path(target) == flag
    assert mx.maintenance_status(target).state == mx.OFF

    on = mx.maintenance_on(target, reason="upgrade to 1.2")
    assert on.workers_stopped
    assert flag.is_file() and json.loads(flag.read_text())["reason"] == "upgrade to 1.2"
    assert json.loads(world.param(mx.MARKER_PARAM) or "{}")["database"] == world.db.name
    status = mx.maintenance_status(target)
    assert status.state == mx.ON and status.workers == mx.STOPPED

    # somebody starts Odoo by hand: status says partial, and why
    (tmp_path / "odoo-running").write_text("1")
    status = mx.maintenance_status(target)
    assert status.state == mx.PARTIAL
    assert any("workers are running" in p for p in status.problems)
    (tmp_path / "odoo-running").unlink()

    mx.maintenance_off(target)
    assert not flag.exists() and world.param(mx.MARKER_PARAM) is None
    assert mx.maintenance_status(target).state == mx.OFF
    assert calls.read_text().split() == ["stop", "start"]


def test_maintenance_cli(make_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, calls = command_world(make_world, tmp_path)
    dry = world.cli("maintenance", "on", "--dry-run")
    assert dry.returncode == 0
    assert "prod.flag" in dry.stdout and "echo stop" in dry.stdout
    assert not calls.exists()
    on = world.cli("maintenance", "on", "--reason", "deploy")
    assert on.returncode == 0, on.stderr
    status = world.cli("maintenance", "status", "--format", "json")
    assert status.returncode == 0
    data = json.loads(status.stdout)
    assert data["state"] == "on" and data["flag"]["reason"] == "deploy"
    off = world.cli("maintenance", "off")
    assert off.returncode == 0, off.stderr
    assert mx.maintenance_status(world.target()).state == mx.OFF


def test_flag_without_marker_is_partial(make_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, _calls = command_world(make_world, tmp_path)
    target = world.target()
    mx.maintenance_on(target)
    with world.db.connect() as conn:
        conn.execute("DELETE FROM ir_config_parameter WHERE key = %s", (mx.MARKER_PARAM,))
    status = mx.maintenance_status(target)
    assert status.state == mx.PARTIAL
    assert "flag file present but no database marker" in status.problems


def test_compose_workers_go_through_docker_compose(make_world) -> None:  # type: ignore[no-untyped-def]
    world = make_world()
    (world.root / "docker-compose.yml").write_text(
        "services:\n  odoo:\n    image: odoo:18\n  db:\n    image: postgres:15\n"
    )
    toml = (world.root / "odoo-ops.toml").read_text()
    toml = toml.replace(
        'runner = "local"', 'runner = "compose"\ncompose_file = "docker-compose.yml"'
    )
    toml = toml.replace("stop_workers = false", "stop_workers = true")
    toml = toml.replace(f'database = "{world.db.name}"',
                        f'database = "{world.db.name}"\ndsn = "{world.db.dsn}"')
    (world.root / "odoo-ops.toml").write_text(toml)
    world.fake.set_compose_ps([{"Service": "odoo", "State": "exited", "Name": "p-odoo-1"}])
    target = world.target()
    mx.maintenance_on(target)
    assert mx.maintenance_status(target).state == mx.ON
    mx.maintenance_off(target)
    docker = world.fake.docker_calls()
    assert any(shlex.split(c)[-2:] == ["stop", "odoo"] for c in docker), docker
    assert any(shlex.split(c)[-2:] == ["start", "odoo"] for c in docker), docker


def test_install_with_maintenance_wraps_in_both_and_restores(make_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, calls = command_world(make_world, tmp_path)
    world.addons.add("tool_a", depends=["base"])
    before = active_ids(world)
    seen: list[str] = []

    def watch(event) -> None:  # type: ignore[no-untyped-def]
        if event.kind == "start":  # the odoo step starts: users must be out
            flag = world.root / ".odoo-ops" / "maintenance" / "prod.flag"
            seen.append(f"flag={flag.exists()} crons={len(active_ids(world))}")

    result = install_modules(world.target(), ["tool_a"], maintenance=True, on_event=watch)
    assert result.ok, result.message
    assert seen == ["flag=True crons=0"]
    assert world.states()["tool_a"] == "installed"
    assert active_ids(world) == before
    assert world.param(mx.MARKER_PARAM) is None
    assert mx.maintenance_status(world.target()).state == mx.OFF
    assert calls.read_text().split() == ["stop", "start"]


def test_failed_install_with_maintenance_still_restores(make_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, _calls = command_world(make_world, tmp_path)
    world.addons.add("broken", depends=["base"], odoo_double={"fail": "install"})
    before = active_ids(world)
    result = install_modules(world.target(), ["broken"], maintenance=True)
    assert not result.ok
    assert active_ids(world) == before
    assert mx.maintenance_status(world.target()).state == mx.OFF


def test_already_paused_crons_stay_paused_after_a_wrapped_run(make_world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    world, _calls = command_world(make_world, tmp_path)
    world.addons.add("tool_a", depends=["base"])
    cronx.pause_crons(world.target())
    result = install_modules(world.target(), ["tool_a"], maintenance=True)
    assert result.ok
    assert active_ids(world) == set()  # the user's pause is left as it was
    assert cronx.crons_status(world.target()).paused


def test_compose_install_with_maintenance_uses_a_one_off_container(make_world) -> None:  # type: ignore[no-untyped-def]
    world = make_world()
    root = world.root
    (root / "docker-compose.yml").write_text(
        "services:\n  odoo:\n    image: odoo:18\n"
        f"    volumes:\n      - {root}:{root}\n  db:\n    image: postgres:15\n"
    )
    toml = (root / "odoo-ops.toml").read_text()
    toml = toml.replace(
        'runner = "local"', 'runner = "compose"\ncompose_file = "docker-compose.yml"'
    )
    toml = toml.replace("stop_workers = false", "stop_workers = true")
    toml = toml.replace(f'database = "{world.db.name}"',
                        f'database = "{world.db.name}"\ndsn = "{world.db.dsn}"')
    (root / "odoo-ops.toml").write_text(toml)
    # docker compose ps keeps saying "running": odoo-ops knows it stopped the service itself
    world.fake.set_compose_ps([{"Service": "odoo", "State": "running", "Name": "p-odoo-1"}])
    world.addons.add("tool_a", depends=["base"])
    result = install_modules(world.target(), ["tool_a"], maintenance=True)
    assert result.ok, result.message
    assert world.states()["tool_a"] == "installed"
    subcommands = []
    for call in world.fake.docker_calls():
        argv = shlex.split(call)
        sub = next((a for a in argv if a in ("stop", "start", "run", "exec")), None)
        if sub:
            subcommands.append(sub)
    assert subcommands == ["stop", "run", "start"], world.fake.docker_calls()
    run_call = next(c for c in world.fake.docker_calls() if " run " in c)
    assert "--rm -T odoo" in run_call and f"-c {root}/odoo.conf" in run_call
