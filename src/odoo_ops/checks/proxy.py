"""Reverse-proxy checks against the public ``base_url``.

What a browser gets from the deployment: HTTPS with a redirect from plain
HTTP, a certificate that will not expire soon, the security headers, the
database manager blocked, ``/web/health`` answering, and no software versions
in ``Server``. Headers are read from ``/web/login`` (the page users open).

Every request goes through :meth:`CheckContext.fetch` (or is bounded by
``http_timeout``), so a host that refuses or hangs is tried once and the
other proxy checks skip at once. ``behind_proxy = false`` in odoo-ops.toml
says there is no proxy: these checks then skip.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import ssl
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from odoo_ops.adapters import Unavailable
from odoo_ops.checks.base import Need, Outcome, Severity, check, failed, passed, skipped, warned
from odoo_ops.checks.context import CheckContext, HttpAnswer

PAGE = "/web/login"
HSTS_MIN_AGE = 15_552_000  # 180 days
SAFE_REFERRER = {
    "no-referrer",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
}
WEAK_REFERRER = {"origin", "origin-when-cross-origin"}
REDIRECTS = {301, 302, 303, 307, 308}
_VERSIONED = re.compile(r"[A-Za-z][\w.-]*/\d[\w.~+-]*")


def _base(ctx: CheckContext) -> str:
    if ctx.deployment.behind_proxy is False:
        raise Unavailable("behind_proxy = false: no reverse proxy to check")
    return ctx.http().base_url  # Unavailable without base_url


def _page(ctx: CheckContext) -> HttpAnswer:
    """``/web/login`` as the browser gets it (no redirect followed), or Unavailable."""
    _base(ctx)
    answer = ctx.fetch(PAGE)
    if answer.error or answer.status is None:
        raise Unavailable(f"{answer.url}: {answer.error or 'no answer'}")
    return answer


def _reachable_or_tls_error(ctx: CheckContext) -> None:
    """Unavailable when the site does not answer at all; an invalid certificate is an
    answer here (the checks about TLS still have something to say)."""
    try:
        answer = ctx.fetch(PAGE)
    except Unavailable as exc:
        if "certificate" not in str(exc).lower():
            raise
        return
    if answer.error and "certificate" not in answer.error.lower():
        raise Unavailable(f"{answer.url}: {answer.error}")


def _status_note(answer: HttpAnswer) -> list[str]:
    return [f"GET {answer.url} -> HTTP {answer.status}"]


# -- HTTPS ------------------------------------------------------------------------


def http_url_for(base_url: str) -> str:
    """``https://erp.example.com[:8443]/x`` -> ``http://erp.example.com/x`` (port 80)."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}{parts.path or '/'}"


def _get_plain(url: str, timeout: float) -> tuple[int | None, str | None, str | None]:
    """(status, Location, error) of one GET without following redirects."""
    import httpx

    try:
        with httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            follow_redirects=False,
            headers={"User-Agent": "odoo-ops"},
        ) as client:
            response = client.get(url)
    except httpx.TimeoutException:
        return None, None, f"no answer within {timeout:g}s"
    except httpx.HTTPError as exc:
        from odoo_ops.adapters.http import describe_http_error

        return None, None, describe_http_error(exc)
    return response.status_code, response.headers.get("location"), None


@check(
    "proxy-https",
    area="proxy",
    title="HTTPS, and plain HTTP redirects to it",
    severity=Severity.ERROR,
    needs=[Need.HTTP],
)
def proxy_https(ctx: CheckContext) -> Outcome:
    base = _base(ctx)
    if base.startswith("http://"):
        note = ""
        try:
            answer = ctx.fetch("/")
            target = answer.header("location") or ""
            if answer.status in REDIRECTS and target.startswith("https://"):
                note = f" (the site itself redirects to {target}: set base_url to it)"
        except Unavailable:
            pass
        return failed(
            f"base_url {base} is plain HTTP: passwords and session cookies travel in clear{note}",
            "serve Odoo through a TLS-terminating proxy (nginx/Caddy with Let's Encrypt),"
            " set base_url to the https:// address and proxy_mode = True in odoo.conf",
        )
    _reachable_or_tls_error(ctx)
    http_url = ctx.deployment.http_url or http_url_for(base)
    status, location, error = _get_plain(http_url, ctx.deployment.http_timeout)
    evidence = [f"GET {http_url} -> " + (error or f"HTTP {status} Location: {location or '-'}")]
    fix = (
        "add a plain-HTTP server that redirects: nginx `server { listen 80; server_name ...;"
        " return 301 https://$host$request_uri; }` (Caddy does it by itself)"
    )
    if error:
        return warned(
            f"HTTPS is used, but {http_url} does not answer ({error}): people typing the bare"
            " name get an error instead of a redirect",
            fix,
            evidence,
        )
    if status in REDIRECTS and (location or "").startswith("https://"):
        return passed(f"HTTPS; {http_url} redirects ({status}) to {location}", evidence)
    if status in REDIRECTS:
        return failed(
            f"{http_url} redirects ({status}) to {location or 'nowhere'}, not to https://",
            fix,
            evidence,
        )
    return failed(
        f"{http_url} answers HTTP {status} without redirecting to HTTPS: the site is also"
        " served in clear",
        fix,
        evidence,
    )


# -- certificate --------------------------------------------------------------------


@dataclass
class CertInfo:
    not_after: dt.datetime | None
    subject: str = ""
    issuer: str = ""
    verify_error: str | None = None
    notes: list[str] = field(default_factory=list)


def _name(parts: object) -> str:
    out = []
    for rdn in parts or ():  # type: ignore[attr-defined]
        for key, value in rdn:
            if key in ("commonName", "organizationName"):
                out.append(f"{key}={value}")
    return ", ".join(out)


def _not_after_from_der(der: bytes) -> tuple[dt.datetime | None, str, str]:
    """Expiry, subject and issuer of a DER certificate (needs ``cryptography``)."""
    try:
        from cryptography import x509
    except ImportError:
        return None, "", ""
    cert = x509.load_der_x509_certificate(der)
    try:
        not_after = cert.not_valid_after_utc
    except AttributeError:  # cryptography < 42
        not_after = cert.not_valid_after.replace(tzinfo=dt.UTC)
    return not_after, cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()


def peer_certificate(host: str, port: int, timeout: float) -> CertInfo:
    """The server's certificate: verified against the system CAs, else read as is.

    Raises ``OSError`` when the host cannot be reached or speaks no TLS.
    """
    context = ssl.create_default_context()
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            with context.wrap_socket(sock, server_hostname=host) as tls:
                cert = tls.getpeercert() or {}
        not_after = dt.datetime.fromtimestamp(
            ssl.cert_time_to_seconds(str(cert["notAfter"])), dt.UTC
        )
        return CertInfo(not_after, _name(cert.get("subject")), _name(cert.get("issuer")))
    except ssl.SSLCertVerificationError as exc:
        verify_error = exc.verify_message or str(exc)
    unverified = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        with unverified.wrap_socket(sock, server_hostname=host) as tls:
            der = tls.getpeercert(binary_form=True) or b""
    if not der:
        return CertInfo(None, "", "", verify_error)
    expiry, subject, issuer = _not_after_from_der(der)
    return CertInfo(expiry, subject, issuer, verify_error)


@check(
    "proxy-certificate",
    area="proxy",
    title="TLS certificate valid for long enough",
    severity=Severity.ERROR,
    needs=[Need.HTTP],
)
def proxy_certificate(ctx: CheckContext) -> Outcome:
    base = _base(ctx)
    parts = urlsplit(base)
    if parts.scheme != "https":
        return skipped(f"base_url {base} is not https: no certificate to check")
    _reachable_or_tls_error(ctx)
    host, port = parts.hostname or "", parts.port or 443
    timeout = ctx.deployment.http_timeout
    try:
        info = peer_certificate(host, port, timeout)
    except (OSError, ssl.SSLError) as exc:
        return skipped(f"cannot read the certificate of {host}:{port}: {exc}")
    minimum = ctx.config.thresholds.certificate_min_days
    evidence = [f"subject: {info.subject or '?'}", f"issuer: {info.issuer or '?'}"]
    days: float | None = None
    if info.not_after is not None:
        days = (info.not_after - dt.datetime.now(dt.UTC)).total_seconds() / 86400
        evidence.append(f"valid until {info.not_after:%Y-%m-%d %H:%M} UTC ({days:.0f} days)")
    renew = "renew it (certbot renew / check the ACME client's timer) and reload the proxy"
    if info.verify_error:
        return failed(
            f"certificate of {host}:{port} is not valid: {info.verify_error}",
            "install a certificate from a public CA for this name (Let's Encrypt), with its"
            " full chain",
            evidence,
        )
    if days is None:  # pragma: no cover - a verified certificate always has notAfter
        return skipped(f"certificate of {host}:{port} has no expiry date")
    if days < 0:
        return failed(f"certificate of {host}:{port} expired {-days:.0f} days ago", renew, evidence)
    if days < minimum:
        return failed(
            f"certificate of {host}:{port} expires in {days:.0f} days (< {minimum})",
            renew,
            evidence,
        )
    return passed(f"certificate of {host}:{port} valid for {days:.0f} more days", evidence)


# -- headers --------------------------------------------------------------------------


def parse_hsts(value: str) -> tuple[int | None, bool]:
    """(max-age, includeSubDomains) of a Strict-Transport-Security value."""
    max_age = None
    subdomains = False
    for part in value.split(";"):
        part = part.strip()
        low = part.lower()
        if low.startswith("max-age"):
            _, _, raw = part.partition("=")
            try:
                max_age = int(raw.strip().strip('"'))
            except ValueError:
                max_age = None
        elif low == "includesubdomains":
            subdomains = True
    return max_age, subdomains


@check(
    "proxy-hsts",
    area="proxy",
    title="Strict-Transport-Security (HSTS)",
    severity=Severity.WARNING,
    needs=[Need.HTTP],
)
def proxy_hsts(ctx: CheckContext) -> Outcome:
    base = _base(ctx)
    if not base.startswith("https://"):
        return failed(
            "no HSTS possible: base_url is plain HTTP (browsers ignore HSTS over HTTP)",
            "serve the site over HTTPS first",
        )
    answer = _page(ctx)
    value = answer.header("strict-transport-security")
    evidence = _status_note(answer)
    fix = (
        'nginx: `add_header Strict-Transport-Security "max-age=31536000; includeSubDomains"'
        " always;` (Caddy: header Strict-Transport-Security ...)"
    )
    if not value:
        return failed("no Strict-Transport-Security header", fix, evidence)
    evidence.append(f"Strict-Transport-Security: {value}")
    max_age, _subdomains = parse_hsts(value)
    if max_age is None:
        return failed(f"Strict-Transport-Security has no valid max-age: {value!r}", fix, evidence)
    if max_age < HSTS_MIN_AGE:
        return failed(
            f"HSTS max-age={max_age} is shorter than {HSTS_MIN_AGE} (180 days)", fix, evidence
        )
    return passed(f"HSTS max-age={max_age}", evidence)


@check(
    "proxy-content-type-options",
    area="proxy",
    title="X-Content-Type-Options: nosniff",
    severity=Severity.WARNING,
    needs=[Need.HTTP],
)
def proxy_content_type_options(ctx: CheckContext) -> Outcome:
    answer = _page(ctx)
    value = (answer.header("x-content-type-options") or "").strip()
    evidence = _status_note(answer) + ([f"X-Content-Type-Options: {value}"] if value else [])
    if value.lower() == "nosniff":
        return passed("X-Content-Type-Options: nosniff", evidence)
    return failed(
        "X-Content-Type-Options is " + (repr(value) if value else "missing"),
        "nginx: `add_header X-Content-Type-Options nosniff always;`",
        evidence,
    )


def parse_csp(value: str) -> list[dict[str, list[str]]]:
    """Policies (comma-separated when several headers were merged) -> directive -> sources."""
    policies = []
    for policy in value.split(","):
        directives: dict[str, list[str]] = {}
        for part in policy.split(";"):
            tokens = part.strip().split()
            if tokens:
                directives.setdefault(tokens[0].lower(), [t.lower() for t in tokens[1:]])
        if directives:
            policies.append(directives)
    return policies


def _frame_ancestors(csp: str | None) -> list[str] | None:
    for policy in parse_csp(csp or ""):
        if "frame-ancestors" in policy:
            return policy["frame-ancestors"]
    return None


@check(
    "proxy-frame-options",
    area="proxy",
    title="Clickjacking protection (X-Frame-Options or frame-ancestors)",
    severity=Severity.WARNING,
    needs=[Need.HTTP],
)
def proxy_frame_options(ctx: CheckContext) -> Outcome:
    answer = _page(ctx)
    xfo = (answer.header("x-frame-options") or "").strip()
    ancestors = _frame_ancestors(answer.header("content-security-policy"))
    evidence = _status_note(answer)
    if xfo:
        evidence.append(f"X-Frame-Options: {xfo}")
    if ancestors is not None:
        evidence.append("frame-ancestors " + " ".join(ancestors))
    if ancestors is not None and "*" not in ancestors:
        return passed("CSP frame-ancestors " + (" ".join(ancestors) or "(none)"), evidence)
    if xfo.upper() in ("SAMEORIGIN", "DENY"):
        return passed(f"X-Frame-Options: {xfo.upper()}", evidence)
    why = f"X-Frame-Options is {xfo!r} (obsolete or invalid)" if xfo else "no X-Frame-Options"
    if ancestors is not None:
        why += " and frame-ancestors allows any site (*)"
    return failed(
        f"{why}: other sites can frame Odoo (clickjacking)",
        "nginx: `add_header X-Frame-Options SAMEORIGIN always;` or CSP `frame-ancestors 'self'`",
        evidence,
    )


@check(
    "proxy-referrer-policy",
    area="proxy",
    title="Referrer-Policy",
    severity=Severity.WARNING,
    needs=[Need.HTTP],
)
def proxy_referrer_policy(ctx: CheckContext) -> Outcome:
    answer = _page(ctx)
    raw = (answer.header("referrer-policy") or "").strip()
    evidence = _status_note(answer) + ([f"Referrer-Policy: {raw}"] if raw else [])
    fix = "nginx: `add_header Referrer-Policy strict-origin-when-cross-origin always;`"
    if not raw:
        return failed(
            "no Referrer-Policy header (browsers fall back to their own default)", fix, evidence
        )
    # the last value the browser understands wins
    values = [v.strip().lower() for v in raw.split(",") if v.strip()]
    effective = values[-1] if values else ""
    if effective in SAFE_REFERRER:
        return passed(f"Referrer-Policy: {effective}", evidence)
    if effective in WEAK_REFERRER:
        return passed(
            f"Referrer-Policy: {effective} (sends the origin to other sites; acceptable)",
            evidence,
        )
    return failed(
        f"Referrer-Policy {effective!r} leaks full URLs (record ids, tokens) to other sites",
        fix,
        evidence,
    )


@dataclass
class CspGrade:
    grade: str  # strict | unsafe-inline | permissive | report-only | none
    message: str


def grade_csp(enforced: str | None, report_only: str | None = None) -> CspGrade:
    """Grade a Content-Security-Policy by how well it limits scripts.

    - ``strict``: scripts limited to listed sources, no ``'unsafe-inline'``;
    - ``unsafe-inline``: limited sources but inline scripts allowed (what
      Odoo's web client needs unless nonces are used): a pass with a note;
    - ``permissive``: any host or scheme (``*``, ``https:``, ``data:``) may
      serve scripts: a warning;
    - ``report-only``: only Content-Security-Policy-Report-Only (nothing is
      enforced): a warning;
    - ``none``: no policy restricting scripts (``frame-ancestors`` alone
      does not count): a warning.
    """
    best: CspGrade | None = None
    order = ["none", "permissive", "unsafe-inline", "strict"]
    for policy in parse_csp(enforced or ""):
        sources = policy.get("script-src", policy.get("default-src"))
        if sources is None:
            grade = CspGrade(
                "none", "the policy does not restrict scripts (no script-src or default-src)"
            )
        elif any(s in ("*", "http:", "https:", "data:", "blob:") for s in sources):
            wild = [s for s in sources if s in ("*", "http:", "https:", "data:", "blob:")]
            grade = CspGrade("permissive", f"scripts allowed from {' '.join(wild)}")
        elif "'unsafe-inline'" in sources and not any(
            s.startswith(("'nonce-", "'sha256-", "'sha384-", "'sha512-")) for s in sources
        ):
            extra = " and 'unsafe-eval'" if "'unsafe-eval'" in sources else ""
            grade = CspGrade(
                "unsafe-inline",
                f"scripts limited to listed sources, inline scripts allowed{extra}",
            )
        else:
            grade = CspGrade("strict", "scripts limited to listed sources")
        if best is None or order.index(grade.grade) > order.index(best.grade):
            best = grade
    if best is not None and best.grade != "none":
        return best
    if report_only:
        return CspGrade("report-only", "only Content-Security-Policy-Report-Only: not enforced")
    return best or CspGrade("none", "no Content-Security-Policy header")


@check(
    "proxy-csp",
    area="proxy",
    title="Content-Security-Policy (graded)",
    severity=Severity.WARNING,
    needs=[Need.HTTP],
)
def proxy_csp(ctx: CheckContext) -> Outcome:
    answer = _page(ctx)
    enforced = answer.header("content-security-policy")
    report_only = answer.header("content-security-policy-report-only")
    evidence = _status_note(answer)
    if enforced:
        evidence.append(f"Content-Security-Policy: {enforced}")
    if report_only:
        evidence.append(f"Content-Security-Policy-Report-Only: {report_only}")
    result = grade_csp(enforced, report_only)
    fix = (
        "start from `default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval';"
        " style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; frame-ancestors 'self'`"
        " and test every app you use (website, portal, POS) before enforcing it"
    )
    text = f"CSP grade {result.grade}: {result.message}"
    if result.grade == "strict":
        return passed(text, evidence)
    if result.grade == "unsafe-inline":
        return passed(text + " (weaker against XSS, but what Odoo's web client needs)", evidence)
    return warned(text, fix, evidence)


@check(
    "proxy-server-header",
    area="proxy",
    title="No software versions in the Server header",
    severity=Severity.WARNING,
    needs=[Need.HTTP],
)
def proxy_server_header(ctx: CheckContext) -> Outcome:
    answer = _page(ctx)
    server = (answer.header("server") or "").strip()
    powered = (answer.header("x-powered-by") or "").strip()
    evidence = _status_note(answer) + [f"Server: {server or '(none)'}"]
    if powered:
        evidence.append(f"X-Powered-By: {powered}")
    found = _VERSIONED.findall(server) + _VERSIONED.findall(powered)
    if not found:
        return passed(f"Server: {server or '(none)'} (no version)", evidence)
    note = ""
    if "werkzeug" in server.lower():
        note = " — Odoo's own Werkzeug answers: the proxy passes its Server header through,"
        note += " or Odoo is reached without a proxy"
    return failed(
        f"the Server header tells versions: {', '.join(found)}{note}",
        "nginx: `server_tokens off;` and `proxy_hide_header Server;`/`proxy_hide_header"
        " X-Powered-By;`; Caddy: `header -Server`",
        evidence,
    )


# -- endpoints ------------------------------------------------------------------------

_DISABLED = "disabled by the administrator"
_MANAGER_MARKERS = ("master_pwd", "/web/database/create", "o_database_list", "database/backup")


def _classify_manager(answer: HttpAnswer) -> tuple[str, str]:
    """(blocked | odoo-disabled | open | unknown, description) of one database-manager URL."""
    status = answer.status
    if status in (403, 404, 401):
        return "blocked", f"HTTP {status}"
    if status in REDIRECTS:
        location = answer.header("location") or ""
        if "/web/database" in location:
            return "unknown", f"HTTP {status} to {location}"
        return "blocked", f"HTTP {status} to {location or '?'}"
    if status == 200:
        if _DISABLED in answer.text:
            return "odoo-disabled", "HTTP 200, Odoo's 'disabled by the administrator' page"
        if any(m in answer.text for m in _MANAGER_MARKERS):
            return "open", "HTTP 200 with the database manager"
        return "open", "HTTP 200"
    return "unknown", f"HTTP {status}"


@check(
    "proxy-database-manager-blocked",
    area="proxy",
    title="/web/database/* blocked at the proxy",
    severity=Severity.ERROR,
    needs=[Need.HTTP],
)
def proxy_database_manager_blocked(ctx: CheckContext) -> Outcome:
    _base(ctx)
    results = []
    for path in ("/web/database/manager", "/web/database/selector"):
        answer = ctx.fetch(path)
        if answer.error or answer.status is None:
            raise Unavailable(f"{answer.url}: {answer.error or 'no answer'}")
        kind, text = _classify_manager(answer)
        results.append((path, kind, text))
    evidence = [f"GET {p} -> {t}" for p, _, t in results]
    fix = (
        "block it at the proxy: nginx `location ~ ^/web/database { deny all; }` (or allow only"
        " an admin network), and set list_db = False in odoo.conf"
    )
    opened = [p for p, k, _ in results if k == "open"]
    if opened:
        return failed(
            f"the database manager answers at {', '.join(opened)}: anyone can try the master"
            " password to back up, duplicate or drop databases",
            fix,
            evidence,
        )
    disabled = [p for p, k, _ in results if k == "odoo-disabled"]
    unknown = [p for p, k, _ in results if k == "unknown"]
    if disabled or unknown:
        what = (
            "Odoo's own 'disabled' page answers (list_db = False) but the proxy lets"
            f" /web/database/* through ({', '.join(disabled + unknown)})"
        )
        return warned(what, fix, evidence)
    return passed("/web/database/manager and /web/database/selector blocked", evidence)


def _json(answer: HttpAnswer) -> dict[str, object] | None:
    try:
        body = json.loads(answer.text)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


@check(
    "proxy-health",
    area="proxy",
    title="/web/health answers through the proxy",
    severity=Severity.ERROR,
    needs=[Need.HTTP],
)
def proxy_health(ctx: CheckContext) -> Outcome:
    _base(ctx)
    answer = ctx.fetch("/web/health")
    if answer.error or answer.status is None:
        raise Unavailable(f"{answer.url}: {answer.error or 'no answer'}")
    evidence = [f"GET {answer.url} -> HTTP {answer.status} {answer.text[:120].strip()}"]
    body = _json(answer)
    fix = "check that Odoo runs and that the proxy passes /web/health to it"
    if answer.status != 200 or not body or body.get("status") != "pass":
        why = f"HTTP {answer.status}"
        if answer.status == 200:
            why += ', but not {"status": "pass"}'
        elif answer.status in (502, 503, 504):
            why += ": the proxy cannot reach Odoo"
        elif answer.status == 404:
            why += ": no health endpoint (Odoo < 16, or the proxy does not pass it)"
        return failed(f"/web/health: {why}", fix, evidence)
    series = ctx.series
    try:
        major = int(series.split(".")[0]) if series else None
    except ValueError:
        major = None
    if major is not None and major >= 17:
        db_answer = ctx.fetch("/web/health?db_server_status=1")
        if db_answer.error or db_answer.status is None:
            raise Unavailable(f"{db_answer.url}: {db_answer.error or 'no answer'}")
        evidence.append(
            f"GET {db_answer.url} -> HTTP {db_answer.status} {db_answer.text[:120].strip()}"
        )
        db_body = _json(db_answer)
        if db_answer.status != 200 or not db_body or db_body.get("db_server_status") is not True:
            return failed(
                f"/web/health?db_server_status=1: HTTP {db_answer.status}: Odoo answers but"
                " cannot reach PostgreSQL",
                "check db_host/db_port in odoo.conf and that PostgreSQL runs",
                evidence,
            )
        return passed("/web/health passes, PostgreSQL reachable from Odoo", evidence)
    return passed(f"/web/health passes ({answer.elapsed * 1000:.0f} ms)", evidence)
