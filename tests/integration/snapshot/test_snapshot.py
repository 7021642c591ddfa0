"""``snapshot create`` and ``snapshot diff`` on a fixture database, a git project, an
odoo.conf with secrets and the Odoo web double; every written byte is checked for secrets."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_audit_cli import odoo_ops
from tests.integration.audit.conftest import build_broken_world
from tests.support import odoo_schema as S

pytestmark = pytest.mark.pg

ADMIN_PASSWD = "Adm1n-Pa55wd-xyz"
DB_PASSWORD = "Db-Pa55word-abc"
TOKEN = "tok_4f9a8b7c6d5e"
SMTP_PASSWORD = "smtp-hunter2-pw"
REDIS_PASSWORD = "RedisPw-9x8y7z"


def _project(tmp_path: Path, w: Any, base_url: str) -> tuple[Path, list[str]]:
    proj = tmp_path / "proj"
    proj.mkdir()
    info = w.db.conninfo
    dsn = (f"postgresql://{info['user']}:{DB_PASSWORD}@{info['host']}:{info['port']}/"
           f"{w.db.name}")
    (proj / "odoo.conf").write_text(
        f"[options]\nadmin_passwd = {ADMIN_PASSWD}\ndb_password = {DB_PASSWORD}\n"
        f"db_name = {w.db.name}\nworkers = 2\n")
    (proj / "odoo-ops.toml").write_text(
        f'[deployments.prod]\ndsn = "{dsn}"\nodoo_conf = "odoo.conf"\n'
        f'base_url = "{base_url}"\naddons_paths = ["{w.addons}"]\nseries = "18.0"\n'
        f'redis_url = "redis://:{REDIS_PASSWORD}@127.0.0.1:6379/0"\n')
    subprocess.run(["git", "init", "-q", str(proj)], check=True)
    subprocess.run(["git", "-C", str(proj), "-c", "user.email=t@t", "-c", "user.name=t",
                    "commit", "-q", "--allow-empty", "-m", "init"], check=True)
    conn = w.db.connect()
    S.set_param(conn, "x_connector.api_token", TOKEN)
    S.set_param(conn, "x_mail.smtp_password", SMTP_PASSWORD)
    secret = S.get_param(conn, "database.secret")
    conn.close()
    assert secret
    return proj, [ADMIN_PASSWD, DB_PASSWORD, TOKEN, SMTP_PASSWORD, REDIS_PASSWORD, secret]


def _assert_no_secret(texts: list[str], secrets: list[str]) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_create_twice_is_stable_then_diff(odoo_db: Any, odoo_web: Any, tmp_path: Path) -> None:
    w = build_broken_world(odoo_db, 18, tmp_path)
    proj, secrets = _project(tmp_path, w, odoo_web.url)
    a, b = tmp_path / "snap-a", tmp_path / "snap-b"
    outputs = []
    for out in (a, b):
        proc = odoo_ops("snapshot", "create", "--out", str(out), cwd=proj)
        assert proc.returncode == 0, proc.stderr
        outputs += [proc.stdout, proc.stderr]

    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(["MANIFEST.md", "actions.json", "addons-path.txt", "config.json",
                            "crons.csv", "git.txt", "http-timings.csv", "http.json",
                            "menus.json", "models.csv", "modules.csv", "snapshot.json"])
    # stable: every data file is byte-identical between two runs (timings aside)
    for name in names:
        if name not in ("http-timings.csv", "MANIFEST.md"):
            assert (a / name).read_bytes() == (b / name).read_bytes(), name
    # MANIFEST lists every other file with its size and sha256
    manifest = (a / "MANIFEST.md").read_text()
    for name in names:
        if name == "MANIFEST.md":
            continue
        data = (a / name).read_bytes()
        assert f"| {name} | {len(data)} | {hashlib.sha256(data).hexdigest()} |" in manifest
    # contents
    config = json.loads((a / "config.json").read_text())
    assert config["odoo_conf"]["admin_passwd"] == "***"
    assert config["odoo_conf"]["workers"] == "2"
    assert config["parameters"]["database.secret"] == "***"
    assert config["parameters"]["x_connector.api_token"] == "***"
    assert config["parameters"]["web.base.url"] == "http://localhost:8069"
    assert config["deployment"]["redis_url"] == "redis://:***@127.0.0.1:6379/0"
    menus = json.loads((a / "menus.json").read_text())
    flat: dict[int, Any] = {}

    def walk(nodes: list[Any]) -> None:
        for n in nodes:
            flat[n["id"]] = n
            walk(n["children"])

    walk(menus)
    assert flat[w.ids["menu_win"]]["broken"] == ["missing-action"]
    assert flat[w.ids["menu_orphan"]]["broken"] == ["missing-parent"]
    assert flat[w.ids["menu_ca_missing"]]["broken"] == ["client-action-unregistered"]
    assert not flat[w.ids["menu_ok_report"]]["broken"]
    http = json.loads((a / "http.json").read_text())
    statuses = {(p["method"], p["path"]): p["status"] for p in http["pages"]}
    assert statuses[("GET", "/web/login")] == 200
    assert statuses[("POST", "/web/webclient/version_info")] == 200
    assert any(path.startswith("/odoo/action-") for _, path in statuses)
    assert (a / "git.txt").read_text().startswith("head: ")
    assert "x_dash 1.0.0" in (a / "addons-path.txt").read_text()
    modules = (a / "modules.csv").read_text().splitlines()
    assert modules[0] == "name,state,latest_version,author,license"
    assert modules[1:] == sorted(modules[1:])
    # no secret anywhere: every written file, every output
    written = [p.read_text(errors="replace") for d in (a, b) for p in d.rglob("*")
               if p.is_file()]
    _assert_no_secret(written + outputs, secrets)

    # change the deployment, snapshot again, diff
    conn = w.db.connect()
    S.add_module(conn, "x_brand_new", latest_version="18.0.1.0")
    conn.execute("UPDATE ir_module_module SET state = 'uninstalled' WHERE name = 'x_alias'")
    conn.execute("UPDATE ir_module_module SET latest_version = '18.0.1.1.0'"
                 " WHERE name = 'x_dash'")
    conn.execute("UPDATE ir_ui_menu SET action = 'ir.actions.act_window,5555555' WHERE id = %s",
                 (w.ids["menu_ok_report"],))
    S.add_model(conn, "x_brand_new.thing")
    conn.execute("UPDATE ir_cron SET active = false WHERE id = %s", (w.ids["cron_ok_future"],))
    conn.close()
    odoo_web.set(status={"/web/login": 503})
    c = tmp_path / "snap-c"
    proc = odoo_ops("snapshot", "create", "--out", str(c), cwd=proj)
    assert proc.returncode == 0, proc.stderr
    proc = odoo_ops("snapshot", "diff", str(a), str(c), "--format", "json", cwd=proj)
    assert proc.returncode == 0, proc.stderr
    changes = {(ch["area"], ch["change"], ch["item"]) for ch in json.loads(proc.stdout)["changes"]}
    assert ("modules", "installed", "x_brand_new") in changes
    assert ("modules", "removed", "x_alias") in changes
    assert ("modules", "upgraded", "x_dash") in changes
    mid = w.ids["menu_ok_report"]
    assert ("menus", "broken", f"{mid} Broken App / Report ok") in changes
    assert ("models", "added", "x_brand_new.thing") in changes
    assert ("crons", "changed", "X: fine") in changes
    assert ("http", "changed", "GET /web/login") in changes
    proc = odoo_ops("snapshot", "diff", str(a), str(b), "--ci", cwd=proj)
    assert proc.returncode == 0 and "no changes" in proc.stdout
    proc = odoo_ops("snapshot", "diff", str(a), str(c), "--ci", cwd=proj)
    assert proc.returncode == 1


def test_refuses_a_non_empty_directory(odoo_db: Any, tmp_path: Path) -> None:
    db = odoo_db(version=16)
    proj = tmp_path / "p"
    proj.mkdir()
    (proj / "odoo-ops.toml").write_text(f'[deployments.prod]\ndsn = "{db.dsn}"\n')
    out = tmp_path / "busy"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    proc = odoo_ops("snapshot", "create", "--out", str(out), "--no-crawl", cwd=proj)
    assert proc.returncode == 1 and "not empty" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".busy.")]
    proc = odoo_ops("snapshot", "create", "--no-crawl", cwd=proj)
    assert proc.returncode == 0, proc.stderr
    made = list((proj / "snapshots").iterdir())
    assert len(made) == 1 and made[0].name.startswith("prod-")
    assert (made[0] / "git.txt").read_text() == "not a git repository\n"
    assert not (made[0] / "http.json").exists()
