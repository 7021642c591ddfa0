"""``odoo-ops modules``: plan, install, update, sync, uninstall, reinstall."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from odoo_ops.cli.common import (
    App,
    deployment_options,
    dry_run_option,
    expand_module_sets,
    format_option,
    pass_app,
    split_names,
    wait_option,
)
from odoo_ops.errors import OpsError, UsageError

if TYPE_CHECKING:
    from odoo_ops.modules.steps import StepEvent
    from odoo_ops.modules.window import ActionResult


def set_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--set",
        "sets",
        multiple=True,
        metavar="NAME",
        help="A module set of odoo-ops.toml ([module_sets.NAME]); 'all' = every set.",
    )(func)


def change_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--dry-run, --wait, --maintenance, --timeout, --format."""
    options = [
        dry_run_option(help="Print the exact commands; change nothing."),
        wait_option,
        click.option(
            "--maintenance",
            is_flag=True,
            help="Run inside maintenance mode with the crons paused (both restored after).",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=1),
            default=None,
            metavar="SECONDS",
            help="Kill an Odoo step that runs longer than this.",
        ),
        format_option("table", "json"),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _names(app: App, values: tuple[str, ...], sets: tuple[str, ...]) -> list[str]:
    return expand_module_sets(app, split_names(values), sets)


@contextmanager
def _events(app: App, title: str, dry_run: bool, fmt: str) -> Iterator[Callable[[StepEvent], None]]:
    """An event handler: progress per step on stderr; dry-run commands on stdout."""
    if dry_run:

        def show(event: StepEvent) -> None:
            if event.kind == "start":
                if fmt != "json":
                    app.out(f"# {event.label}\n{event.text}")
            elif event.kind == "note" and fmt != "json":
                app.out(f"# {event.text}")

        yield show
        return
    with app.progress(title, None) as progress:

        def handle(event: StepEvent) -> None:
            if event.kind == "start":
                progress.advance(0, f"{title}: {event.label}")
                app.info(f"[{event.index}] {event.label}: {event.text}")
            elif event.kind == "done" and event.step is not None:
                step = event.step
                where = f" (log: {step.log_file})" if step.log_file else ""
                state = "ok" if step.ok else f"FAILED (exit {step.returncode})"
                progress.advance(1, f"{title}: {event.label} {state}")
                app.info(f"[{event.index}] {event.label}: {state} in {step.duration:.1f}s{where}")
            elif event.kind == "line" and app.verbose:
                app.info(f"    {event.text}")
            elif event.kind == "note":
                app.info(event.text)

        yield handle


def _finish(
    app: App, result: ActionResult, fmt: str, extra: Callable[[], None] | None = None
) -> int:
    """Render a result; failures end with ``error:`` and exit 1."""
    from odoo_ops.report.table import render_json

    if fmt == "json":
        app.out(render_json(result.as_dict()))
        return 0 if result.ok else 1
    if extra is not None:
        extra()
    step = result.failed_step
    if step is not None:
        if step.errors:
            app.out("Odoo errors:")
            for line in step.errors:
                app.out(f"  {line}")
        if step.traceback:
            app.out("Traceback (last lines):")
            for line in step.traceback:
                app.out(f"  {line}")
        if step.log_file:
            app.out(f"full log: {step.log_file}")
    if result.changes and not result.dry_run:
        from odoo_ops.report.table import Table

        table = Table(
            ["module", "state before", "state after", "version before", "version after"],
            title="changes",
        )
        for c in result.changes:
            table.add(c.name, c.state_before, c.state_after, c.version_before, c.version_after)
        app.render(table, "table")
    for note in result.notes:
        app.info(f"note: {note}")
    if not result.ok:
        raise OpsError(result.message or f"{result.action} failed")
    if result.message and not result.dry_run:
        app.out(result.message)
    return 0


@click.group("modules")
def command() -> None:
    """Install, update (only what changed), sync and uninstall modules.

    Every change runs odoo through the deployment's runner with its odoo.conf
    and database, under the deployment lock, with a log file per step in the
    log directory. --dry-run prints the exact commands.
    """


@command.command("plan")
@click.argument("names", nargs=-1)
@set_option
@deployment_options
@format_option("table", "json", "markdown", "csv")
@pass_app
def plan_cmd(app: App, names: tuple[str, ...], sets: tuple[str, ...], fmt: str) -> int:
    """What installing NAMES would do on the live database (waves, auto-installs)."""
    from odoo_ops.modules.plan import plan_modules
    from odoo_ops.report.table import Table

    wanted = _names(app, names, sets)
    if not wanted:
        raise UsageError("name at least one module (or --set NAME)")
    result = plan_modules(app.target(), wanted)
    plan = result.plan
    table = Table(
        ["wave", "addon", "status", "db state", "version", "requested"],
        title=f"install plan ({result.database}, {result.series})",
        data=result.as_dict(),
    )
    for wave in plan.waves:
        for name in wave.addons:
            a = plan.addons[name]
            table.add(
                wave.index + 1, name, a.status, result.db_states.get(name), a.version, a.requested
            )
    for name in plan.installed:
        table.add(
            "-",
            name,
            "installed",
            result.db_states.get(name),
            plan.addons[name].version,
            plan.addons[name].requested,
        )
    for auto in plan.auto_installed:
        table.notes.append(
            f"Odoo will auto-install {auto.name} in wave {auto.wave + 1}"
            f" (triggered by {', '.join(auto.triggers) or 'base'})"
            + (f", pulling in {', '.join(auto.also_installs)}" if auto.also_installs else "")
        )
    for f in plan.findings:
        table.notes.append(f"{f.severity}: {f.message}")
    if not plan.waves and plan.ok:
        table.notes.append("nothing to install: everything requested is installed")
    app.render(table, fmt)
    return 0 if result.ok else 1


@command.command("install")
@click.argument("names", nargs=-1)
@set_option
@click.option("--without-demo", is_flag=True, help="Do not load demo data.")
@deployment_options
@change_options
@pass_app
def install_cmd(
    app: App,
    names: tuple[str, ...],
    sets: tuple[str, ...],
    without_demo: bool,
    dry_run: bool,
    wait: float,
    maintenance: bool,
    timeout: float | None,
    fmt: str,
) -> int:
    """Install NAMES in dependency order: one `odoo -i` per wave, checked after each."""
    from odoo_ops.modules.install import install_modules

    wanted = _names(app, names, sets)
    if not wanted:
        raise UsageError("name at least one module (or --set NAME)")
    with _events(app, "install", dry_run, fmt) as on_event:
        result = install_modules(
            app.target(), wanted, without_demo=without_demo, dry_run=dry_run, wait=wait,
            maintenance=maintenance, timeout=timeout, on_event=on_event,
        )  # fmt: skip
    return _finish(app, result, fmt)


@command.command("update")
@click.argument("names", nargs=-1)
@set_option
@click.option("--changed", is_flag=True, help="Only the addons whose files changed (checksums).")
@click.option("--all", "all_modules", is_flag=True, help="Every installed module (-u all).")
@click.option("--list-only", is_flag=True, help="With --changed: list the changed addons only.")
@click.option(
    "--no-cache", is_flag=True, help="With --changed: re-read every file (no stat cache)."
)
@deployment_options
@change_options
@pass_app
def update_cmd(
    app: App,
    names: tuple[str, ...],
    sets: tuple[str, ...],
    changed: bool,
    all_modules: bool,
    list_only: bool,
    no_cache: bool,
    dry_run: bool,
    wait: float,
    maintenance: bool,
    timeout: float | None,
    fmt: str,
) -> int:
    """Update NAMES, --all, or only what --changed since the last successful update."""
    from odoo_ops.modules.update import update_modules

    wanted = _names(app, names, sets)
    if sum([bool(wanted), changed, all_modules]) != 1:
        raise UsageError("give module names, --changed or --all (exactly one)")
    if list_only and not changed:
        raise UsageError("--list-only goes with --changed")
    with _events(app, "update", dry_run or list_only, fmt) as on_event:
        result = update_modules(
            app.target(), wanted, changed=changed, all_modules=all_modules, list_only=list_only,
            dry_run=dry_run, wait=wait, maintenance=maintenance, timeout=timeout,
            on_event=on_event, use_cache=not no_cache,
        )  # fmt: skip

    def extra() -> None:
        cs = result.changed_set
        if cs is None:
            return
        if list_only or dry_run:
            for note in result.notes:
                app.info(f"note: {note}")
            result.notes.clear()
        if list_only:
            for name in result.targets:
                app.out(name)
        app.info(
            f"checked {len(cs.computed)} addon(s): {len(cs.changed)} changed, {len(cs.new)} without"
            f" a stored checksum, {len(cs.unchanged)} unchanged"
        )

    return _finish(app, result, fmt, extra)


@command.command("sync")
@deployment_options
@change_options
@pass_app
def sync_cmd(
    app: App, dry_run: bool, wait: float, maintenance: bool, timeout: float | None, fmt: str
) -> int:
    """Refresh the apps list, apply modules stuck in 'to upgrade'/'to install', report."""
    from odoo_ops.modules.sync import sync_modules

    with _events(app, "sync", dry_run, fmt) as on_event:
        result = sync_modules(
            app.target(), dry_run=dry_run, wait=wait, maintenance=maintenance, timeout=timeout,
            on_event=on_event,
        )  # fmt: skip

    def extra() -> None:
        for item in result.outdated:
            app.out(
                f"version differs: {item['name']} database {item['database']} disk {item['disk']}"
            )
        if result.new_modules:
            app.out("new in the apps list: " + ", ".join(result.new_modules))

    return _finish(app, result, fmt, extra)


def _show_impact(app: App, result: Any) -> None:
    from odoo_ops.report.table import Table

    impact = result.impact
    if impact is None:
        return
    app.out("modules to uninstall: " + ", ".join(impact.modules))
    if impact.dependents:
        app.out("also uninstalled (they depend on them): " + ", ".join(impact.dependents))
    if impact.models:
        table = Table(["model", "table", "rows", "owned by"], title="tables dropped")
        for m in impact.models:
            table.add(m.model, m.table, "-" if m.rows is None else m.rows, m.owners)
        app.render(table, "table")
    for model, names in sorted(impact.fields.items()):
        app.out(f"columns dropped from {model}: {', '.join(names)}")
    if impact.records:
        total = sum(impact.records.values())
        detail = ", ".join(f"{m} {n}" for m, n in sorted(impact.records.items()))
        app.out(f"records deleted: {total} ({detail})")
    if result.backup:
        app.out(f"backup taken first: {result.backup}")


def _uninstall_like(app: App, result: Any, fmt: str) -> int:
    if result.refused and fmt != "json":
        _show_impact(app, result)
        raise OpsError(result.message, hint="re-run with --force (a --dry-run shows the commands)")
    return _finish(app, result, fmt, lambda: _show_impact(app, result))


@command.command("uninstall")
@click.argument("names", nargs=-1)
@set_option
@click.option("--force", is_flag=True, help="Really uninstall (deletes the module's data).")
@click.option("--no-backup", is_flag=True, help="Skip the backup taken first.")
@deployment_options
@change_options
@pass_app
def uninstall_cmd(
    app: App,
    names: tuple[str, ...],
    sets: tuple[str, ...],
    force: bool,
    no_backup: bool,
    dry_run: bool,
    wait: float,
    maintenance: bool,
    timeout: float | None,
    fmt: str,
) -> int:
    """Uninstall NAMES: shows dependents and the data deleted; refuses without --force."""
    from odoo_ops.modules.uninstall import uninstall_modules

    wanted = _names(app, names, sets)
    with _events(app, "uninstall", dry_run, fmt) as on_event:
        result = uninstall_modules(
            app.target(), wanted, force=force, dry_run=dry_run, wait=wait,
            maintenance=maintenance, backup=not no_backup, timeout=timeout, on_event=on_event,
        )  # fmt: skip
    return _uninstall_like(app, result, fmt)


@command.command("reinstall")
@click.argument("name")
@click.option("--force", is_flag=True, help="Really reinstall (the uninstall deletes data).")
@click.option("--no-backup", is_flag=True, help="Skip the backup taken first.")
@click.option("--without-demo", is_flag=True, help="Do not load demo data.")
@deployment_options
@change_options
@pass_app
def reinstall_cmd(
    app: App,
    name: str,
    force: bool,
    no_backup: bool,
    without_demo: bool,
    dry_run: bool,
    wait: float,
    maintenance: bool,
    timeout: float | None,
    fmt: str,
) -> int:
    """Uninstall NAME cleanly and install it again (the KeyNotFoundError repair)."""
    from odoo_ops.modules.uninstall import reinstall_module

    with _events(app, "reinstall", dry_run, fmt) as on_event:
        result = reinstall_module(
            app.target(), name, force=force, dry_run=dry_run, wait=wait, maintenance=maintenance,
            backup=not no_backup, without_demo=without_demo, timeout=timeout, on_event=on_event,
        )  # fmt: skip
    return _uninstall_like(app, result, fmt)
