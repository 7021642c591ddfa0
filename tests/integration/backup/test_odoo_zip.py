"""Odoo's database-manager zip, both ways; and the real Odoo 18 database round trip."""

from __future__ import annotations

import json
import subprocess
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support import pg

from odoo_ops.backup.create import CreateOptions, create_backup
from odoo_ops.backup.integrity import verify_entry
from odoo_ops.backup.layout import find_backup
from odoo_ops.backup.odoo_zip import export_odoo, import_odoo
from odoo_ops.backup.restore import RestoreOptions, restore_backup
from odoo_ops.backup.testrestore import run_test_restore
from odoo_ops.errors import OpsError

from .conftest import BackupSite, data_dump, tree_digest, write_config

pytestmark = pytest.mark.pg

ODOO_MANIFEST_KEYS = {
    "odoo_dump", "db_name", "version", "version_info", "major_version", "pg_version", "modules",
}


def test_export_has_odoo_layout_and_loads_with_psql(
    backup_site: Callable[..., BackupSite],
    tmp_path: Path,
    make_database: Callable[..., pg.TestDatabase],
) -> None:
    site = backup_site()
    site.add_files(6)
    target = site.target()
    created = create_backup(target, CreateOptions(dump_format="custom", compress="zstd"))
    out = tmp_path / "odoo.zip"
    result = export_odoo(target, created.name, out)
    assert result.files == len(tree_digest(site.filestore()))
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert "dump.sql" in names and "manifest.json" in names
        assert all(n in ("dump.sql", "manifest.json") or n.startswith("filestore/") for n in names)
        manifest = json.loads(zf.read("manifest.json"))
        assert set(manifest) == ODOO_MANIFEST_KEYS
        assert manifest["odoo_dump"] == "1" and manifest["db_name"] == site.db.name
        assert manifest["version"] == manifest["major_version"] == "18.0"
        assert manifest["version_info"][:2] == [18, 0]
        assert manifest["modules"]["base"].startswith("18.0.")
        files = {n[len("filestore/"):]: zf.read(n) for n in names if n.startswith("filestore/")}
        sql = zf.read("dump.sql").decode()
    assert "CREATE TABLE public.ir_module_module" in sql and "OWNER TO" not in sql
    original = {k: v for k, v in tree_digest(site.filestore()).items()}
    import hashlib

    assert {k: hashlib.sha256(v).hexdigest() for k, v in files.items()} == original
    # what Odoo's restore does with it: psql -f dump.sql into an empty database
    fresh = make_database("zipload")
    (tmp_path / "dump.sql").write_text(sql)
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", fresh.dsn, "-f",
                    str(tmp_path / "dump.sql")], check=True, capture_output=True)
    assert data_dump(fresh.dsn) == data_dump(site.db.dsn)
    with pytest.raises(OpsError):
        export_odoo(target, created.name, out)  # exists: needs force
    export_odoo(target, created.name, out, force=True)


def _odoo_style_zip(site: BackupSite, path: Path) -> None:
    """A zip made the way Odoo's dump_db makes it (pg_dump --no-owner plain SQL)."""
    sql = subprocess.run(["pg_dump", "--no-owner", "-d", site.db.dsn], check=True,
                         capture_output=True).stdout
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("dump.sql", sql)
        zf.writestr("manifest.json", json.dumps({
            "odoo_dump": "1", "db_name": "from_odoo", "version": "18.0",
            "version_info": [18, 0, 0, "final", 0, ""], "major_version": "18.0",
            "pg_version": "15.0", "modules": {"base": "18.0.1.3"}}, indent=4))
        for rel, file in sorted((p.relative_to(site.filestore()).as_posix(), p)
                                for p in site.filestore().rglob("*") if p.is_file()):
            zf.write(file, f"filestore/{rel}")


def test_import_odoo_zip_then_restore(backup_site: Callable[..., BackupSite],
                                      tmp_path: Path) -> None:
    site = backup_site()
    site.add_files(5)
    before = data_dump(site.db.dsn)
    files = tree_digest(site.filestore())
    archive = tmp_path / "from-odoo.zip"
    _odoo_style_zip(site, archive)
    target = site.target()
    imported = import_odoo(target, archive, name="imported")
    assert imported.files == len(files) and imported.db_name == "from_odoo"
    entry = find_backup(site.backup_dir, "imported")
    assert entry.manifest is not None
    assert entry.manifest.database == site.db.name
    assert entry.manifest.raw["imported_from"]["db_name"] == "from_odoo"
    assert "imported" in entry.manifest.tags
    assert verify_entry(entry, deep=True).ok
    # no scratch database or directory left behind
    with site.connect("postgres") as conn:
        left = conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE %s",
                            (f"{site.db.name}__import%",)).fetchone()
    assert left == (0,)
    assert not [p for p in site.backup_dir.iterdir() if p.name.startswith(".")]
    other = f"{site.db.name}_i"
    restore_backup(target, "imported", RestoreOptions(to=other))
    assert data_dump(pg.dsn_for(site.db.admin_dsn, other)) == before
    assert tree_digest(site.filestore(other)) == files


def test_import_rejects_bad_zips(backup_site: Callable[..., BackupSite], tmp_path: Path) -> None:
    site = backup_site()
    target = site.target()
    no_dump = tmp_path / "nodump.zip"
    with zipfile.ZipFile(no_dump, "w") as zf:
        zf.writestr("manifest.json", "{}")
    with pytest.raises(OpsError, match=r"no dump\.sql"):
        import_odoo(target, no_dump)
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("dump.sql", "SELECT 1;")
        zf.writestr("filestore/../../escape", "x")
    with pytest.raises(OpsError, match="unsafe path"):
        import_odoo(target, evil)
    broken_sql = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken_sql, "w") as zf:
        zf.writestr("dump.sql", "CREATE TABLE ok (id int);\nINSERT INTO missing VALUES (1);\n")
    with pytest.raises(OpsError, match=r"dump\.sql does not load: line 2: .*missing"):
        import_odoo(target, broken_sql)
    not_sql = tmp_path / "notsql.zip"
    with zipfile.ZipFile(not_sql, "w") as zf:
        zf.writestr("dump.sql", "CREATE TABLE ok (id int);\nTHIS IS NOT SQL;\n")
    with pytest.raises(OpsError, match=r"dump\.sql line 2: the statement THIS is refused"):
        import_odoo(target, not_sql)
    assert not site.backup_dir.exists() or not any(site.backup_dir.iterdir())


def test_real_odoo18_database_round_trip(
    real_odoo18_copy: pg.OdooTestDb, tmp_path: Path
) -> None:
    root = tmp_path / "real"
    root.mkdir()
    data_dir = root / "data"
    site = BackupSite(root, real_odoo18_copy, data_dir, root / "backups",
                      write_config(root, real_odoo18_copy))
    target = site.target()
    # the dump comes without its filestore: give every stored attachment a file
    with site.connect() as conn:
        fnames = [r[0] for r in conn.execute(
            "SELECT DISTINCT store_fname FROM ir_attachment WHERE store_fname <> ''")]
    assert fnames
    for fname in fnames:
        path = site.filestore() / fname
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(f"content of {fname}".encode())
    site.add_files(5, prefix="real")
    before = data_dump(real_odoo18_copy.dsn)
    created = create_backup(target, CreateOptions(tags=["real"]))
    manifest = created.manifest
    assert manifest["series"] == "18.0"
    assert {"base", "web", "mail", "contacts"} <= set(manifest["modules"])
    assert manifest["row_counts"]["ir_module_module"] > 30
    tested = run_test_restore(target, created.name)
    assert tested.ok, tested.problems
    result = restore_backup(target, created.name, RestoreOptions(force=True, neutralize=True))
    assert result.replaced_database
    assert data_dump(pg.dsn_for(real_odoo18_copy.admin_dsn, result.replaced_database)) == before
    with site.connect() as conn:
        assert conn.execute(
            "SELECT value FROM ir_config_parameter WHERE key = 'database.is_neutralized'"
        ).fetchone() == ("true",)
        crons = conn.execute(
            "SELECT c.active, d.name FROM ir_cron c LEFT JOIN ir_model_data d"
            " ON d.model = 'ir.cron' AND d.res_id = c.id AND d.module = 'base'").fetchall()
        assert crons and all(active == (name == "autovacuum_job") for active, name in crons)
        servers = conn.execute("SELECT name FROM ir_mail_server WHERE active").fetchall()
        assert servers == [("neutralization - disable emails",)]  # Odoo 18's dummy server
    # the restored copy equals the backup except for what neutralize changed
    restored = data_dump(real_odoo18_copy.dsn)
    changed = [k for k in before if before[k] != restored.get(k)]
    assert set(changed) <= {
        k for k in before if any(t in k for t in ("ir_cron", "ir_config_parameter",
                                                  "ir_mail_server", "fetchmail_server",
                                                  "ir_act_server", "payment_provider"))
    }, changed


def test_zip_made_by_export_odoo_imports_and_restores(
    backup_site: Callable[..., BackupSite], tmp_path: Path
) -> None:
    """pg_dump 15's own output (with \\restrict lines) goes through the guard and the
    temporary load role, and comes back identical."""
    site = backup_site()
    site.add_files(3)
    target = site.target()
    before = data_dump(site.db.dsn)
    created = create_backup(target, CreateOptions(dump_format="custom"))
    archive = tmp_path / "exported.zip"
    export_odoo(target, created.name, archive)
    with zipfile.ZipFile(archive) as zf:
        assert b"\\restrict " in zf.read("dump.sql")
    imported = import_odoo(target, archive, name="reimported")
    assert imported.notes == []
    with site.connect("postgres") as conn:
        roles = conn.execute("SELECT count(*) FROM pg_roles WHERE shobj_description(oid,"
                             " 'pg_authid') LIKE %s", (f"%{site.db.name}%",)).fetchone()
    assert roles == (0,)
    other = f"{site.db.name}_x"
    restore_backup(target, "reimported", RestoreOptions(to=other))
    assert data_dump(pg.dsn_for(site.db.admin_dsn, other)) == before
