"""``odoo-ops check``: is this deployment fit to go live?"""

from __future__ import annotations

import click

from odoo_ops.cli.common import App, deployment_options, pass_app, split_names
from odoo_ops.errors import UsageError


@click.command("check")
@click.argument(
    "project_arg", metavar="[PROJECT]", required=False, type=click.Path(file_okay=False)
)
@deployment_options
@click.option(
    "--quick",
    "mode",
    flag_value="quick",
    default=True,
    help="Checks that need no writes and no slow work (default).",
)
@click.option(
    "--full",
    "mode",
    flag_value="full",
    help="Also the slow checks (assets build, -u base on a throw-away copy).",
)
@click.option(
    "--only", multiple=True, metavar="ID|AREA", help="Run only these (repeatable, or a,b)."
)
@click.option("--skip", multiple=True, metavar="ID|AREA", help="Do not run these.")
@click.option("--strict", is_flag=True, help="Warnings fail too.")
@click.option("--list", "list_checks", is_flag=True, help="List the checks and exit.")
@click.option(
    "--module",
    "-m",
    "planned",
    multiple=True,
    metavar="NAME",
    help="Modules you plan to install: their dependencies are checked too.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json", "junit", "markdown"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False),
    help="Write the report to FILE ('-': standard output; never a link, FIFO or device).",
)
@click.option(
    "--save",
    is_flag=True,
    help="Also keep the JSON report under .odoo-ops/<deployment>/checks/ (go-live evidence).",
)
@click.option(
    "--compare",
    nargs=2,
    metavar="A B",
    help="What differs between deployments A and B (modules and versions, odoo.conf,"
    " image ids): what promoting A to B changes. Exit 1 when they differ.",
)
@pass_app
def command(
    app: App,
    project_arg: str | None,
    mode: str,
    only: tuple[str, ...],
    skip: tuple[str, ...],
    strict: bool,
    list_checks: bool,
    planned: tuple[str, ...],
    fmt: str,
    output: str | None,
    save: bool,
    compare: tuple[str, str] | None,
) -> int:
    """Check a deployment before it goes live (or before a deploy).

    PROJECT is the project directory (default: current directory). Exit code:
    0 nothing failed, 1 something failed (or warned, with --strict), 2 usage or
    configuration error. Checks that cannot run say `skip` and why.
    """
    from odoo_ops.checks import all_checks
    from odoo_ops.checks.context import CheckContext
    from odoo_ops.checks.run import run_checks, select_checks
    from odoo_ops.report import checks as render

    checks = all_checks()
    if list_checks:
        from odoo_ops.report.table import Table

        table = Table(["id", "area", "severity", "needs", "slow", "title"], title="checks")
        for c in sorted(checks.values(), key=lambda c: (c.area, c.id)):
            table.add(
                c.id, c.area, c.severity.value, sorted(n.value for n in c.needs), c.slow, c.title
            )
        app.render(table, "json" if fmt == "json" else "markdown" if fmt == "markdown" else "table")
        return 0
    if compare:
        from odoo_ops.cli.check_compare import run_compare

        if project_arg:
            app.options["project_dir"] = project_arg
        if mode == "full" or only or skip or planned or output or save:
            raise UsageError("--compare takes no --full/--only/--skip/--module/--output/--save")
        return run_compare(app, compare, fmt)
    if project_arg:
        if app.options.get("project_dir") and app.options["project_dir"] != project_arg:
            raise UsageError(
                f"two project directories given: {project_arg} and -C {app.options['project_dir']}"
            )
        app.options["project_dir"] = project_arg
    chosen = select_checks(
        checks, full=mode == "full", only=split_names(only), skip=split_names(skip)
    )
    target = app.target()
    for note in target.project.notes:
        app.info(f"discovered {note}")
    if output and output != "-":
        from odoo_ops.fileutil import check_output_path

        check_output_path(output)  # refuse a bad -o before the checks run, not after
    ctx = CheckContext(target, full=mode == "full", planned=split_names(planned))
    report = run_checks(ctx, chosen)
    if save:
        from odoo_ops.golive.report import save_check_report

        app.info(f"report saved to {save_check_report(target, report)}")
    if fmt == "json":
        text = render.to_json(report)
    elif fmt == "junit":
        text = render.to_junit(report)
    elif fmt == "markdown":
        text = render.to_markdown(report)
    else:
        text = render.to_table(
            report,
            color=app.color and app.is_tty and not output,
            verbose=app.verbose > 0,
            quiet=app.quiet,
        )
    if output:
        from odoo_ops.fileutil import write_output

        if write_output(output, target.redactor(text), allow_stdout=True) is not None:
            app.info(f"report written to {output}")
    else:
        app.out(text)
    return 1 if report.failed(strict=strict) else 0
