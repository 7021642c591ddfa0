"""``odoo-ops loadtest``: bounded load against the deployment's own URL."""

from __future__ import annotations

import os

import click

from odoo_ops.cli.common import App, deployment_options, pass_app


@click.command("loadtest")
@deployment_options
@click.option("--url", metavar="URL", help="Base URL to load (default: the deployment's base_url).")
@click.option(
    "--users",
    "-u",
    type=click.IntRange(1, 1000),
    default=10,
    show_default=True,
    help="Virtual users (concurrent).",
)
@click.option(
    "--duration",
    type=click.FloatRange(0.1, 3600),
    default=30.0,
    show_default=True,
    help="Seconds to run.",
)
@click.option(
    "--max-requests",
    type=click.IntRange(1, 1_000_000),
    default=5000,
    show_default=True,
    help="Stop after this many requests in all.",
)
@click.option(
    "--ramp-up", type=click.FloatRange(0, 600), default=0.0, help="Seconds to start all users."
)
@click.option("--login", metavar="USER", help="Log every virtual user in as USER.")
@click.option(
    "--password-env",
    metavar="VAR",
    default="ODOO_OPS_LOADTEST_PASSWORD",
    show_default=True,
    help="Environment variable holding the password of --login.",
)
@click.option(
    "--target-users", type=click.IntRange(1), help="Users the verdict is for (default: --users)."
)
@click.option(
    "--p95",
    "p95_target",
    type=click.FloatRange(0.01),
    help="p95 target in seconds (default: [golive] loadtest_p95_seconds, 2).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 120),
    default=10.0,
    show_default=True,
    help="Seconds before one request counts as an error.",
)
@click.option(
    "--i-own-this-host",
    "own_host",
    is_flag=True,
    help="Allow a URL that is not a loopback address of this machine.",
)
@click.option("--no-save", is_flag=True, help="Do not store the result for the go-live board.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
@pass_app
def command(
    app: App,
    url: str | None,
    users: int,
    duration: float,
    max_requests: int,
    ramp_up: float,
    login: str | None,
    password_env: str,
    target_users: int | None,
    p95_target: float | None,
    timeout: float,
    own_host: bool,
    no_save: bool,
    fmt: str,
) -> int:
    """Load the deployment with N virtual users and judge it for go-live.

    Each virtual user logs in (with --login; the password is read from the
    environment, never printed) and loads the web client's routes until
    --duration is over or --max-requests were sent. Reports requests per
    second, p50/p95/p99, errors and the verdict: p95 below 2 s at the target
    users with at most 1% errors. Only loopback URLs unless --i-own-this-host.
    The result is stored under .odoo-ops/<deployment>/loadtest/ for
    `odoo-ops golive`. Exit 0 pass, 1 fail, 2 bad input.
    """
    from odoo_ops.errors import ConfigError, UsageError
    from odoo_ops.golive.board import loadtest_dir
    from odoo_ops.loadtest import LoadTestOptions, run_loadtest, save_result
    from odoo_ops.report.table import Table, to_jsonable

    target = None
    try:
        target = app.target()
    except ConfigError:
        if not url:
            raise
    base_url = url or (target.deployment.base_url if target else None)
    if not base_url:
        raise UsageError("no URL to load", hint="set base_url in odoo-ops.toml or pass --url")
    password = os.environ.get(password_env) if login else None
    if password and target is not None:
        target.redactor.add(password)
    if p95_target is None:
        p95_target = target.project.config.golive.loadtest_p95_seconds if target else 2.0
    options = LoadTestOptions(
        base_url=base_url.rstrip("/"),
        users=users,
        duration=duration,
        max_requests=max_requests,
        login=login,
        password=password,
        timeout=timeout,
        ramp_up=ramp_up,
        target_users=target_users,
        p95_target=p95_target,
    )
    app.info(
        f"loadtest: {users} users, {duration:g} s, at most {max_requests} requests on {base_url}"
    )
    result = run_loadtest(options, allow_remote=own_host)
    saved = None
    if target is not None and not no_save:
        saved = save_result(result, loadtest_dir(target))
    table = Table(["route", "requests", "errors", "p50 s", "p95 s"], title=f"loadtest {base_url}")
    for r in result.routes:
        table.add(r.route, r.requests, r.errors, r.p50_seconds, r.p95_seconds)
    table.notes.append(
        f"{result.requests} requests in {result.duration_seconds:.1f} s = {result.rps:.1f} req/s;"
        f" p50 {result.p50_seconds:.3f} s, p95 {result.p95_seconds:.3f} s,"
        f" p99 {result.p99_seconds:.3f} s; {result.errors} errors"
        f" ({result.error_rate_percent:.1f}%); stopped by {result.stopped_by}"
    )
    if login:
        table.notes.append(f"logged in: {result.logged_in} of {users}")
    for kind, count in sorted(result.errors_by_kind.items()):
        table.notes.append(f"error: {kind} × {count}")
    table.notes.append(
        f"verdict: {result.verdict.upper()}"
        + (
            f" — {'; '.join(result.reasons)}"
            if result.reasons
            else f" (p95 < {p95_target:g} s at {result.target_users} users)"
        )
    )
    if saved:
        table.notes.append(f"saved to {saved}")
    table.data = to_jsonable(result)
    app.render(table, fmt)
    return 0 if result.verdict == "pass" else 1
