"""``odoo-ops dr drill --target NAME``: one deployment's backup restored on, and served
through, another deployment of the same odoo-ops.toml — here a second, real PostgreSQL
cluster (its own port and socket) and its own data_dir, with the odoo test double."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from tests.support import pg
from tests.support.fakebin import FakeBin
from tests.support.pgcluster import PgCluster, server_available

from odoo_ops.backup.create import CreateOptions, create_backup
from odoo_ops.backup.integrity import verify_entry
from odoo_ops.backup.layout import find_backup, remove_tree
from odoo_ops.backup.remotes import find_config
from odoo_ops.backup.remotes.ops import push_backup
from odoo_ops.dr.drill import run_drill
from odoo_ops.dr.evidence import drill_evidence
from odoo_ops.errors import OpsError

from .conftest import BackupSite

pytestmark = pytest.mark.pg


@pytest.fixture
def standby_cluster() -> Iterator[PgCluster]:
    """A second PostgreSQL server (its own port), connections logged."""
    why = server_available()
    if why:
        pytest.skip(why)
    cluster = PgCluster.create(settings={"log_connections": "on"})
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


def _two_deployments(site: BackupSite, standby: str, extra: str = "") -> None:
    """``test`` (the site, the default) and ``standby`` (``standby``'s TOML body)."""
    text = site.config.read_text()
    site.config.write_text(
        'default_deployment = "test"\n' + text + f"[deployments.standby]\n{standby}{extra}"
    )


def _verified_backup(site: BackupSite) -> str:
    target = site.target()
    created = create_backup(target, CreateOptions())
    verify_entry(find_backup(site.backup_dir, created.name))
    return created.name


def _databases(dsn: str) -> set[str]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}


def test_drill_onto_a_second_deployment_uses_its_server_data_dir_and_runner(
    backup_site: Callable[..., BackupSite],
    fake_bin: FakeBin,
    standby_cluster: PgCluster,
    tmp_path: Path,
) -> None:
    standby_data = tmp_path / "standby-data"
    nas = tmp_path / "nas"
    nas.mkdir()
    site = backup_site(
        f'[[backup.remotes]]\nname = "nas"\nurl = "file://{nas}"\n'
        '[dr]\nlogin = "admin"\npassword = "admin"\n'
    )
    # the standby names no database of its own: only its server (another port) is used
    _two_deployments(
        site,
        f'dsn = "host={standby_cluster.socket_dir} port={standby_cluster.port} user=postgres"\n'
        f'data_dir = "{standby_data}"\nodoo_command = ["{fake_bin.odoo}"]\n'
        "production = false\n",
    )
    site.add_files(2, size=1500, prefix="tg")
    name = _verified_backup(site)
    source_dbs = _databases(pg.dsn_for(site.db.admin_dsn, "postgres"))
    target = site.target()
    entry = find_backup(site.backup_dir, name)
    push_backup(target, entry, find_config(target, "nas"))
    remove_tree(entry.path)  # this server is gone: the copy on the remote is fetched

    result = run_drill(target, from_remote="nas", onto="standby", timeout=120)

    assert result.problems == [], result.problems
    assert result.ok and result.target == "standby" and result.backup == name
    assert result.source == "remote nas"
    assert result.checks["runner"] == "local" and result.checks["login"] == "admin"
    assert result.checks["tables_compared"] > 3
    # restored on the standby's server: its log has the drill's connections to the scratch
    log = standby_cluster.log.read_text(errors="replace")
    scratch_prefix = f"{site.db.name}__drill_"[:40]
    assert f"database={scratch_prefix}" in log.replace('"', ""), standby_cluster.log_tail()
    # ... and nothing of it on the source's server, which keeps exactly its databases
    assert {d for d in _databases(pg.dsn_for(site.db.admin_dsn, "postgres"))
            if "__drill_" in d and d.startswith(site.db.name[:40])} == set()  # fmt: skip
    assert site.db.name in source_dbs
    # torn down on the standby: no scratch database, an empty filestore directory there
    assert _databases(standby_cluster.dsn()) == {"postgres", "template0", "template1"}
    assert list((standby_data / "filestore").iterdir()) == []
    # the source's filestore is untouched (only its live database's)
    assert [p.name for p in (site.data_dir / "filestore").iterdir()] == [site.db.name]
    # recorded with the deployment whose backup was drilled, naming the target
    last = json.loads((target.state_dir / "dr" / "last.json").read_text())
    assert last["target"] == "standby" and last["deployment"] == "test" and last["ok"]
    assert "deployment `standby`" in Path(str(result.markdown_path)).read_text()
    assert not (site.root / ".odoo-ops" / "standby" / "dr").exists()
    evidence = drill_evidence(target, "restore")
    assert evidence.status == "pass"
    assert evidence.summary == (
        f"{name} restored from remote nas on deployment standby, Odoo answered"
    )


def test_drill_refuses_a_target_whose_live_database_is_the_scratch_name(
    backup_site: Callable[..., BackupSite],
    fake_bin: FakeBin,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site = backup_site()
    token = "c0ffee"
    scratch = f"{site.db.name}__drill_{token}"
    assert len(scratch) < 63
    admin = pg.dsn_for(site.db.admin_dsn, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{scratch}"')
    try:
        with psycopg.connect(pg.dsn_for(site.db.admin_dsn, scratch), autocommit=True) as conn:
            conn.execute("CREATE TABLE live_marker (x int)")
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        params = conninfo_to_dict(site.db.dsn)
        params.pop("dbname", None)
        _two_deployments(
            site,
            f"dsn = {json.dumps(make_conninfo('', **params))}\ndatabase = \"{scratch}\"\n"
            f'data_dir = "data"\nodoo_command = ["{fake_bin.odoo}"]\nproduction = false\n',
        )
        _verified_backup(site)
        import odoo_ops.dr.drill as drill_module

        monkeypatch.setattr(drill_module.secrets, "token_hex", lambda n=None: token)
        with pytest.raises(OpsError) as caught:
            run_drill(site.target(), onto="standby", timeout=60)
        assert caught.value.message == (
            f"the drill's scratch database {scratch} is the live database of deployment"
            " standby: not drilling onto it"
        )
        # nothing changed: the target's database is there with its table, no record
        with psycopg.connect(pg.dsn_for(site.db.admin_dsn, scratch), autocommit=True) as conn:
            assert conn.execute("SELECT count(*) FROM live_marker").fetchone() == (0,)
        assert not (site.root / ".odoo-ops" / "test" / "dr" / "last.json").exists()
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("odoo-ops")
    assert exe
    return subprocess.run(
        [exe, *args], cwd=root, capture_output=True, text=True, timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip


def test_drill_target_dry_run_names_the_target_and_an_unknown_one_is_one_line(
    backup_site: Callable[..., BackupSite], tmp_path: Path
) -> None:
    site = backup_site()
    _two_deployments(
        site,
        'runner = "compose"\ncompose_file = "standby.yaml"\ndsn = "host=/nowhere"\n'
        'database = "standby"\nproduction = false\n',
    )
    dry = _cli(site.root, "dr", "drill", "--target", "standby", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "of deployment test" in dry.stdout
    assert "on deployment standby's database server and data_dir" in dry.stdout
    assert "through the compose runner of deployment standby" in dry.stdout
    assert not (site.root / ".odoo-ops" / "test" / "dr").exists()

    unknown = _cli(site.root, "dr", "drill", "--target", "nope")
    assert unknown.returncode != 0
    assert "no deployment named 'nope' (deployments: standby, test)" in unknown.stderr
    assert "Traceback" not in unknown.stderr and len(unknown.stderr.strip().splitlines()) <= 2
