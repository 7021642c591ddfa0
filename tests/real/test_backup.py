"""Backups made by odoo-ops served by the real Odoo 18, and Odoo's own zips both ways."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import httpx

from tests.real.conftest import RealProject


def files_of(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def create_backup(project: RealProject) -> str:
    made = project.cli("backup", "create", "--format", "json")
    assert made.returncode == 0, made.stdout + made.stderr
    return str(json.loads(made.stdout)["name"])


def login_page(project: RealProject) -> httpx.Response:
    return httpx.get(f"{project.url}/web/login", timeout=10)


def test_backup_restored_to_a_new_database_is_served_by_real_odoo(
    real_project: RealProject,
) -> None:
    real_project.sql("INSERT INTO res_partner (name, active, create_date, write_date, type)"
                     " VALUES ('marker before backup', true, now(), now(), 'contact')")
    name = create_backup(real_project)
    new_db = f"{real_project.database}_restored"
    restored = real_project.cli("backup", "restore", name, "--to", new_db)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert real_project.modules(new_db) == real_project.modules()
    assert files_of(real_project.data_dir / "filestore" / new_db) == files_of(
        real_project.data_dir / "filestore" / real_project.database)

    real_project.start(database=new_db)
    assert real_project.health() == 200
    page = login_page(real_project)
    assert page.status_code == 200 and 'name="login"' in page.text
    session = httpx.Client(base_url=real_project.url, timeout=20)
    auth = session.post("/web/session/authenticate", json={
        "jsonrpc": "2.0", "method": "call",
        "params": {"db": new_db, "login": "admin", "password": "admin"}})
    assert auth.status_code == 200 and auth.json()["result"]["uid"] == 2, auth.text
    found = session.post("/web/dataset/call_kw", json={
        "jsonrpc": "2.0", "method": "call",
        "params": {"model": "res.partner", "method": "search_count",
                   "args": [[["name", "=", "marker before backup"]]], "kwargs": {}}})
    assert found.json()["result"] == 1, found.text
    assert real_project.log_errors() == []


def test_restore_neutralize_runs_the_real_odoo_neutralize(real_project: RealProject) -> None:
    name = create_backup(real_project)
    copy = f"{real_project.database}_staging"
    done = real_project.cli("backup", "restore", name, "--to", copy, "--neutralize",
                            "--odoo-neutralize", "--format", "json")
    assert done.returncode == 0, done.stdout + done.stderr
    db = real_project.sql  # the live database is untouched
    assert db("SELECT count(*) FROM ir_cron WHERE active") != [(0,)]
    with_copy = RealProject(**{**real_project.__dict__, "database": copy, "proc": None})
    # what only the real `odoo neutralize` does: the dummy mail server that swallows mail
    assert with_copy.sql("SELECT name, active FROM ir_mail_server") == [
        ("neutralization - disable emails", True)]
    assert with_copy.sql("SELECT value FROM ir_config_parameter"
                         " WHERE key = 'database.is_neutralized'") == [("true",)]
    active = with_copy.sql("SELECT d.module || '.' || d.name FROM ir_cron c JOIN ir_model_data d"
                           " ON d.model = 'ir.cron' AND d.res_id = c.id WHERE c.active")
    assert active == [("base.autovacuum_job",)]
    assert db("SELECT count(*) FROM ir_mail_server") == [(0,)]


def test_export_odoo_zip_is_loaded_by_real_odoo_db_load(real_project: RealProject) -> None:
    name = create_backup(real_project)
    out = real_project.root / "export.zip"
    exported = real_project.cli("backup", "export-odoo", name, str(out))
    assert exported.returncode == 0, exported.stdout + exported.stderr
    loaded_db = f"{real_project.database}_loaded"
    proc = real_project.odoo_run("load", loaded_db, str(out), subcommand="db")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert real_project.modules(loaded_db) == real_project.modules()
    assert files_of(real_project.data_dir / "filestore" / loaded_db) == files_of(
        real_project.data_dir / "filestore" / real_project.database)
    partners = "SELECT id, name, email FROM res_partner ORDER BY id"
    with_loaded = RealProject(**{**real_project.__dict__, "database": loaded_db, "proc": None})
    assert with_loaded.sql(partners) == real_project.sql(partners)


def test_real_odoo_db_dump_zip_is_imported(real_project: RealProject) -> None:
    dump = real_project.root / "odoo-dump.zip"
    proc = real_project.odoo_run("dump", real_project.database, str(dump), subcommand="db")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with zipfile.ZipFile(dump) as archive:
        assert "dump.sql" in archive.namelist()
    imported = real_project.cli("backup", "import-odoo", str(dump), "--name", "from-odoo")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    new_db = f"{real_project.database}_imported"
    restored = real_project.cli("backup", "restore", "from-odoo", "--to", new_db)
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert real_project.modules(new_db) == real_project.modules()
    partners = "SELECT id, name, email FROM res_partner ORDER BY id"
    with_new = RealProject(**{**real_project.__dict__, "database": new_db, "proc": None})
    assert with_new.sql(partners) == real_project.sql(partners)
    attachments = "SELECT store_fname, checksum FROM ir_attachment ORDER BY id"
    assert with_new.sql(attachments) == real_project.sql(attachments)
    assert files_of(real_project.data_dir / "filestore" / new_db) == files_of(
        real_project.data_dir / "filestore" / real_project.database)
