"""``odoo-ops dr drill`` with the real Odoo 18: the backup pushed to a file remote is
fetched, restored neutralized into a scratch database and served by the real server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.real.conftest import ROLE, RealProject
from tests.real.test_backup import create_backup
from tests.support.pg import SHARED_DIR
from tests.support.pgcluster import PgCluster, server_available
from tests.support.remote_servers import SshServer, sshd_rsync  # noqa: F401 - fixture

#: What the reference run of the shared dump's database records about its admin user.
ADMIN_REFERENCE = SHARED_DIR / "reference" / "odoo-18" / "http" / "xmlrpc_checks.txt"


def _admin_password() -> str | None:
    """The admin password of the shared dump, when the reference records it."""
    try:
        text = ADMIN_REFERENCE.read_text()
    except OSError:
        return None
    match = re.search(r"^authenticate admin/(\S+) uid: \d+$", text, re.MULTILINE)
    return match.group(1) if match else None


def test_drill_from_a_remote_with_real_odoo(real_project: RealProject, tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    nas.mkdir()
    password = _admin_password()
    # the login step needs the dump's admin password; without it the drill runs
    # without logging in (and says so in its notes)
    login = f'login = "admin"\npassword = "{password}"\n' if password else ""
    real_project.configure(
        f'[[backup.remotes]]\nname = "nas"\nurl = "file://{nas}"\n'
        f"[dr]\nrto_minutes = 15\nrpo_minutes = 60\n{login}"
    )
    name = create_backup(real_project)
    pushed = real_project.cli("backup", "push", name, "--remote", "nas")
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    drill = real_project.cli("dr", "drill", "--from", "nas", "--format", "json", timeout=600)
    assert drill.returncode == 0, drill.stdout + drill.stderr
    result = json.loads(drill.stdout)
    assert result["ok"] and result["problems"] == [], result
    assert result["checks"]["tables_compared"] > 5 and result["checks"]["modules_compared"] > 20
    assert 0 < result["rto_seconds"] < 900 and 0 <= result["rpo_seconds"] < 3600
    if password:
        assert result["checks"]["login"] == "admin" and "login" in result["phases"]
    else:
        assert any("no [dr] login" in n for n in result["notes"]), result["notes"]
    print(f"real Odoo 18 drill: RTO {result['rto_seconds']} s, RPO {result['rpo_seconds']} s,"
          f" phases {result['phases']}")
    # torn down: only the live database's filestore remains
    assert [p.name for p in (real_project.data_dir / "filestore").iterdir()] == [
        real_project.database
    ]


def test_drill_through_ssh_starts_the_real_odoo_on_the_far_side(
    real_project: RealProject,
    sshd_rsync: SshServer,  # noqa: F811 - fixture
) -> None:
    """runner = "ssh": the real Odoo 18 starts on the remote host (a real OpenSSH server
    on 127.0.0.1, the project's directory as remote_dir), reached through the port
    forward, logged in as admin, and is gone after the drill."""
    password = _admin_password()
    login = f'login = "admin"\npassword = "{password}"\n' if password else ""
    real_project.configure(f"[dr]\nrto_minutes = 15\nrpo_minutes = 60\n{login}")
    name = create_backup(real_project)
    verified = real_project.cli("backup", "verify", name)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    options = [
        "-p", str(sshd_rsync.port), "-i", str(sshd_rsync.identity),
        "-o", "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={sshd_rsync.known_hosts}",
        "-o", "StrictHostKeyChecking=yes",
    ]  # fmt: skip
    toml = real_project.root / "odoo-ops.toml"
    text = toml.read_text()
    assert 'runner = "local"\n' in text
    toml.write_text(text.replace(
        'runner = "local"\n',
        f'runner = "ssh"\nssh_host = "{sshd_rsync.user}@127.0.0.1"\nremote_runner = "local"\n'
        f"remote_dir = {json.dumps(str(real_project.root))}\n"
        f"ssh_options = {json.dumps(options)}\n",
    ))  # fmt: skip
    drill = real_project.cli("dr", "drill", "--format", "json", timeout=600)
    assert drill.returncode == 0, drill.stdout + drill.stderr
    result = json.loads(drill.stdout)
    assert result["ok"] and result["problems"] == [], result
    assert result["checks"]["runner"] == "ssh -> local"
    assert result["checks"]["modules_compared"] > 20
    if password:
        assert result["checks"]["login"] == "admin"
    print(f"real Odoo 18 drill over ssh: RTO {result['rto_seconds']} s, phases {result['phases']}")
    # nothing of the drill is left running on the far side
    scratch = f"{real_project.database}__drill_"
    leftover = [
        p for p in Path("/proc").iterdir()
        if p.name.isdigit() and scratch in _cmdline(p)
    ]  # fmt: skip
    assert leftover == []


def _cmdline(proc_dir: Path) -> str:
    try:
        return (proc_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def test_drill_onto_a_second_deployment_with_real_odoo(
    real_project: RealProject, tmp_path: Path
) -> None:
    """``--target standby``: the real project's backup restored on a second PostgreSQL
    cluster (its own port and socket) under the standby's own data_dir, served by the
    real Odoo 18 through the standby's odoo.conf, logged in as admin, torn down there."""
    why = server_available()
    if why:
        pytest.skip(why)
    password = _admin_password()
    login = f'login = "admin"\npassword = "{password}"\n' if password else ""
    cluster = PgCluster.create()
    try:
        cluster.start()
        cluster.execute(f'CREATE ROLE "{ROLE}" LOGIN CREATEDB')  # Odoo refuses a superuser
        standby_data = tmp_path / "standby-data"
        conf = real_project.root / "standby.conf"
        lines = [
            line for line in real_project.conf.read_text().splitlines()
            if not line.startswith(("db_host", "db_port", "data_dir", "db_name", "dbfilter",
                                    "logfile"))
        ]  # fmt: skip
        conf.write_text("\n".join([
            *lines, f"db_host = {cluster.socket_dir}", f"db_port = {cluster.port}",
            f"data_dir = {standby_data}", f"logfile = {tmp_path / 'standby-odoo.log'}", "",
        ]))  # fmt: skip
        real_project.configure(
            f"[dr]\nrto_minutes = 15\nrpo_minutes = 60\n{login}"
            "[deployments.standby]\nrunner = \"local\"\nproduction = false\n"
            f"odoo_command = {json.dumps(list(real_project.odoo.command))}\n"
            'odoo_conf = "standby.conf"\n'
            f'dsn = "host={cluster.socket_dir} port={cluster.port} user={ROLE}"\n'
            f"data_dir = {json.dumps(str(standby_data))}\n"
        )
        name = create_backup(real_project)
        verified = real_project.cli("backup", "verify", name)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        drill = real_project.cli(
            "dr", "drill", "--target", "standby", "--format", "json", timeout=600
        )
        assert drill.returncode == 0, drill.stdout + drill.stderr
        result = json.loads(drill.stdout)
        assert result["ok"] and result["problems"] == [], result
        assert result["target"] == "standby" and result["checks"]["runner"] == "local"
        assert result["checks"]["modules_compared"] > 20
        if password:
            assert result["checks"]["login"] == "admin"
        print(f"real Odoo 18 drill onto a second deployment: RTO {result['rto_seconds']} s,"
              f" phases {result['phases']}")
        # torn down on the standby's server and data_dir; the source's filestore as it was
        names = {r[0] for r in cluster.execute("SELECT datname FROM pg_database")}
        assert names == {"postgres", "template0", "template1"}
        assert list((standby_data / "filestore").iterdir()) == []
        assert [p.name for p in (real_project.data_dir / "filestore").iterdir()] == [
            real_project.database
        ]
    finally:
        cluster.destroy()
