"""Entry point of ``odoo-ops``: global options, command discovery, the error handler."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

import click

from odoo_ops import __version__
from odoo_ops.cli.common import App, deployment_selection_options
from odoo_ops.cli.pipes import StdoutClosed, exit_quietly, output_closed, watch_output
from odoo_ops.errors import OpsError

_COMMANDS_PACKAGE = "odoo_ops.cli.commands"


#: The first paragraph of each command's help, so that ``odoo-ops --help`` lists
#: the commands without importing them. tests/e2e/test_command_tree.py keeps it
#: equal to what each command says of itself.
SUMMARIES: dict[str, str] = {
    "addons": "Addons on the addons path: list, dependency tree, install plan, why.",
    "audit": "Audit the database: modules, version drift, broken records, crons, PostgreSQL.",
    "backup": "Backups that are proven: create, verify, test-restore, restore, prune.",
    "check": "Check a deployment before it goes live (or before a deploy).",
    "config": "Validate, show or write an odoo-ops.toml.",
    "crons": "Pause the active crons (recording exactly which) and resume only those.",
    "db": "Maintenance that writes: VACUUM, ending stale sessions.",
    "dr": "Disaster-recovery drills: restore from off-site, start Odoo, measure RTO and RPO.",
    "deploy": "Deploy: preflight, lock, maintenance, rollback point, code, addons, modules,"
    " restart, verify, snapshot, finish.",
    "golive": "The go-live checklist as a board that fills itself from evidence.",
    "health": "Probe the deployment: process, database, disk, memory, /web/health, login page,"
    " websocket, Redis, cron lag, services, latency.",
    "init": "Write a complete, hardened Odoo project into DIRECTORY (default: here).",
    "loadtest": "Load the deployment with N virtual users and judge it for go-live.",
    "maintenance": "Maintenance mode: proxy flag (503 page), Odoo workers stopped, database"
    " marker.",
    "modules": "Install, update (only what changed), sync and uninstall modules.",
    "oca": "OCA (and other git) addon repositories.",
    "pitr": "Point-in-time recovery: WAL archiving with pgBackRest, restore to a moment.",
    "rollback": "Roll back deploy ID (default: an interrupted deploy, else the latest).",
    "serve": "A read-only status web page: overview, health, deploys, backups, checks, go-live.",
    "snapshot": "Snapshots of a deployment (modules, menus, models, actions, crons, config,"
    " HTTP).",
    "status": "Is the deployment fine? Health, last deploy, newest backup, last check, upgrades,"
    " go-live.",
    "upgrade": "Major upgrades with OpenUpgrade: plan, then rehearse on a copy of the"
    " database.",
    "verify": "Check the database against [verify] and [thresholds] of odoo-ops.toml.",
}


class LazyGroup(click.Group):
    """Finds commands in ``odoo_ops.cli.commands`` and imports one only when used."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list of the root help, from :data:`SUMMARIES` (no imports)."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            summary = SUMMARIES.get(name)
            if summary is None:  # a command added without a summary: ask it
                command = self.get_command(ctx, name)
                rows.append((name, command.get_short_help_str(limit) if command else ""))
            else:
                # shortened exactly as click shortens a command's own help
                rows.append((name, click.Command(name, help=summary).get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _module_names(self) -> list[str]:
        import pkgutil

        from odoo_ops.cli import commands

        return sorted(m.name for m in pkgutil.iter_modules(commands.__path__))

    @staticmethod
    def _has_module(name: str) -> bool:
        from odoo_ops.cli import commands

        return any((Path(p) / f"{name}.py").is_file() for p in commands.__path__)

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = {n.replace("_", "-") for n in self._module_names()}
        return sorted(names | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        module_name = cmd_name.replace("-", "_")
        if not module_name.isidentifier() or not self._has_module(module_name):
            return None
        module = importlib.import_module(f"{_COMMANDS_PACKAGE}.{module_name}")
        command = getattr(module, "command", None)
        if not isinstance(command, click.Command):
            raise RuntimeError(f"{module.__name__} defines no click command named 'command'")
        return command

    # a closed stdout (`| head`) must reach main() as StdoutClosed: click would turn the
    # BrokenPipeError into a silent exit 1 (see odoo_ops.cli.pipes)
    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: click.Context | None = None,
        **extra: Any,
    ) -> click.Context:
        with watch_output():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with watch_output():
            app = ctx.find_object(App)
            if ctx.parent is None and app is not None:
                from odoo_ops.cli.fleet import requested, run_fleet

                if requested(app):  # -a / -D a -D b: once per deployment (cli/fleet.py)
                    args = [*ctx._protected_args, *ctx.args]
                    with ctx:
                        ctx.invoke(self.callback or (lambda **_: None), **ctx.params)
                        return run_fleet(ctx, app, args)
            return super().invoke(ctx)


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, "-V", "--version", prog_name="odoo-ops")
@click.option("-v", "--verbose", count=True, help="More detail (repeat for debug logs).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and the result.")
@click.option("--no-color", is_flag=True, envvar="NO_COLOR", help="No colours in output.")
@deployment_selection_options
@click.option(
    "--all-deployments",
    "-a",
    is_flag=True,
    expose_value=False,
    callback=lambda ctx, _, v: _fleet_option(ctx, "fleet_all", v),
    help="Run the command on every deployment of odoo-ops.toml (check, health, backup"
    " create|list, audit modules, verify); also -D A -D B.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    expose_value=False,
    callback=lambda ctx, _, v: _fleet_option(ctx, "fleet_jobs", v),
    metavar="N",
    help="Several deployments: how many run at once (default: 2).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    expose_value=False,
    callback=lambda ctx, _, v: _fleet_option(ctx, "fleet_timeout", v),
    metavar="SECONDS",
    help="Several deployments: stop a deployment's run after SECONDS (exit 124).",
)
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool, no_color: bool) -> None:
    """odoo-ops: run self-hosted Odoo in production.

    Pre-deployment checks, addon dependency plans, database audits and
    snapshots, module install/upgrade, verified backups and restores, deploys
    with rollback, health monitoring, hardened configs, go-live checklists.

    Most commands work on a deployment: described in ./odoo-ops.toml, or
    discovered from the project directory (compose file, odoo.conf, .env,
    addons). Select one with --deployment NAME, a directory with -C DIR.
    """
    from odoo_ops.childproc import install_signal_handlers

    # SIGTERM/SIGINT/SIGHUP kill the children, then unwind (undoing partial work);
    # installed here, when a command runs, so --help and --version stay light
    install_signal_handlers()
    app = ctx.ensure_object(App)  # the deployment options may have made it already
    app.verbose, app.quiet, app.color = verbose, quiet, not no_color
    app.setup_logging()


def _fleet_option(ctx: click.Context, name: str, value: Any) -> Any:
    """Keep a fleet-mode option (cli/fleet.py) in ``App.options``."""
    if value:
        (ctx.find_object(App) or ctx.ensure_object(App)).options[name] = value
    return value


def _crash_log(exc: BaseException) -> Path | None:
    import datetime as dt
    import tempfile
    import traceback

    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    directory = Path(state) / "odoo-ops"
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    text = "".join(traceback.format_exception(exc))
    for folder in (directory, Path(tempfile.gettempdir())):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"odoo-ops-crash-{stamp}-{os.getpid()}.log"
            report = App.redact_any(f"odoo-ops {__version__}\nargv: {sys.argv!r}\n\n{text}")
            path.write_text(report)
            return path
        except OSError:
            continue
    return None


def main(argv: list[str] | None = None) -> Any:
    """Run the CLI: expected errors print one line, unexpected ones a log path."""
    try:
        rv = cli.main(args=argv, prog_name="odoo-ops", standalone_mode=False)
        if isinstance(rv, int) and not isinstance(rv, bool):
            sys.exit(rv)
        return rv
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort as exc:
        cause = exc.__cause__
        signum = getattr(cause, "signum", None)  # childproc.Terminated (click wraps it)
        if isinstance(signum, int):
            click.echo(f"interrupted by {cause}", err=True)
            sys.exit(128 + signum)
        click.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt as exc:  # childproc.Terminated carries the signal
        signum = getattr(exc, "signum", None)
        if isinstance(signum, int):
            click.echo(f"interrupted by {exc}", err=True)
            sys.exit(128 + signum)
        click.echo("interrupted", err=True)
        sys.exit(130)
    except OpsError as exc:
        App.report_error(exc)
        sys.exit(exc.exit_code)
    except StdoutClosed:
        exit_quietly()  # 141, nothing printed: what `yes | head -1` does
    except BrokenPipeError:  # raised outside the commands (click's own output)
        if output_closed():
            exit_quietly()
        sys.exit(1)
    except Exception as exc:
        path = _crash_log(exc)
        where = f"; traceback written to {path}" if path else ""
        message = App.redact_any(f"{type(exc).__name__}: {exc}")
        click.echo(f"unexpected error: {message}{where}", err=True)
        sys.exit(3)


if __name__ == "__main__":
    main()
