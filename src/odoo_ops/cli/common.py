"""What every command shares: the :class:`App` object, deployment options,
``--format``, output, progress and the one error printer."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from odoo_ops.errors import ConfigError, OpsError

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.adapters.project import Project
    from odoo_ops.report.table import Table
    from odoo_ops.secrets import Redactor

F = TypeVar("F", bound=Callable[..., Any])

_REDACTORS: list[Redactor] = []


@dataclass
class App:
    """Per-invocation state, reached by commands through ``click.pass_obj``."""

    verbose: int = 0
    quiet: bool = False
    color: bool = True
    options: dict[str, Any] = field(default_factory=dict)
    _target: Target | None = None
    _project: Project | None = None

    # -- output ---------------------------------------------------------------
    @property
    def is_tty(self) -> bool:
        return sys.stdout.isatty()

    def setup_logging(self) -> None:
        """Configure logging when a command runs: warnings and errors on stderr
        (as Python's default would print them), INFO with -v, DEBUG with -vv;
        every record goes through the redaction (a warning may quote a URL)."""
        import logging

        if not self.verbose:
            root = logging.getLogger()
            if not root.handlers:  # (a test runner may have its own: left alone)
                stderr_handler = logging.StreamHandler(sys.stderr)
                stderr_handler.addFilter(_redact_log_record)
                root.addHandler(stderr_handler)
            return

        level = logging.WARNING
        if self.verbose == 1:
            level = logging.INFO
        elif self.verbose >= 2:
            level = logging.DEBUG
        logging.basicConfig(  # force: -v before and after the command's name add up
            level=level,
            format="%(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
            force=True,
        )
        for handler in logging.getLogger().handlers:
            handler.addFilter(_redact_log_record)

    def redact(self, text: str) -> str:
        return App.redact_any(text)

    @staticmethod
    def redact_any(text: str) -> str:
        """``text`` with secret positions and every known secret value masked."""
        from odoo_ops.secrets import redact_text  # on use: --help/--version stay light

        text = redact_text(text)
        for redactor in _REDACTORS:
            text = redactor(text)
        return text

    def out(self, text: str) -> None:
        """Write the command's result to stdout (secrets redacted)."""
        click.echo(self.redact(text), nl=not text.endswith("\n"))

    def info(self, text: str) -> None:
        """A progress or context line on stderr (hidden with -q)."""
        if not self.quiet:
            click.echo(self.redact(text), err=True)

    def warn(self, text: str) -> None:
        click.echo(self.redact(f"warning: {text}"), err=True)

    def render(self, table: Table, fmt: str) -> None:
        from odoo_ops.report.table import render

        color = self.color and self.is_tty
        self.out(render(table, fmt, color=color))

    @staticmethod
    def report_error(exc: OpsError) -> None:
        click.echo(App.redact_any(f"error: {exc.message}"), err=True)
        if exc.hint:
            click.echo(App.redact_any(f"hint: {exc.hint}"), err=True)

    @contextmanager
    def progress(self, description: str, total: float | None = None) -> Iterator[Progress]:
        """A progress bar on a terminal, plain log lines otherwise."""
        if sys.stderr.isatty() and not self.quiet:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                TextColumn,
                TimeElapsedColumn,
            )
            from rich.progress import (
                Progress as RichProgress,
            )

            columns: list[Any] = [
                TextColumn("{task.description}"),
                BarColumn(),
                TimeElapsedColumn(),
            ]
            if total is not None and total > 1024:
                columns.insert(2, DownloadColumn())
            with RichProgress(*columns, transient=True) as bar:
                task = bar.add_task(description, total=total)
                yield Progress(
                    self,
                    lambda n=1, d=None: bar.update(task, advance=n, description=d or description),
                    True,
                )
        else:
            self.info(f"{description} ...")
            yield Progress(self, None, False)

    # -- the deployment -------------------------------------------------------
    def project(self) -> Project:
        """The resolved deployment (resolved once per invocation)."""
        if self._project is None:
            from odoo_ops.secrets import Redactor

            self._project = self._resolve_project()
            _REDACTORS.append(Redactor.from_env(self._project.env))
        return self._project

    def _resolve_project(self) -> Project:
        from odoo_ops.adapters.project import Overrides, resolve_project

        o = self.options
        overrides = Overrides(
            odoo_conf=o.get("odoo_conf"),
            database=o.get("database"),
            series=o.get("series"),
            base_url=o.get("base_url"),
            addons_paths=list(o.get("addons_paths") or []),
        )
        try:
            project = resolve_project(
                Path(o["project_dir"]) if o.get("project_dir") else None,
                config_file=Path(o["config_file"]) if o.get("config_file") else None,
                deployment=o.get("deployment"),
                overrides=overrides,
            )
        except ValueError as exc:  # pydantic validation of an override
            first = str(exc).splitlines()
            raise ConfigError(first[-1].strip() if first else str(exc)) from None
        for warning in project.warnings:
            if not self.quiet:
                self.warn(warning)
        return project

    def target(self) -> Target:
        if self._target is None:
            from odoo_ops.adapters import Target

            self._target = Target(self.project())
            _REDACTORS.append(self._target.redactor)
            # the database is resolved once: a -d (or database =) that contradicts
            # the dsn is refused here, before any command touches anything
            self._target.database_choice()
            self._settle_interrupted(self._target)
        return self._target

    def _settle_interrupted(self, target: Target) -> None:
        """Finish or undo what a killed restore left (its swap journal), and say so.

        Every command that opens the deployment passes here; ``--dry-run`` only reports.
        """
        from odoo_ops.backup.swapjournal import recover_interrupted

        ctx = click.get_current_context(silent=True)
        dry_run = bool(ctx is not None and ctx.params.get("dry_run"))
        for line in recover_interrupted(target, dry_run=dry_run):
            self.warn(line)


def _redact_log_record(record: Any) -> bool:
    """Logging filter: a record's message (and traceback) leave the process redacted."""
    import logging

    record.msg = App.redact_any(record.getMessage())
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = logging.Formatter().formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = App.redact_any(record.exc_text)
    return True


class Progress:
    """Handle passed to work that reports progress."""

    def __init__(self, app: App, advance: Callable[..., None] | None, live: bool) -> None:
        self._app = app
        self._advance = advance
        self.live = live

    def advance(self, n: float = 1, description: str | None = None) -> None:
        if self._advance:
            self._advance(n, description)

    def log(self, line: str) -> None:
        if not self.live:
            self._app.info(line)


def _store(
    name: str, check: str | None = None
) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A callback keeping an option's value in ``App.options``; ``check`` names
    the :mod:`odoo_ops.names` function that validates it (imported on use)."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if check is not None and value is not None:
            from odoo_ops import names

            value = getattr(names, check)(value)  # names are checked where they enter
        if value not in (None, (), []):
            app = ctx.find_object(App) or ctx.ensure_object(App)
            given = app.options.get(name)
            if name in app.options and given != value and ctx.parent is not None:
                # given before the subcommand (root option) and again after it
                raise click.UsageError(
                    f"--{param.name.replace('_', '-') if param.name else name} given twice "
                    f"with different values: {given} and {value}"
                )
            app.options[name] = value
        return value

    return callback


def _store_deployments(
    ctx: click.Context, param: click.Parameter, value: tuple[str, ...]
) -> tuple[str, ...]:
    """-D NAME: one deployment; -D a -D b before the command's name: several (the
    command then runs once per deployment, see :mod:`odoo_ops.cli.fleet`)."""
    names = tuple(dict.fromkeys(value or ()))
    if len(names) <= 1:
        _store("deployment", "check_deployment_name")(ctx, param, names[0] if names else None)
        return names
    if ctx.parent is not None:
        raise click.UsageError(
            "several --deployment/-D go before the command's name: "
            f"odoo-ops {' '.join(f'-D {n}' for n in names)} {ctx.command_path.split(' ', 1)[-1]}"
        )
    from odoo_ops import names as checks

    app = ctx.find_object(App) or ctx.ensure_object(App)
    app.options["fleet_deployments"] = [checks.check_deployment_name(n) for n in names]
    return names


def _more_verbose(ctx: click.Context, param: click.Parameter, value: int) -> int:
    if value:
        app = ctx.find_object(App) or ctx.ensure_object(App)
        app.verbose += value
        app.setup_logging()
    return value


def _quieter(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        (ctx.find_object(App) or ctx.ensure_object(App)).quiet = True
    return value


def deployment_options(func: F) -> F:
    """--deployment, --config, -C/--project, -c/--odoo-conf, -d/--database, and
    -v/-q again so that they work after the command's name too."""
    return _verbosity_options(deployment_selection_options(func))


def deployment_selection_options(func: F) -> F:
    """--deployment, --config, -C/--project, -c/--odoo-conf, -d/--database (the
    root command takes these before a command's name; its -v/-q are its own)."""
    options = [
        click.option(
            "--deployment",
            "-D",
            metavar="NAME",
            multiple=True,  # several, before the command's name: fleet mode (cli/fleet.py)
            expose_value=False,
            callback=_store_deployments,
            envvar="ODOO_OPS_DEPLOYMENT",
            help="Deployment from odoo-ops.toml (default: default_deployment).",
        ),
        click.option(
            "--config",
            metavar="FILE",
            expose_value=False,
            callback=_store("config_file"),
            help="odoo-ops.toml to read (default: PROJECT/odoo-ops.toml).",
        ),
        click.option(
            "-C",
            "--project",
            metavar="DIR",
            expose_value=False,
            callback=_store("project_dir"),
            help="Project directory (default: current directory).",
        ),
        click.option(
            "-c",
            "--odoo-conf",
            metavar="FILE",
            expose_value=False,
            callback=_store("odoo_conf"),
            help="odoo.conf to use (also ODOO_RC).",
        ),
        click.option(
            "-d",
            "--database",
            metavar="DB",
            expose_value=False,
            callback=_store("database", "check_database_name"),
            help="Database name.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _verbosity_options(func: F) -> F:
    options = [
        click.option(
            "-v",
            "--verbose",
            count=True,
            expose_value=False,
            callback=_more_verbose,
            help="More detail (repeat for debug logs).",
        ),
        click.option(
            "-q",
            "--quiet",
            is_flag=True,
            expose_value=False,
            callback=_quieter,
            help="Only errors and the result.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def format_option(*formats: str, default: str = "table") -> Callable[[F], F]:
    choices = formats or ("table", "json", "csv", "markdown")
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=default,
        show_default=True,
        help="Output format.",
    )


def wait_option(func: F) -> F:
    """--wait SECONDS: wait that long for another run holding the deployment lock."""
    return click.option(
        "--wait",
        type=click.FloatRange(min=0),
        default=0,
        metavar="SECONDS",
        help="Wait for another odoo-ops run on the deployment.",
    )(func)


def dry_run_option(func: F | None = None, *, help: str = "Print what would be done.") -> Any:
    """--dry-run: say what would be done, change nothing.

    Use bare (``@dry_run_option``) or with the command's own words
    (``@dry_run_option(help="Print the SQL, run nothing.")``).
    """
    option = click.option("--dry-run", is_flag=True, help=help)
    return option(func) if func is not None else option


def pass_app(func: F) -> F:
    return click.pass_obj(func)  # type: ignore[return-value]


def split_names(values: tuple[str, ...] | list[str]) -> list[str]:
    """Module names given as separate arguments or comma-separated."""
    names: list[str] = []
    for value in values:
        names.extend(v.strip() for v in value.split(",") if v.strip())
    return names


def expand_module_sets(app: App, names: list[str], sets: tuple[str, ...]) -> list[str]:
    """Names plus the modules of the named sets (``all`` = every set)."""
    if not sets:
        return names
    config = app.target().project.config
    chosen = list(config.module_sets) if "all" in sets else list(sets)
    out = list(names)
    for set_name in chosen:
        if set_name not in config.module_sets:
            known = ", ".join(sorted(config.module_sets)) or "none defined"
            raise ConfigError(f"unknown module set {set_name!r} (sets: {known})")
        out.extend(config.module_sets[set_name].modules)
    return list(dict.fromkeys(out))


def wraps_ops_errors(func: F) -> F:
    """Turn a pydantic/OS error in a command into a one-line OpsError."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PermissionError as exc:
            raise OpsError(f"permission denied: {exc.filename}") from None

    return wrapper  # type: ignore[return-value]
