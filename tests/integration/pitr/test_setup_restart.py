"""`pitr setup --apply` on a server without archive_mode: it says a restart is needed,
creates the stanza, and after the restart a second run checks archiving for real."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.pitr.conftest import _skip_reason
from tests.support.pgcluster import PgCluster, make_shared_dir

pytestmark = [pytest.mark.pg, pytest.mark.slow]


def test_archive_mode_needs_a_restart_and_setup_says_so(tmp_path: Path) -> None:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    cluster = PgCluster.create(settings={"wal_level": "minimal", "max_wal_senders": "0"})
    pitr_dir = make_shared_dir("oo-pitr-r-")
    exe = shutil.which("odoo-ops")
    assert exe
    (tmp_path / "odoo-ops.toml").write_text(
        f'[deployments.prod]\ndsn = "{cluster.dsn("postgres")}"\ndatabase = "postgres"\n'
        f'[pitr]\ndir = "{pitr_dir}"\npg_data = "{cluster.data}"\n'
    )

    def setup(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, "pitr", "setup", *extra, "-C", str(tmp_path)],
                              capture_output=True, text=True, timeout=300)  # fmt: skip

    try:
        cluster.start()
        dry = setup("--apply", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert "would ALTER SYSTEM SET archive_mode" in dry.stdout
        assert not (pitr_dir / "pgbackrest.conf").exists()
        assert cluster.execute("SHOW archive_mode")[0][0] == "off"

        first = setup("--apply")
        assert first.returncode == 0, first.stdout + first.stderr
        assert "RESTART" in first.stdout and "archive_mode" in first.stdout
        assert "check skipped" in first.stdout
        assert cluster.execute("SHOW archive_mode")[0][0] == "off"  # until the restart
        check = subprocess.run([exe, "check", "--only", "pitr-archiving", "-C", str(tmp_path)],
                               capture_output=True, text=True, timeout=120)  # fmt: skip
        assert check.returncode != 0 and "archive_mode is off" in check.stdout, check.stdout

        cluster.restart()
        second = setup("--apply", "--format", "json")
        assert second.returncode == 0, second.stdout + second.stderr
        doc = json.loads(second.stdout)
        assert not doc["restart_needed"]
        assert any("WAL archiving works" in step for step in doc["steps"])
        assert cluster.execute("SHOW archive_mode")[0][0] == "on"
    finally:
        cluster.destroy()
        shutil.rmtree(pitr_dir, ignore_errors=True)
