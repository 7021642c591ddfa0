"""Fleet mode: one command on several deployments of odoo-ops.toml at once.

``odoo-ops --all-deployments check`` or ``odoo-ops -D staging -D production
health`` runs the command once per deployment, each in a child ``odoo-ops``
of its own (:mod:`odoo_ops.childproc`): its own Target, deployment lock,
timeouts, output and exit code, exactly as when it is run alone. At most
``--jobs`` run at the same time. The children's outputs are printed one after
the other (never interleaved), then one summary table (deployment, result,
exit code, seconds); with ``--format json``, one document with an entry per
deployment embedding its own JSON output. The exit code is the worst one.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from odoo_ops.cli.common import App
from odoo_ops.errors import ConfigError, UsageError

#: The commands that run on several deployments (path below the root).
FLEET_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("audit", "modules"),
    ("backup", "create"),
    ("backup", "list"),
    ("check",),
    ("health",),
    ("verify",),
)

#: Options that name one file or run forever: not with several deployments.
REFUSED_OPTIONS = {
    "output": "--output",
    "report_file": "--report",
    "metrics_textfile": "--metrics-textfile",
    "metrics_port": "--metrics-port",
    "watch": "--watch",
    "odoo_conf": "--odoo-conf",
    "database": "--database",
}

#: Exit code of a deployment's run stopped by --timeout (as timeout(1) says).
TIMEOUT_EXIT = 124

_CHILD = "import sys; from odoo_ops.cli.main import main; main(sys.argv[1:])"


@dataclass
class FleetRun:
    """One deployment's run of the command."""

    deployment: str
    exit_code: int
    seconds: float
    stdout: str
    stderr: str
    timed_out: bool = False

    @property
    def error(self) -> str:
        """The run's one-line error (its last ``error:`` line), if it printed one."""
        if self.timed_out:
            return "stopped by --timeout"
        for line in reversed(self.stderr.splitlines()):
            if line.startswith("error: "):
                return line.removeprefix("error: ")
            if line.startswith("unexpected error: "):
                return line
        return ""

    @property
    def result(self) -> str:
        if self.timed_out:
            return "timeout"
        if self.exit_code == 0:
            return "ok"
        if self.exit_code >= 128:
            return "interrupted"
        if self.error or self.exit_code in (2, 3):
            return "error"
        return "failed" if self.exit_code == 1 else f"exit {self.exit_code}"

    def output(self) -> Any:
        """The run's JSON output (its text when it is not JSON; None when empty)."""
        text = self.stdout.strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return self.stdout


def requested(app: App) -> bool:
    """Whether the command line asks for several deployments (-a, or -D a -D b)."""
    if app.options.get("fleet_all") or app.options.get("fleet_deployments"):
        return True
    for key, option in (("fleet_jobs", "--jobs"), ("fleet_timeout", "--timeout")):
        if app.options.get(key):
            raise UsageError(f"{option} is for several deployments (with -a or -D A -D B)")
    return False


def command_of(ctx: click.Context, args: list[str]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The command path in ``args`` (below the root) and its parsed options (no callback runs)."""
    path: list[str] = []
    command: click.Command = ctx.command
    parent = ctx
    rest = list(args)
    while isinstance(command, click.Group):
        if not rest:
            raise UsageError("several deployments: which command? (e.g. odoo-ops -a check)")
        name, sub, rest = command.resolve_command(parent, rest)
        if sub is None or name is None:
            raise UsageError(f"no such command: {rest[0] if rest else ''}")
        path.append(name)
        parent = click.Context(sub, parent=parent, info_name=name, resilient_parsing=True)
        opts, rest, _ = sub.make_parser(parent).parse_args(rest)
        if isinstance(sub, click.Group):
            command = sub
            continue
        return tuple(path), opts
    raise UsageError("several deployments: which command?")  # pragma: no cover - root is a group


def deployment_names(app: App) -> list[str]:
    """The deployments to run on: the -D names (checked), or every one of odoo-ops.toml."""
    from odoo_ops.adapters.project import Overrides, resolve_project
    from odoo_ops.config.loader import find_config_file, load_config

    o = app.options
    root = Path(o["project_dir"]) if o.get("project_dir") else Path.cwd()
    path = (
        Path(o["config_file"])
        if o.get("config_file")
        else Path(os.environ["ODOO_OPS_CONFIG"])
        if os.environ.get("ODOO_OPS_CONFIG")
        else None
    )
    if path is None and root.is_dir():
        path = find_config_file(root)
    if path is None:  # no odoo-ops.toml: the one discovered deployment
        project = resolve_project(
            root, deployment=None, overrides=Overrides(), environ=os.environ
        )
        known = [project.name]
    else:
        if not root.is_dir():
            raise ConfigError(f"project directory not found: {root}")
        known = list(load_config(path.expanduser(), os.environ).config.deployments)
    wanted = list(o.get("fleet_deployments") or [])
    if not wanted:
        if not known:
            raise ConfigError(f"{path}: no [deployments.NAME] section")
        return sorted(known)
    for name in wanted:
        if name not in known:
            names = ", ".join(sorted(known)) or "none"
            raise ConfigError(f"{path}: no deployment named {name!r} (deployments: {names})")
    return wanted


def _root_args(app: App) -> list[str]:
    o = app.options
    args: list[str] = []
    if o.get("project_dir"):
        args += ["-C", str(o["project_dir"])]
    if o.get("config_file"):
        args += ["--config", str(o["config_file"])]
    args += ["-v"] * app.verbose
    if app.quiet:
        args.append("-q")
    if not app.color:
        args.append("--no-color")
    return args


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ODOO_OPS_DEPLOYMENT", None)  # the child's -D says which
    if sys.stdout.isatty():  # tables as wide as the terminal they end up on
        env["COLUMNS"] = str(shutil.get_terminal_size().columns)
    return env


def run_one(
    name: str, argv: list[str], env: dict[str, str], timeout: float | None
) -> FleetRun:
    """Run ``argv`` (an odoo-ops command line for deployment ``name``) to its end."""
    from odoo_ops.childproc import ChildPopen

    started = time.monotonic()
    timed_out = False
    with ChildPopen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    ) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            proc.kill_group()
            out, err = proc.communicate()
        except BaseException:
            proc.kill_group()
            proc.wait()
            raise
    code = TIMEOUT_EXIT if timed_out else (proc.returncode or 0)
    if code < 0:  # killed by a signal: the shell's way of saying it
        code = 128 - code
    return FleetRun(
        name,
        code,
        time.monotonic() - started,
        out.decode("utf-8", "replace"),
        err.decode("utf-8", "replace"),
        timed_out,
    )


def run_fleet(ctx: click.Context, app: App, args: list[str]) -> int:
    """Run the command in ``args`` on every selected deployment; render; the worst exit code."""
    path, opts = command_of(ctx, args)
    if path not in FLEET_COMMANDS:
        allowed = ", ".join(" ".join(p) for p in FLEET_COMMANDS)
        hint = "status and serve take their own --all-deployments" if path[0] in (
            "status", "serve") else None  # fmt: skip
        raise UsageError(
            f"'{' '.join(path)}' does not run on several deployments (these do: {allowed})",
            hint=hint,
        )
    for key, option in REFUSED_OPTIONS.items():
        if opts.get(key) or app.options.get(key):
            raise UsageError(f"{option} is for one deployment: not with several deployments")
    if opts.get("list_checks"):
        raise UsageError("check --list is the same for every deployment: run it without -a/-D")
    fmt = str(opts.get("fmt") or "table")
    if fmt not in ("table", "json", "markdown"):
        raise UsageError(f"--format {fmt}: several deployments print table, markdown or json")
    names = deployment_names(app)
    jobs = int(app.options.get("fleet_jobs") or 2)
    timeout = app.options.get("fleet_timeout")
    base = [sys.executable, "-c", _CHILD, *_root_args(app)]
    env = _child_env()
    echo_lock = threading.Lock()

    def one(name: str) -> FleetRun:
        run = run_one(name, [*base, "-D", name, *args], env, timeout)
        with echo_lock:
            detail = f": {run.error}" if run.error else ""
            app.info(f"{name}: {run.result} (exit {run.exit_code}, {run.seconds:.1f} s){detail}")
        return run

    app.info(f"{' '.join(path)} on {len(names)} deployments ({min(jobs, len(names))} at a time)")
    with ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="fleet") as pool:
        runs = list(pool.map(one, names))
    worst = max((r.exit_code for r in runs), default=0)
    render_runs(app, runs, fmt, worst)
    return worst


def render_runs(app: App, runs: list[FleetRun], fmt: str, worst: int) -> None:
    from odoo_ops.report.table import Table

    summary = Table(["deployment", "result", "exit code", "seconds", "detail"], title="fleet")
    for run in runs:
        summary.add(run.deployment, run.result, run.exit_code, round(run.seconds, 1), run.error)
    if fmt == "json":
        summary.data = {
            "exit_code": worst,
            "deployments": [
                {
                    "deployment": r.deployment,
                    "result": r.result,
                    "exit_code": r.exit_code,
                    "seconds": round(r.seconds, 3),
                    "error": r.error or None,
                    "output": r.output(),
                }
                for r in runs
            ],
        }
        for run in runs:  # what each said on stderr (already redacted by the child)
            _relay_stderr(run)
        app.render(summary, "json")
        return
    for run in runs:
        heading = f"## {run.deployment}" if fmt == "markdown" else f"== {run.deployment} =="
        app.out(f"{heading}\n")
        if run.stdout:
            app.out(run.stdout if run.stdout.endswith("\n") else run.stdout + "\n")
        _relay_stderr(run)
    app.render(summary, fmt)


def _relay_stderr(run: FleetRun) -> None:
    for line in run.stderr.splitlines():
        click.echo(App.redact_any(f"[{run.deployment}] {line}"), err=True)
