"""Round trip: marker rows and attachments, backup, drop everything, restore, all back."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from psycopg import connect as psycopg_connect
from tests.support import odoo_schema

from odoo_ops.backup.create import CreateOptions, create_backup
from odoo_ops.backup.integrity import verify_entry
from odoo_ops.backup.layout import find_backup, list_backups, remove_tree
from odoo_ops.backup.restore import RestoreOptions, restore_backup
from odoo_ops.backup.testrestore import run_test_restore

from .conftest import BackupSite, age_keypair, data_dump, tree_digest

pytestmark = pytest.mark.pg


def _markers(site: BackupSite) -> None:
    with site.connect() as conn:
        for i in range(5):
            odoo_schema.add_partner(conn, f"MARKER-partner-{i}", email=f"m{i}@example.com")
        odoo_schema.add_attachment(conn, "in-db.txt", content=b"MARKER in db", in_db=True)
        odoo_schema.set_param(conn, "odoo_ops.marker", "before-backup")
    site.add_files(12, size=3000, prefix="marker")


@pytest.mark.parametrize(
    "variant", ["auto", "directory", "custom", "custom-zstd-stream", "encrypted"]
)
def test_round_trip(backup_site: Callable[..., BackupSite], tmp_path: Path, variant: str) -> None:
    extra = ""
    secret = None
    if variant == "encrypted":
        identity, public, secret = age_keypair(tmp_path)
        extra = f'[backup]\nage_recipients = ["{public}"]\nage_identity_file = "{identity}"\n'
    site = backup_site(extra)
    _markers(site)
    target = site.target()
    before = data_dump(site.db.dsn)
    files_before = tree_digest(site.filestore())
    assert len(files_before) >= 14

    options = {
        "directory": CreateOptions(jobs=2, dump_format="directory"),
        "auto": CreateOptions(),
        "custom": CreateOptions(dump_format="custom", jobs=1),
        "custom-zstd-stream": CreateOptions(dump_format="custom", compress="zstd:3"),
        "encrypted": CreateOptions(encrypt=True),
    }[variant]
    created = create_backup(target, options)
    assert created.path is not None and created.path.is_dir()
    manifest = json.loads((created.path / "manifest.json").read_text())
    assert manifest["filestore"]["files"] == len(files_before)
    assert manifest["row_counts"]["res_partner"] >= 5
    assert manifest["modules"]["base"].startswith("18.0.")
    assert manifest["series"] == "18.0"
    for path in created.path.rglob("*"):
        if path.is_file():
            assert path.stat().st_mode & 0o077 == 0, path
    if variant == "encrypted":
        assert secret is not None
        for path in created.path.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes()
                assert b"MARKER-partner" not in path.read_bytes()  # nothing in clear text
        assert created.manifest["dump"]["path"].endswith(".age")
    identity_file = target.project.config.backup.age_identity_file
    check = verify_entry(
        find_backup(site.backup_dir, created.name), deep=True, identity_file=identity_file
    )
    assert check.ok, check.problems
    assert check.toc_entries and check.filestore_files == len(files_before)

    # the disaster: database and filestore gone
    with site.connect("postgres") as admin:
        admin.execute(f'DROP DATABASE "{site.db.name}" WITH (FORCE)')
    remove_tree(site.filestore())

    result = restore_backup(target, created.name, RestoreOptions())
    assert result.replaced_database is None
    assert data_dump(site.db.dsn) == before
    assert tree_digest(site.filestore()) == files_before
    with site.connect() as conn:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM res_partner WHERE name LIKE 'MARKER-%' ORDER BY name")]
        assert names == [f"MARKER-partner-{i}" for i in range(5)]
        assert odoo_schema.get_param(conn, "odoo_ops.marker") == "before-backup"

    tested = run_test_restore(target, created.name)
    assert tested.ok, tested.problems
    assert tested.checks["attachments_checked"] == len(files_before)
    status = find_backup(site.backup_dir, created.name).test_restored
    assert status is not None and status["outcome"] == "pass"


def test_restore_force_keeps_the_replaced_copy(backup_site: Callable[..., BackupSite]) -> None:
    site = backup_site()
    site.add_files(3)
    target = site.target()
    created = create_backup(target, CreateOptions())
    before = data_dump(site.db.dsn)
    files_before = tree_digest(site.filestore())
    # changes made after the backup
    with site.connect() as conn:
        odoo_schema.add_partner(conn, "AFTER-BACKUP")
    site.add_files(2, prefix="after")
    changed = data_dump(site.db.dsn)
    changed_files = tree_digest(site.filestore())

    result = restore_backup(target, created.name, RestoreOptions(force=True, neutralize=True))
    assert result.replaced_database and result.replaced_database.startswith(site.db.name)
    assert "_before_restore_" in result.replaced_database
    with site.connect() as conn:
        assert conn.execute(
            "SELECT count(*) FROM res_partner WHERE name = 'AFTER-BACKUP'").fetchone() == (0,)
        assert odoo_schema.get_param(conn, "database.is_neutralized") == "true"
        active = conn.execute(
            "SELECT c.active, d.name FROM ir_cron c LEFT JOIN ir_model_data d"
            " ON d.model = 'ir.cron' AND d.res_id = c.id").fetchall()
        assert active and all(a == (n == "autovacuum_job") for a, n in active)
    assert tree_digest(site.filestore()) == files_before
    # the replaced database and filestore are kept, unchanged
    from tests.support import pg

    kept_dsn = pg.dsn_for(site.db.admin_dsn, result.replaced_database)
    assert data_dump(kept_dsn) == changed
    assert result.replaced_filestore is not None
    assert tree_digest(Path(result.replaced_filestore)) == changed_files
    assert before != changed
    assert [e.name for e in list_backups(site.backup_dir)] == [created.name]


def test_test_restore_reports_missing_files(backup_site: Callable[..., BackupSite]) -> None:
    site = backup_site()
    names = site.add_files(4, prefix="gone")
    (site.filestore() / names[0]).unlink()  # lost before the backup was taken
    target = site.target()
    created = create_backup(target, CreateOptions())
    result = run_test_restore(target, created.name)
    assert not result.ok
    assert result.problems == [
        f"1 stored attachment file(s) missing from the filestore (first: {names[0]})"
    ]
    status = find_backup(site.backup_dir, created.name).test_restored
    assert status is not None and status["outcome"] == "fail"
    # and the scratch copies are gone
    with site.connect("postgres") as conn:
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE %s",
                            (f"{site.db.name}__testrestore%",)).fetchone()
    assert left == (0,)


def test_restore_neutralizes_with_odoo_when_available(
    backup_site: Callable[..., BackupSite], fake_bin: Any
) -> None:
    site = backup_site()
    conf = site.db.write_odoo_conf(site.root / "odoo.conf", data_dir=site.data_dir)
    text = site.config.read_text().replace(
        "production = false\n", f'production = false\nodoo_conf = "{conf}"\n'
    )
    site.config.write_text(text)
    target = site.target()
    with site.connect() as conn:
        odoo_schema.add_mail_server(conn, "smtp")
    created = create_backup(target, CreateOptions())
    other = f"{site.db.name}_n"
    result = restore_backup(
        target, created.name, RestoreOptions(to=other, neutralize=True, use_odoo=True)
    )
    assert result.neutralized is not None and result.neutralized.method == "odoo+sql"
    calls = fake_bin.odoo_calls()
    assert any("neutralize" in call and other in " ".join(call) for call in calls), calls
    # the copy was neutralized before it took the database's name
    assert not any(other + "__restoring_" not in " ".join(c) for c in calls
                   if "neutralize" in c)
    from tests.support import pg

    with psycopg_connect(pg.dsn_for(site.db.admin_dsn, other)) as conn:
        assert odoo_schema.get_param(conn, "database.is_neutralized") == "true"
        assert conn.execute("SELECT bool_or(active) FROM ir_mail_server WHERE name = 'smtp'"
                            ).fetchone() == (False,)
