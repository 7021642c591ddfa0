"""Deploys against real git, a real PostgreSQL, the odoo double and a real HTTP server."""

from __future__ import annotations

import time
from typing import Any

import pytest

from .conftest import DeployWorld, git

PHASES_WITH_EFFECTS = [
    "maintenance",
    "rollback-point",
    "code",
    "addons",
    "modules",
    "restart",
    "verify",
    "snapshot",
    "finish",
]


def test_successful_deploy_and_history(deploy_world: DeployWorld) -> None:
    w = deploy_world
    before = w.state()
    new = w.release("18.0.1.1.0", files={"addons/shop/data.txt": "v2\n"})
    proc = w.cli("deploy", "--force")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = w.state()
    assert after["commit"] == new
    assert ("shop", "installed", "18.0.1.1.0") in after["modules"]
    assert after["maintenance"] == "off" == before["maintenance"]
    assert after["active_crons"] == before["active_crons"]
    assert after["markers"] == before["markers"]
    # the instant rollback copy is gone after a successful deploy
    copies = w.sql(
        "SELECT datname FROM pg_database WHERE datname LIKE %s", (w.db.name + "_odoo_ops_rb%",)
    )
    assert copies == []
    record = w.journal()[-1]
    assert record["result"] == "deployed" and record["ref_after"] == new
    assert [p["name"] for p in record["phases"]] == [
        "preflight",
        "lock",
        "maintenance",
        "rollback-point",
        "code",
        "addons",
        "modules",
        "restart",
        "verify",
        "snapshot",
        "finish",
    ]
    assert record["backup"] and (w.root / "backups" / record["backup"]).is_dir()
    hist = w.cli("deploy", "history", "--format", "json")
    assert hist.returncode == 0 and record["id"] in hist.stdout
    # a rollback by hand afterwards: from the backup (the instant copy was dropped)
    proc = w.cli("rollback", record["id"])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "maintenance flag written" in proc.stderr  # users kept out during the swap
    back = w.state()
    assert back["commit"] == before["commit"]
    assert back["modules"] == before["modules"]
    assert back["active_crons"] == before["active_crons"]
    assert back["maintenance"] == "off"
    assert back["filestore"] == before["filestore"]


@pytest.mark.parametrize("phase", PHASES_WITH_EFFECTS)
def test_failure_in_any_phase_leaves_everything_as_before(
    deploy_world: DeployWorld, phase: str
) -> None:
    w = deploy_world
    before = w.state()
    w.release("18.0.1.1.0", files={"addons/shop/data.txt": "v2\n"})
    proc = w.cli("deploy", "--force", env={"ODOO_OPS_INJECT_FAULT": f"{phase}:fail"})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"failed in {phase}" in proc.stdout
    assert w.state() == before
    record = w.journal()[-1]
    assert record["failed_phase"] == phase
    assert record["result"] in ("rolled-back", "failed")


# a kill leaves what the journal recorded; these phases cover each kind of record:
# maintenance only, maintenance + backup + instant copy, code and modules changed
@pytest.mark.parametrize("phase", ["rollback-point", "code", "modules", "finish"])
def test_killed_in_a_phase_then_rollback_restores(deploy_world: DeployWorld, phase: str) -> None:
    w = deploy_world
    before = w.state()
    w.release("18.0.1.1.0", files={"addons/shop/data.txt": "v2\n"})
    proc = w.cli("deploy", "--force", env={"ODOO_OPS_INJECT_FAULT": f"{phase}:kill"})
    assert proc.returncode == -9
    # the next deploy refuses to start over an interrupted one
    again = w.cli("deploy", "--force")
    assert again.returncode == 1 and "interrupted" in again.stderr
    proc = w.cli("rollback")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert w.state() == before


def test_failing_module_update_rolls_back(deploy_world: DeployWorld) -> None:
    w = deploy_world
    before = w.state()
    w.release("18.0.2.0.0", extra=', "odoo_double": {"fail": "update", "message": "boom"}')
    proc = w.cli("deploy", "--force")
    assert proc.returncode >= 1
    assert "failed in modules" in proc.stdout
    assert w.state() == before
    assert w.journal()[-1]["result"] == "rolled-back"


def test_verify_failure_rolls_back(deploy_world: DeployWorld) -> None:
    w = deploy_world
    before = w.state()
    w.release("18.0.1.1.0")
    w.web.set(status={"/web/login": 500})
    proc = w.cli("deploy", "--force", "--restart-timeout", "2")
    assert proc.returncode == 1  # however many verifications failed: 2 and 3 mean other things
    assert "failed in verify" in proc.stdout and "/web/login" in proc.stdout
    assert w.state() == before


def test_refuses_local_changes_and_diverged_branch(deploy_world: DeployWorld) -> None:
    w = deploy_world
    before = w.state()
    w.release("18.0.1.1.0")
    (w.root / "addons" / "shop" / "__init__.py").write_text("# local hack\n")
    proc = w.cli("deploy", "--force")
    assert proc.returncode == 1 and "local changes" in proc.stderr
    git(w.root, "checkout", "--", "addons/shop/__init__.py")
    assert w.state() == before
    # diverged: a local commit that origin does not have
    (w.root / "notes.txt").write_text("local\n")
    git(w.root, "add", "notes.txt")
    git(w.root, "commit", "-qm", "local commit")
    local_state = w.state()
    proc = w.cli("deploy", "--force")
    assert proc.returncode == 1 and "diverged" in proc.stderr
    assert w.state() == local_state


def test_two_deploys_at_once_second_is_refused(deploy_world: DeployWorld) -> None:
    w = deploy_world
    w.release("18.0.1.1.0", extra=', "odoo_double": {"sleep": 4}')
    first = w.popen("deploy", "--force")
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            journal = w.journal()
            if journal and any(p["name"] == "rollback-point" for p in journal[-1]["phases"]):
                break
            time.sleep(0.1)
        second = w.cli("deploy", "--force")
        assert second.returncode == 1
        assert "another odoo-ops run" in second.stderr
    finally:
        out, err = first.communicate(timeout=120)
    assert first.returncode == 0, out + err


def test_dry_run_changes_nothing(deploy_world: DeployWorld) -> None:
    w = deploy_world
    before = w.state()
    w.release("18.0.1.1.0")
    proc = w.cli("deploy", "--dry-run")
    assert proc.returncode == 0 and "rollback-point" in proc.stdout
    assert w.state() == before


def test_deploy_and_rollback_notify(deploy_world: DeployWorld, webhook_receiver: Any) -> None:
    w = deploy_world
    w.configure(f'[notifications]\nurls = ["{webhook_receiver.url.replace("http", "json", 1)}"]\n')
    w.release("18.0.1.1.0")
    proc = w.cli("deploy", "--force")
    assert proc.returncode == 0, proc.stderr
    posts = webhook_receiver.wait_for(1)
    assert "deploy deployed" in posts[0].json()["title"]
    w.release("18.0.1.2.0", extra=', "odoo_double": {"fail": "update"}')
    proc = w.cli("deploy", "--force")
    assert proc.returncode >= 1
    posts = webhook_receiver.wait_for(2)
    body = posts[1].json()
    assert "rolled-back" in body["title"] and "failed in modules" in body["message"]
    record = w.journal()[0]
    proc = w.cli("rollback", record["id"])
    assert proc.returncode == 0, proc.stderr
    posts = webhook_receiver.wait_for(3)
    assert "rolled back" in posts[2].json()["title"]
    # a finished rollback cannot be rolled back twice
    again = w.cli("rollback", record["id"])
    assert again.returncode == 1 and "already ended" in again.stderr
