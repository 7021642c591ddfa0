"""``snapshot create`` crawling the real web client and ``audit broken`` against the
real JS bundles (client action tags), on one real Odoo 18 server for the module."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.real.conftest import RealProject, drop_project
from tests.support import pg

ACTION_TABLES = {
    "window": "ir_act_window", "client": "ir_act_client", "server": "ir_act_server",
    "report": "ir_act_report_xml", "url": "ir_act_url",
}  # fmt: skip


@pytest.fixture(scope="module")
def served(
    real_project_factory: Callable[[Path], RealProject],
    tmp_path_factory: pytest.TempPathFactory,
    pg_databases: pg.DatabaseManager,
) -> Iterator[RealProject]:
    """The real server; the deployment's addons path is Odoo's own (core + OCA + the
    project's), as an operator whose Odoo code is on the host configures it."""
    project = real_project_factory(tmp_path_factory.mktemp("webclient") / "project")
    toml = project.root / "odoo-ops.toml"
    paths = json.dumps([str(p) for p in project.odoo.addons_path(project.addons)])
    text, count = re.subn(r"(?m)^addons_paths = .*$", f"addons_paths = {paths}", toml.read_text())
    assert count == 1
    toml.write_text(text)
    project.start()
    try:
        yield project
    finally:
        drop_project(project, pg_databases)


def _nodes(tree: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in tree:
        yield node
        yield from _nodes(node["children"])


def test_snapshot_crawls_every_menu_action_of_the_real_web_client(
    served: RealProject,
    tmp_path: Path,
) -> None:
    out = tmp_path / "snap"
    proc = served.cli(
        "snapshot", "create", "--out", str(out), "--max-pages", "400", "--time-limit", "120"
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # menus and actions: what the database holds, nothing flagged broken
    menus = list(_nodes(json.loads((out / "menus.json").read_text())))
    assert len(menus) == served.sql("SELECT count(*) FROM ir_ui_menu")[0][0]
    assert [m for m in menus if m["broken"]] == []
    actions = json.loads((out / "actions.json").read_text())
    for kind, table in ACTION_TABLES.items():
        assert len(actions[kind]) == served.sql(f"SELECT count(*) FROM {table}")[0][0], kind
    assert len(actions["client"]) >= 1 and len(actions["window"]) >= 50
    # the crawl: every active menu's window/client action opened in the real web client
    expected = {
        f"/odoo/action-{action.split(',')[1]}"
        for (action,) in served.sql(
            "SELECT action FROM ir_ui_menu WHERE active AND (action LIKE 'ir.actions.act_window,%'"
            " OR action LIKE 'ir.actions.client,%')")
    }  # fmt: skip
    assert len(expected) >= 50
    http = json.loads((out / "http.json").read_text())
    assert http["stopped"] is None
    pages = {p["path"]: p for p in http["pages"]}
    assert expected <= set(pages), sorted(expected - set(pages))
    for path in expected:
        page = pages[path]
        # anonymous: the real route answers with the login page, asking to come back
        assert (page["status"], page["error"]) == (303, None), page
        assert page["location"].startswith("/web/login?redirect=%2Fodoo%2Faction-"), page
    assert pages["/web/health"]["status"] == 200
    assert pages["/web/login"]["status"] == 200
    assert pages["/web/webclient/version_info"]["status"] == 200
    assert all(p["status"] is not None and p["status"] < 500 for p in http["pages"]), http


def test_snapshot_crawl_is_bounded_by_its_limits(served: RealProject, tmp_path: Path) -> None:
    proc = served.cli("snapshot", "create", "--out", str(tmp_path / "snap"), "--max-pages", "7")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "crawl stopped early: page-limit" in proc.stdout + proc.stderr
    http = json.loads((tmp_path / "snap" / "http.json").read_text())
    assert (http["stopped"], len(http["pages"])) == ("page-limit", 7)


def _audit(served: RealProject, *flags: str) -> tuple[int, dict[str, Any]]:
    proc = served.cli("audit", "broken", "--format", "json", *flags)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, json.loads(proc.stdout)


def test_audit_broken_reads_the_real_bundles_for_client_action_tags(served: RealProject) -> None:
    code, report = _audit(served, "--ci")
    assert (code, report["findings"]) == (0, []), report
    assert (
        report["counts"]["client_actions"]
        == served.sql("SELECT count(*) FROM ir_act_client")[0][0]
        >= 1
    )
    assert report["counts"]["client_actions_unregistered"] == 0
    assert not [n for n in report["notes"] if "not checked" in n], report["notes"]
    # a client action whose tag no bundle of the real Odoo registers, behind an active menu
    (aid,) = served.sql(
        "INSERT INTO ir_act_client (name, type, tag, target, binding_type, context)"
        " VALUES ('{\"en_US\": \"Ghost\"}', 'ir.actions.client', 'odoo_ops_ghost_tag',"
        " 'current', 'action', '{}') RETURNING id"
    )[0]
    served.sql(
        "INSERT INTO ir_ui_menu (name, action, active, sequence) VALUES"
        ' (\'{"en_US": "Ghost menu"}\', %s, true, 10)',
        (f"ir.actions.client,{aid}",),
    )
    code, report = _audit(served, "--ci")
    assert code == 1, report
    found = [f for f in report["findings"] if f["kind"] == "client-action-unregistered"]
    assert len(found) == 1, report["findings"]
    assert "odoo_ops_ghost_tag" in json.dumps(found[0])
    assert report["counts"]["client_actions_unregistered"] == 1
