"""``odoo-version``: the running Odoo is the series the deployment is configured for.

Asked first where Odoo runs (``odoo --version`` through the runner, built by
:class:`~odoo_ops.adapters.OdooCommand`), then, when no runner works, over HTTP
with the JSON-RPC call the web client makes itself
(``POST /web/webclient/version_info`` -> ``server_serie``; it needs no
session and no database).
"""

from __future__ import annotations

import re

from odoo_ops.checks.base import Need, Outcome, Severity, check, failed, passed, skipped
from odoo_ops.checks.context import CheckContext
from odoo_ops.errors import OpsError

# "Odoo Server 18.0-20250702", "Odoo Server 17.0", "Odoo Server saas~17.4+e"
_VERSION_LINE = re.compile(r"Odoo Server\s+((?:saas~)?(\d+)\.(\d+)\S*)")
RUNNER_TIMEOUT = 30.0


def series_of(version: str) -> str | None:
    """``"18.0-20250702"`` -> ``"18.0"``; ``"saas~17.4"`` -> ``"17.4"``."""
    m = re.match(r"^(?:saas~)?(\d+)\.(\d+)", version.strip())
    return f"{m.group(1)}.{m.group(2)}" if m else None


def parse_version_output(output: str) -> tuple[str, str] | None:
    """(full version, series) from the output of ``odoo --version``."""
    m = _VERSION_LINE.search(output)
    if not m:
        return None
    return m.group(1), f"{m.group(2)}.{m.group(3)}"


def _from_runner(ctx: CheckContext) -> tuple[str, str, str] | str:
    """(version, series, how) or why the runner gave none."""
    dep = ctx.deployment
    if dep.runner == "compose":
        from odoo_ops.checks.docker import daemon_state

        try:
            ok, message = daemon_state(ctx)
        except OpsError as exc:
            return str(exc)
        if not ok:
            return f"Docker daemon not reachable: {message}"
    try:
        runner = ctx.runner
        argv = ctx.target.odoo().version()
        result = runner.run(argv, timeout=RUNNER_TIMEOUT)
    except OpsError as exc:
        return str(exc)
    if result.timed_out:
        return f"`odoo --version` gave no answer within {RUNNER_TIMEOUT:g}s"
    parsed = parse_version_output(result.output)
    if result.returncode != 0 or parsed is None:
        first = next((ln.strip() for ln in result.output.splitlines() if ln.strip()), "")
        return f"`{' '.join(argv)}` exited {result.returncode}: {first[:200] or 'no output'}"
    return parsed[0], parsed[1], f"`odoo --version` via {runner.describe()}"


def _from_http(ctx: CheckContext) -> tuple[str, str, str] | str:
    from odoo_ops.adapters import Unavailable

    payload = {"jsonrpc": "2.0", "method": "call", "params": {}, "id": 1}
    try:
        answer = ctx.fetch("/web/webclient/version_info", method="POST", json=payload)
    except Unavailable as exc:
        return str(exc)
    if answer.error:
        return f"{answer.url}: {answer.error}"
    if answer.status != 200:
        return f"{answer.url}: HTTP {answer.status}"
    import json

    try:
        body = json.loads(answer.text)
        result = body["result"]
        serie = str(result.get("server_serie") or "")
        version = str(result.get("server_version") or serie)
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"{answer.url}: not a JSON-RPC version answer"
    series = series_of(serie) or series_of(version)
    if not series:
        return f"{answer.url}: no server_serie in the answer"
    return version, series, f"JSON-RPC {answer.url}"


@check(
    "odoo-version",
    area="odoo",
    title="Running Odoo is the configured series",
    severity=Severity.ERROR,
    needs=[Need.RUNNER, Need.HTTP],
)
def odoo_version(ctx: CheckContext) -> Outcome:
    reasons: list[str] = []
    found = _from_runner(ctx)
    if isinstance(found, str):
        reasons.append(f"runner: {found}")
        if ctx.deployment.base_url:
            found = _from_http(ctx)
            if isinstance(found, str):
                reasons.append(f"http: {found}")
        else:
            reasons.append("http: no base_url configured")
    if isinstance(found, str):
        return skipped("cannot tell the running Odoo version (" + "; ".join(reasons) + ")")
    version, series, how = found
    evidence = [f"{version} from {how}", *reasons]
    expected = ctx.series
    if not expected:
        return skipped(f"no series configured to compare with; Odoo {version} runs ({how})")
    if series != expected:
        return failed(
            f"Odoo {version} runs, but the deployment is configured for {expected}",
            f'set series = "{series}" in odoo-ops.toml if that is right, otherwise deploy the '
            f"{expected} image/branch (and migrate the database before switching series)",
            evidence,
        )
    return passed(f"Odoo {version} ({how})", evidence)
