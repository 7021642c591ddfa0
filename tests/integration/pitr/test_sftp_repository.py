"""The PITR repository on an ssh host through pgBackRest's sftp repository type:
``[pitr] repository`` names an ``ssh://`` remote of ``[[backup.remotes]]``. A real
OpenSSH sshd on 127.0.0.1 (tests/support/remote_servers.py) and a pgBackRest with
the sftp type (``ODOO_OPS_TEST_PGBACKREST_SFTP``, from .ci/setup.d/41-pgbackrest-sftp.sh).
The whole round trip goes through it: archive (archive_command runs pgBackRest as
the cluster's OS user, with the key odoo-ops copied for it), full backup, writes on
both sides of T, a restore to T; and a host key that does not match stops it.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.pitr.conftest import PitrSite, new_site
from tests.support.pgbackrest_sftp import pgbackrest_with_sftp
from tests.support.pgcluster import os_user
from tests.support.remote_servers import SshServer, sshd_rsync  # noqa: F401 - fixture

pytestmark = [pytest.mark.pg, pytest.mark.slow]


@pytest.fixture(scope="module")
def sftp_site(
    sshd_rsync: SshServer,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PitrSite]:
    exe = pgbackrest_with_sftp()
    (sshd_rsync.root / "pitr-prod").mkdir()
    remotes = (
        "[[backup.remotes]]\n"
        'name = "offsite"\n'
        f'url = "ssh://{sshd_rsync.user}@127.0.0.1:{sshd_rsync.port}{sshd_rsync.root}/pitr-prod"\n'
        + sshd_rsync.options_toml()
    )
    with new_site(tmp_path_factory, "sftp", remotes=remotes,
                  pitr=f'repository = "offsite"\npgbackrest = "{exe}"\n') as site:  # fmt: skip
        yield site


def _sftp_ls(server: SshServer, path: Path) -> list[str]:
    """The names in ``path`` on the ssh host, listed over sftp (as a user of it would)."""
    proc = subprocess.run(
        ["sftp", "-q", "-b", "-", "-P", str(server.port), "-i", str(server.identity),
         "-o", f"UserKnownHostsFile={server.known_hosts}", "-o", "StrictHostKeyChecking=yes",
         "-o", "BatchMode=yes", f"{server.user}@127.0.0.1"],
        input=f"ls -1 {path}\n", capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return [Path(ln.strip()).name for ln in proc.stdout.splitlines()
            if ln.strip() and not ln.startswith("sftp>")]  # fmt: skip


def test_setup_maps_the_ssh_remote_to_sftp_and_copies_the_key_for_the_cluster_user(
    sftp_site: PitrSite,
    sshd_rsync: SshServer,  # noqa: F811
) -> None:
    site, server = sftp_site, sshd_rsync
    proc = site.run("pitr", "setup", "--format", "json")
    url = f"ssh://{server.user}@127.0.0.1:{server.port}{server.root}/pitr-prod"
    assert json.loads(proc.stdout)["repository"] == f"sftp remote offsite ({url})"
    conf = site.pitr_dir / "pgbackrest.conf"
    lines = conf.read_text().splitlines()
    key_copy = site.pitr_dir / "repo-sftp.key"
    known_copy = site.pitr_dir / "repo-sftp.known_hosts"
    for line in ("repo1-type=sftp", "repo1-sftp-host=127.0.0.1",
                 f"repo1-sftp-host-port={server.port}", f"repo1-sftp-host-user={server.user}",
                 f"repo1-sftp-private-key-file={key_copy}",
                 "repo1-sftp-host-key-check-type=strict",
                 f"repo1-sftp-known-host={known_copy}",
                 f"repo1-path={server.root}/pitr-prod/pitr"):  # fmt: skip
        assert line in lines, line
    # archive_command runs pgBackRest as the cluster's OS user, who cannot read our key
    owner = os_user() or pwd.getpwuid(os.geteuid()).pw_name
    for copy, source in ((key_copy, server.identity), (known_copy, server.known_hosts)):
        st = copy.stat()
        assert stat.S_IMODE(st.st_mode) == 0o600, copy
        assert pwd.getpwuid(st.st_uid).pw_name == owner, copy
        assert copy.read_bytes() == source.read_bytes()
    assert server.identity.read_text().strip() not in proc.stdout + proc.stderr
    assert not (site.pitr_dir / "repo").exists()


def test_round_trip_through_the_ssh_host(
    sftp_site: PitrSite,
    sshd_rsync: SshServer,  # noqa: F811
) -> None:
    """Archive, full backup, writes on both sides of T, restore to T — all through the
    sftp host (nothing of the repository is local)."""
    site, server = sftp_site, sshd_rsync
    site.setup_backup_restore_between_writes("SFTP", "shop_sftp")
    repo = server.root / "pitr-prod" / "pitr"
    assert sorted(_sftp_ls(server, repo)) == ["archive", "backup"]
    assert any(n.startswith("15-") for n in _sftp_ls(server, repo / "archive" / "prod"))
    assert any(n.endswith("F") for n in _sftp_ls(server, repo / "backup" / "prod"))
    # nothing of the repository here: no repo/, no archive/ or backup/ in the PITR directory
    local = {p.name for p in site.pitr_dir.iterdir()}
    assert not local & {"repo", "archive", "backup"}, local
    info = site.json("pitr", "info")  # reads the repository over sftp too
    assert info["status"] == "ok" and len(info["backups"]) == 1, info
    site.run("pitr", "filestore-sync")
    site.run("check", "--only", "pitr-archiving")  # WAL archived, a fresh full backup


def test_a_host_key_that_does_not_match_stops_setup(
    sftp_site: PitrSite,
    sshd_rsync: SshServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    site, server = sftp_site, sshd_rsync
    other = tmp_path / "other_host_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
                   check=True, capture_output=True)  # fmt: skip
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[127.0.0.1]:{server.port} {Path(f'{other}.pub').read_text().strip()}\n")
    good = site.config.read_text()
    try:
        site.config.write_text(good.replace(str(server.known_hosts), str(wrong)))
        proc = site.run("pitr", "setup", "--apply", ok=False)
        assert proc.returncode != 0
        err = proc.stderr
        assert "Traceback" not in err
        # pgBackRest's own words, and what to look at here
        assert "pgbackrest stanza-create failed" in err and "mismatch in known hosts" in err, err
        assert "check known_hosts and identity_file of the remote offsite" in err, err
        assert server.identity.read_text().strip() not in proc.stdout + err
        # setup copied that known_hosts for archive_command too: archiving fails, and
        # the check says so
        failed = site.sql("SELECT failed_count FROM pg_stat_archiver")[0][0]
        site.sql("INSERT INTO invoice (name) VALUES ('SFTP-MISMATCH')")
        site.sql("SELECT pg_switch_wal()")
        deadline = time.monotonic() + 30
        while site.sql("SELECT failed_count FROM pg_stat_archiver")[0][0] == failed:
            assert time.monotonic() < deadline, "archive_command did not fail"
            time.sleep(0.2)
        check = site.run("check", "--only", "pitr-archiving", ok=False)
        assert check.returncode != 0 and "WAL archiving fails" in check.stdout, check.stdout
    finally:
        site.config.write_text(good)
        site.run("pitr", "setup")  # the right known hosts again
    site.sql("INSERT INTO invoice (name) VALUES ('SFTP-FIXED')")
    site.sql("SELECT pg_switch_wal()")  # a new segment wakes the archiver, which retries
    deadline = time.monotonic() + 90
    while site.sql("SELECT last_failed_time > last_archived_time FROM pg_stat_archiver")[0][0]:
        assert time.monotonic() < deadline, "archiving did not recover"
        time.sleep(0.5)
