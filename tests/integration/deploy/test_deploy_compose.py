"""Deploys of a compose deployment: the fake docker, real git, real PostgreSQL,
the odoo double and the fake web server (``deploy_world`` turned into compose).

The shared fake docker answers ``compose ps`` from a file the test writes but
does not change it on ``stop``/``start``. A small wrapper put first on PATH
(:func:`stateful_docker`) calls the shared fake and, when a ``stop``,
``start``, ``up`` or ``restart`` of a service succeeds, updates that file — so
``compose exec`` into a stopped service fails as with a real engine, and the
product has to notice the service is stopped (``run --rm``).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import DeployWorld, git

WRAPPER = '''\
#!{python}
"""docker wrapper for tests: the shared fake docker + container state on stop/start."""
import json, os, subprocess, sys

REAL = {real!r}
VALUED = {{"-f", "--file", "-p", "--project-name", "--project-directory", "--env-file",
          "--profile", "--ansi", "--progress", "--parallel"}}
STATE = {{"stop": "exited", "kill": "exited", "start": "running", "up": "running",
          "restart": "running"}}


def main(argv):
    rc = subprocess.call([REAL, *argv])
    if rc != 0 or argv[:1] != ["compose"]:
        return rc
    i, args = 0, argv[1:]
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in VALUED else 1
    if i >= len(args) or args[i] not in STATE:
        return rc
    services = [a for a in args[i + 1:] if not a.startswith("-")]
    path = os.environ.get("FAKE_COMPOSE_PS")
    if not path or not os.path.exists(path):
        return rc
    text = open(path, encoding="utf-8").read().strip()
    array = text.startswith("[")
    items = json.loads(text) if array else [json.loads(x) for x in text.splitlines() if x]
    for item in items:
        if not services or item.get("Service") in services:
            item["State"] = STATE[args[i]]
    out = json.dumps(items) if array else "".join(json.dumps(x) + "\\n" for x in items)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(out)
    return rc


sys.exit(main(sys.argv[1:]))
'''


def stateful_docker(world: DeployWorld, monkeypatch: pytest.MonkeyPatch, tmp: Path) -> None:
    bin_dir = tmp / "stateful-bin"
    bin_dir.mkdir()
    exe = bin_dir / "docker"
    exe.write_text(
        WRAPPER.format(python=sys.executable, real=str(world.fake.bin_dir / "docker")),
        encoding="utf-8",
    )
    exe.chmod(0o755)
    import os

    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def ps_state(world: DeployWorld, service: str = "odoo") -> str:
    text = world.fake.compose_ps_file.read_text(encoding="utf-8").strip()
    items = json.loads(text) if text.startswith("[") else [json.loads(x) for x in text.split("\n")]
    return next(i["State"] for i in items if i["Service"] == service)


@pytest.fixture
def compose_world(
    deploy_world: DeployWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> DeployWorld:
    """``deploy_world`` as a compose deployment whose ``odoo`` service bind-mounts the
    project and the data directory at the same paths (so the paths Odoo sees in the
    "container" are the host's: the fake docker runs commands on this host)."""
    w = deploy_world
    (w.root / "docker-compose.yml").write_text(
        "services:\n"
        "  odoo:\n"
        "    image: odoo:18.0\n"
        "    volumes:\n"
        f"      - {w.root}:{w.root}\n"
        f"      - {w.data_dir}:{w.data_dir}\n"
        "  db:\n"
        "    image: postgres:15\n",
        encoding="utf-8",
    )
    toml = w.root / "odoo-ops.toml"
    text = toml.read_text(encoding="utf-8")
    assert 'runner = "local"' in text and "stop_workers = false" in text
    text = text.replace(
        'runner = "local"', 'runner = "compose"\ncompose_file = "docker-compose.yml"'
    )
    text = text.replace("stop_workers = false\n", "")  # compose default: stop/start odoo
    toml.write_text(text, encoding="utf-8")
    git(w.root, "add", "docker-compose.yml", "odoo-ops.toml")
    git(w.root, "commit", "-qm", "compose deployment")
    git(w.root, "push", "-q", "origin", "HEAD:main")
    w.fake.set_compose_ps(
        [
            {"Service": "odoo", "Name": "project-odoo-1", "State": "running", "Health": ""},
            {"Service": "db", "Name": "project-db-1", "State": "running", "Health": "healthy"},
        ],
        fmt="lines",
    )
    stateful_docker(w, monkeypatch, tmp_path)
    return w


def compose_calls(world: DeployWorld) -> list[list[str]]:
    """The ``docker compose`` calls, as argv lists without the global options."""
    out = []
    for line in world.fake.docker_calls():
        argv = shlex.split(line)
        if argv[1:2] != ["compose"]:
            continue
        rest, i = argv[2:], 0
        while i < len(rest) and rest[i].startswith("-"):
            i += 2
        out.append(rest[i:])
    return out


def index_of(calls: list[list[str]], *prefix: str, start: int = 0) -> int:
    for i in range(start, len(calls)):
        if calls[i][: len(prefix)] == list(prefix):
            return i
    raise AssertionError(f"no call {' '.join(prefix)!r} after #{start} in {calls}")


def last_index(calls: list[list[str]], *prefix: str) -> int:
    found = [i for i, c in enumerate(calls) if c[: len(prefix)] == list(prefix)]
    assert found, f"no call {' '.join(prefix)!r} in {calls}"
    return found[-1]


def odoo_runs(calls: list[list[str]]) -> list[list[str]]:
    """``compose run``/``exec`` calls that ran the odoo executable."""
    return [c for c in calls if c[:1] in (["run"], ["exec"]) and any("odoo" in a for a in c[3:])]


def test_compose_deploy_stops_updates_in_a_one_off_container_then_starts(
    compose_world: DeployWorld,
) -> None:
    w = compose_world
    before = w.state()
    assert before["maintenance"] == "off"
    new = w.release("18.0.1.1.0", files={"addons/shop/data.txt": "v2\n"})
    proc = w.cli("deploy", "--force")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = compose_calls(w)
    stop = index_of(calls, "stop", "odoo")
    update = index_of(calls, "run", "--rm", "-T", "odoo", start=stop)
    start = index_of(calls, "start", "odoo", start=update)
    assert stop < update < start
    # the update ran in a one-off container with the paths Odoo sees, never through
    # `exec` into the stopped service
    runs = odoo_runs(calls)
    assert runs and all(c[0] == "run" for c in runs), runs
    assert "-u" in calls[update]
    assert ["-c", str(w.root / "odoo.conf")] == calls[update][5:7]
    assert ["-d", w.db.name] == calls[update][7:9]
    # nothing stopped the service after it was started again
    assert last_index(calls, "start", "odoo") > last_index(calls, "stop", "odoo")
    assert ps_state(w) == "running"
    after = w.state()
    assert after["commit"] == new
    assert ("shop", "installed", "18.0.1.1.0") in after["modules"]
    assert after["maintenance"] == "off"
    assert after["active_crons"] == before["active_crons"]
    assert not (w.root / ".odoo-ops" / "maintenance" / "prod.flag").exists()
    assert w.journal()[-1]["result"] == "deployed"


def test_compose_verify_failure_rolls_back_and_starts_odoo_again(
    compose_world: DeployWorld, webhook_receiver: Any
) -> None:
    w = compose_world
    w.configure(f'[notifications]\nurls = ["{webhook_receiver.url.replace("http", "json", 1)}"]\n')
    before = w.state()
    w.release("18.0.1.1.0", files={"addons/shop/data.txt": "v2\n"})
    w.web.set(status={"/web/login": 500})
    proc = w.cli("deploy", "--force", "--restart-timeout", "2")
    assert proc.returncode == 1, proc.stdout + proc.stderr  # failed, rolled back
    assert "failed in verify" in proc.stdout and "/web/login" in proc.stdout
    assert "Traceback" not in proc.stderr
    record = w.journal()[-1]
    assert record["result"] == "rolled-back"
    assert w.state() == before  # commit, modules, markers, crons, filestore, maintenance off
    # verified again after the rollback: the login page is still broken, and that is said
    assert record["after_rollback"] == ["/web/login: HTTP 500"]
    assert "after the rollback Odoo still fails: /web/login: HTTP 500" in proc.stderr
    body = webhook_receiver.wait_for(1)[0].json()
    assert "rolled-back" in body["title"]
    assert "after the rollback Odoo still fails: /web/login: HTTP 500" in body["message"]
    calls = compose_calls(w)
    first_stop = index_of(calls, "stop", "odoo")
    restart_start = index_of(calls, "start", "odoo", start=first_stop)
    # the Odoo started with the new code in the restart phase is stopped before the
    # database is put back, and started again on the old code afterwards
    rollback_stop = index_of(calls, "stop", "odoo", start=restart_start)
    index_of(calls, "start", "odoo", start=rollback_stop)
    assert ps_state(w) == "running"


def test_compose_pull_and_build_run_before_the_update_and_odoo_is_recreated(
    compose_world: DeployWorld,
) -> None:
    w = compose_world
    w.release("18.0.1.1.0")
    proc = w.cli("deploy", "--force", "--pull", "--build")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = compose_calls(w)
    stop = index_of(calls, "stop", "odoo")
    pull = index_of(calls, "pull", "odoo", start=stop)
    build = index_of(calls, "build", "odoo", start=pull)
    update = index_of(calls, "run", "--rm", "-T", "odoo", start=build)
    # `start` would start the old container again: the pulled/built image only
    # runs once the container is recreated (`up -d`)
    up = index_of(calls, "up", "-d", start=update)
    assert "odoo" in calls[up]
    assert ps_state(w) == "running"
    assert w.state()["maintenance"] == "off"


def test_compose_failing_pull_rolls_back_to_the_old_commit(compose_world: DeployWorld) -> None:
    w = compose_world
    before = w.state()
    w.release("18.0.1.1.0", files={"addons/shop/data.txt": "v2\n"})
    w.fake.fail_docker("pull")
    proc = w.cli("deploy", "--force", "--pull")
    assert proc.returncode >= 1
    assert "failed in code" in proc.stdout and "docker compose pull failed" in proc.stdout
    assert "fake failure of 'pull'" in proc.stdout
    record = w.journal()[-1]
    assert record["failed_phase"] == "code" and record["result"] == "rolled-back"
    assert record["after_rollback"] == []  # the old version answers again
    assert "after the rollback" not in proc.stderr
    # the fast-forward had happened before the pull: the code is back at the old commit
    assert w.state() == before
    calls = compose_calls(w)
    assert not [c for c in calls if c[:2] == ["run", "--rm"]]  # no module update ran
    assert last_index(calls, "start", "odoo") > last_index(calls, "stop", "odoo")
    assert ps_state(w) == "running"


def test_compose_failing_start_keeps_maintenance_on_and_says_so(
    compose_world: DeployWorld,
) -> None:
    """Odoo cannot be started again: the rollback cannot finish, and says so."""
    w = compose_world
    before = w.state()
    w.release("18.0.1.1.0")
    w.fake.fail_docker("start", "up")
    proc = w.cli("deploy", "--force", "--restart-timeout", "2")
    assert proc.returncode == 4  # the rollback failed too: a person is needed
    assert "failed in restart" in proc.stdout
    assert "ROLLBACK FAILED" in proc.stderr and "starting the Odoo workers failed" in proc.stderr
    assert "Traceback" not in proc.stderr
    # users still get the maintenance page rather than a half-started Odoo
    assert (w.root / ".odoo-ops" / "maintenance" / "prod.flag").exists()
    assert ps_state(w) == "exited"
    record = w.journal()[-1]
    assert f"odoo-ops rollback {record['id']}" in proc.stderr
    # the next deploy does not start over the half-rolled-back one
    again = w.cli("deploy", "--force")
    assert again.returncode == 1 and record["id"] in again.stderr
    # once Odoo can start again, the rollback the message points to finishes the job
    w.fake.fail_docker()
    proc = w.cli("rollback", record["id"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert w.state() == before
    assert ps_state(w) == "running"


def test_compose_deploy_under_maintenance_leaves_it_on_with_odoo_stopped(
    compose_world: DeployWorld,
) -> None:
    """Maintenance was on (Odoo stopped) before the deploy: so it is afterwards."""
    w = compose_world
    proc = w.cli("maintenance", "on")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    before = w.state()
    assert before["maintenance"] == "on" and ps_state(w) == "exited"
    new = w.release("18.0.1.1.0")
    proc = w.cli("deploy", "--force", "--restart-timeout", "2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = w.state()
    assert after["commit"] == new
    assert after["maintenance"] == "on"
    assert ps_state(w) == "exited"
    # and a deploy that fails under maintenance rolls back to maintenance on, Odoo stopped
    before = w.state()
    w.release("18.0.1.2.0")
    w.web.set(status={"/web/login": 500})
    proc = w.cli("deploy", "--force", "--restart-timeout", "2")
    assert proc.returncode >= 1 and "failed in verify" in proc.stdout
    assert w.state() == before
    assert ps_state(w) == "exited"


def test_pull_on_a_deployment_without_compose_is_refused_before_anything_changes(
    deploy_world: DeployWorld,
) -> None:
    w = deploy_world  # runner = "local"
    before = w.state()
    w.release("18.0.1.1.0")
    proc = w.cli("deploy", "--force", "--pull")
    assert proc.returncode != 0
    assert "compose deployment" in proc.stderr
    assert "Traceback" not in proc.stderr
    record = w.journal()[-1]
    assert record["failed_phase"] == "preflight" and record["backup"] is None
    assert not (w.root / "backups").exists() or not any((w.root / "backups").iterdir())
    assert w.state() == before
    assert w.fake.docker_calls() == []


def test_compose_rollback_by_hand_restarts_odoo_on_the_old_code(
    compose_world: DeployWorld,
) -> None:
    w = compose_world
    before = w.state()
    w.release("18.0.1.1.0", files={"addons/shop/data.txt": "v2\n"})
    proc = w.cli("deploy", "--force")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = w.journal()[-1]
    done = len(compose_calls(w))
    proc = w.cli("rollback", record["id"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "restored from backup" in proc.stderr  # the instant copy was dropped
    calls = compose_calls(w)[done:]
    stop = index_of(calls, "stop", "odoo")
    index_of(calls, "start", "odoo", start=stop)
    assert ps_state(w) == "running"
    assert w.state() == before
