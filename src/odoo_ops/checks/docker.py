"""Docker checks (compose deployments): the daemon answers, the services run.

- ``docker-daemon``: ``docker info`` answers within a short timeout;
- ``compose-services``: the Odoo and PostgreSQL services have a running,
  healthy container (``docker compose ps --all --format json``, both of its
  output shapes) and the compose file gives both a healthcheck.

Both skip for local and ssh runners: odoo-ops does not reach a remote Docker
daemon directly.
"""

from __future__ import annotations

import re

from odoo_ops.adapters import (
    ComposeRunner,
    ContainerState,
    Unavailable,
    parse_compose_ps,
    run_process,
)
from odoo_ops.checks.base import Need, Outcome, Severity, check, failed, passed, warned
from odoo_ops.checks.context import CheckContext
from odoo_ops.errors import TargetError

_DAEMON_KEY = "docker:daemon"  # ctx.cache: (ok, message)


def _timeout(ctx: CheckContext) -> float:
    """Seconds a docker call may take: the deployment's connect timeout, at least 2 s."""
    return max(2.0, float(ctx.deployment.connect_timeout))


def _compose_runner(ctx: CheckContext) -> ComposeRunner:
    dep = ctx.deployment
    if dep.runner != "compose":
        where = f" ({dep.ssh_host})" if dep.runner == "ssh" else ""
        raise Unavailable(f"runner is {dep.runner}{where}: Docker checks apply to compose runners")
    runner = ctx.runner
    if not isinstance(runner, ComposeRunner):  # pragma: no cover - Target builds it
        raise Unavailable("the compose runner is not available")
    return runner


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line[:300]
    return ""


def _error_line(text: str) -> str:
    """The line of a failed docker call that says why (not the client banner)."""
    for line in text.splitlines():
        if re.search(r"(?i)cannot connect|error|denied|not found|refused", line):
            return line.strip()[:300]
    return _first_line(text)


def _server_version(text: str) -> str:
    """``docker info --format {{.ServerVersion}}`` prints the version; plain info a field."""
    m = re.search(r"Server Version:\s*(\S+)", text)
    return m.group(1) if m else (_first_line(text) or "unknown version")


def daemon_state(ctx: CheckContext) -> tuple[bool, str]:
    """Ask the daemon once per run: (answers, what it said)."""
    if _DAEMON_KEY in ctx.cache:
        ok, message = ctx.cache[_DAEMON_KEY]
        return bool(ok), str(message)
    runner = _compose_runner(ctx)
    timeout = _timeout(ctx)
    argv = [runner.docker, "info", "--format", "{{.ServerVersion}}"]
    try:
        result = run_process(argv, timeout=timeout)
    except TargetError as exc:
        if str(exc).startswith("command not found"):
            raise Unavailable(f"no docker client on this host ({exc})") from None
        state = (False, str(exc))
    else:
        if result.timed_out:
            state = (False, f"`docker info` gave no answer within {timeout:g}s")
        elif result.returncode != 0:
            state = (
                False,
                _first_line(result.output) or f"`docker info` exited {result.returncode}",
            )
        else:
            state = (True, _server_version(result.output))
    ctx.cache[_DAEMON_KEY] = state
    return state


@check(
    "docker-daemon",
    area="docker",
    title="Docker daemon reachable",
    severity=Severity.ERROR,
    needs=[Need.DOCKER],
)
def docker_daemon(ctx: CheckContext) -> Outcome:
    ok, message = daemon_state(ctx)
    if ok:
        return passed(f"Docker daemon answers (server version {message})")
    return failed(
        f"Docker daemon not reachable: {message}",
        "start the daemon (`systemctl start docker`) or point DOCKER_HOST/the docker context "
        "at it; check that this user may use the socket (docker group)",
    )


def _describe(c: ContainerState) -> str:
    health = f", {c.health}" if c.health else ""
    return f"{c.service}: {c.name or '?'} {c.state or 'unknown'}{health}"


@check(
    "compose-services",
    area="docker",
    title="Odoo and database containers running and healthy",
    severity=Severity.ERROR,
    needs=[Need.DOCKER, Need.FILES],
)
def compose_services(ctx: CheckContext) -> Outcome:
    runner = _compose_runner(ctx)
    ok, message = daemon_state(ctx)
    if not ok:
        raise Unavailable(f"Docker daemon not reachable: {message}")
    compose = ctx.target.compose  # ConfigError (-> skip) when the file is missing/invalid
    dep = ctx.deployment
    wanted = [dep.odoo_service, dep.db_service]
    problems: list[str] = []
    notes: list[str] = []
    if compose is not None:
        for name in wanted:
            svc = compose.services.get(name)
            if svc is None:
                problems.append(f"{compose.path.name} defines no service {name!r}")
            elif svc.healthcheck is None:
                notes.append(f"service {name!r} has no healthcheck in {compose.path.name}")
    timeout = _timeout(ctx) * 2
    argv = runner.compose_argv("ps", "--all", "--format", "json")
    result = run_process(argv, timeout=timeout)
    if result.timed_out:
        return failed(f"`docker compose ps` gave no answer within {timeout:g}s")
    if result.returncode != 0:
        return failed(
            f"`docker compose ps` failed: {_error_line(result.output) or result.returncode}",
            "run `docker compose ps` in the project directory to see why",
        )
    try:
        containers = parse_compose_ps(result.output)
    except ValueError as exc:
        return failed(str(exc))
    evidence = [_describe(c) for c in containers]
    for name in wanted:
        mine = [c for c in containers if c.service == name]
        if not mine:
            problems.append(f"service {name!r} has no container (not created or removed)")
            continue
        running = [c for c in mine if c.state == "running"]
        if not running:
            states = ", ".join(sorted({c.state or "unknown" for c in mine}))
            problems.append(f"service {name!r} is not running ({states})")
            continue
        health = {c.health for c in running}
        if "unhealthy" in health:
            problems.append(f"service {name!r} is unhealthy")
        elif "starting" in health:
            notes.append(f"service {name!r} is still starting (healthcheck not passed yet)")
    if problems:
        return failed(
            "; ".join(problems),
            "`docker compose up -d` and read `docker compose logs "
            f"{dep.odoo_service} {dep.db_service}`; add a healthcheck to each service",
            evidence,
        )
    if notes:
        return warned(
            "; ".join(notes),
            "give both services a healthcheck (odoo: curl -fs http://localhost:8069/web/health;"
            " db: pg_isready -U $POSTGRES_USER) so compose and odoo-ops can tell they work",
            evidence,
        )
    return passed(f"{dep.odoo_service} and {dep.db_service} running and healthy", evidence)
