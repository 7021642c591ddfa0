"""A PostgreSQL 15 cluster of its own with WAL archiving through the real pgBackRest,
and an odoo-ops project whose deployment ``prod`` (database ``shop``) lives on it.

Shared per module: initdb, the stanza and the first full backup take seconds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.pgcluster import PgCluster, make_shared_dir, server_available

pytestmark = [pytest.mark.pg, pytest.mark.slow]


@dataclass
class PitrSite:
    cluster: PgCluster
    root: Path
    config: Path
    pitr_dir: Path
    data_dir: Path

    @property
    def filestore(self) -> Path:
        return self.data_dir / "filestore" / "shop"

    def run(
        self, *args: str, ok: bool = True, timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        exe = shutil.which("odoo-ops")
        assert exe
        proc = subprocess.run([exe, *args, "-C", str(self.root)], capture_output=True,
                              text=True, cwd=self.root, timeout=timeout)  # fmt: skip
        if ok:
            assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--format", "json").stdout)

    def sql(self, statement: str, params: object = None, db: str = "shop") -> list[tuple[Any, ...]]:
        return self.cluster.execute(statement, params, dbname=db)

    def now(self) -> str:
        return str(self.sql("SELECT clock_timestamp()")[0][0])

    def setup_backup_restore_between_writes(self, tag: str, newdb: str) -> None:
        """``setup --apply``, a full backup, a row written before T and one after, a
        restore to T into ``newdb``: it holds the earlier row, not the later one."""
        applied = self.json("pitr", "setup", "--apply")
        assert applied["applied"] and any("check" in s for s in applied["steps"]), applied
        self.run("pitr", "backup", "--type", "full", timeout=180)
        time.sleep(1.1)  # pgBackRest restores from the whole second after a backup's stop
        self.sql(f"INSERT INTO invoice (name) VALUES ('{tag}-BEFORE-T')")
        moment = self.now()
        self.sql(f"INSERT INTO invoice (name) VALUES ('{tag}-AFTER-T')")
        out = self.json("pitr", "restore", "--time", moment, "--to", newdb)
        assert out["newdb"] == newdb
        rows = [r[0] for r in self.sql("SELECT name FROM invoice ORDER BY id", db=newdb)]
        assert rows == ["INV/0001", f"{tag}-BEFORE-T"]


@contextmanager
def running(site: PitrSite) -> Iterator[PitrSite]:
    """Start the site's cluster with a ``shop`` database (an invoice and an
    ``ir_attachment`` table); destroy the cluster and the pgBackRest directory after."""
    cluster = site.cluster
    try:
        cluster.start()
        cluster.execute("CREATE DATABASE shop")
        cluster.execute(
            "CREATE TABLE invoice (id serial PRIMARY KEY, name text NOT NULL,"
            " created timestamptz DEFAULT clock_timestamp());"
            "CREATE TABLE ir_attachment (id serial PRIMARY KEY, name text,"
            " store_fname varchar);"
            "INSERT INTO invoice (name) VALUES ('INV/0001')",
            dbname="shop",
        )
        yield site
    finally:
        print(cluster.log_tail(30))
        cluster.destroy()
        shutil.rmtree(site.pitr_dir, ignore_errors=True)


def _skip_reason() -> str | None:
    if shutil.which("pgbackrest") is None:
        return "pgbackrest not installed (apt-get install pgbackrest; CI installs it)"
    return server_available()


@contextmanager
def new_site(
    tmp_path_factory: pytest.TempPathFactory,
    kind: str = "",
    *,
    remotes: str = "",
    pitr: str = "",
    settings: dict[str, str] | None = None,
) -> Iterator[PitrSite]:
    """A running :class:`PitrSite` of its own cluster (WAL archiving on) and project
    (``kind`` names its directories): ``remotes`` is TOML put before ``[pitr]``,
    ``pitr`` lines of ``[pitr]`` after its ``dir`` and ``pg_data``."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    cluster = PgCluster.create(settings={
        "wal_level": "replica", "archive_mode": "on", "archive_timeout": "60",
        "max_wal_senders": "3", "max_wal_size": "64MB", **(settings or {}),
    })  # fmt: skip
    tag = f"{kind}-" if kind else ""
    pitr_dir = make_shared_dir(f"oo-pitr-{tag}")
    root = tmp_path_factory.mktemp(f"pitr-{tag}project")
    data_dir = root / "data"
    (data_dir / "filestore" / "shop").mkdir(parents=True)
    config = root / "odoo-ops.toml"
    config.write_text(
        'default_deployment = "prod"\n'
        "[deployments.prod]\n"
        f'dsn = "{cluster.dsn("shop")}"\n'
        'database = "shop"\n'
        f'data_dir = "{data_dir}"\n'
        f"{remotes}"
        "[pitr]\n"
        f'dir = "{pitr_dir}"\n'
        f'pg_data = "{cluster.data}"\n'
        f"{pitr}"
        "jobs = 2\n"
    )
    with running(PitrSite(cluster, root, config, pitr_dir, data_dir)) as site:
        yield site


@pytest.fixture(scope="module")
def pitr_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PitrSite]:
    with new_site(tmp_path_factory, pitr="archive_timeout = 60\nmax_archive_lag_minutes = 5\n",
                  settings={"checkpoint_timeout": "300"}) as site:  # fmt: skip
        yield site
