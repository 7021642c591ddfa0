"""Reverse-proxy checks against real HTTP(S) servers on 127.0.0.1."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from odoo_ops.checks.base import Status

from .helpers import HangingServer, HeaderServer, LiveProject, Route, TlsMaterial, closed_port

PROXY_CHECKS = (
    "proxy-https",
    "proxy-certificate",
    "proxy-hsts",
    "proxy-content-type-options",
    "proxy-frame-options",
    "proxy-referrer-policy",
    "proxy-csp",
    "proxy-database-manager-blocked",
    "proxy-health",
    "proxy-server-header",
)

GOOD_HEADERS = {
    "Server": "nginx",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; frame-ancestors 'self'",
}


def good_proxy(server: HeaderServer, **header_changes: str | None) -> HeaderServer:
    headers = dict(GOOD_HEADERS)
    for key, value in header_changes.items():
        name = key.replace("_", "-")
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    server.default = Route(200, headers, "<html>login</html>")
    server.routes["/web/login"] = Route(200, headers, "<html>login</html>")
    blocked = Route(404, {"Server": "nginx"}, "<h1>404 Not Found</h1>")
    server.routes["/web/database/manager"] = blocked
    server.routes["/web/database/selector"] = blocked
    health = Route(200, {"Content-Type": "application/json"}, json.dumps({"status": "pass"}))
    server.routes["/web/health"] = health
    server.routes["/web/health?db_server_status=1"] = Route(
        200,
        {"Content-Type": "application/json"},
        json.dumps({"status": "pass", "db_server_status": True}),
    )
    return server


@pytest.fixture
def https_site(
    live: LiveProject,
    trust_test_ca: TlsMaterial,
    header_server: Callable[..., HeaderServer],
) -> tuple[HeaderServer, HeaderServer]:
    """A well-configured HTTPS proxy + its plain-HTTP redirect server; live points at both."""
    site = good_proxy(header_server(trust_test_ca.certs["valid"]))
    plain = header_server()
    plain.default = Route(301, {"Location": site.url("localhost") + "/"}, "")
    live.configure(base_url=site.url("localhost"), http_url=plain.url() + "/")
    return site, plain


def test_a_good_https_proxy_passes_everything(
    live: LiveProject, https_site: tuple[HeaderServer, HeaderServer]
) -> None:
    results = live.run(*PROXY_CHECKS)
    for check_id in PROXY_CHECKS:
        r = results[check_id]
        assert r.status == Status.PASS, (check_id, r.message, r.evidence)
    assert "redirects (301)" in results["proxy-https"].message
    assert "valid for 36" in results["proxy-certificate"].message
    assert "grade strict" in results["proxy-csp"].message
    assert "PostgreSQL reachable" in results["proxy-health"].message


def test_odoo_reached_directly_over_http(live: LiveProject, odoo_web: object) -> None:
    """The fake Odoo server without a proxy: what Odoo sends by itself."""
    live.configure(base_url=odoo_web.url)  # type: ignore[attr-defined]
    results = live.run(*PROXY_CHECKS)
    status = {k: v.status for k, v in results.items()}
    assert status == {
        "proxy-https": Status.FAIL,
        "proxy-certificate": Status.SKIP,
        "proxy-hsts": Status.WARN,
        "proxy-content-type-options": Status.PASS,  # Odoo sends nosniff itself
        "proxy-frame-options": Status.PASS,  # ... and SAMEORIGIN on the login page
        "proxy-referrer-policy": Status.WARN,
        "proxy-csp": Status.WARN,  # frame-ancestors alone does not restrict scripts
        "proxy-database-manager-blocked": Status.WARN,  # Odoo's "disabled" page, 200
        "proxy-health": Status.PASS,
        "proxy-server-header": Status.WARN,
    }, {k: v.message for k, v in results.items()}
    assert "plain HTTP" in results["proxy-https"].message
    assert "Werkzeug/2.2.2" in results["proxy-server-header"].message
    assert "Python/3.11.7" in results["proxy-server-header"].message
    assert "disabled" in results["proxy-database-manager-blocked"].message
    assert "grade none" in results["proxy-csp"].message


def test_http_base_url_that_redirects_says_so(
    live: LiveProject, header_server: Callable[..., HeaderServer]
) -> None:
    server = header_server()
    server.routes["/"] = Route(301, {"Location": "https://erp.example.com/"})
    live.configure(base_url=server.url())
    result = live.one("proxy-https")
    assert result.status == Status.FAIL
    assert "set base_url to it" in result.message


@pytest.mark.parametrize(
    ("plain_route", "status", "text"),
    [
        (Route(200, {}, "served in clear"), Status.FAIL, "without redirecting"),
        (Route(302, {"Location": "http://erp.example.com/"}), Status.FAIL, "not to https://"),
        (Route(308, {"Location": "https://erp.example.com/"}), Status.PASS, "redirects (308)"),
    ],
)
def test_plain_http_redirect(
    live: LiveProject,
    https_site: tuple[HeaderServer, HeaderServer],
    plain_route: Route,
    status: Status,
    text: str,
) -> None:
    _site, plain = https_site
    plain.default = plain_route
    result = live.one("proxy-https")
    assert result.status == status, result.message
    assert text in result.message


def test_nothing_on_port_80_warns(
    live: LiveProject, https_site: tuple[HeaderServer, HeaderServer]
) -> None:
    live.configure(http_url=f"http://127.0.0.1:{closed_port()}/")
    result = live.one("proxy-https")
    assert result.status == Status.WARN
    assert "does not answer (connection refused)" in result.message


@pytest.mark.parametrize(
    ("value", "status", "text"),
    [
        (None, Status.WARN, "no Strict-Transport-Security"),
        ("max-age=3600", Status.WARN, "shorter than 15552000"),
        ("includeSubDomains", Status.WARN, "no valid max-age"),
        ("max-age=15552000", Status.PASS, "max-age=15552000"),
    ],
)
def test_hsts(
    live: LiveProject,
    https_site: tuple[HeaderServer, HeaderServer],
    value: str | None,
    status: Status,
    text: str,
) -> None:
    good_proxy(https_site[0], Strict_Transport_Security=value)
    result = live.one("proxy-hsts")
    assert result.status == status
    assert text in result.message


@pytest.mark.parametrize(
    ("changes", "status", "text"),
    [
        ({"X_Frame_Options": None, "Content_Security_Policy": None}, Status.WARN, "no X-Frame"),
        ({"X_Frame_Options": "ALLOW-FROM https://x.example"}, Status.PASS, "frame-ancestors"),
        (
            {"X_Frame_Options": "ALLOW-FROM https://x.example", "Content_Security_Policy": None},
            Status.WARN,
            "obsolete or invalid",
        ),
        ({"X_Frame_Options": "deny", "Content_Security_Policy": None}, Status.PASS, "DENY"),
        (
            {"X_Frame_Options": None, "Content_Security_Policy": "frame-ancestors *"},
            Status.WARN,
            "allows any site",
        ),
    ],
)
def test_frame_options(
    live: LiveProject,
    https_site: tuple[HeaderServer, HeaderServer],
    changes: dict[str, str | None],
    status: Status,
    text: str,
) -> None:
    good_proxy(https_site[0], **changes)
    result = live.one("proxy-frame-options")
    assert result.status == status, result.message
    assert text in result.message


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (None, Status.WARN),
        ("unsafe-url", Status.WARN),
        ("no-referrer-when-downgrade", Status.WARN),
        ("no-referrer, strict-origin-when-cross-origin", Status.PASS),
        ("same-origin", Status.PASS),
        ("origin", Status.PASS),
    ],
)
def test_referrer_policy(
    live: LiveProject,
    https_site: tuple[HeaderServer, HeaderServer],
    value: str | None,
    status: Status,
) -> None:
    good_proxy(https_site[0], Referrer_Policy=value)
    assert live.one("proxy-referrer-policy").status == status


@pytest.mark.parametrize(
    ("changes", "status", "grade"),
    [
        ({"Content_Security_Policy": None}, Status.WARN, "none"),
        ({"Content_Security_Policy": "frame-ancestors 'self'"}, Status.WARN, "none"),
        ({"Content_Security_Policy": "default-src * 'unsafe-inline'"}, Status.WARN, "permissive"),
        ({"Content_Security_Policy": "script-src 'self' https:"}, Status.WARN, "permissive"),
        (
            {"Content_Security_Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'"},
            Status.PASS,
            "unsafe-inline",
        ),
        (
            {"Content_Security_Policy": "script-src 'self' 'unsafe-inline' 'nonce-abc'"},
            Status.PASS,
            "strict",
        ),
        (
            {
                "Content_Security_Policy": None,
                "Content_Security_Policy_Report_Only": "default-src 'self'",
            },
            Status.WARN,
            "report-only",
        ),
    ],
)
def test_csp_grades(
    live: LiveProject,
    https_site: tuple[HeaderServer, HeaderServer],
    changes: dict[str, str | None],
    status: Status,
    grade: str,
) -> None:
    good_proxy(https_site[0], **changes)
    result = live.one("proxy-csp")
    assert result.status == status, result.message
    assert f"grade {grade}" in result.message


def test_content_type_options_missing(
    live: LiveProject, https_site: tuple[HeaderServer, HeaderServer]
) -> None:
    good_proxy(https_site[0], X_Content_Type_Options=None)
    result = live.one("proxy-content-type-options")
    assert result.status == Status.WARN and "missing" in result.message


@pytest.mark.parametrize(
    ("server", "status"),
    [
        ("nginx/1.22.1", Status.WARN),
        ("Apache/2.4.57 (Debian)", Status.WARN),
        ("Caddy", Status.PASS),
    ],
)
def test_server_header(
    live: LiveProject, https_site: tuple[HeaderServer, HeaderServer], server: str, status: Status
) -> None:
    good_proxy(https_site[0], Server=server)
    result = live.one("proxy-server-header")
    assert result.status == status, result.message
    if status == Status.WARN:
        assert server.split()[0] in result.message
        assert "server_tokens off" in (result.remediation or "")


@pytest.mark.parametrize(
    ("mode", "status", "text"),
    [
        ("enabled", Status.FAIL, "database manager answers"),
        ("disabled", Status.WARN, "disabled"),
        ("blocked403", Status.PASS, "blocked"),
        ("blocked404", Status.PASS, "blocked"),
    ],
)
def test_database_manager(
    live: LiveProject, odoo_web: object, mode: str, status: Status, text: str
) -> None:
    odoo_web.set(database_manager=mode)  # type: ignore[attr-defined]
    live.configure(base_url=odoo_web.url)  # type: ignore[attr-defined]
    result = live.one("proxy-database-manager-blocked")
    assert result.status == status, result.message
    assert text in result.message
    assert len(result.evidence) == 2


def test_database_manager_redirected_away_is_blocked(
    live: LiveProject, https_site: tuple[HeaderServer, HeaderServer]
) -> None:
    site = https_site[0]
    site.routes["/web/database/manager"] = Route(302, {"Location": "/web/login"})
    result = live.one("proxy-database-manager-blocked")
    assert result.status == Status.PASS


@pytest.mark.parametrize(
    ("settings", "series", "status", "text"),
    [
        ({}, "18.0", Status.PASS, "PostgreSQL reachable"),
        ({"version": 16}, "16.0", Status.PASS, "passes"),
        ({"db_server_ok": False}, "18.0", Status.FAIL, "cannot reach PostgreSQL"),
        ({"health": 503}, "18.0", Status.FAIL, "HTTP 503"),
        ({"status": {"/web/health": 502}}, "18.0", Status.FAIL, "proxy cannot reach Odoo"),
        ({"status": {"/web/health": 404}}, "17.0", Status.FAIL, "no health endpoint"),
    ],
)
def test_health(
    live: LiveProject,
    odoo_web: object,
    settings: dict[str, object],
    series: str,
    status: Status,
    text: str,
) -> None:
    odoo_web.set(**settings)  # type: ignore[attr-defined]
    live.configure(base_url=odoo_web.url, series=series)  # type: ignore[attr-defined]
    result = live.one("proxy-health")
    assert result.status == status, result.message
    assert text in result.message
    asked = [r for r in odoo_web.requests if r.path == "/web/health"]  # type: ignore[attr-defined]
    if series == "16.0":
        assert not any(r.query for r in asked)


@pytest.mark.parametrize(
    ("cert", "days", "status", "text"),
    [
        ("soon", 14, Status.FAIL, "expires in 5 days"),
        ("soon", 3, Status.PASS, "valid for 5 more days"),
        ("expired", 14, Status.FAIL, "not valid"),
        ("selfsigned", 14, Status.FAIL, "not valid"),
    ],
)
def test_certificate(
    live: LiveProject,
    trust_test_ca: TlsMaterial,
    header_server: Callable[..., HeaderServer],
    cert: str,
    days: int,
    status: Status,
    text: str,
) -> None:
    site = good_proxy(header_server(trust_test_ca.certs[cert]))
    live.thresholds["certificate_min_days"] = days
    live.configure(base_url=site.url("localhost"))
    results = live.run("proxy-certificate", "proxy-hsts")
    result = results["proxy-certificate"]
    assert result.status == status, result.message
    assert text in result.message
    assert any("valid until" in e for e in result.evidence)
    if status == Status.FAIL and cert != "soon":
        # a browser would refuse the site too: the header checks skip with the TLS error
        assert results["proxy-hsts"].status == Status.SKIP
        assert "certificate" in results["proxy-hsts"].message.lower()


def test_certificate_skipped_for_http(live: LiveProject, odoo_web: object) -> None:
    live.configure(base_url=odoo_web.url)  # type: ignore[attr-defined]
    result = live.one("proxy-certificate")
    assert result.status == Status.SKIP and "not https" in result.message


def test_no_base_url_or_no_proxy_skips(live: LiveProject, odoo_web: object) -> None:
    for r in live.run(*PROXY_CHECKS).values():
        assert r.status == Status.SKIP and "no base_url" in r.message
    live.configure(base_url=odoo_web.url, behind_proxy=False)  # type: ignore[attr-defined]
    for r in live.run(*PROXY_CHECKS).values():
        assert r.status == Status.SKIP and "behind_proxy = false" in r.message


def test_refused_host_is_tried_once(live: LiveProject) -> None:
    live.configure(base_url=f"http://127.0.0.1:{closed_port()}")
    results = live.run(*PROXY_CHECKS)
    assert results["proxy-https"].status == Status.FAIL  # plain HTTP, known without a request
    assert results["proxy-hsts"].status == Status.WARN  # idem
    for check_id in PROXY_CHECKS[3:]:
        r = results[check_id]
        assert r.status == Status.SKIP, (check_id, r.message)
        assert "connection refused" in r.message


def test_hanging_host_costs_one_timeout(live: LiveProject, hanging_server: HangingServer) -> None:
    live.configure(base_url=f"http://127.0.0.1:{hanging_server.port}", http_timeout=1)
    start = time.monotonic()
    results = live.run(*PROXY_CHECKS)
    elapsed = time.monotonic() - start
    for check_id in PROXY_CHECKS[3:]:
        assert results[check_id].status == Status.SKIP, check_id
        assert "no answer within 1s" in results[check_id].message
    assert elapsed < 6, elapsed  # one timeout (1 s), not one per check


def test_https_site_down_skips_the_redirect_check(live: LiveProject) -> None:
    live.configure(
        base_url=f"https://127.0.0.1:{closed_port()}",
        http_url=f"http://127.0.0.1:{closed_port()}/",
    )
    results = live.run("proxy-https", "proxy-certificate")
    for r in results.values():
        assert r.status == Status.SKIP and "connection refused" in r.message


def test_redirect_still_checked_with_an_invalid_certificate(
    live: LiveProject, tls: TlsMaterial, header_server: Callable[..., HeaderServer]
) -> None:
    """SSL_CERT_FILE not set: the test CA is unknown, the certificate does not verify."""
    site = good_proxy(header_server(tls.certs["valid"]))
    plain = header_server()
    plain.default = Route(301, {"Location": site.url("localhost") + "/"})
    live.configure(base_url=site.url("localhost"), http_url=plain.url() + "/")
    results = live.run("proxy-https", "proxy-certificate")
    assert results["proxy-https"].status == Status.PASS
    assert results["proxy-certificate"].status == Status.FAIL
    assert "not valid" in results["proxy-certificate"].message
