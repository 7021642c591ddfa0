"""``odoo-ops init``: write a hardened Odoo project, or audit one against it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from odoo_ops.cli.common import App, pass_app


def _ask(interactive: bool, label: str, default: Any, **kwargs: Any) -> Any:
    if not interactive:
        return default
    return click.prompt(label, default=default, err=True, **kwargs)


@click.command("init")
@click.argument("directory", required=False, default=".", type=click.Path(file_okay=False))
@click.option("--series", type=click.Choice(["16.0", "17.0", "18.0", "19.0"]), help="Odoo series.")
@click.option("--domain", metavar="HOST", help="Public host name, e.g. erp.example.com.")
@click.option("--database", metavar="NAME", help="Database name (default: from the domain).")
@click.option("--proxy", type=click.Choice(["nginx", "caddy"]), help="Reverse proxy to configure.")
@click.option("--cpus", type=click.IntRange(1, 1024), help="CPUs for Odoo (default: this host's).")
@click.option(
    "--ram",
    "ram_mb",
    type=click.IntRange(2048),
    metavar="MIB",
    help="RAM in MiB (default: this host's).",
)
@click.option("--users", type=click.IntRange(1), help="Expected concurrent users (default 25).")
@click.option("--redis/--no-redis", default=None, help="Add a Redis service (sessions).")
@click.option(
    "--pitr/--no-pitr",
    default=None,
    help="Point-in-time recovery: pgBackRest in the db image, WAL archiving, timers.",
)
@click.option("--deployment", metavar="NAME", help="Deployment name in odoo-ops.toml.")
@click.option(
    "--non-interactive",
    is_flag=True,
    help="Never prompt (flags, recorded answers, defaults).",
)
@click.option("--force", is_flag=True, help="Overwrite changed files (secrets are kept).")
@click.option("--check-only", is_flag=True, help="Compare the files with what init would write.")
@click.option("--diff/--no-diff", "show_diff", default=True, help="Show the diff of changed files.")
@pass_app
def command(
    app: App,
    directory: str,
    series: str | None,
    domain: str | None,
    database: str | None,
    proxy: str | None,
    cpus: int | None,
    ram_mb: int | None,
    users: int | None,
    redis: bool | None,
    pitr: bool | None,
    deployment: str | None,
    non_interactive: bool,
    force: bool,
    check_only: bool,
    show_diff: bool,
) -> int:
    """Write a complete, hardened Odoo project into DIRECTORY (default: here).

    odoo.conf sized from the CPUs, RAM and users, .env with random secrets,
    docker-compose.yml, an nginx site or a Caddyfile, daemon.json, systemd
    timers and cron lines, odoo-ops.toml. Answers come from the flags, then
    from the [init] table of an existing odoo-ops.toml, then from prompts (on
    a terminal), then from defaults. Re-running it on the project shows a diff
    and writes nothing without --force; --force never replaces a secret.

    Exit code: 0 written or up to date; 1 differences not written (or found by
    --check-only); 2 bad input.
    """
    from odoo_ops.generate import (
        InitOptions,
        apply_plan,
        detect_host,
        diff_text,
        explain,
        plan_project,
        recorded_answers,
    )
    from odoo_ops.generate.sizing import MIB

    target = Path(directory).expanduser()
    recorded = recorded_answers(target) if target.is_dir() else {}
    interactive = not non_interactive and not check_only and sys.stdin.isatty() and not recorded
    host_cpus, host_ram = detect_host()

    def pick(flag: Any, key: str, label: str, default: Any, **kw: Any) -> Any:
        if flag is not None:
            return flag
        if key in recorded:
            return recorded[key]
        return _ask(interactive, label, default, **kw)

    domain_v = pick(domain, "domain", "Public domain", None)
    if not domain_v:
        from odoo_ops.errors import UsageError

        raise UsageError("no domain given", hint="pass --domain erp.example.com")
    default_db = domain_v.split(".")[0].replace("-", "_")
    options = InitOptions(
        directory=target,
        domain=str(domain_v).strip().lower(),
        series=str(
            pick(
                series,
                "series",
                "Odoo series",
                "18.0",
                type=click.Choice(["16.0", "17.0", "18.0", "19.0"]),
            )
        ),
        database=str(pick(database, "database", "Database name", default_db)),
        proxy=str(
            pick(proxy, "proxy", "Reverse proxy", "nginx", type=click.Choice(["nginx", "caddy"]))
        ),
        cpus=int(pick(cpus, "cpus", "CPUs for Odoo", host_cpus, type=click.IntRange(1, 1024))),
        ram_mb=int(
            pick(
                ram_mb,
                "ram_mb",
                "RAM in MiB",
                max(2048, host_ram // MIB),
                type=click.IntRange(2048),
            )
        ),
        users=int(pick(users, "users", "Concurrent users", 25, type=click.IntRange(1))),
        redis=bool(pick(redis, "redis", "Redis for sessions", False, type=bool)),
        deployment=str(pick(deployment, "deployment", "Deployment name", "production")),
        pitr=bool(pick(pitr, "pitr", "Point-in-time recovery (pgBackRest)", False, type=bool)),
    )
    plan = plan_project(options)
    s = plan.sizing
    app.info(
        f"sizing: {s.workers} workers, {s.max_cron_threads} cron, limit_memory_hard"
        f" {s.limit_memory_hard // MIB} MiB ({options.cpus} CPU, {options.ram_mb} MiB,"
        f" {options.users} users)"
    )
    for note in plan.notes:
        app.warn(note)
    diffs = plan.differences
    if check_only:
        if not plan.existing:
            app.out(f"{target}: no project files yet (run odoo-ops init to create them)")
            return 1
        for f in diffs:
            for line in explain(f, plan):
                app.out(line)
        if diffs:
            app.out(f"{len(diffs)} of {len(plan.files)} files differ from what init would write")
            return 1
        app.out(f"all {len(plan.files)} files match what init would write")
        return 0
    result = apply_plan(plan, force=force)
    if result.refused:
        for f in diffs:
            if show_diff and f.status != "new":
                app.out(diff_text(f))
            else:
                app.out(f"{f.path}: {f.status}")
        app.info(f"{len(diffs)} file(s) differ; nothing written")
        from odoo_ops.errors import OpsError

        raise OpsError(
            f"{target} already holds a project and {len(diffs)} file(s) differ",
            hint="review the diff, then run again with --force (secrets are kept)",
        )
    if not result.written:
        app.out(f"{target}: up to date ({len(plan.files)} files match)")
        return 0
    for path in result.written:
        app.out(f"wrote {path}")
    if plan.kept_secrets:
        app.info(f"kept secrets: {', '.join(plan.kept_secrets)}")
    if result.master_password:
        app.out(
            "\nOdoo master password (shown once, stored nowhere; keep it in your password"
            f" manager):\n\n    {result.master_password}\n"
        )
    if result.serve_password:
        from odoo_ops.generate.serve_files import HTPASSWD_FILE, PREFIX, SERVE_USER

        user = SERVE_USER
        app.out(
            f"\nStatus pages ({PREFIX}/ of the site; {HTPASSWD_FILE} holds only its hash),"
            f" user {user}, password (shown once):\n\n    {result.serve_password}\n"
        )
    app.out(
        "next: sudo chown -R 101:101 data/odoo; docker compose up -d; install the proxy"
        " config from proxy/ and the timers from deploy/; odoo-ops check"
        + ("; odoo-ops pitr setup --apply" if options.pitr else "")
    )
    return 0
