"""PITR with a DSN whose role is no superuser (Odoo's own, as ``init --pitr`` generates),
on the test's own cluster and the real pgBackRest (``pg_user = "postgres"`` for it):

- ``pitr setup --apply`` with the archive settings already in place alters nothing and
  reloads nothing, so that role suffices; a setting it would have to change is refused
  in one line naming the setting and what is needed (no traceback);
- ``pitr restore`` seals the archive through ``pgbackrest check`` (the role may not call
  ``pg_switch_wal()``), so a moment a second ago is restorable; the NEWDB is long enough
  that the scratch directory's socket path would pass 107 bytes, so the scratch server's
  socket goes to a short directory under /tmp, removed afterwards.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.integration.pitr.conftest import _skip_reason
from tests.support.pgcluster import PgCluster, make_shared_dir

pytestmark = [pytest.mark.pg, pytest.mark.slow]

NEWDB = "shop_restored_into_a_database_whose_name_makes_the_socket_long"


@dataclass
class Site:
    cluster: PgCluster
    root: Path
    pitr_dir: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        exe = shutil.which("odoo-ops")
        assert exe
        return subprocess.run([exe, *args, "-C", str(self.root)], capture_output=True,
                              text=True, timeout=300)  # fmt: skip

    def odoo(self, dbname: str = "shop") -> psycopg.Connection[tuple[object, ...]]:
        dsn = f"host={self.cluster.socket_dir} port={self.cluster.port} user=odoo dbname={dbname}"
        return psycopg.connect(dsn, autocommit=True)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    pitr_dir = make_shared_dir("oo-pitr-u-")
    conf = pitr_dir / "pgbackrest.conf"
    archive_command = f"pgbackrest --config={conf} --stanza=prod archive-push %p"
    # the settings pitr setup wants, in place from the start (as on the generated db service)
    cluster = PgCluster.create(settings={
        "wal_level": "replica", "archive_mode": "on", "archive_timeout": "60",
        "max_wal_senders": "3", "archive_command": f"'{archive_command}'",
    })  # fmt: skip
    root = tmp_path_factory.mktemp("pitr-unprivileged")
    (root / "odoo-ops.toml").write_text(
        'default_deployment = "prod"\n'
        "[deployments.prod]\n"
        f'dsn = "host={cluster.socket_dir} port={cluster.port} user=odoo"\n'
        'database = "shop"\n'
        "[pitr]\n"
        f'dir = "{pitr_dir}"\n'
        f'pg_data = "{cluster.data}"\n'
        'pg_user = "postgres"\n'
        "archive_timeout = 60\n"
    )
    site = Site(cluster, root, pitr_dir)
    try:
        cluster.start()
        cluster.execute("CREATE ROLE odoo LOGIN CREATEDB")
        with site.odoo("postgres") as conn:
            conn.execute("CREATE DATABASE shop")
        with site.odoo() as conn:
            conn.execute("CREATE TABLE invoice (id serial PRIMARY KEY, name text NOT NULL)")
            conn.execute("INSERT INTO invoice (name) VALUES ('INV/0001')")
        yield site
    finally:
        print(cluster.log_tail(30))
        cluster.destroy()
        shutil.rmtree(pitr_dir, ignore_errors=True)


def _may(site: Site, function: str) -> bool:
    with site.odoo() as conn:
        row = conn.execute("SELECT has_function_privilege(%s, 'EXECUTE')", (function,))
        return bool(row.fetchone()[0])  # type: ignore[index]


def test_setup_alters_nothing_and_a_needed_change_is_one_clear_line(site: Site) -> None:
    assert not _may(site, "pg_reload_conf()")
    proc = site.run("pitr", "setup", "--apply")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ALTER SYSTEM" not in proc.stdout
    assert "pgbackrest check: WAL archiving works" in proc.stdout
    config = site.root / "odoo-ops.toml"
    text = config.read_text()
    config.write_text(text.replace("archive_timeout = 60\n", "archive_timeout = 30\n"))
    try:
        refused = site.run("pitr", "setup", "--apply")
    finally:
        config.write_text(text)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    errors = [ln for ln in refused.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, refused.stderr
    assert "archive_timeout" in errors[0] and "role odoo may not run ALTER SYSTEM" in errors[0]
    assert "Traceback" not in refused.stderr and "unexpected error" not in refused.stderr
    assert site.cluster.execute("SHOW archive_timeout")[0][0] == "1min"


def test_restore_seals_through_pgbackrest_check(site: Site) -> None:
    backup = site.run("pitr", "backup", "--type", "full")
    assert backup.returncode == 0, backup.stdout + backup.stderr
    with site.odoo() as conn:
        conn.execute("INSERT INTO invoice (name) VALUES ('INV/0002')")
        time.sleep(1.2)  # T strictly after the backup's stop second
        moment = str(conn.execute("SELECT clock_timestamp()").fetchone()[0])  # type: ignore[index]
        time.sleep(0.3)
        conn.execute("INSERT INTO invoice (name) VALUES ('INV/0003')")
    # no WAL switch here: only the restore's seal brings T into the window
    assert not _may(site, "pg_switch_wal()")
    before = set(Path(tempfile.gettempdir()).glob("odoo-ops-pitr-*"))
    proc = site.run("pitr", "restore", "--time", moment, "--to", NEWDB)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with site.odoo(NEWDB) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM invoice ORDER BY id")] == [
            "INV/0001", "INV/0002",
        ]  # fmt: skip
    with site.odoo() as conn:
        live = [r[0] for r in conn.execute("SELECT name FROM invoice ORDER BY id")]
    assert live == ["INV/0001", "INV/0002", "INV/0003"]
    assert list((site.pitr_dir / "scratch").iterdir()) == []
    assert set(Path(tempfile.gettempdir()).glob("odoo-ops-pitr-*")) == before
    assert not (site.pitr_dir / "restore-in-progress.json").exists()


def test_a_failed_recovery_keeps_the_scratch_servers_log(site: Site) -> None:
    """WAL after the backup gone from the repository: the scratch server stops during
    recovery; the error names its log, which is still there after the clean-up."""
    archive = site.pitr_dir / "repo" / "archive" / "prod"
    labels = sorted(p.name[:24] for p in archive.glob("*/*/*.backup"))
    assert labels, list(archive.rglob("*"))
    for path in archive.glob("*/*/*"):
        if ".backup" not in path.name and path.name[:24] > labels[-1]:
            path.unlink()
    with site.odoo() as conn:
        moment = str(conn.execute("SELECT clock_timestamp()").fetchone()[0])  # type: ignore[index]
    proc = site.run("pitr", "restore", "--time", moment, "--to", "shop_broken")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "the scratch server stopped during recovery" in proc.stderr, proc.stderr
    hint = next(ln for ln in proc.stderr.splitlines() if ln.startswith("hint: its log: "))
    kept = Path(hint.removeprefix("hint: its log: ").strip())
    assert kept.parent == site.pitr_dir / "log" and "FATAL" in kept.read_text(), hint
    assert list((site.pitr_dir / "scratch").iterdir()) == []
    assert not (site.pitr_dir / "restore-in-progress.json").exists()
    names = {r[0] for r in site.cluster.execute("SELECT datname FROM pg_database")}
    assert "shop_broken" not in names and "shop_broken__pitr" not in names
