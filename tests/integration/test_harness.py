"""Tests of the shared test harness itself: schema, seed, fixtures and the doubles.

If these fail, every other test built on ``tests/support`` is suspect.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support import odoo_schema, pg
from tests.support.addons import AddonsDir
from tests.support.fakebin import FakeBin
from tests.support.odoo_log import LOG_LINE_RE, parse_log
from tests.support.web import FakeOdooWeb
from tests.support.webhook import WebhookReceiver

pytestmark = pytest.mark.pg


def _states(conn: psycopg.Connection[Any], *names: str) -> dict[str, tuple[str, str | None]]:
    rows = conn.execute(
        "SELECT name, state, latest_version FROM ir_module_module WHERE name = ANY(%s)",
        (list(names),)).fetchall()
    return {name: (state, version) for name, state, version in rows}


def _all_states(conn: psycopg.Connection[Any]) -> dict[str, tuple[str, str | None]]:
    rows = conn.execute("SELECT name, state, latest_version FROM ir_module_module").fetchall()
    return {name: (state, version) for name, state, version in rows}


# ---------------------------------------------------------------------------
# schema and seed
# ---------------------------------------------------------------------------


def test_schema_and_healthy_seed_are_consistent(odoo_db, odoo_version: int) -> None:
    db = odoo_db(odoo_version)
    conn = db.connect()
    for table in odoo_schema.ODOO_TABLES:
        assert odoo_schema.table_exists(conn, table), table
    assert odoo_schema.detect_version(conn) == odoo_version

    # every menu action exists
    menus = conn.execute("SELECT id, action FROM ir_ui_menu WHERE action IS NOT NULL").fetchall()
    assert len(menus) >= 6
    kinds = set()
    for menu_id, action in menus:
        model, _, res_id = action.partition(",")
        kinds.add(model)
        table = odoo_schema.ACTION_TABLES[model]
        assert conn.execute(f"SELECT 1 FROM {table} WHERE id = %s", (int(res_id),)).fetchone(), \
            (menu_id, action)
    assert {"ir.actions.act_window", "ir.actions.client", "ir.actions.server"} <= kinds
    # parent_path is "<ancestors>/<id>/"
    for menu_id, parent_id, path in conn.execute(
            "SELECT id, parent_id, parent_path FROM ir_ui_menu").fetchall():
        assert path.endswith(f"{menu_id}/")
        if parent_id is None:
            assert path == f"{menu_id}/"
        else:
            parent_path = conn.execute("SELECT parent_path FROM ir_ui_menu WHERE id = %s",
                                       (parent_id,)).fetchone()[0]
            assert path == f"{parent_path}{menu_id}/"
    roots = conn.execute("SELECT name->>'en_US' FROM ir_ui_menu WHERE parent_id IS NULL"
                         " ORDER BY sequence").fetchall()
    assert [r[0] for r in roots] == ["Discuss", "Contacts", "Apps", "Settings"]

    # every external id points to an existing row
    for model, table in odoo_schema.MODEL_TABLES.items():
        if table is None:
            continue
        dangling = conn.execute(
            f"SELECT d.module || '.' || d.name FROM ir_model_data d WHERE d.model = %s"
            f" AND NOT EXISTS (SELECT 1 FROM {table} t WHERE t.id = d.res_id)",
            (model,)).fetchall()
        assert dangling == [], model
    # ir_model rows: concrete models have their table
    for model, in conn.execute("SELECT model FROM ir_model").fetchall():
        table = odoo_schema.MODEL_TABLES.get(model, model.replace(".", "_"))
        if table:
            assert odoo_schema.table_exists(conn, table), model

    # crons: server action with an existing model; only the fetchmail one inactive
    crons = conn.execute(
        "SELECT c.active, a.model_name, m.model FROM ir_cron c"
        " JOIN ir_act_server a ON a.id = c.ir_actions_server_id"
        " JOIN ir_model m ON m.id = a.model_id").fetchall()
    assert len(crons) == 6
    assert all(model_name == model for _, model_name, model in crons)
    assert [m for active, m, _ in crons if not active] == ["fetchmail.server"]
    autovacuum = odoo_schema.ref(conn, "base.autovacuum_job")
    assert autovacuum is not None
    assert odoo_schema.ref(conn, "base.autovacuum_job_ir_actions_server") is not None

    # ir_actions is the parent table of the action tables (Odoo's INHERITS)
    total = conn.execute("SELECT count(*) FROM ir_actions").fetchone()[0]
    children = sum(conn.execute(f"SELECT count(*) FROM ONLY {t}").fetchone()[0]
                   for t in odoo_schema.ACTION_TABLES.values())
    assert total == children > 0

    # modules: installed ones have installed dependencies and a series version
    states = _all_states(conn)
    deps = conn.execute(
        "SELECT m.name, d.name FROM ir_module_module_dependency d"
        " JOIN ir_module_module m ON m.id = d.module_id").fetchall()
    for name, dep in deps:
        if states[name][0] == "installed":
            assert states[dep][0] == "installed", (name, dep)
    for name, (state, version) in states.items():
        if state == "installed":
            assert version and version.startswith(f"{odoo_version}.0."), name
        else:
            assert version is None, name
    assert states["base"] == ("installed", f"{odoo_version}.0.1.3")
    assert states["web_studio"][0] == "uninstallable"
    assert states["calendar"][0] == "uninstalled"
    assert ("html_editor" in states) == (odoo_version >= 18)

    for key in ("database.uuid", "database.secret", "database.create_date", "web.base.url"):
        assert odoo_schema.get_param(conn, key), key
    assert conn.execute("SELECT count(*) FROM mail_message").fetchone()[0] == 3
    assert conn.execute("SELECT login FROM res_users WHERE active").fetchall() == [("admin",)]


def test_version_differences_follow_odoo_source(odoo_db, odoo_version: int) -> None:
    conn = odoo_db(odoo_version).connect()

    def columns(table: str) -> dict[str, str]:
        return {n: t for n, t in conn.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = %s", (table,)).fetchall()}

    cron = columns("ir_cron")
    assert "model_id" not in cron and "model" not in cron
    assert cron["ir_actions_server_id"] == "integer"
    assert ("numbercall" in cron) == (odoo_version <= 17)
    assert ("doall" in cron) == (odoo_version <= 17)
    assert ("failure_count" in cron) == (odoo_version >= 18)
    assert cron["cron_name"] == ("jsonb" if odoo_version == 16 else "character varying")
    assert ("path" in columns("ir_actions")) == (odoo_version >= 18)
    assert ("webhook_url" in columns("ir_act_server")) == (odoo_version >= 17)
    assert columns("ir_ui_menu")["name"] == "jsonb"
    assert columns("ir_module_module")["shortdesc"] == "jsonb"
    # the cron builder writes what each version stores
    cron_id = odoo_schema.add_cron(conn, odoo_version, "Test: job", model="res.partner")
    row = conn.execute("SELECT cron_name FROM ir_cron WHERE id = %s", (cron_id,)).fetchone()
    assert row[0] == ({"en_US": "Test: job"} if odoo_version == 16 else "Test: job")


def _reference_columns(path: Path) -> dict[str, tuple[str, bool, str]]:
    cols: dict[str, tuple[str, bool, str]] = {}
    for line in path.read_text().splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) == 5 and parts[0] and parts[0] != "Column":
            cols[parts[0]] = (parts[1], parts[3] == "not null", parts[4])
    return cols


def _db_columns(conn: psycopg.Connection[Any], table: str) -> dict[str, tuple[str, bool, str]]:
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
        " coalesce(pg_get_expr(d.adbin, d.adrelid), '')"
        " FROM pg_attribute a LEFT JOIN pg_attrdef d"
        "   ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        " WHERE a.attrelid = %s::regclass AND a.attnum > 0 AND NOT a.attisdropped",
        (table,)).fetchall()
    return {name: (ctype, notnull, default) for name, ctype, notnull, default in rows}


def test_odoo18_schema_matches_the_reference(odoo_db) -> None:
    reference = pg.SHARED_DIR / "reference" / "odoo-18"
    files = sorted(reference.glob("schema_*.txt"))
    if not files:
        pytest.skip("../shared/reference/odoo-18 is not available")
    conn = odoo_db(18, seed=False).connect()
    for path in files:
        table = path.stem.removeprefix("schema_")
        assert _db_columns(conn, table) == _reference_columns(path), table


def test_odoo18_schema_matches_the_real_dump(odoo_db, real_odoo18_db) -> None:
    ours = odoo_db(18, seed=False).connect()
    real = real_odoo18_db.connect()
    for table in ("ir_module_module", "ir_module_module_dependency", "ir_ui_menu",
                  "ir_actions", "ir_act_window", "ir_act_client", "ir_act_url",
                  "ir_act_report_xml", "ir_cron", "ir_config_parameter", "ir_model",
                  "ir_model_data", "ir_attachment", "ir_module_category",
                  "ir_module_module_exclusion"):
        assert _db_columns(ours, table) == _db_columns(real, table), table
    # ir_act_server: all but the columns sms adds (sms is not in the seed)
    real_server = {k: v for k, v in _db_columns(real, "ir_act_server").items()
                   if not k.startswith("sms_")}
    assert _db_columns(ours, "ir_act_server") == real_server


def test_builders_return_ids_that_resolve(odoo_db) -> None:
    db = odoo_db(17)
    conn = db.connect()
    act = odoo_schema.add_window_action(conn, "Orders", "sale.order")
    client = odoo_schema.add_client_action(conn, "Dashboard", "my_dashboard.action")
    menu = odoo_schema.add_menu(conn, "Sales", action=f"ir.actions.act_window,{act}")
    child = odoo_schema.add_menu(conn, "Board", action=f"ir.actions.client,{client}",
                                 parent_id=menu)
    assert conn.execute("SELECT parent_path FROM ir_ui_menu WHERE id = %s",
                        (child,)).fetchone()[0] == f"{menu}/{child}/"
    assert conn.execute("SELECT view_mode FROM ir_act_window WHERE id = %s",
                        (act,)).fetchone()[0] == "tree,form"  # 17: still "tree"
    mod = odoo_schema.add_module(conn, "sale", depends=["mail"], auto_install=["mail"])
    assert _states(conn, "sale") == {"sale": ("installed", "17.0.1.0")}
    assert conn.execute("SELECT name, auto_install_required FROM ir_module_module_dependency"
                        " WHERE module_id = %s", (mod,)).fetchall() == [("mail", True)]
    odoo_schema.add_model_data(conn, "sale", "menu_sale", "ir.ui.menu", menu)
    assert odoo_schema.ref(conn, "sale.menu_sale") == menu
    model_id = odoo_schema.add_model(conn, "sale.order", "sale_order")
    assert odoo_schema.add_model(conn, "sale.order") == model_id
    assert odoo_schema.table_exists(conn, "sale_order")
    odoo_schema.set_param(conn, "web.base.url", "https://erp.example.com")
    assert odoo_schema.get_param(conn, "web.base.url") == "https://erp.example.com"


def test_attachments_and_filestore(odoo_db, tmp_path: Path) -> None:
    db = odoo_db(18)
    conn = db.connect()
    filestore = db.write_filestore(tmp_path / "data")
    assert filestore == tmp_path / "data" / "filestore" / db.name
    for fname, checksum, size in conn.execute(
            "SELECT store_fname, checksum, file_size FROM ir_attachment").fetchall():
        path = filestore / fname
        assert path.is_file()
        assert fname == f"{checksum[:2]}/{checksum}"
        assert path.stat().st_size == size
    att = odoo_schema.add_attachment(conn, "doc.pdf", content=b"%PDF-1.4 test",
                                     filestore=filestore)
    fname = conn.execute("SELECT store_fname FROM ir_attachment WHERE id = %s",
                         (att,)).fetchone()[0]
    assert (filestore / fname).read_bytes() == b"%PDF-1.4 test"


def test_install_closure_and_graph_order() -> None:
    graph = {
        "base": ((), False), "web": (("base",), True), "mail": (("web",), False),
        "a": (("mail",), False), "b": (("a",), False),
        "glue": (("a", "b"), True), "other_auto": (("calendar",), True),
        "calendar": (("mail",), False), "partial": (("a", "calendar"), ["a"]),
    }
    assert odoo_schema.install_closure(graph, ["b"], installed=["base", "web", "mail"]) == [
        "a", "b", "calendar", "glue", "other_auto", "partial"]
    depends = {n: d for n, (d, _) in graph.items()}
    assert odoo_schema.graph_order(depends, ["glue", "b", "a", "mail"]) == [
        "mail", "a", "b", "glue"]
    assert odoo_schema.adapt_version("1.0", "18.0") == "18.0.1.0"
    assert odoo_schema.adapt_version("18.0.1.0", "18.0") == "18.0.1.0"
    assert odoo_schema.adapt_version("18.0", "18.0") == "18.0.18.0"
    assert odoo_schema.adapt_version("17.0.1.0", "18.0") == "18.0.17.0.1.0"


# ---------------------------------------------------------------------------
# PostgreSQL fixtures
# ---------------------------------------------------------------------------


def test_make_database_and_prefix_cleanup(make_database, pg_databases, pg_admin_dsn) -> None:
    db = make_database("x")
    assert db.name.startswith(pg_databases.prefix)
    assert db.scalar("SELECT current_database()") == db.name
    with psycopg.connect(pg_admin_dsn, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db.name}_before_restore_1" TEMPLATE "{db.name}"')
    dropped = pg_databases.drop(db.name)
    assert sorted(dropped) == sorted([db.name, f"{db.name}_before_restore_1"])
    with pytest.raises(ValueError):
        pg.drop_databases(pg_admin_dsn, "postgres")


def test_odoo_db_copies_are_independent_and_fast(odoo_db) -> None:
    first = odoo_db(18)
    started = time.monotonic()
    second = odoo_db(18)
    assert time.monotonic() - started < 2.0
    first.connect().execute("DELETE FROM ir_cron")
    assert second.scalar("SELECT count(*) FROM ir_cron") == 6
    assert first.version == 18 and first.series == "18.0"
    assert first.conninfo["dbname"] == first.name


def test_real_odoo18_copy_is_a_real_odoo_database(real_odoo18_copy) -> None:
    conn = real_odoo18_copy.connect()
    assert odoo_schema.detect_version(conn) == 18
    assert conn.execute("SELECT count(*) FROM ir_module_module WHERE state = 'installed'"
                        ).fetchone()[0] == 31


def test_environment_is_isolated(tmp_path: Path) -> None:
    home = Path(os.environ["HOME"])
    assert home != Path.home() or str(Path.home()) == os.environ["HOME"]
    assert "pytest" in str(home) or str(home).startswith(str(tmp_path.parent.parent))
    assert not any(k.startswith("ODOO_OPS_") and k != pg.ENV_ADMIN_DSN for k in os.environ)
    assert "ODOO_RC" not in os.environ
    assert Path(os.environ["XDG_CONFIG_HOME"]).is_relative_to(home)


# ---------------------------------------------------------------------------
# the odoo double
# ---------------------------------------------------------------------------


@pytest.fixture
def odoo18(odoo_db, fake_bin: FakeBin, addons_dir: AddonsDir, tmp_path: Path):
    """An Odoo 18 database, an addons dir and an odoo.conf pointing at both."""
    db = odoo_db(18)
    conf = db.write_odoo_conf(tmp_path / "odoo.conf", addons_path=[addons_dir.path],
                              data_dir=tmp_path / "data")
    return db, conf, addons_dir


def test_double_installs_in_dependency_order_with_auto_install(odoo18, fake_bin) -> None:
    db, conf, addons = odoo18
    addons.add("ops_core", version="1.2.0", depends=["mail"])
    addons.add("ops_fin", version="18.0.2.0", depends=["ops_core", "contacts"])
    addons.add("ops_glue", depends=["ops_core", "ops_fin"], auto_install=True)
    addons.add("ops_cal_glue", depends=["ops_core", "calendar"], auto_install=True)
    addons.add("ops_unused", version="3.0")
    proc = fake_bin.run_odoo("-c", str(conf), "-d", db.name, "-i", "ops_fin",
                             "--stop-after-init")
    assert proc.returncode == 0, proc.stderr
    conn = db.connect()
    assert _states(conn, "ops_core", "ops_fin", "ops_glue", "ops_cal_glue", "ops_unused") == {
        "ops_core": ("installed", "18.0.1.2.0"),
        "ops_fin": ("installed", "18.0.2.0"),
        "ops_glue": ("installed", "18.0.1.0"),
        "ops_cal_glue": ("uninstalled", None),
        "ops_unused": ("uninstalled", None),
    }
    records = parse_log(proc.stderr)
    assert records and all(LOG_LINE_RE.match(line) for line in proc.stderr.splitlines())
    loaded = [r.message.split()[2] for r in records if r.message.startswith("Loading module")]
    assert loaded == ["ops_core", "ops_fin", "ops_glue"]
    messages = [r.message for r in records]
    assert "Modules loaded." in messages
    assert any(re.fullmatch(r"Registry loaded in \d+\.\d{3}s", m) for m in messages)
    assert any(re.fullmatch(r"loading \d+ modules\.\.\.", m) for m in messages)
    assert {r.db for r in records if r.logger == "odoo.modules.loading"} == {db.name}
    deps = conn.execute(
        "SELECT d.name, d.auto_install_required FROM ir_module_module_dependency d"
        " JOIN ir_module_module m ON m.id = d.module_id WHERE m.name = 'ops_glue'"
        " ORDER BY d.name").fetchall()
    assert deps == [("ops_core", True), ("ops_fin", True)]
    assert odoo_schema.ref(conn, "base.module_ops_fin") is not None
    assert fake_bin.odoo_calls()[-1][:2] == ["-c", str(conf)]


def test_double_planted_failure_rolls_back_and_exits_255(odoo18, fake_bin) -> None:
    db, conf, addons = odoo18
    addons.add("ops_core", depends=["mail"])
    addons.add("ops_bad", depends=["ops_core"],
               odoo_double={"fail": "install", "message": "External ID not found: x.y"})
    conn = db.connect()
    before = _all_states(conn)
    proc = fake_bin.run_odoo("-c", str(conf), "-d", db.name, "-i", "ops_bad",
                             "--stop-after-init")
    assert proc.returncode == 255  # Odoo: preload_registries() -> -1 -> sys.exit(-1)
    records = parse_log(proc.stderr)
    errors = [(r.level, r.logger, r.message) for r in records if r.level in ("ERROR", "CRITICAL")]
    assert errors == [
        ("ERROR", "odoo.modules.registry", "Failed to load registry"),
        ("CRITICAL", "odoo.service.server", f"Failed to initialize database `{db.name}`."),
    ]
    tb = records[[r.level for r in records].index("CRITICAL")].traceback
    assert tb.startswith("Traceback (most recent call last):")
    assert tb.rstrip().endswith("External ID not found: x.y")
    assert "odoo.tools.convert.ParseError" in tb
    after = _all_states(conn)
    # ops_core was installed (and committed) before ops_bad failed, as in Odoo
    assert after.pop("ops_core") == ("installed", "18.0.1.0")
    assert after.pop("ops_bad") == ("uninstalled", None)
    assert after == before
    assert not conn.execute("SELECT 1 FROM ir_module_module WHERE state LIKE 'to %'").fetchall()


def test_double_failure_of_first_module_leaves_database_unchanged(odoo18, fake_bin) -> None:
    db, conf, addons = odoo18
    addons.add("ops_bad", depends=["mail"], odoo_double={"fail": "both", "message": "boom"})
    before = _all_states(db.connect())
    proc = fake_bin.run_odoo("-c", str(conf), "-d", db.name, "-i", "ops_bad",
                             "--stop-after-init")
    assert proc.returncode == 255
    assert _all_states(db.connect()) == before  # even update_list was rolled back


def test_double_update_sets_manifest_versions(odoo18, fake_bin) -> None:
    db, conf, addons = odoo18
    addons.add("ops_core", version="1.0", depends=["mail"])
    addons.add("ops_fin", version="1.0", depends=["ops_core"])
    addons.add("ops_solo", version="1.0", depends=["base"])
    proc = fake_bin.run_odoo("-c", str(conf), "-d", db.name, "-i", "ops_fin,ops_solo",
                             "--stop-after-init")
    assert proc.returncode == 0, proc.stderr
    addons.add("ops_core", version="1.1", depends=["mail"])
    addons.add("ops_fin", version="18.0.1.5", depends=["ops_core"])
    addons.add("ops_solo", version="2.0", depends=["base"])
    proc = fake_bin.run_odoo("-c", str(conf), "-d", db.name, "-u", "ops_core",
                             "--stop-after-init")
    assert proc.returncode == 0, proc.stderr
    loaded = [r.message.split()[2] for r in parse_log(proc.stderr)
              if r.message.startswith("Loading module")]
    assert loaded == ["ops_core", "ops_fin"]  # and the modules depending on it
    assert _states(db.connect(), "ops_core", "ops_fin", "ops_solo") == {
        "ops_core": ("installed", "18.0.1.1"),
        "ops_fin": ("installed", "18.0.1.5"),
        "ops_solo": ("installed", "18.0.1.0"),
    }
    proc = fake_bin.run_odoo("-c", str(conf), "-d", db.name, "-u", "all", "--stop-after-init")
    assert proc.returncode == 0, proc.stderr
    loaded = [r.message.split()[2] for r in parse_log(proc.stderr)
              if r.message.startswith("Loading module")]
    assert loaded[0] == "base" and "ops_solo" in loaded and "mail" in loaded
    assert _states(db.connect(), "ops_solo")["ops_solo"] == ("installed", "18.0.2.0")


def test_double_update_failure_keeps_installed_state(odoo18, fake_bin) -> None:
    db, conf, addons = odoo18
    addons.add("ops_core", version="1.0", depends=["mail"])
    assert fake_bin.run_odoo("-c", str(conf), "-d", db.name, "-i", "ops_core",
                             "--stop-after-init").returncode == 0
    addons.add("ops_core", version="1.1", depends=["mail"],
               odoo_double={"fail": "update", "message": "migration failed"})
    proc = fake_bin.run_odoo("-c", str(conf), "-d", db.name, "-u", "ops_core",
                             "--stop-after-init")
    assert proc.returncode == 255
    assert "migration failed" in proc.stderr
    assert _states(db.connect(), "ops_core") == {"ops_core": ("installed", "18.0.1.0")}


def test_double_warns_about_unknown_names_and_missing_dependencies(odoo18, fake_bin) -> None:
    db, conf, addons = odoo18
    proc = fake_bin.run_odoo("-c", str(conf), "-d", db.name, "-i", "no_such_addon",
                             "--stop-after-init")
    assert proc.returncode == 0
    assert any(r.level == "WARNING" and r.message == "invalid module names, ignored: no_such_addon"
               for r in parse_log(proc.stderr))
    addons.add("ops_orphan", depends=["not_there"])
    proc = fake_bin.run_odoo("-c", str(conf), "-d", db.name, "-i", "ops_orphan",
                             "--stop-after-init")
    assert proc.returncode == 255
    assert "odoo.exceptions.UserError: You try to install module 'ops_orphan'" in proc.stderr


def test_double_shell_update_list_and_immediate_install(odoo18, fake_bin) -> None:
    db, conf, addons = odoo18
    addons.add("ops_new", version="2.1", depends=["mail"])
    addons.add("ops_off", installable=False)
    script_no_commit = "print(env['ir.module.module'].update_list())\n"
    proc = fake_bin.run_odoo("shell", "-c", str(conf), "-d", db.name, "--no-http",
                             input=script_no_commit)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[0, 2]"
    conn = db.connect()
    assert _states(conn, "ops_new") == {}  # not committed: Odoo's shell rolls back
    script = (
        "Module = env['ir.module.module']\n"
        "print(Module.update_list())\n"
        "env.cr.commit()\n"
        "mods = Module.search([('name', 'in', ['ops_new', 'ops_off'])])\n"
        "print(sorted(mods.mapped('state')))\n"
        "Module.search([('name', '=', 'ops_new')]).button_immediate_install()\n"
        "print(Module.search([('name', '=', 'ops_new')]).latest_version)\n"
        "print(env['ir.config_parameter'].sudo().get_param('web.base.url'))\n"
    )
    proc = fake_bin.run_odoo("shell", "-c", str(conf), "-d", db.name, input=script)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["[0, 2]", "['uninstallable', 'uninstalled']",
                                        "18.0.2.1", "http://localhost:8069"]
    assert _states(conn, "ops_new", "ops_off") == {
        "ops_new": ("installed", "18.0.2.1"), "ops_off": ("uninstallable", None)}
    assert "Modules loaded." in proc.stderr
    proc = fake_bin.run_odoo(
        "shell", "-c", str(conf), "-d", db.name,
        input="env['ir.module.module'].search([('name', '=', 'ops_new')])"
              ".button_immediate_uninstall()\n")
    assert proc.returncode == 0, proc.stderr
    assert _states(conn, "ops_new") == {"ops_new": ("uninstalled", None)}


def test_double_shell_exception_exits_1(odoo18, fake_bin) -> None:
    db, conf, _ = odoo18
    proc = fake_bin.run_odoo("shell", "-c", str(conf), "-d", db.name,
                             input="raise RuntimeError('nope')\n")
    assert proc.returncode == 1
    assert "Traceback (most recent call last):" in proc.stderr
    assert "RuntimeError: nope" in proc.stderr


@pytest.mark.parametrize("version", [16, 18])
def test_double_neutralize(odoo_db, fake_bin, tmp_path: Path, version: int) -> None:
    db = odoo_db(version)
    conn = db.connect()
    odoo_schema.add_mail_server(conn, "Production SMTP")
    odoo_schema.add_fetchmail_server(conn, "Inbox")
    odoo_schema.add_module(conn, "payment", depends=["base"])
    odoo_schema.add_payment_provider(conn, "Stripe", "stripe", state="enabled")
    odoo_schema.add_payment_provider(conn, "Demo", "demo", state="test")
    conf = db.write_odoo_conf(tmp_path / "odoo.conf")
    fake_bin.odoo_series(f"{version}.0")
    proc = fake_bin.run_odoo("neutralize", "-c", str(conf), "-d", db.name)
    assert proc.returncode == 0, proc.stderr
    assert "Neutralization finished" in proc.stderr
    active = conn.execute("SELECT c.id FROM ir_cron c WHERE c.active").fetchall()
    assert active == [(odoo_schema.ref(conn, "base.autovacuum_job"),)]
    servers = conn.execute("SELECT name, active FROM ir_mail_server ORDER BY id").fetchall()
    expected = [("Production SMTP", False)]
    if version >= 18:
        expected.append(("neutralization - disable emails", True))
    assert servers == expected
    assert conn.execute("SELECT bool_or(active) FROM fetchmail_server").fetchone()[0] is False
    assert conn.execute("SELECT code, state FROM payment_provider ORDER BY id").fetchall() == [
        ("stripe", "disabled"), ("demo", "test")]
    assert odoo_schema.get_param(conn, "database.is_neutralized") == "true"
    out = fake_bin.run_odoo("neutralize", "-c", str(conf), "-d", db.name, "--stdout")
    assert out.stdout.startswith("BEGIN;") and out.stdout.rstrip().endswith("COMMIT;")
    bad = fake_bin.run_odoo("neutralize", "-c", str(conf), "-d", db.name + "_missing")
    assert bad.returncode == 1
    assert "THE DATABASE IS NOT NEUTRALIZED!" in bad.stderr


def test_double_options_version_and_errors(fake_bin, tmp_path: Path) -> None:
    assert fake_bin.run_odoo("--version").stdout.strip() == "Odoo Server 18.0"
    fake_bin.odoo_series("17.0", "17.0-20250101")
    assert fake_bin.run_odoo("--version").stdout.strip() == "Odoo Server 17.0-20250101"
    bad = fake_bin.run_odoo("--no-such-option")
    assert bad.returncode == 2 and "no such option: --no-such-option" in bad.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    bad = fake_bin.run_odoo("--addons-path", str(empty), "--stop-after-init")
    assert bad.returncode == 2 and "not a valid addons directory" in bad.stderr
    assert fake_bin.run_odoo("frobnicate").returncode == 1


def test_double_creates_a_missing_database_like_odoo(
    fake_bin, pg_databases, pg_admin_dsn, addons_dir, tmp_path: Path
) -> None:
    name = pg_databases.unique_name("auto")
    info = pg.OdooTestDb(name=name, dsn=pg.dsn_for(pg_admin_dsn, name), admin_dsn=pg_admin_dsn)
    addons_dir.add("ops_x", depends=["web"])
    conf = info.write_odoo_conf(tmp_path / "odoo.conf", addons_path=[addons_dir.path])
    try:
        proc = fake_bin.run_odoo("-c", str(conf), "-i", "ops_x", "--stop-after-init")
        assert proc.returncode == 0, proc.stderr
        assert "init db" in proc.stderr
        with psycopg.connect(info.dsn) as conn:
            states = _all_states(conn)
        assert states["base"] == ("installed", "18.0.1.3")
        assert states["web"][0] == "installed"
        assert states["ops_x"] == ("installed", "18.0.1.0")
        assert states["mail"] == ("uninstalled", None)
    finally:
        pg_databases.drop(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_double_serves_health_until_terminated(fake_bin, tmp_path: Path) -> None:
    port = _free_port()
    log = tmp_path / "odoo.log"
    proc = subprocess.Popen([str(fake_bin.odoo), "--http-interface", "127.0.0.1",
                             "--http-port", str(port), "--logfile", str(log)],
                            stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                resp = httpx.get(f"http://127.0.0.1:{port}/web/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the double did not start serving"
                time.sleep(0.05)
        assert resp.status_code == 200 and resp.json() == {"status": "pass"}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    assert "HTTP service (werkzeug) running on 127.0.0.1" in log.read_text()


def test_double_sleep_holds_the_transaction_until_killed(odoo18, fake_bin) -> None:
    db, conf, addons = odoo18
    addons.add("ops_slow", depends=["mail"], odoo_double={"sleep": 30})
    proc = subprocess.Popen([str(fake_bin.odoo), "-c", str(conf), "-d", db.name, "-i",
                             "ops_slow", "--stop-after-init"], stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if "Loading module ops_slow" in line:
                break
        proc.kill()
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
        if proc.stderr:
            proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert _states(db.connect(), "ops_slow") == {}  # nothing was committed


# ---------------------------------------------------------------------------
# docker and ssh doubles
# ---------------------------------------------------------------------------


CONTAINERS = [
    {"ID": "a1", "Name": "proj-odoo-1", "Service": "odoo", "State": "running",
     "Status": "Up 2 hours", "Image": "odoo:18.0"},
    {"ID": "b2", "Name": "proj-db-1", "Service": "db", "State": "exited",
     "Status": "Exited (0) 3 minutes ago", "Image": "postgres:15"},
]


def _run(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True, check=False, **kw)


def test_fake_docker_compose_ps_formats(fake_bin) -> None:
    compose = ["docker", "compose", "-f", "/srv/odoo/compose.yml", "--project-directory",
               "/srv/odoo", "--env-file", "/srv/odoo/.env"]
    fake_bin.set_compose_ps(CONTAINERS, fmt="array")
    out = _run(*compose, "ps", "--format", "json")
    assert out.returncode == 0 and json.loads(out.stdout) == CONTAINERS
    fake_bin.set_compose_ps(CONTAINERS, fmt="lines")
    out = _run(*compose, "ps", "--format", "json")
    assert [json.loads(line) for line in out.stdout.splitlines()] == CONTAINERS
    out = _run(*compose, "ps", "--format", "json", "odoo")
    assert [json.loads(line) for line in out.stdout.splitlines()] == CONTAINERS[:1]
    assert _run("docker", "info").returncode == 0
    fake_bin.daemon_down()
    down = _run("docker", "info")
    assert down.returncode == 1 and "Cannot connect to the Docker daemon" in down.stderr
    assert fake_bin.docker_calls()[0].startswith("docker compose -f /srv/odoo/compose.yml")


def test_fake_docker_exec_run_and_lifecycle(fake_bin, tmp_path: Path) -> None:
    fake_bin.set_compose_ps(CONTAINERS)
    out = _run("docker", "compose", "exec", "-T", "-e", "FOO=bar", "odoo", "sh", "-c",
               "echo $FOO")
    assert out.returncode == 0 and out.stdout == "bar\n"
    stopped = _run("docker", "compose", "exec", "-T", "db", "true")
    assert stopped.returncode == 1 and 'service "db" is not running' in stopped.stderr
    ran = _run("docker", "compose", "run", "--rm", "-T", "db", "sh", "-c", "exit 3")
    assert ran.returncode == 3
    via = _run("docker", "compose", "exec", "-T", "odoo", "odoo", "--version")
    assert via.stdout.strip() == "Odoo Server 18.0"  # reaches the odoo double
    assert _run("docker", "compose", "restart", "odoo").returncode == 0
    assert _run("docker", "compose", "up", "-d").returncode == 0
    fake_bin.fail_docker("pull")
    assert _run("docker", "compose", "pull").returncode == 1
    calls = fake_bin.docker_calls()
    assert "docker compose restart odoo" in calls
    assert "docker compose up -d" in calls
    assert calls[-1] == "docker compose pull"


def test_fake_ssh_runs_the_remote_command_locally(fake_bin, tmp_path: Path) -> None:
    out = _run("ssh", "-o", "BatchMode=yes", "-p", "2222", "-T", "-q", "-i", "/k/id",
               "deploy@erp.example.com", "echo", "hello", "&&", "echo", "$((1+2))")
    assert out.returncode == 0 and out.stdout == "hello\n3\n"
    fed = _run("ssh", "host", input="echo from-stdin\nexit 4\n")
    assert fed.returncode == 4 and fed.stdout == "from-stdin\n"
    assert fake_bin.ssh_calls()[0].startswith("ssh -o BatchMode=yes -p 2222")
    nested = _run("ssh", "-oBatchMode=yes", "h", "docker compose restart odoo")
    assert nested.returncode == 0
    assert fake_bin.docker_calls()[-1] == "docker compose restart odoo"
    fake_bin.ssh_unreachable()
    refused = _run("ssh", "-p", "2222", "h", "true")
    assert refused.returncode == 255 and "port 2222: Connection refused" in refused.stderr


# ---------------------------------------------------------------------------
# web stand-ins
# ---------------------------------------------------------------------------


def test_fake_odoo_web_answers_like_odoo_18(odoo_web: FakeOdooWeb) -> None:
    with httpx.Client(base_url=odoo_web.url, timeout=5) as client:
        health = client.get("/web/health")
        assert health.status_code == 200 and health.json() == {"status": "pass"}
        assert health.headers["server"] == "Werkzeug/2.2.2 Python/3.11.7"
        assert health.headers["cache-control"] == "no-store"
        assert client.get("/web/health", params={"db_server_status": 1}).json() == {
            "status": "pass", "db_server_status": True}
        login = client.get("/web/login")
        assert login.status_code == 200 and 'name="csrf_token"' in login.text
        assert login.headers["x-frame-options"] == "SAMEORIGIN"
        assert "session_id=" in login.headers["set-cookie"]
        manager = client.get("/web/database/manager")
        assert "disabled by the administrator" in manager.text
        info = client.post("/web/webclient/version_info",
                           json={"jsonrpc": "2.0", "method": "call", "params": {}, "id": 7})
        assert info.json()["id"] == 7
        assert info.json()["result"]["server_serie"] == "18.0"
        root = client.get("/")
        assert root.status_code == 303 and root.headers["location"] == "/odoo"
        assert client.get("/web").headers["location"] == "/web/login?redirect=%2Fweb%3F"
        denied = client.post("/web/database/list", json={"jsonrpc": "2.0", "id": 1})
        assert denied.json()["error"]["data"]["name"] == "odoo.exceptions.AccessDenied"

        odoo_web.set(database_manager="blocked404", server_header=None,
                     remove_headers={"X-Content-Type-Options"},
                     extra_headers={"Strict-Transport-Security": "max-age=31536000"},
                     status={"/web/login": 502}, db_server_ok=False)
        assert client.get("/web/database/selector").status_code == 404
        assert client.get("/web/login").status_code == 502
        sick = client.get("/web/health?db_server_status=1")
        assert sick.status_code == 500 and sick.json()["status"] == "fail"
        assert "server" not in sick.headers and "x-content-type-options" not in sick.headers
        assert sick.headers["strict-transport-security"] == "max-age=31536000"
        odoo_web.set(fail="500")
        assert client.get("/web/health").status_code == 500
        odoo_web.set(fail="close")
        with pytest.raises(httpx.TransportError):
            client.get("/web/health")
        odoo_web.set(fail=None, hang=True)
        with pytest.raises(httpx.TimeoutException):
            client.get("/web/health", timeout=0.3)
        odoo_web.set(hang=False, version=16)
        assert client.get("/").headers["location"] == "/web"
        assert client.get("/web/health?db_server_status=1").json() == {"status": "pass"}
    assert odoo_web.paths()[:2] == ["/web/health", "/web/health"]
    posted = [r for r in odoo_web.requests if r.path == "/web/webclient/version_info"]
    assert posted[0].method == "POST" and posted[0].json()["id"] == 7


def test_webhook_receiver_records_posts(webhook_receiver: WebhookReceiver) -> None:
    httpx.post(webhook_receiver.url, json={"text": "odoo is down"}, timeout=5)
    webhook_receiver.status = 500
    assert httpx.post(webhook_receiver.url + "/2", content=b"x", timeout=5).status_code == 500
    got = webhook_receiver.wait_for(2, timeout=2)
    assert got[0].json() == {"text": "odoo is down"}
    assert got[1].path == "/hook/2" and got[1].text == "x"
