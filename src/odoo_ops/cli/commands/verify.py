"""``odoo-ops verify``: gate a deployment on what must be in its database."""

from __future__ import annotations

import click

from odoo_ops.cli.common import App, deployment_options, format_option, pass_app


@click.command("verify")
@deployment_options
@format_option()
@click.option("--strict", is_flag=True, help="Non-critical failures exit 2.")
@click.option("--report", "report_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write the result as Markdown to FILE ('-': standard output).")
@pass_app
def command(app: App, fmt: str, strict: bool, report_file: str | None) -> int:
    """Check the database against [verify] and [thresholds] of odoo-ops.toml.

    Gates: required modules and module sets installed, no broken modules,
    no pending upgrades, no client action without a handler, and the
    minimums min_installed_modules, min_categories, min_oca_modules,
    min_menus. Exit code: 0 pass, 1 a critical gate failed, 2 a non-critical
    gate failed with --strict (or a usage/configuration error).
    """
    from odoo_ops.audit.verify import to_markdown, verify
    from odoo_ops.cli.commands.audit import scan_for
    from odoo_ops.report.table import Table, to_jsonable

    target = app.target()
    if report_file and report_file != "-":
        from odoo_ops.fileutil import check_output_path

        check_output_path(report_file)  # refuse a bad --report before the work, not after
    result = verify(target.database(), target.project.config, scan_for(target),
                    series=target.series)  # fmt: skip
    code = result.exit_code(strict)
    if report_file:
        from odoo_ops.fileutil import write_output

        markdown = target.redactor(to_markdown(result, strict))
        if write_output(report_file, markdown, allow_stdout=True) is not None:
            app.info(f"report written to {report_file}")
    table = Table(["gate", "critical", "result", "expected", "actual", "details"],
                  title=f"verify: {result.database or '?'}")  # fmt: skip
    for g in result.gates:
        table.add(g.title, g.critical, "pass" if g.passed else "FAIL", g.expected, g.actual,
                  "\n".join(g.details[:10]) + (" ..." if len(g.details) > 10 else ""))
    if fmt != "csv":
        table.notes.append({0: "PASS", 1: "FAIL: a critical gate failed",
                            2: "FAIL: a non-critical gate failed (--strict)"}[code])
    table.data = {"database": result.database, "series": result.series, "exit_code": code,
                  "strict": strict, "gates": [to_jsonable(g) for g in result.gates]}
    app.render(table, fmt)
    return code
