"""``upgrade run`` through the deployment's runner, as deploy drives it.

- ssh: a real OpenSSH server on 127.0.0.1 (the backup tests' fixture); the target
  Odoo (the ``odoo`` double playing 18.0) runs on the far side with the odoo.conf
  and the OpenUpgrade addons found there, the database is reached by its dsn;
- compose: the fake docker client, for failures only: ``docker compose run`` of the
  target service failing, and ``docker compose up`` of the target's compose file
  failing after the migration: both roll back to the deployment as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from tests.integration.upgrade.conftest import DOUBLE, OCA, core_tree, openupgrade_wheels
from tests.support.addons import write_addon
from tests.support.fakebin import FakeBin
from tests.support.pg import OdooTestDb
from tests.support.remote_servers import SshServer, sshd_rsync  # noqa: F401 - fixture

TARGET_COMMAND = ["env", "ODOO_DOUBLE_SERIES=18.0", sys.executable, str(DOUBLE)]


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "odoo_ops.cli.main", *args], cwd=root, capture_output=True,
        text=True, timeout=300, stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", "ODOO_OPS_OFFLINE": "1"})


def _modules(db: OdooTestDb, name: str | None = None) -> dict[str, tuple[str, str | None]]:
    dsn = db.dsn if name is None else psycopg.conninfo.make_conninfo(db.dsn, dbname=name)
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT name, state, latest_version FROM ir_module_module").fetchall()
    return {str(n): (str(s), v) for n, s, v in rows}


def _far_side(tmp_path: Path, db: OdooTestDb) -> tuple[Path, Path, Path, Path]:
    """(18.0 core tree, OCA 18.0 dir, OpenUpgrade addons dir, target odoo.conf) as the
    target Odoo sees them where it runs (the same machine here)."""
    tree18 = core_tree(tmp_path / "odoo18", 18)
    oca18 = tmp_path / "oca18"
    write_addon(oca18, "web_ribbon", version="18.0.1.0.0", author=OCA)
    openupgrade_wheels(tmp_path / "wheels", "18.0", {})
    far = tmp_path / "far"
    for whl in sorted((tmp_path / "wheels").glob("*.whl")):  # installed there by hand
        with zipfile.ZipFile(whl) as zf:
            zf.extractall(far / "openupgrade")
    ou = far / "openupgrade" / "odoo" / "addons"
    conf = db.write_odoo_conf(far / "odoo18.conf", addons_path=[tree18, ou, oca18],
                              data_dir=far / "data", with_dbname=False)
    return tree18, oca18, ou, conf


def _upgrade_toml(tree18: Path, oca18: Path, tmp_path: Path, extra: str) -> str:
    return (f"[upgrade]\ntarget_odoo_command = {json.dumps(TARGET_COMMAND)}\n"
            f"target_addons_paths = {json.dumps([str(tree18), str(oca18)])}\n"
            f"openupgrade_wheels = {json.dumps([str(tmp_path / 'wheels')])}\n{extra}")


def _db17(odoo_db: Callable[..., OdooTestDb]) -> OdooTestDb:
    from tests.support import odoo_schema

    db = odoo_db(17, seed=True)
    with db.connect() as conn:
        odoo_schema.add_module(conn, "web_ribbon", state="installed",
                               latest_version="17.0.1.0.0", author=OCA)
    return db


def test_run_through_ssh_migrates_on_the_far_side_and_switches(
        odoo_db: Callable[..., OdooTestDb], tmp_path: Path,
        sshd_rsync: SshServer) -> None:  # noqa: F811 - fixture
    db = _db17(odoo_db)
    tree18, oca18, ou, conf = _far_side(tmp_path, db)
    tree17 = core_tree(tmp_path / "odoo17", 17)
    options = ["-p", str(sshd_rsync.port), "-i", str(sshd_rsync.identity), "-o",
               "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={sshd_rsync.known_hosts}",
               "-o", "StrictHostKeyChecking=yes"]
    root = tmp_path / "project"
    root.mkdir()
    (root / "odoo-ops.toml").write_text(
        'default_deployment = "prod"\n[deployments.prod]\nrunner = "ssh"\n'
        f'ssh_host = "{sshd_rsync.user}@127.0.0.1"\nremote_runner = "local"\n'
        f"remote_dir = {json.dumps(str(tmp_path / 'far'))}\n"
        f"ssh_options = {json.dumps(options)}\n"
        f"odoo_command = {json.dumps([sys.executable, str(DOUBLE)])}\n"
        f'series = "17.0"\ndsn = {json.dumps(db.dsn)}\n'
        f"addons_paths = {json.dumps([str(tree17)])}\n"
        "[deployments.prod.maintenance]\nstop_workers = false\n"
        + _upgrade_toml(tree18, oca18, tmp_path,
                        f"target_odoo_conf = {json.dumps(str(conf))}\n"
                        f"openupgrade_path = {json.dumps(str(ou))}\n"))
    before = _modules(db)

    dry = _cli(root, "upgrade", "run", "--to", "18.0", "--force", "--dry-run", "--format",
               "json")
    assert dry.returncode == 0, dry.stderr
    command = json.loads(dry.stdout)["command"]
    assert json.loads(dry.stdout)["runner"] == f"ssh {sshd_rsync.user}@127.0.0.1 -> local"
    assert command[:2] == ["env", "ODOO_DOUBLE_SERIES=18.0"]
    assert ["-c", str(conf)] == command[4:6]
    assert f"--upgrade-path={ou}/openupgrade_scripts/scripts" in command

    rehearsed = _cli(root, "upgrade", "rehearse", "--to", "18.0", "--format", "json")
    assert rehearsed.returncode == 0, rehearsed.stdout[-3000:] + rehearsed.stderr[-3000:]
    proc = _cli(root, "upgrade", "run", "--to", "18.0", "--format", "json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = json.loads(proc.stdout)
    assert run["ok"] and not run["forced"] and not run["rolled_back"]
    assert run["steps_done"] == ["maintenance on", "rollback point", "migrate", "verify",
                                 "switch configuration", "maintenance off"]
    log = Path(run["log_file"]).read_text()
    assert "Registry loaded in" in log  # the far side's output, through ssh
    after = _modules(db)
    assert after["base"] == ("installed", "18.0.1.3")
    assert after["web_ribbon"] == ("installed", "18.0.1.0.0")
    config = tomllib.loads((root / "odoo-ops.toml").read_text())["deployments"]["prod"]
    assert config["series"] == "18.0" and config["odoo_command"] == TARGET_COMMAND
    assert config["runner"] == "ssh"
    assert _modules(db, run["rollback_copy"]) == before  # the rollback point, kept


def _compose_project(tmp_path: Path, db: OdooTestDb, fake: FakeBin) -> Path:
    tree18, oca18, ou, conf = _far_side(tmp_path, db)
    root = tmp_path / "project"
    root.mkdir()
    (root / "docker-compose.yml").write_text(
        "services:\n  odoo:\n    image: odoo:17.0\n"
        "  odoo18:\n    image: odoo:18.0\n    profiles: [upgrade]\n")
    (root / "docker-compose.18.yml").write_text("services:\n  odoo:\n    image: odoo:18.0\n")
    (root / "odoo-ops.toml").write_text(
        'default_deployment = "prod"\n[deployments.prod]\nrunner = "compose"\n'
        'compose_file = "docker-compose.yml"\nodoo_service = "odoo"\n'
        'odoo_command = ["odoo"]\nseries = "17.0"\n'
        f"dsn = {json.dumps(db.dsn)}\n"
        "[deployments.prod.maintenance]\nstop_workers = false\n"
        + _upgrade_toml(tree18, oca18, tmp_path,
                        'target_service = "odoo18"\n'
                        f"target_odoo_conf = {json.dumps(str(conf))}\n"
                        f"openupgrade_path = {json.dumps(str(ou))}\n"
                        'target_compose_file = "docker-compose.18.yml"\n'))
    return root


@pytest.mark.parametrize("failing", ["run", "up"])
def test_run_through_compose_rolls_back_on_failure(
        odoo_db: Callable[..., OdooTestDb], tmp_path: Path, fake_bin: FakeBin,
        failing: str) -> None:
    db = _db17(odoo_db)
    root = _compose_project(tmp_path, db, fake_bin)
    toml_before = (root / "odoo-ops.toml").read_text()
    before = _modules(db)
    fake_bin.fail_docker(failing)
    proc = _cli(root, "upgrade", "run", "--to", "18.0", "--force", "--format", "json")
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    run = json.loads(proc.stdout)
    assert run["rolled_back"] and not run["switched"] and run["forced"]
    assert run["runner"] == f"compose ({root / 'docker-compose.yml'}, service odoo18)"
    assert _modules(db) == before
    assert (root / "odoo-ops.toml").read_text() == toml_before
    calls = fake_bin.docker_calls()
    migrate = [c for c in calls if " run --rm -T odoo18 " in c]
    assert len(migrate) == 1 and "--load=base,web,openupgrade_framework" in migrate[0]
    assert "-u all --stop-after-init --no-http" in migrate[0]
    if failing == "run":
        assert run["failure"]["message"].startswith("the target Odoo exited 1")
        assert not [c for c in calls if " up " in c]
    else:
        assert "migrate" in run["steps_done"] and "verify" in run["steps_done"]
        ups = [c for c in calls if " up -d --no-deps odoo" in c]
        assert "docker-compose.18.yml" in ups[0] and "docker-compose.yml" in ups[1]
        assert "docker compose up of odoo failed" in run["failure"]["message"]
        assert any("re-creating the previous Odoo services failed" in n
                   for n in run["cleanup"])
    assert "maintenance off" in run["steps_done"]
