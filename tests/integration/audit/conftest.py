"""Fixture databases with every kind of breakage the audits report, beside healthy records.

``broken_world(odoo_db, version, tmp_path)`` builds on the harness ``odoo_db``
(a seeded Odoo-shaped database) and an addons directory written here; it
returns what was planted, so tests assert each finding appears and nothing
healthy is flagged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from tests.support import odoo_schema as S
from tests.support.addons import write_addon


@dataclass
class World:
    db: Any
    version: int
    addons: Path
    ids: dict[str, int] = field(default_factory=dict)
    expected: set[tuple[str, str]] = field(default_factory=set)

    @property
    def series(self) -> str:
        return f"{self.version}.0"


def write_js(addon_dir: Path, rel: str, text: str) -> None:
    path = addon_dir / "static" / "src" / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _bypass_fk(conn: psycopg.Connection[Any], sql: str, params: tuple[Any, ...]) -> int:
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row[0])


def build_broken_world(odoo_db: Any, version: int, root: Path) -> World:
    db = odoo_db(version=version)
    addons = root / "addons"
    addons.mkdir(parents=True, exist_ok=True)
    w = World(db, version, addons)
    ids = w.ids
    conn = db.connect()
    series = w.series

    # -- addons on disk: healthy custom addons, with JS registering client actions --------
    d = write_addon(addons, "x_dash", version="1.0.0", depends=["web"])
    write_js(d, "dashboard.js", 'import { registry } from "@web/core/registry";\n'
             "registry\n    .category('actions')\n    .add(\n  `x_dash.board`, Board);\n")
    d = write_addon(addons, "x_alias", version=f"{series}.2.0.0", depends=["web"])
    write_js(d, "sub/alias.js", 'const actionRegistry = registry.category("actions");\n'
             "actionRegistry.add('x_alias.main', Main);\n")
    d = write_addon(addons, "x_uninst", version="1.0", depends=["web"])
    write_js(d, "a.js", 'registry.category("actions").add("x_uninst.tag", A);\n')
    S.add_module(conn, "x_dash", state="installed", latest_version=f"{series}.1.0.0",
                 author="odoo-ops tests")
    S.add_module(conn, "x_alias", state="installed", latest_version=f"{series}.2.0.0",
                 author="odoo-ops tests")
    S.add_module(conn, "x_uninst", state="uninstalled", author="odoo-ops tests")

    # -- modules in bad states ---------------------------------------------------------------
    S.add_module(conn, "x_pending_up", state="to upgrade")
    S.add_module(conn, "x_pending_in", state="to install")
    S.add_module(conn, "x_pending_rm", state="to remove")
    S.add_module(conn, "x_was_installed", state="uninstallable",
                 latest_version=f"{series}.1.0")
    for name in ("x_pending_up", "x_pending_in", "x_pending_rm"):
        w.expected.add(("module-pending", name))
    w.expected.add(("module-uninstallable", "x_was_installed"))

    # -- menus whose action is missing (each action model) ------------------------------------
    root_menu = S.add_menu(conn, "Broken App", xmlid="x_dash.menu_root")
    ids["root_menu"] = root_menu
    existing_window = S.ref(conn, "base.action_res_users")
    assert existing_window
    refs = {
        "win": "ir.actions.act_window,987654",
        "client": "ir.actions.client,987655",
        "server": "ir.actions.server,987656",
        "report": "ir.actions.report,987657",
        "url": "ir.actions.act_url,987658",
        # the row exists, but as a window action: not in ir_act_client
        "wrong_table": f"ir.actions.client,{existing_window}",
        "malformed": "ir.actions.act_window,abc",
        "unknown_model": "ir.actions.wizard,5",
    }
    for key, ref in refs.items():
        mid = S.add_menu(conn, f"Broken {key}", action=ref, parent_id=root_menu,
                         xmlid=f"x_dash.menu_{key}")
        ids[f"menu_{key}"] = mid
        w.expected.add(("menu-missing-action", str(mid)))
    # healthy menus with each action model (beside the seed's)
    report_id = S.ref(conn, "base.report_ir_model_overview")
    ids["menu_ok_report"] = S.add_menu(conn, "Report ok", parent_id=root_menu,
                                       action=f"ir.actions.report,{report_id}")

    # -- menu whose parent is gone ----------------------------------------------------------------
    ids["menu_orphan"] = _bypass_fk(
        conn, "INSERT INTO ir_ui_menu (name, parent_id, parent_path, active, sequence)"
        " VALUES (%s, 876543, '876543/' , true, 10) RETURNING id",
        (psycopg.types.json.Jsonb({"fr_FR": "Orphelin"}),),
    )
    conn.execute("UPDATE ir_ui_menu SET parent_path = '876543/' || id || '/' WHERE id = %s",
                 (ids["menu_orphan"],))
    w.expected.add(("menu-missing-parent", str(ids["menu_orphan"])))

    # -- window action on a model that is gone, with a menu leading to it -----------------------
    ids["act_gone_model"] = S.add_window_action(conn, "Old Things", "x_old.thing",
                                                xmlid="x_dash.action_old_things")
    ids["menu_gone_model"] = S.add_menu(conn, "Old Things", parent_id=root_menu,
                                        action=f"ir.actions.act_window,{ids['act_gone_model']}")
    w.expected.add(("window-action-missing-model", str(ids["act_gone_model"])))

    # -- external ids whose record is gone --------------------------------------------------------
    S.add_model_data(conn, "x_dash", "partner_gone", "res.partner", 999001)
    S.add_model_data(conn, "x_dash", "partner_gone2", "res.partner", 999002)
    w.expected.add(("xmlid-record-missing", "x_dash:res.partner"))
    # a window action id: the real table is ir_act_window, not ir_actions_act_window
    S.add_model_data(conn, "x_alias", "action_gone", "ir.actions.act_window", 999003)
    w.expected.add(("xmlid-record-missing", "x_alias:ir.actions.act_window"))
    # a model that is gone entirely
    S.add_model_data(conn, "x_old", "thing_1", "x_old.thing", 3)
    w.expected.add(("xmlid-model-missing", "x_old:x_old.thing"))
    # healthy: a record of a model with a custom table and one with a plain table
    S.add_model(conn, "x_dash.widget", "x_dash_widget")
    wid = S._insert(conn, "x_dash_widget", {"create_date": datetime.utcnow()})
    S.add_model_data(conn, "x_dash", "widget_1", "x_dash.widget", wid)

    # -- client actions ------------------------------------------------------------------
    ids["ca_ok_dash"] = S.add_client_action(conn, "Dashboard", "x_dash.board",
                                            xmlid="x_dash.action_board")
    ids["ca_ok_alias"] = S.add_client_action(conn, "Alias", "x_alias.main",
                                             xmlid="x_alias.action_main")
    ids["ca_ok_builtin"] = S.add_client_action(conn, "Soft", "soft_reload")
    S.add_menu(conn, "Board", parent_id=root_menu,
               action=f"ir.actions.client,{ids['ca_ok_dash']}")
    ids["ca_missing"] = S.add_client_action(conn, "Lost Screen", "x_lost.screen",
                                            xmlid="x_dash.action_lost")
    ids["menu_ca_missing"] = S.add_menu(conn, "Lost Screen", parent_id=root_menu,
                                        action=f"ir.actions.client,{ids['ca_missing']}")
    ids["ca_uninst"] = S.add_client_action(conn, "Needs install", "x_uninst.tag")
    w.expected.add(("client-action-unregistered", str(ids["ca_missing"])))
    w.expected.add(("client-action-unregistered", str(ids["ca_uninst"])))

    # -- crons ---------------------------------------------------------------------------
    now = datetime.utcnow().replace(microsecond=0)
    ids["cron_overdue"] = S.add_cron(conn, version, "X: overdue", model="res.partner",
                                     nextcall=now - timedelta(days=3), interval_number=1,
                                     interval_type="hours")
    ids["cron_ok_future"] = S.add_cron(conn, version, "X: fine", model="res.partner",
                                       nextcall=now + timedelta(minutes=30),
                                       interval_number=1, interval_type="hours")
    ids["cron_inactive_old"] = S.add_cron(conn, version, "X: inactive old", model="res.partner",
                                          active=False, nextcall=now - timedelta(days=30))
    # model gone: ir_model row deleted under the cron (FK triggers bypassed, as a restore
    # of a partial dump or a hand-made DELETE leaves it)
    ids["cron_model_gone"] = S.add_cron(conn, version, "X: old job", model="x_old.job",
                                        nextcall=now + timedelta(hours=1))
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("DELETE FROM ir_model WHERE model = 'x_old.job'")
    # cron whose server action is gone (FK bypassed)
    ids["cron_action_gone"] = S.add_cron(conn, version, "X: action gone", model="res.partner",
                                         nextcall=now + timedelta(hours=1))
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("DELETE FROM ir_act_server WHERE id = (SELECT ir_actions_server_id"
                     " FROM ir_cron WHERE id = %s)", (ids["cron_action_gone"],))
    # cron of an uninstalled module
    ids["cron_uninstalled"] = S.add_cron(conn, version, "X: uninstalled module's cron",
                                         model="res.partner", xmlid="x_uninst.cron_job",
                                         nextcall=now + timedelta(hours=1))
    conn.close()
    return w
