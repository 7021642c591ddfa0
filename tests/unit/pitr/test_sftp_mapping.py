"""``[pitr] repository`` naming an ``ssh://``/``sftp://`` remote: the pgBackRest
settings it becomes when ``[pitr] pgbackrest`` has the sftp repository type, the
files ``pitr setup`` copies for the cluster's OS user, and the refusal when it has
not (Debian 12's pgbackrest 2.45, the one at /usr/bin/pgbackrest here and on CI).
The round trip against a real sshd is tests/integration/pitr/test_sftp_repository.py.
"""

from __future__ import annotations

import getpass
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from odoo_ops.adapters import Target
from odoo_ops.adapters.project import resolve_project
from odoo_ops.errors import ConfigError
from odoo_ops.pitr.repository import KEY_NAME, KNOWN_HOSTS_NAME, sftp_supported
from odoo_ops.pitr.settings import PitrSetup, resolve
from tests.support.pgbackrest_sftp import pgbackrest_with_sftp


def _project(root: Path, url: str, pgbackrest: str, options: str | None = None) -> Target:
    keys = root / "keys"
    keys.mkdir(exist_ok=True)
    (keys / "id").write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nnot a real key\n")
    (keys / "known").write_text("[backup.example.net]:2222 ssh-ed25519 AAAAC3Nza\n")
    if options is None:
        options = 'options = { identity_file = "keys/id", known_hosts = "keys/known" }\n'
    (root / "odoo-ops.toml").write_text(
        'default_deployment = "prod"\n'
        "[deployments.prod]\n"
        'dsn = "postgresql://odoo@127.0.0.1:5432/shop"\n'
        'database = "shop"\n'
        "[[backup.remotes]]\n"
        'name = "offsite"\n'
        f'url = "{url}"\n'
        f"{options}"
        "[pitr]\n"
        'repository = "offsite"\n'
        f'pgbackrest = "{pgbackrest}"\n'
        'dir = "pitr"\n'
        f'pg_data = "{root / "pgdata"}"\n'
    )
    return Target(resolve_project(root, environ={}))


def _repo_settings(st: PitrSetup) -> dict[str, str]:
    assert st.remote is not None
    return dict(st.remote.settings)


def test_an_ssh_remote_becomes_an_sftp_repository(tmp_path: Path) -> None:
    exe = pgbackrest_with_sftp()
    target = _project(tmp_path, "ssh://backup@backup.example.net:2222/srv/odoo", exe)
    st = resolve(target)
    base = tmp_path / "pitr"
    assert st.remote is not None and st.remote.kind == "sftp" and not st.remote.secrets
    assert _repo_settings(st) == {
        "repo1-type": "sftp",
        "repo1-sftp-host": "backup.example.net",
        "repo1-sftp-host-port": "2222",
        "repo1-sftp-host-user": "backup",
        "repo1-sftp-private-key-file": str(base / KEY_NAME),
        "repo1-sftp-host-key-check-type": "strict",
        "repo1-sftp-host-key-hash-type": "sha256",
        "repo1-sftp-known-host": str(base / KNOWN_HOSTS_NAME),
        "repo1-path": "/srv/odoo/pitr",
    }
    assert st.repo_display == "sftp remote offsite (ssh://backup@backup.example.net:2222/srv/odoo)"
    conf = st.pgbackrest_conf()
    assert "repo1-type=sftp\n" in conf and "repo1-path=/srv/odoo/pitr\n" in conf
    assert "not a real key" not in conf  # the key's path only
    # the settings are ones this pgBackRest knows (help fails on an unknown option)
    for key in _repo_settings(st):
        option = key.replace("repo1-", "repo-")
        help_out = subprocess.run([exe, "help", "backup", option], capture_output=True,
                                  text=True, timeout=30)  # fmt: skip
        assert help_out.returncode == 0 and option in help_out.stdout, (option, help_out.stderr)


def test_the_copies_are_the_remote_files_readable_by_their_owner_only(tmp_path: Path) -> None:
    exe = pgbackrest_with_sftp()
    target = _project(tmp_path, "sftp://backup.example.net/", exe)
    st = resolve(target)
    assert st.remote is not None
    settings = _repo_settings(st)
    # no user in the URL: ssh's default, the local user; no port: 22; the root: /pitr
    assert settings["repo1-sftp-host-user"] == getpass.getuser()
    assert settings["repo1-sftp-host-port"] == "22"
    assert settings["repo1-path"] == "/pitr"
    (tmp_path / "pitr").mkdir()
    given: list[Path] = []
    written = st.remote.install_copies(given.append)
    assert given == written
    assert written == [tmp_path / "pitr" / KEY_NAME, tmp_path / "pitr" / KNOWN_HOSTS_NAME]
    for copy, source in zip(written, ("keys/id", "keys/known"), strict=True):
        assert stat.S_IMODE(copy.stat().st_mode) == 0o600
        text = (tmp_path / source).read_text()
        assert copy.read_text() == text if text.endswith("\n") else text + "\n"


def test_without_known_hosts_the_ssh_clients_default_files_are_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exe = pgbackrest_with_sftp()
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "known_hosts").write_text("backup.example.net ssh-ed25519 AAAAC3Nza\n")
    monkeypatch.setenv("HOME", str(home))
    target = _project(tmp_path, "ssh://backup.example.net/srv", exe,
                      'options = { identity_file = "keys/id" }\n')  # fmt: skip
    st = resolve(target)
    assert st.remote is not None
    known = st.remote.copies[1]
    assert known.sources[0] == home / ".ssh" / "known_hosts"
    system = [Path(p) for p in ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")]
    assert list(known.sources[1:]) == [p for p in system if p.is_file()]


@pytest.mark.parametrize(
    ("url", "options", "expected"),
    [
        ("ssh://backup@backup.example.net/srv", 'options = { known_hosts = "keys/known" }\n',
         "remote names none"),
        ("ssh://backup@backup.example.net/srv",
         'options = { identity_file = "keys/nope", known_hosts = "keys/known" }\n',
         "identity_file"),
        ("ssh://backup@backup.example.net/srv",
         'options = { identity_file = "keys/id", known_hosts = "keys/nope" }\n',
         "known_hosts"),
    ],
)  # fmt: skip
def test_what_an_sftp_repository_cannot_do_with(
    tmp_path: Path, url: str, options: str | None, expected: str
) -> None:
    exe = pgbackrest_with_sftp()
    with pytest.raises(ConfigError, match=expected):
        resolve(_project(tmp_path, url, exe, options))


def _pgbackrest_without_sftp() -> str:
    exe = shutil.which("pgbackrest") or "/usr/bin/pgbackrest"
    if not os.path.exists(exe):
        if os.environ.get("CI"):
            pytest.fail("pgbackrest is missing on CI (.ci/setup.d/40-pgbackrest.sh)")
        pytest.skip("pgbackrest not installed (apt-get install pgbackrest; CI installs it)")
    if sftp_supported(exe):
        pytest.skip(f"{exe} has the sftp repository type: nothing to refuse")
    return exe


def test_without_sftp_an_ssh_remote_is_refused_saying_what_is_needed(tmp_path: Path) -> None:
    exe = _pgbackrest_without_sftp()
    version = subprocess.run([exe, "version"], capture_output=True, text=True,
                             timeout=30).stdout.strip()  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        resolve(_project(tmp_path, "ssh://backup@backup.example.net/srv", exe))
    err = caught.value
    assert "an ssh remote cannot hold the PITR repository" in err.message
    assert version in err.message and "no sftp repository type" in err.message
    hint = err.hint or ""
    for needed in ("2.46", "libssh2", "apt.postgresql.org", "Debian 12's 2.45",
                   "repository host is not offered", "docs/pitr.md"):  # fmt: skip
        assert needed in hint, needed
    missing = tmp_path / "no-such-pgbackrest"
    with pytest.raises(ConfigError, match="not found"):
        resolve(_project(tmp_path, "sftp://backup@backup.example.net/srv", str(missing)))


def test_the_refusal_is_one_line_on_the_command_line(tmp_path: Path) -> None:
    exe = _pgbackrest_without_sftp()
    _project(tmp_path, "ssh://backup@backup.example.net/srv", exe)
    cli = Path(sys.executable).parent / "odoo-ops"
    proc = subprocess.run([str(cli), "pitr", "setup", "--dry-run", "-C", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("error: [pitr] repository = 'offsite': an ssh remote cannot hold")
    assert all(ln.startswith(("error:", "hint:", " ")) for ln in lines), lines
