"""``odoo-ops config``: validate, show (secrets redacted), sample."""

from __future__ import annotations

from importlib import resources

import click

from odoo_ops.cli.common import App, deployment_options, pass_app


@click.group("config")
def command() -> None:
    """Validate, show or write an odoo-ops.toml."""


@command.command("validate")
@deployment_options
@pass_app
def validate(app: App) -> int:
    """Load the configuration and the deployment; report problems.

    Exit 0 when it loads (warnings are printed), 2 when it does not.
    """
    project = app.project()
    source = project.config_path or f"{project.root} (discovered, no odoo-ops.toml)"
    names = ", ".join(sorted(project.config.deployments))
    app.out(f"ok: {source}: deployments {names}; using {project.name!r}")
    for note in project.notes:
        app.out(f"  discovered {note}")
    for option_problem in _conf_problems(app):
        app.warn(option_problem)
    return 0


def _conf_problems(app: App) -> list[str]:
    from odoo_ops.errors import ConfigError

    target = app.target()
    try:
        conf = target.conf
    except ConfigError as exc:
        return [str(exc)]
    if conf is None:
        return []
    out = [f"{conf.path}: {p}" for p in conf.problems]
    out += [
        f"{conf.path}: {option} uses unset variable(s) {', '.join(names)}"
        for option, names in sorted(conf.unresolved.items())
    ]
    return out


@command.command("show")
@deployment_options
@click.option(
    "--format", "fmt", type=click.Choice(["toml", "json"]), default="toml", show_default=True
)
@click.option("--all", "show_all", is_flag=True, help="Every deployment, not only the chosen one.")
@pass_app
def show(app: App, fmt: str, show_all: bool) -> None:
    """Print the effective configuration with secrets redacted."""
    import json

    from odoo_ops.secrets import redact_mapping

    project = app.project()
    data = project.config.model_dump(mode="json", exclude_none=True)
    if not show_all:
        data["deployments"] = {
            project.name: project.deployment.model_dump(mode="json", exclude_none=True)
        }
    redacted = redact_mapping(data)
    if fmt == "json":
        app.out(json.dumps(redacted, indent=2))
    else:
        assert isinstance(redacted, dict)
        app.out(_to_toml(redacted))


def _toml_value(value: object) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(str(value))


def _to_toml(data: dict[str, object], prefix: str = "") -> str:
    """A small TOML writer for the redacted configuration (tables after scalars)."""
    scalars = [f"{k} = {_toml_value(v)}" for k, v in data.items() if not _is_table(v)]
    blocks = ["\n".join(scalars)] if scalars else []
    for key, value in data.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            inner = {k: v for k, v in value.items()}
            head = {k: v for k, v in inner.items() if not _is_table(v)}
            if head or not inner:
                blocks.append(
                    f"[{name}]\n" + "\n".join(f"{k} = {_toml_value(v)}" for k, v in head.items())
                )
            sub = {k: v for k, v in inner.items() if _is_table(v)}
            if sub:
                blocks.append(_to_toml(sub, name))
        elif _is_table(value):
            assert isinstance(value, list)
            for item in value:
                blocks.append(
                    f"[[{name}]]\n" + "\n".join(f"{k} = {_toml_value(v)}" for k, v in item.items())
                )
    return "\n\n".join(b for b in blocks if b).strip("\n") + "\n"


def _is_table(value: object) -> bool:
    if isinstance(value, dict):
        return True
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


@command.command("sample")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Write to FILE (refuses to overwrite without --force).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing FILE.")
@pass_app
def sample(app: App, output: str | None, force: bool) -> None:
    """Print (or write) a commented sample odoo-ops.toml ('-o -': standard output)."""
    from odoo_ops.errors import UsageError
    from odoo_ops.fileutil import check_output_path, show_path, write_output

    text = resources.files("odoo_ops.config").joinpath("data/sample.toml").read_text("utf-8")
    if output and output != "-":
        _, existing = check_output_path(output)
        if existing is not None and not force:
            raise UsageError(f"{show_path(output)} exists", hint="pass --force to overwrite it")
        write_output(output, text)
        app.info(f"wrote {output}")
    else:
        app.out(text)
