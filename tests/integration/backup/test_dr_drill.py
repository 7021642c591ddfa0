"""``odoo-ops dr drill`` end to end: a real backup on a real file remote, restored into a
real scratch database, served by the odoo test double, compared, torn down, recorded."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from tests.support import pg
from tests.support.fakebin import FakeBin
from tests.support.webhook import WebhookReceiver

from odoo_ops.backup.create import CreateOptions, create_backup
from odoo_ops.backup.layout import find_backup, remove_tree
from odoo_ops.backup.remotes import find_config
from odoo_ops.backup.remotes.ops import push_backup
from odoo_ops.dr.drill import run_drill
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
