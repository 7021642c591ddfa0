"""``odoo-ops upgrade``: major upgrades with OpenUpgrade, planned and rehearsed on a copy."""

from __future__ import annotations

import click

from odoo_ops.cli.common import (
    App,
    deployment_options,
    dry_run_option,
    format_option,
    pass_app,
    wait_option,
)

_TO = click.option("--to", "to", default=None, metavar="SERIES",
                   help="The target Odoo series, e.g. 18.0 (default: the next one).")


@click.group("upgrade")
def command() -> None:
    """Major upgrades with OpenUpgrade: plan, then rehearse on a copy of the database.

    `upgrade plan --to 18.0` says what happens to every installed module and
    what blocks; `upgrade rehearse --to 18.0` migrates a copy with the target
    Odoo and OpenUpgrade, audits the result and keeps a report. The target is
    described in `[upgrade]` of odoo-ops.toml (docs/upgrade.md).
    """


def _report_path(report_file: str | None) -> None:
    if report_file and report_file != "-":
        from odoo_ops.fileutil import check_output_path

        check_output_path(report_file)


@command.command("plan")
@deployment_options
@_TO
@format_option("table", "json", "markdown")
@click.option("--report", "report_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="Also write the plan as Markdown to FILE ('-': standard output).")
@pass_app
def plan_cmd(app: App, to: str | None, fmt: str, report_file: str | None) -> int:
    """What happens to every installed module: OpenUpgrade scripts, core, renamed or
    merged, available for the target, or blocked (custom/OCA without a target version,
    with its size in lines). Blockers first; exit 1 when something blocks."""
    from odoo_ops.report.table import Table, to_jsonable
    from odoo_ops.upgrade.plan import UpgradePlan, make_plan, to_markdown

    target = app.target()
    _report_path(report_file)
    plan = make_plan(target, to)
    if report_file:
        from odoo_ops.fileutil import write_output

        if write_output(report_file, to_markdown(plan), allow_stdout=True) is not None:
            app.info(f"plan written to {report_file}")
    if fmt == "markdown":
        app.out(to_markdown(plan))
        return plan.exit_code
    multi = len(plan.steps) > 1
    scripts = plan.openupgrade_scripts
    table = Table([*(["step"] if multi else []), "module", "fate", "origin", "from", "to",
                   "lines", "details"],
                  title=f"upgrade plan: {plan.database} {plan.source_series} -> "
                        f"{plan.target_series} (OpenUpgrade {scripts})")
    for m in plan.modules:
        dest = m.target_name if m.target_name and m.target_name != m.name else ""
        table.add(*([m.step] if multi else []), m.name,
                  m.fate.upper() if m.blocker else m.fate, m.origin,
                  m.source_version, f"{dest} {m.target_version or ''}".strip(), m.lines,
                  m.detail)
    counts = plan.counts()
    blocked = list(dict.fromkeys(m.name for m in plan.blockers))
    if multi:
        table.notes.append("steps: " + "; ".join(
            f"{p.source_series} -> {p.target_series} (OpenUpgrade {p.openupgrade_scripts}, "
            f"{len(p.blockers)} blocked)" for p in plan.steps))
    table.notes.append(", ".join(f"{k}: {v}" for k, v in counts.items() if v))
    table.notes.extend(plan.notes)
    table.notes.append(f"BLOCKED by {len(blocked)} module(s)" if blocked
                       else "nothing blocks")

    def step_data(p: UpgradePlan) -> dict[str, object]:
        return {"source_series": p.source_series, "target_series": p.target_series,
                "openupgrade_scripts": p.openupgrade_scripts, "counts": p.counts(),
                "blocked": [m.name for m in p.blockers], "exit_code": p.exit_code,
                "notes": p.notes}

    table.data = {"database": plan.database, "source_series": plan.source_series,
                  "target_series": plan.target_series,
                  "openupgrade_scripts": plan.openupgrade_scripts, "counts": counts,
                  "blocked": blocked, "exit_code": plan.exit_code,
                  "notes": plan.notes,
                  "steps": [step_data(p) for p in plan.steps],
                  "modules": [{**to_jsonable(m), "blocker": m.blocker} for m in plan.modules]}
    app.render(table, fmt)
    return plan.exit_code


@command.command("rehearse")
@deployment_options
@_TO
@click.option("--keep", is_flag=True, help="Keep the migrated copy (and its filestore).")
@dry_run_option(help="Print the copy and the command, change nothing.")
@wait_option
@format_option("table", "json", "markdown")
@pass_app
def rehearse_cmd(app: App, to: str | None, keep: bool, dry_run: bool, wait: float, fmt: str) -> int:
    """Migrate a copy of the database with the target Odoo and OpenUpgrade, audit the
    result (module states, broken menus/actions, row counts, attachments, a login) and
    write a report under .odoo-ops/<deployment>/upgrade/. Exit 1 when it failed."""
    from odoo_ops.report.table import Table
    from odoo_ops.upgrade.rehearse import rehearse, to_markdown

    target = app.target()
    result = rehearse(target, to, keep=keep, wait=wait, dry_run=dry_run, progress=app.info)
    if fmt == "markdown":
        app.out(to_markdown(result))
        return 0 if result.ok or dry_run else 1
    table = Table(["step", "result", "details"],
                  title=f"upgrade rehearsal {result.id}: {result.source} "
                        f"{result.source_series} -> {result.target_series}")
    if dry_run:
        table.add("copy", "would", f"{result.source} -> {result.copy} (TEMPLATE), "
                  "filestore hard-linked")
        if len(result.steps) > 1:
            for st in result.steps:
                table.add(f"migrate {st.label}", "would", " ".join(st.command))
        else:
            table.add("migrate", "would", " ".join(result.command))
        table.add("audit", "would", "module states, broken menus/actions, row counts, "
                  "attachments, login")
    else:
        failure = result.failure.describe() if result.failure else ""
        if result.failed_step:
            failure = f"step {result.failed_step}: {failure}"
        if len(result.steps) > 1:
            for st in result.steps:
                lists = "; ".join(x for x in (
                    f"uninstalled {', '.join(st.uninstalled)}" if st.uninstalled else "",
                    f"installed {', '.join(st.installed)}" if st.installed else "") if x)
                table.add(f"step {st.label}",
                          "ok" if st.ok and st.label != result.failed_step else "FAIL",
                          f"OpenUpgrade {st.openupgrade_scripts}, exit {st.exit_code} in "
                          f"{st.migration_seconds} s" + (f"; {lists}" if lists else ""))
        table.add("migrate", "ok" if result.exit_code == 0 and not result.failure else "FAIL",
                  f"exit {result.exit_code} in {result.migration_seconds} s, "
                  f"{result.warnings} warning(s)" + (f"; {failure}" if failure else ""))
        for check in result.checks:
            details = check.detail + "".join(f"\n{p}" for p in check.problems[:10])
            table.add(check.name, "ok" if check.ok else "FAIL", details)
        table.notes.append(f"report: {result.report_dir}")
        if result.kept:
            table.notes.append(f"copy kept: {result.copy}")
        table.notes.extend(result.cleanup)
        table.notes.append("SUCCEEDED" if result.ok else "FAILED")
    table.data = result.to_json()
    app.render(table, fmt)
    return 0 if result.ok or dry_run else 1


@command.command("run")
@deployment_options
@_TO
@click.option("--force", is_flag=True,
              help="Run without a successful rehearsal of the same target code.")
@dry_run_option(help="Print the steps and the command, change nothing.")
@wait_option
@format_option("table", "json", "markdown")
@pass_app
def run_cmd(app: App, to: str | None, force: bool, dry_run: bool, wait: float,
            fmt: str) -> int:
    """Upgrade the live database after a successful rehearsal: maintenance on, rollback
    point, OpenUpgrade, the rehearsal's audits, the deployment switched to the target
    (series, odoo_command, addons_paths; odoo.conf addons_path), maintenance off. Any
    failure puts everything back. Exit 1 when it failed (and was rolled back)."""
    from odoo_ops.report.table import Table
    from odoo_ops.upgrade.run import STEPS, run_upgrade

    target = app.target()
    result = run_upgrade(target, to, force=force, wait=wait, dry_run=dry_run,
                         progress=app.info)
    if result.forced:
        app.warn(f"--force: {result.refusal}")
    table = Table(["step", "result", "details"],
                  title=f"upgrade run {result.id}: {result.source} {result.source_series} -> "
                        f"{result.target_series}")
    if result.runner != "local":
        table.notes.append(f"the target Odoo runs through {result.runner}")
    if dry_run:
        for step in STEPS:
            detail = " ".join(result.command) if step == "migrate" else ""
            if step == "rollback point":
                detail = f"{result.rollback_copy} (TEMPLATE) + filestore hard links"
            table.add(step, "would", detail)
    else:
        for step in STEPS:
            detail = ""
            if step == "migrate" and result.migration_seconds is not None:
                detail = (f"exit {result.exit_code} in {result.migration_seconds} s, "
                          f"{result.warnings} warning(s)")
            elif step == "rollback point":
                detail = result.rollback_copy or ""
            table.add(step, "done" if step in result.steps_done else "-", detail)
        failure = result.failure.describe() if result.failure else ""
        if failure:
            table.add("failure", "FAIL", (f"step {result.failed_step}: " if result.failed_step
                                          else "") + failure)
        for check in result.checks:
            table.add(check.name, "ok" if check.ok else "FAIL",
                      check.detail + "".join(f"\n{p}" for p in check.problems[:10]))
        table.notes.extend(result.switched)
        table.notes.append(f"report: {result.report_dir}")
        table.notes.append("ROLLED BACK: the deployment is as it was" if result.rolled_back
                           else f"UPGRADED; rollback point kept: {result.rollback_copy}")
    table.data = result.to_json()
    if fmt == "markdown":
        from odoo_ops.upgrade.rehearse import to_markdown

        app.out(to_markdown(result))
    else:
        app.render(table, fmt)
    return 0 if result.ok or dry_run else 1


@command.command("rollback")
@deployment_options
@dry_run_option(help="Say what would be put back, change nothing.")
@wait_option
@pass_app
def rollback_cmd(app: App, dry_run: bool, wait: float) -> int:
    """Put back the rollback point of an `upgrade run` that was killed mid-way (the
    database, the filestore, odoo-ops.toml and odoo.conf), then maintenance off."""
    from odoo_ops.upgrade.run import rollback_interrupted

    doc = rollback_interrupted(app.target(), wait=wait, dry_run=dry_run)
    verb = "would put back" if dry_run else "put back"
    app.out(f"{verb} {doc.get('copy_name')} as {doc.get('database')} "
            f"(upgrade run {doc.get('run')})")
    return 0
