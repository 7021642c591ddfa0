"""``[pitr] pgbackrest`` as a wrapper and ``server_pgbackrest`` for archive_command — the
wiring ``init --pitr`` generates for compose (there the wrapper is ``docker compose exec
db pgbackrest``), exercised with the test's own cluster and a wrapper that records each
call and runs the real pgBackRest."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.pitr.conftest import PitrSite
from tests.support.pgcluster import give_to_cluster_user

pytestmark = [pytest.mark.pg, pytest.mark.slow]


HIDDEN: list[Path] = []


@pytest.fixture(scope="module")
def site(pitr_site: PitrSite) -> Iterator[PitrSite]:
    s = pitr_site
    calls = s.pitr_dir / "wrapper-calls.log"
    real = shutil.which("pgbackrest")
    text = f'#!/bin/sh\necho "$*" >> {calls}\nexec {real} "$@"\n'
    # first where the cluster's OS user cannot reach it (pytest's directory is root's)
    hidden = s.root / "private" / "pgbackrest-wrapper"
    hidden.parent.mkdir(mode=0o700)
    hidden.write_text(text)
    hidden.chmod(0o755)
    base = s.config.read_text()

    def use(wrapper: object) -> None:
        s.config.write_text(base.replace(
            "[pitr]\n",
            f'[pitr]\npgbackrest = "{wrapper}"\nserver_pgbackrest = "{real}"\n'
            'pg_user = "postgres"\n',
        ))  # fmt: skip

    use(hidden)
    HIDDEN.append(hidden)
    yield s


def test_a_wrapper_the_cluster_user_cannot_run_is_a_one_line_error(site: PitrSite) -> None:
    if os.geteuid() != 0:
        pytest.skip("runs as root: pgBackRest runs as the cluster's OS user then")
    proc = site.run("pitr", "setup", "--apply", ok=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "cannot run" in proc.stderr and "as postgres" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "unexpected error" not in proc.stderr


def test_odoo_ops_calls_the_wrapper_and_the_server_archives_with_its_own(site: PitrSite) -> None:
    calls = site.pitr_dir / "wrapper-calls.log"
    wrapper = site.pitr_dir / "pgbackrest-wrapper"  # the cluster user's directory
    shutil.copy(HIDDEN[0], wrapper)
    give_to_cluster_user(wrapper)
    wrapper.chmod(0o755)
    site.config.write_text(site.config.read_text().replace(str(HIDDEN[0]), str(wrapper)))
    applied = site.json("pitr", "setup", "--apply")
    assert applied["applied"] and any("check" in s for s in applied["steps"])
    command = site.cluster.execute("SHOW archive_command")[0][0]
    assert command.startswith(f"{shutil.which('pgbackrest')} --config=")
    assert "wrapper" not in command  # the server runs pgBackRest itself
    conf = (site.pitr_dir / "pgbackrest.conf").read_text()
    assert "pg1-user=postgres" in conf.splitlines()
    site.run("pitr", "backup", "--type", "full")
    info = site.json("pitr", "info")
    assert [b["type"] for b in info["backups"]] == ["full"]
    logged = calls.read_text().splitlines()
    verbs = [line.rsplit(" ", 1)[-1] for line in logged]
    for verb in ("stanza-create", "check", "backup", "info"):
        assert verb in verbs, logged
    assert "archive-push" not in verbs  # WAL went through the server's own pgbackrest
    assert info["archive_failing"] is False and info["wal_max"]
