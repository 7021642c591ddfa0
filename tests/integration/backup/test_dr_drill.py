"""``odoo-ops dr drill`` end to end: a real backup on a real file remote, restored into a
real scratch database, served by the odoo test double, compared, torn down, recorded."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from tests.support import pg
from tests.support.fakebin import BIN_DIR, FakeBin
from tests.support.remote_servers import SshServer, sshd_rsync  # noqa: F401 - fixture
from tests.support.webhook import WebhookReceiver

from odoo_ops.backup.create import CreateOptions, create_backup
from odoo_ops.backup.layout import find_backup, remove_tree
from odoo_ops.backup.remotes import find_config
from odoo_ops.backup.remotes.ops import push_backup
from odoo_ops.dr.drill import DrillResult, run_drill
from odoo_ops.dr.evidence import drill_evidence

from .conftest import BackupSite

pytestmark = pytest.mark.pg


def _scratch_databases(site: BackupSite) -> set[str]:
    """The drill's scratch databases of this site's database (other tests run alongside)."""
    with psycopg.connect(pg.dsn_for(site.db.admin_dsn, "postgres"), autocommit=True) as conn:
        rows = conn.execute("SELECT datname FROM pg_database").fetchall()
    return {r[0] for r in rows if r[0].startswith(site.db.name[:40]) and "__drill_" in r[0]}


def test_drill_from_a_remote_measures_rto_and_rpo(
    backup_site: Callable[..., BackupSite],
    fake_bin: FakeBin,
    tmp_path: Path,
) -> None:
    nas = tmp_path / "nas"
    nas.mkdir()
    site = backup_site(
        f'odoo_command = ["{fake_bin.odoo}"]\nenv_file = "dr.env"\n'
        '[dr]\nrto_minutes = 10\nrpo_minutes = 60\n'
        'login = "admin"\npassword = "${ODOO_DR_TEST_PASSWORD}"\n'
        f'[[backup.remotes]]\nname = "nas"\nurl = "file://{nas}"\n'
    )
    # the password from the deployment's env_file, as a secret would come
    (site.root / "dr.env").write_text("ODOO_DR_TEST_PASSWORD=admin\n")
    site.add_files(3, size=2000, prefix="dr")
    target = site.target()
    created = create_backup(target, CreateOptions())
    entry = find_backup(site.backup_dir, created.name)
    push_backup(target, entry, find_config(target, "nas"))
    remove_tree(entry.path)  # the server is gone: only the remote copy is left

    result = run_drill(target, from_remote="nas", timeout=120)

    assert result.problems == [], result.problems
    assert result.ok and result.rto_ok and result.rpo_ok
    assert result.backup == created.name and result.source == "remote nas"
    assert result.rto_seconds is not None and 0 < result.rto_seconds < 600
    assert result.rpo_seconds is not None and 0 <= result.rpo_seconds < 3600
    assert set(result.phases) == {"fetch", "restore", "start", "login", "compare", "teardown"}
    assert result.checks["login"] == "admin"  # logged in through /web/login
    assert result.checks["tables_compared"] > 3 and result.checks["neutralized"]
    # torn down: no scratch database, no scratch filestore; the pulled backup stays
    assert _scratch_databases(site) == set()
    assert sorted(p.name for p in (site.data_dir / "filestore").iterdir()) == [site.db.name]
    assert (site.backup_dir / created.name).is_dir()
    # recorded: JSON + Markdown + last.json
    dr_dir = target.state_dir / "dr"
    last = json.loads((dr_dir / "last.json").read_text())
    assert last["ok"] is True and last["rto_seconds"] == result.rto_seconds
    markdown = Path(str(result.markdown_path)).read_text()
    assert "**RTO**" in markdown and "met" in markdown and "| login |" in markdown
    # the go-live evidence
    assert [drill_evidence(target, a).status for a in ("restore", "rto", "rpo")] == ["pass"] * 3


def test_drill_fails_clearly_when_odoo_does_not_start(
    backup_site: Callable[..., BackupSite], tmp_path: Path, webhook_receiver: WebhookReceiver
) -> None:
    broken = tmp_path / "odoo"
    broken.write_text("#!/bin/sh\necho 'odoo: cannot start' >&2\nexit 3\n")
    broken.chmod(0o755)
    hook = webhook_receiver.url.replace("http://", "json://")
    site = backup_site(
        f'odoo_command = ["{broken}"]\n[notifications]\nurls = ["{hook}"]\n'
    )
    target = site.target()
    created = create_backup(target, CreateOptions())
    from odoo_ops.backup.integrity import verify_entry

    verify_entry(find_backup(site.backup_dir, created.name))
    result = run_drill(target, timeout=30)
    assert not result.ok and result.rto_seconds is None
    assert any("Odoo exited with status 3" in p for p in result.problems), result.problems
    assert _scratch_databases(site) == set()  # the scratch database was dropped all the same
    assert json.loads((target.state_dir / "dr" / "last.json").read_text())["ok"] is False
    assert drill_evidence(target, "restore").status == "fail"
    assert drill_evidence(target, "rto").summary == "RTO not measured: the drill failed"
    (posted,) = webhook_receiver.wait_for(1, timeout=20)
    assert "dr drill test: FAIL" in posted.text and "Odoo exited with status 3" in posted.text


def test_drill_with_a_wrong_password_fails_and_names_the_login(
    backup_site: Callable[..., BackupSite], fake_bin: FakeBin
) -> None:
    site = backup_site(
        f'odoo_command = ["{fake_bin.odoo}"]\n[dr]\nlogin = "admin"\npassword = "not-it"\n'
    )
    target = site.target()
    created = create_backup(target, CreateOptions())
    from odoo_ops.backup.integrity import verify_entry

    verify_entry(find_backup(site.backup_dir, created.name))
    result = run_drill(target, timeout=120)
    assert not result.ok and result.rto_seconds is None  # no user could work: no RTO
    assert result.problems == ["Odoo refused the login of admin (HTTP 200)"], result.problems
    assert "login" not in result.checks
    assert _scratch_databases(site) == set()
    last = (target.state_dir / "dr" / "last.json").read_text()
    assert "not-it" not in last


# -- through the compose and ssh runners ------------------------------------------------


def _odoo_processes(marker: str) -> list[int]:
    """Pids of this machine's processes whose command line names ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and "odoo" in cmdline:
            found.append(int(entry.name))
    return found


def _ssh_toml(server: SshServer, odoo: list[str], remote_dir: Path) -> str:
    options = [
        "-p", str(server.port), "-i", str(server.identity), "-o", "IdentitiesOnly=yes",
        "-o", f"UserKnownHostsFile={server.known_hosts}", "-o", "StrictHostKeyChecking=yes",
    ]  # fmt: skip
    return (
        f'runner = "ssh"\nssh_host = "{server.user}@127.0.0.1"\nremote_runner = "local"\n'
        f"remote_dir = {json.dumps(str(remote_dir))}\nssh_options = {json.dumps(options)}\n"
        f"odoo_command = {json.dumps(odoo)}\n"
    )


def test_drill_through_the_ssh_runner_starts_odoo_on_the_far_side(
    backup_site: Callable[..., BackupSite],
    sshd_rsync: SshServer,  # noqa: F811 - fixture
    tmp_path: Path,
) -> None:
    # the remote host is a real OpenSSH server on 127.0.0.1: Odoo (the double, run by
    # this interpreter, which has psycopg) starts there, its port forwarded back here
    site = backup_site(
        _ssh_toml(sshd_rsync, [sys.executable, str(BIN_DIR / "odoo")], tmp_path / "remote")
        + '[dr]\nlogin = "admin"\npassword = "admin"\n'
    )
    (tmp_path / "remote").mkdir()
    (tmp_path / "remote" / "data").symlink_to(site.data_dir)  # -D data, in remote_dir
    target = site.target()
    created = create_backup(target, CreateOptions())
    from odoo_ops.backup.integrity import verify_entry

    verify_entry(find_backup(site.backup_dir, created.name))

    result = run_drill(target, timeout=120)

    assert result.problems == [], (result.problems, _log_tail(result))
    assert result.ok and result.checks["runner"] == "ssh -> local"
    assert result.checks["login"] == "admin"  # through the forwarded port
    assert set(result.phases) == {"fetch", "restore", "start", "login", "compare", "teardown"}
    assert _scratch_databases(site) == set()
    # the remote Odoo was stopped with the ssh session: nothing of the drill outlives it
    scratch_prefix = f"{site.db.name}__drill_"
    deadline = time.monotonic() + 10
    while _odoo_processes(scratch_prefix) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _odoo_processes(scratch_prefix) == []


def test_drill_through_ssh_reports_odoo_exiting_on_the_far_side(
    backup_site: Callable[..., BackupSite],
    sshd_rsync: SshServer,  # noqa: F811 - fixture
    tmp_path: Path,
) -> None:
    broken = tmp_path / "odoo-broken"
    broken.write_text("#!/bin/sh\necho 'odoo: cannot start on the far side' >&2\nexit 3\n")
    broken.chmod(0o755)
    remote = tmp_path / "remote"
    remote.mkdir()
    site = backup_site(_ssh_toml(sshd_rsync, [str(broken)], remote))
    target = site.target()
    created = create_backup(target, CreateOptions())
    from odoo_ops.backup.integrity import verify_entry

    verify_entry(find_backup(site.backup_dir, created.name))
    result = run_drill(target, timeout=60)
    assert not result.ok and result.rto_seconds is None
    assert any(
        "Odoo exited with status 3" in p and "cannot start on the far side" in p
        for p in result.problems
    ), result.problems
    assert _scratch_databases(site) == set()


def test_drill_through_the_compose_runner_runs_a_scratch_container(
    backup_site: Callable[..., BackupSite], fake_bin: FakeBin, tmp_path: Path
) -> None:
    # no Docker engine for these tests: the fake docker client runs the container's
    # command here; what is checked is the compose command line and the teardown
    conf = tmp_path / "odoo.conf"
    site = backup_site(
        'runner = "compose"\ncompose_file = "compose.yaml"\nodoo_service = "odoo"\n'
        f'odoo_command = ["{fake_bin.odoo}"]\nodoo_conf = "odoo.conf"\n'
        '[dr]\nlogin = "admin"\npassword = "admin"\n'
    )
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(site.db.dsn)
    conf.write_text(
        "[options]\n"
        f"db_host = {params.get('host', '127.0.0.1')}\ndb_port = {params.get('port', 5432)}\n"
        f"db_user = {params.get('user', 'postgres')}\n"
        f"data_dir = {site.data_dir}\n"
    )
    (site.root / "odoo.conf").write_text(conf.read_text())
    # the container sees odoo.conf where this host has it (the fake runs it here)
    (site.root / "compose.yaml").write_text(
        "services:\n  odoo:\n    image: odoo:18\n    volumes:\n"
        f"      - ./odoo.conf:{site.root / 'odoo.conf'}\n"
        f"      - ./data:{site.data_dir}\n"
        "  db:\n    image: postgres:15\n"
    )
    target = site.target()
    created = create_backup(target, CreateOptions())
    from odoo_ops.backup.integrity import verify_entry

    verify_entry(find_backup(site.backup_dir, created.name))

    result = run_drill(target, timeout=120)

    assert result.problems == [], (result.problems, _log_tail(result))
    assert result.ok and result.checks["runner"] == "compose"
    assert result.checks["login"] == "admin"
    calls = fake_bin.docker_log.read_text().splitlines()
    (run,) = [c for c in calls if " run " in c]
    argv = shlex.split(run)
    container = argv[argv.index("--name") + 1]
    assert container.startswith("odoo-ops-drill-")
    assert argv[argv.index("run") : argv.index("run") + 4] == ["run", "--rm", "-T", "--no-deps"]
    port = argv[argv.index("--http-port") + 1]
    assert argv[argv.index("--publish") + 1] == f"127.0.0.1:{port}:{port}"
    assert argv[argv.index("--http-interface") + 1] == "0.0.0.0"
    assert argv[argv.index(container) + 3] == "odoo" and "-d" in argv
    assert argv[argv.index("-c") + 1] == str(site.root / "odoo.conf")  # the container's path
    assert f"docker rm -f {container}" in calls  # the scratch container removed
    assert _scratch_databases(site) == set()


def _log_tail(result: DrillResult) -> str:
    if not result.json_path:
        return ""
    log = Path(result.json_path).with_suffix(".log")
    return log.read_text(errors="replace")[-2000:] if log.exists() else ""


def test_drill_dry_run_names_the_runner_and_changes_nothing(
    backup_site: Callable[..., BackupSite], sshd_rsync: SshServer, tmp_path: Path  # noqa: F811
) -> None:
    site = backup_site(_ssh_toml(sshd_rsync, ["odoo"], tmp_path))
    exe = shutil.which("odoo-ops")
    assert exe
    proc = subprocess.run(
        [exe, "dr", "drill", "--dry-run"], cwd=site.root, capture_output=True, text=True,
        timeout=60, env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "through the ssh runner" in proc.stdout
    assert _scratch_databases(site) == set()
    assert not (site.root / ".odoo-ops" / "test" / "dr").exists()  # nothing recorded


def test_drill_through_ssh_sends_the_database_password_through_stdin(
    backup_site: Callable[..., BackupSite],
    sshd_rsync: SshServer,  # noqa: F811 - fixture
    tmp_path: Path,
) -> None:
    """Without an odoo.conf, the far side's Odoo gets the dsn's password as PGPASSWORD
    (read from ssh's stdin), never on a command line or in the drill's records."""
    from psycopg.conninfo import make_conninfo

    seen = tmp_path / "seen-password"
    argv = tmp_path / "seen-argv"
    # an "odoo" that notes the PGPASSWORD and the arguments it was given, then runs the double
    odoo = [
        "sh", "-c", f'printf %s "$PGPASSWORD" > {seen}; printf "%s\\n" "$@" > {argv};'
        ' exec "$0" "$@"',
        sys.executable, str(BIN_DIR / "odoo"),
    ]  # fmt: skip
    remote = tmp_path / "remote"
    remote.mkdir()
    site = backup_site(_ssh_toml(sshd_rsync, odoo, remote))
    (remote / "data").symlink_to(site.data_dir)
    secret = "s3cret-dr-0f1e"  # the test cluster trusts local connections: any password works
    config = site.config.read_text()
    config = config.replace(
        f'dsn = "{site.db.dsn}"', f"dsn = {json.dumps(make_conninfo(site.db.dsn, password=secret))}"
    )
    assert secret in config
    site.config.write_text(config)
    target = site.target()
    created = create_backup(target, CreateOptions())
    from odoo_ops.backup.integrity import verify_entry

    verify_entry(find_backup(site.backup_dir, created.name))

    result = run_drill(target, timeout=120)

    assert result.problems == [], (result.problems, _log_tail(result))
    assert result.ok and result.checks["runner"] == "ssh -> local"
    assert seen.read_text() == secret  # arrived on the far side
    given = argv.read_text()
    assert "--db_host" in given and "--db_user" in given and secret not in given
    records = [Path(str(result.json_path)), Path(str(result.markdown_path))]
    log = Path(str(result.json_path)).with_suffix(".log")
    for path in [*records, log]:
        assert secret not in path.read_text(errors="replace"), path
