"""Pure parts of the live checks: header parsing, CSP grades, version and log parsing."""

from __future__ import annotations

import pytest

from odoo_ops.checks import all_checks
from odoo_ops.checks.context import HttpAnswer
from odoo_ops.checks.database import PG_MINIMUM
from odoo_ops.checks.docker import _error_line, _server_version
from odoo_ops.checks.full import ASSETS_SCRIPT, CLEANUP_SCRIPT, copy_name, log_problems
from odoo_ops.checks.proxy import (
    _classify_manager,
    grade_csp,
    http_url_for,
    parse_csp,
    parse_hsts,
)
from odoo_ops.checks.version import parse_version_output, series_of
from odoo_ops.config.schema import SUPPORTED_SERIES

LIVE_IDS = {
    "docker-daemon",
    "compose-services",
    "odoo-version",
    "db-reachable",
    "db-initialised",
    "db-postgres-version",
    "db-user-not-superuser",
    "db-connections",
    "modules-states",
    "services-required",
    "proxy-https",
    "proxy-hsts",
    "proxy-content-type-options",
    "proxy-frame-options",
    "proxy-referrer-policy",
    "proxy-csp",
    "proxy-database-manager-blocked",
    "proxy-health",
    "proxy-certificate",
    "proxy-server-header",
    "full-assets-build",
    "full-update-base",
}


def test_every_live_check_is_registered_with_its_area() -> None:
    checks = all_checks()
    assert set(checks) >= LIVE_IDS
    areas = {checks[i].area for i in LIVE_IDS}
    assert areas == {"docker", "odoo", "database", "modules", "services", "proxy", "full"}
    assert {i for i in LIVE_IDS if checks[i].slow} == {"full-assets-build", "full-update-base"}
    for check_id in LIVE_IDS:
        assert checks[check_id].needs, check_id
        assert checks[check_id].title


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("max-age=31536000; includeSubDomains; preload", (31536000, True)),
        ('max-age="600"', (600, False)),
        ("MAX-AGE=15552000", (15552000, False)),
        ("includeSubDomains", (None, True)),
        ("max-age=abc", (None, False)),
    ],
)
def test_parse_hsts(value: str, expected: tuple[int | None, bool]) -> None:
    assert parse_hsts(value) == expected


def test_parse_csp_merged_policies() -> None:
    policies = parse_csp("default-src 'self'; Script-Src 'self' 'UNSAFE-INLINE', frame-ancestors *")
    assert policies == [
        {"default-src": ["'self'"], "script-src": ["'self'", "'unsafe-inline'"]},
        {"frame-ancestors": ["*"]},
    ]


@pytest.mark.parametrize(
    ("enforced", "report_only", "grade"),
    [
        (None, None, "none"),
        ("frame-ancestors 'self'", None, "none"),
        ("default-src 'self'", None, "strict"),
        ("default-src *", None, "permissive"),
        ("default-src 'self'; script-src data: 'self'", None, "permissive"),
        ("script-src 'self' 'unsafe-inline' 'unsafe-eval'", None, "unsafe-inline"),
        ("script-src 'self' 'unsafe-inline' 'sha256-abc='", None, "strict"),
        ("frame-ancestors 'self'", "default-src 'self'", "report-only"),
        # the best of several enforced policies counts (all of them apply)
        ("frame-ancestors 'self', script-src 'self'", None, "strict"),
    ],
)
def test_grade_csp(enforced: str | None, report_only: str | None, grade: str) -> None:
    assert grade_csp(enforced, report_only).grade == grade


def test_unsafe_eval_is_mentioned() -> None:
    result = grade_csp("script-src 'self' 'unsafe-inline' 'unsafe-eval'")
    assert "'unsafe-eval'" in result.message


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("https://erp.example.com", "http://erp.example.com/"),
        ("https://erp.example.com:8443/odoo", "http://erp.example.com/odoo"),
        ("https://[2001:db8::1]", "http://[2001:db8::1]/"),
    ],
)
def test_http_url_for(base: str, expected: str) -> None:
    assert http_url_for(base) == expected


@pytest.mark.parametrize(
    ("status", "headers", "text", "kind"),
    [
        (404, {}, "", "blocked"),
        (403, {}, "", "blocked"),
        (401, {}, "", "blocked"),
        (302, {"location": "/web/login"}, "", "blocked"),
        (303, {"location": "/web/database/selector"}, "", "unknown"),
        (200, {}, "The database manager has been disabled by the administrator", "odoo-disabled"),
        (200, {}, '<input name="master_pwd"/>', "open"),
        (200, {}, "<html>something</html>", "open"),
        (500, {}, "", "unknown"),
    ],
)
def test_classify_manager(status: int, headers: dict[str, str], text: str, kind: str) -> None:
    answer = HttpAnswer(
        url="https://x/web/database/manager", status=status, headers=headers, text=text
    )
    assert _classify_manager(answer)[0] == kind


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        ("Odoo Server 18.0-20250702\n", ("18.0-20250702", "18.0")),
        ("Odoo Server 17.0\n", ("17.0", "17.0")),
        ("some warning\nOdoo Server saas~17.4+e\n", ("saas~17.4+e", "17.4")),
        ("Traceback (most recent call last):\n", None),
    ],
)
def test_parse_version_output(output: str, expected: tuple[str, str] | None) -> None:
    assert parse_version_output(output) == expected


def test_series_of() -> None:
    assert series_of("18.0-20250702") == "18.0"
    assert series_of("saas~18.2") == "18.2"
    assert series_of("garbage") is None


def test_pg_minimum_covers_the_supported_series() -> None:
    assert set(PG_MINIMUM) == set(SUPPORTED_SERIES)
    for minimum, recommended in PG_MINIMUM.values():
        assert 10 <= minimum <= recommended
    assert PG_MINIMUM["19.0"][0] == 13


def test_log_problems() -> None:
    log = (
        "2025-07-02 10:00:00,123 42 INFO db odoo.modules.loading: Modules loaded.\n"
        "2025-07-02 10:00:01,456 42 ERROR db odoo.modules.registry: Failed to load registry\n"
        "2025-07-02 10:00:01,457 42 CRITICAL db odoo.service.server: Failed to initialize\n"
        "ERROR in a traceback line is not a log line\n"
        "2025-07-02 10:00:02,000 42 WARNING db odoo.models: ERROR in a message\n"
    )
    problems = log_problems(log)
    assert len(problems) == 2
    assert "Failed to load registry" in problems[0] and "CRITICAL" in problems[1]


def test_copy_names() -> None:
    assert copy_name("odoo_prod").startswith("odoo_prod_odoo_ops_check_")
    assert len(copy_name("p" * 63)) == 63


def test_shell_scripts_compile() -> None:
    compile(ASSETS_SCRIPT, "<assets>", "exec")
    compile(CLEANUP_SCRIPT, "<cleanup>", "exec")


def test_docker_output_parsing() -> None:
    assert _server_version("27.3.1\n") == "27.3.1"
    assert _server_version("Client:\n Version: 27\nServer:\n Server Version: 24.0.7\n") == "24.0.7"
    text = "Client: Docker Engine\n Version: 27\nERROR: Cannot connect to the Docker daemon at x\n"
    assert _error_line(text).startswith("ERROR: Cannot connect")
