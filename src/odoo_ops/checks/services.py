"""``services-required``: the services the deployment depends on answer.

Each ``[[services]]`` of odoo-ops.toml (an OCR engine, a payment gateway's
sandbox, a mail relay's HTTP API…) is asked once with ``GET url``; it must
answer ``expect_status`` within its ``timeout``. A ``required`` service that
does not answer fails the check; an optional one only warns. The services are
asked in parallel, so the check takes at most the longest timeout.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from odoo_ops.checks.base import Need, Outcome, Severity, check, failed, passed, skipped, warned
from odoo_ops.checks.context import CheckContext
from odoo_ops.config.schema import Service
from odoo_ops.secrets import redact_url


@dataclass
class ServiceAnswer:
    service: Service
    ok: bool
    detail: str


def ask(service: Service) -> ServiceAnswer:
    """GET the service once, bounded by its timeout (connect included)."""
    import httpx

    timeout = httpx.Timeout(service.timeout, connect=service.timeout)
    try:
        with httpx.Client(
            timeout=timeout, follow_redirects=True, headers={"User-Agent": "odoo-ops"}
        ) as client:
            response = client.get(service.url)
    except httpx.TimeoutException:
        return ServiceAnswer(service, False, f"no answer within {service.timeout:g}s")
    except httpx.HTTPError as exc:
        from odoo_ops.adapters.http import describe_http_error

        return ServiceAnswer(service, False, describe_http_error(exc))
    ms = response.elapsed.total_seconds() * 1000
    if response.status_code != service.expect_status:
        return ServiceAnswer(
            service,
            False,
            f"HTTP {response.status_code}, expected {service.expect_status} ({ms:.0f} ms)",
        )
    return ServiceAnswer(service, True, f"HTTP {response.status_code} in {ms:.0f} ms")


@check(
    "services-required",
    area="services",
    title="Required external services answer",
    severity=Severity.ERROR,
    needs=[Need.HTTP],
)
def services_required(ctx: CheckContext) -> Outcome:
    services = list(ctx.config.services)
    if not services:
        return skipped("no [[services]] configured in odoo-ops.toml")
    with ThreadPoolExecutor(max_workers=min(8, len(services))) as pool:
        answers = list(pool.map(ask, services))
    evidence = []
    hard: list[str] = []
    soft: list[str] = []
    for a in answers:
        kind = "required" if a.service.required else "optional"
        line = f"{a.service.name} ({kind}, {redact_url(a.service.url)}): {a.detail}"
        evidence.append(("ok   " if a.ok else "FAIL ") + line)
        if not a.ok:
            (hard if a.service.required else soft).append(f"{a.service.name}: {a.detail}")
    fix = "start the service or fix its url/expect_status/timeout in [[services]]"
    if hard:
        more = f" (and optional: {'; '.join(soft)})" if soft else ""
        return failed("required service(s) down: " + "; ".join(hard) + more, fix, evidence)
    if soft:
        return warned("optional service(s) down: " + "; ".join(soft), fix, evidence)
    return passed(f"{len(answers)} service(s) answer", evidence)
