"""``services-required`` against real HTTP servers; ``modules-states`` on real PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from odoo_ops.checks.base import Status
from tests.support import odoo_schema
from tests.support.addons import write_addon

from .helpers import HangingServer, HeaderServer, LiveProject, Route, closed_port

# -- services -----------------------------------------------------------------------------


def test_no_services_skips(live: LiveProject) -> None:
    result = live.one("services-required")
    assert result.status == Status.SKIP and "no [[services]]" in result.message


def test_services_up(live: LiveProject, header_server: Callable[..., HeaderServer]) -> None:
    ocr = header_server()
    ocr.routes["/health"] = Route(200, {}, "ok")
    pay = header_server()
    pay.routes["/ping"] = Route(204)
    live.services = [
        {"name": "ocr", "url": ocr.url() + "/health"},
        {"name": "pay", "url": pay.url() + "/ping", "expect_status": 204, "required": False},
    ]
    result = live.one("services-required")
    assert result.status == Status.PASS, result.message
    assert "2 service(s) answer" in result.message
    assert ocr.hits == ["/health"] and pay.hits == ["/ping"]


def test_required_down_fails_optional_down_warns(
    live: LiveProject, header_server: Callable[..., HeaderServer]
) -> None:
    bad = header_server()
    bad.routes["/health"] = Route(503, {}, "down")
    live.services = [
        {"name": "ocr", "url": bad.url() + "/health", "required": False},
    ]
    result = live.one("services-required")
    assert result.status == Status.WARN
    assert "optional service(s) down: ocr: HTTP 503, expected 200" in result.message

    live.services.append(
        {"name": "bank", "url": f"http://127.0.0.1:{closed_port()}/api?token=s3cr3t"}
    )
    result = live.one("services-required")
    assert result.status == Status.FAIL
    assert "required service(s) down: bank: connection refused" in result.message
    assert "optional: ocr" in result.message
    assert not any("s3cr3t" in e for e in result.evidence)


def test_services_are_asked_in_parallel_within_their_timeout(
    live: LiveProject, hanging_server: HangingServer
) -> None:
    url = f"http://127.0.0.1:{hanging_server.port}/health"
    live.services = [
        {"name": f"slow{i}", "url": url, "timeout": 1, "required": i == 0} for i in range(4)
    ]
    start = time.monotonic()
    result = live.one("services-required")
    elapsed = time.monotonic() - start
    assert result.status == Status.FAIL
    assert "slow0: no answer within 1s" in result.message
    assert elapsed < 3.5, elapsed  # 4 services x 1 s in parallel, not in a row


# -- modules ------------------------------------------------------------------------------

pg = pytest.mark.pg


@pg
def test_modules_all_installed_pass(live: LiveProject, odoo_db: Callable[..., Any]) -> None:
    db = odoo_db(version=18)
    live.configure(dsn=db.dsn)
    result = live.one("modules-states")
    assert result.status == Status.PASS, result.message
    assert "none pending" in result.message


@pg
def test_pending_states_fail_with_the_command(
    live: LiveProject, odoo_db: Callable[..., Any]
) -> None:
    db = odoo_db(version=17)
    with db.connect() as conn:
        odoo_schema.add_module(conn, "sale_custom", state="to upgrade")
        odoo_schema.add_module(conn, "stock_custom", state="to install")
        odoo_schema.add_module(conn, "old_custom", state="to remove")
    live.configure(dsn=db.dsn, series="17.0", odoo_conf=None)
    result = live.one("modules-states")
    assert result.status == Status.FAIL
    assert "1 to upgrade: sale_custom" in result.message
    assert "1 to install: stock_custom" in result.message
    assert "1 to remove: old_custom" in result.message
    fix = result.remediation or ""
    assert "odoo" in fix and "-u sale_custom" in fix and "--stop-after-init" in fix
    assert "to remove: old_custom" in result.evidence


@pg
def test_newer_code_on_disk_warns_and_uninstallable_fails(
    live: LiveProject, odoo_db: Callable[..., Any], tmp_path: Path
) -> None:
    db = odoo_db(version=18)
    addons = tmp_path / "addons"
    addons.mkdir()
    write_addon(addons, "ipai_core", version="18.0.1.2.0")
    write_addon(addons, "ipai_same", version="1.0")
    with db.connect() as conn:
        odoo_schema.add_module(conn, "ipai_core", latest_version="18.0.1.1.0")
        odoo_schema.add_module(conn, "ipai_same", latest_version="18.0.1.0")
    live.configure(dsn=db.dsn, addons_paths=[str(addons)])
    result = live.one("modules-states")
    assert result.status == Status.WARN, result.message
    assert "ipai_core" in result.message and "ipai_same" not in result.message
    assert "newer on disk: ipai_core 18.0.1.1.0 -> 18.0.1.2.0" in result.evidence
    assert "-u ipai_core" in (result.remediation or "")

    write_addon(addons, "ipai_old", version="17.0.1.0.0")
    write_addon(addons, "ipai_off", installable=False)
    with db.connect() as conn:
        odoo_schema.add_module(conn, "ipai_old")
        odoo_schema.add_module(conn, "ipai_off")
    result = live.one("modules-states")
    assert result.status == Status.FAIL
    assert "2 installed but not installable on disk" in result.message
    assert any("ipai_old (version 17.0.1.0.0 is for series 17.0" in e for e in result.evidence)
    assert any("ipai_off (installable: False" in e for e in result.evidence)


@pg
def test_modules_skip_on_uninitialised_database(
    live: LiveProject, make_database: Callable[..., Any]
) -> None:
    db = make_database("blank")
    live.configure(dsn=db.dsn)
    result = live.one("modules-states")
    assert result.status == Status.SKIP and "not initialised" in result.message
