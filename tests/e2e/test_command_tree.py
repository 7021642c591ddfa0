"""Walk the whole command tree: one option vocabulary, and every command that
takes a deployment honours -C, --config and -D (before or after the subcommand)."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from odoo_ops.cli.main import cli, main

#: Commands that make a project rather than use one.
NOT_ON_A_DEPLOYMENT = {("init",), ("config", "sample"), ("snapshot", "diff")}

#: Arguments a command needs before it looks at the deployment.
ARGS: dict[tuple[str, ...], list[str]] = {
    ("backup", "export-odoo"): ["x", "out.zip"],
    ("golive", "sign"): ["x", "--by", "y"],
    ("modules", "install"): ["base"],
    ("modules", "plan"): ["base"],
    ("modules", "update"): ["base"],
    ("modules", "uninstall"): ["base"],
    ("modules", "reinstall"): ["base"],
}


def walk(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        assert cmd is not None
        if isinstance(cmd, click.Group) and cmd.list_commands(click.Context(cmd)):
            if cmd.invoke_without_command:
                yield (*path, name), cmd
            yield from walk(cmd, (*path, name))
        else:
            yield (*path, name), cmd


COMMANDS = sorted(walk(cli))
ON_A_DEPLOYMENT = [p for p, _ in COMMANDS if p not in NOT_ON_A_DEPLOYMENT]


def options(cmd: click.Command) -> dict[str, click.Parameter]:
    return {o: p for p in cmd.params for o in getattr(p, "opts", [])}


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        code = main(args)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return int(code or 0), captured.out + captured.err


def test_the_tree_was_found() -> None:
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"check", "backup restore", "modules install", "deploy", "health"} <= names
    assert len(COMMANDS) > 40


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=" ".join)
def test_one_vocabulary(path: tuple[str, ...]) -> None:
    cmd = dict(COMMANDS)[path]
    opts = options(cmd)
    if "--wait" in opts:
        wait = opts["--wait"]
        assert isinstance(wait.type, click.FloatRange) and wait.type.min == 0, path
        assert wait.metavar == "SECONDS"
    if "--dry-run" in opts:
        assert getattr(opts["--dry-run"], "is_flag", False), path
    if path not in NOT_ON_A_DEPLOYMENT:
        assert {"-D", "--deployment", "--config", "-C", "--project", "-c", "-d", "-q", "-v"} <= set(
            opts
        ), path
    if "--format" in opts:
        assert isinstance(opts["--format"].type, click.Choice), path


@pytest.mark.parametrize("path", ON_A_DEPLOYMENT, ids=" ".join)
def test_every_command_honours_the_deployment_options(
    path: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "acme"
    project.mkdir()
    (project / "odoo-ops.toml").write_text('[deployments.production]\nseries = "18.0"\n')
    cmd = dict(COMMANDS)[path]
    required = [
        "x"
        for p in cmd.params
        if isinstance(p, click.Argument) and p.required
        for _ in range(max(p.nargs, 1))
    ]
    args = [*path, *ARGS.get(path, required)]
    missing = str(tmp_path / "nowhere")
    code, out = run([*args, "-C", missing], capsys)
    assert code == 2 and f"project directory not found: {missing}" in out, out
    code, out = run(["-C", missing, *args], capsys)
    assert code == 2 and f"project directory not found: {missing}" in out, out
    code, out = run([*args, "--config", str(tmp_path / "no.toml")], capsys)
    assert code == 2 and "no.toml" in out, out
    code, out = run([*args, "-C", str(project), "-D", "nosuch"], capsys)
    assert code == 2 and "no deployment named 'nosuch'" in out, out
    assert "Traceback" not in out


def test_no_click_warning_while_building_the_tree() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for path, cmd in COMMANDS:
            ctx = click.Context(cmd, info_name=path[-1])
            cmd.get_help(ctx)


def test_root_help_summaries_are_what_each_command_says() -> None:
    """`odoo-ops --help` lists commands from SUMMARIES without importing them."""
    import inspect

    from odoo_ops.cli.main import SUMMARIES

    ctx = click.Context(cli)
    names = cli.list_commands(ctx)
    assert sorted(SUMMARIES) == names
    for name in names:
        command = cli.get_command(ctx, name)
        assert command is not None and command.help
        first = inspect.cleandoc(command.help).split("\n\n")[0].replace("\n", " ")
        assert SUMMARIES[name] == first, name


def test_root_help_imports_no_command_module() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from odoo_ops.cli.main import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "loaded = [m for m in sys.modules if m.startswith('odoo_ops.cli.commands.')]\n"
        "print(loaded, file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "Commands:" in proc.stdout and "backup" in proc.stdout
    assert proc.stderr.strip() == "[]"


def test_quiet_and_verbose_after_the_command_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "acme"
    (project / "addons").mkdir(parents=True)
    (project / "odoo-ops.toml").write_text(
        '[deployments.production]\nseries = "18.0"\naddons_paths = ["addons"]\n'
    )
    def rows(args: list[str]) -> list[str]:  # the table without its timing line
        code, out = run(args, capsys)
        assert code == 1, out
        return out.splitlines()[:-1]

    before = rows(["-q", "check", "-C", str(project)])
    after = rows(["check", "-C", str(project), "-q"])
    loud = rows(["check", "-C", str(project)])
    assert before == after != loud
    import logging

    root = logging.getLogger()
    try:
        for args in (["check", "-vv"], ["-v", "check", "-v"], ["check", "-v"]):
            run([*args, "-C", str(project)], capsys)
            assert root.level == (logging.INFO if args == ["check", "-v"] else logging.DEBUG)
    finally:
        root.setLevel(logging.WARNING)
        for handler in list(root.handlers):
            root.removeHandler(handler)


@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_start_up_imports_nothing_heavy(flag: str) -> None:
    """--version and --help stay within a few times a bare interpreter's start
    (bench/startup.py measures it): no schema, driver, renderer or ctypes."""
    import ast
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from odoo_ops.cli.main import main\n"
        f"try:\n    main([{flag!r}])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(ast.literal_eval(proc.stderr))  # the list the child printed
    heavy = {"pydantic", "psycopg", "rich", "httpx", "jinja2", "ctypes", "odoo_ops.secrets",
             "odoo_ops.childproc", "odoo_ops.adapters", "odoo_ops.config.schema"}  # fmt: skip
    assert not heavy & loaded, heavy & loaded


@pytest.mark.parametrize("width", [78, 98])
def test_stored_root_help_is_what_click_renders(width: int) -> None:
    """The entry point prints the stored root help without importing click:
    it must be click's rendering (regenerate: python -m odoo_ops.cli.root_help)."""
    from odoo_ops.cli.root_help import ROOT_HELP, render

    assert ROOT_HELP[width] == render(width)


@pytest.mark.parametrize(
    ("args", "columns"),
    [(["--version"], "80"), (["-V"], "80"), (["--help"], "80"), (["-h"], "200")],
)
def test_entry_point_answers_version_and_help_without_click(
    args: list[str], columns: str
) -> None:
    import ast
    import os
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from odoo_ops.cli.entry import main\n"
        f"try:\n    main({args!r})\nexcept SystemExit:\n    pass\n"
        "print(sorted(sys.modules), file=sys.stderr)\n"
    )
    env = {**os.environ, "COLUMNS": columns}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert "click" not in ast.literal_eval(proc.stderr)
    if args[0] in ("--help", "-h"):
        from odoo_ops.cli.root_help import render

        assert proc.stdout == render(min(int(columns), 100) - 2)
    else:
        assert proc.stdout.startswith("odoo-ops, version ")


def test_entry_point_hands_everything_else_to_click(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "COLUMNS": "90"}  # a width with no stored help: click renders it
    run = [sys.executable, "-m", "odoo_ops.cli.entry"]
    wide = subprocess.run([*run, "--help"], capture_output=True, text=True, env=env)
    assert wide.returncode == 0 and "Commands:" in wide.stdout and "backup" in wide.stdout
    sub = subprocess.run([*run, "backup", "--help"], capture_output=True, text=True, env=env)
    assert sub.returncode == 0 and "Usage: " in sub.stdout and "create" in sub.stdout
    bad = subprocess.run([*run, "-C", str(tmp_path / "nope"), "check"], capture_output=True,
                         text=True, env=env)  # fmt: skip
    assert bad.returncode == 2 and "project directory not found" in bad.stderr
