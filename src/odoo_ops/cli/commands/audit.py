"""``odoo-ops audit``: what the database really holds."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from odoo_ops.cli.common import App, deployment_options, format_option, pass_app

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.addons import AddonsScan
    from odoo_ops.audit.findings import AuditReport
    from odoo_ops.report.table import Table


def ci_option(func: Any) -> Any:
    return click.option("--ci", is_flag=True, help="Exit 1 when there is any finding.")(func)


def scan_for(target: Target) -> AddonsScan | None:
    """The addons of the deployment's addons path (None when it has none)."""
    return target.addons_scan() if target.addons_paths else None


def odoo_command_text(target: Target) -> str:
    return " ".join(target.deployment.odoo_command)


def findings_table(report: AuditReport, fmt: str) -> Table:
    from odoo_ops.report.table import Table

    title = (f"audit {report.audit}: {report.database or '?'} (Odoo {report.series or '?'}, "
             f"schema {report.schema_version})")  # fmt: skip
    if fmt == "table":
        table = Table(["severity", "kind", "finding"], title=title,
                      styles={"severity": "bold"})  # fmt: skip
        for f in report.findings:
            text = f"{f.subject}\n{f.problem}\nbreaks: {f.breaks}\nfix: {f.fix}"
            if f.fix_command:
                text += f"\n$ {f.fix_command}"
            if f.fix_sql:
                text += f"\nSQL: {f.fix_sql}"
            table.add(f.severity, f.kind, text)
    else:
        table = Table(["severity", "kind", "subject", "problem", "breaks", "fix",
                       "fix_command", "fix_sql"], title=title)  # fmt: skip
        for f in report.findings:
            table.add(f.severity, f.kind, f.subject, f.problem, f.breaks, f.fix,
                      f.fix_command, f.fix_sql)  # fmt: skip
    table.notes = list(report.notes)
    if fmt != "csv":
        table.notes.append(
            f"{len(report.findings)} finding(s)" if report.findings else "no findings"
        )
    table.data = report.to_dict()
    return table


def _json_default(value: Any) -> Any:
    from odoo_ops.report.table import to_jsonable

    if hasattr(value, "isoformat"):
        return value.isoformat()
    return to_jsonable(value) if not isinstance(value, type) else str(value)


def render(app: App, table: Table, fmt: str) -> None:
    """JSON straight from plain data (fast on thousands of rows); the rest via Table."""
    if fmt == "json" and table.data is not None:
        import json

        # indented on a terminal; compact (C encoder, much faster) when piped
        indent = 2 if app.is_tty else None
        app.out(json.dumps(table.data, indent=indent, ensure_ascii=False,
                           default=_json_default) + "\n")  # fmt: skip
    else:
        app.render(table, fmt)


def plain(obj: Any) -> dict[str, Any]:
    """A dataclass of plain values as a dict (no deep copy)."""
    return dict(obj.__dict__)


def finish(app: App, report: AuditReport, table: Table, fmt: str, ci: bool) -> int:
    render(app, table, fmt)
    return 1 if ci and report.findings else 0


@click.group("audit")
def command() -> None:
    """Audit the database: modules, version drift, broken records, crons, PostgreSQL.

    Every audit runs in a read-only transaction with a statement timeout.
    Exit code: 0 (1 with --ci when something is found), 2 usage/config error.
    """


@command.command("modules")
@deployment_options
@format_option()
@ci_option
@pass_app
def modules_cmd(app: App, fmt: str, ci: bool) -> int:
    """Modules on disk vs modules in the database, one row per module.

    Verdicts: ok, db-only (no code on disk; critical when installed), fs-only
    (unknown to the database: update the apps list), shadowed (two copies on
    the addons path), invalid (unreadable manifest), core (Odoo's own addons
    are not on the scanned path).
    """
    from odoo_ops.audit.modules import audit_modules
    from odoo_ops.report.table import Table

    target = app.target()
    result = audit_modules(target.database(), scan_for(target), series=target.series,
                           odoo_command=odoo_command_text(target))  # fmt: skip
    report = result.report
    table = Table(
        ["name", "disk_version", "db_version", "state", "verdict", "origin", "author",
         "license", "path"],
        title=f"modules: {report.database or '?'} (Odoo {report.series or '?'})",
    )  # fmt: skip
    for r in result.rows:
        verdict = r.verdict + (" (critical)" if r.critical else "")
        table.add(r.name, r.disk_version, r.db_version, r.state, verdict, r.origin, r.author,
                  r.license, r.path)  # fmt: skip
    table.notes = list(report.notes)
    if fmt != "csv":
        counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items()))
        table.notes.append(f"{len(result.rows)} module(s): {counts}")
        table.notes.extend(f"{f.severity}: {f.problem}" for f in report.findings)
    data = report.to_dict()
    data["modules"] = [plain(r) for r in result.rows]
    table.data = data
    return finish(app, report, table, fmt, ci)


@command.command("broken")
@deployment_options
@format_option()
@ci_option
@pass_app
def broken_cmd(app: App, fmt: str, ci: bool) -> int:
    """Records that break the web client or an update, with what to do.

    Pending or uninstallable modules, menus whose action or parent is gone,
    window actions on unknown models, external ids whose record is gone,
    client actions whose tag no JavaScript registers (KeyNotFoundError).
    """
    from odoo_ops.audit.broken import BrokenOptions, audit_broken

    target = app.target()
    report = audit_broken(target.database(), scan_for(target), series=target.series,
                          options=BrokenOptions(odoo_command=odoo_command_text(target)))
    return finish(app, report, findings_table(report, fmt), fmt, ci)


@command.command("drift")
@deployment_options
@format_option()
@ci_option
@pass_app
def drift_cmd(app: App, fmt: str, ci: bool) -> int:
    """Code on disk vs database versions (the "Upgrade" badge), and stuck modules.

    Versions are normalised to the series first (1.0 on 18.0 is 18.0.1.0).
    Status: same, needs-update (code newer: run -u), downgrade (code older:
    dangerous), pending (stuck in to install/upgrade/remove), no-code.
    """
    from odoo_ops.audit.drift import audit_drift
    from odoo_ops.report.table import Table

    target = app.target()
    result = audit_drift(target.database(), scan_for(target), series=target.series,
                         odoo_command=odoo_command_text(target))  # fmt: skip
    report = result.report
    if fmt in ("csv",):
        table = Table(["name", "state", "db_version", "disk_version", "status"])
        for r in result.rows:
            table.add(r.name, r.state, r.db_version, r.disk_version, r.status)
    else:
        table = findings_table(report, fmt)
        counts = ", ".join(f"{k} {v}" for k, v in sorted(report.counts.items()))
        table.notes.append(f"{len(result.rows)} installed or pending module(s): {counts}")
    data = report.to_dict()
    data["modules"] = [plain(r) for r in result.rows]
    table.data = data
    return finish(app, report, table, fmt, ci)


@command.command("crons")
@deployment_options
@format_option()
@ci_option
@pass_app
def crons_cmd(app: App, fmt: str, ci: bool) -> int:
    """Scheduled actions: active/inactive, overdue, broken, left over by modules.

    Overdue means nextcall is more than one interval in the past.
    """
    from odoo_ops.audit.crons import audit_crons
    from odoo_ops.report.table import Table

    target = app.target()
    result = audit_crons(target.database(), series=target.series)
    report = result.report
    table = Table(["id", "name", "model", "active", "interval", "nextcall", "module",
                   "status"], title=f"crons: {report.database or '?'}")  # fmt: skip
    for r in result.rows:
        nextcall = f"{r.nextcall:%Y-%m-%d %H:%M}" if r.nextcall else None
        status = r.status + (f" ({r.overdue_by})" if r.overdue_by else "")
        table.add(r.id, r.name, r.model, r.active, r.interval, nextcall, r.module, status)
    table.notes = list(report.notes)
    if fmt != "csv":
        table.notes.extend(f"{f.severity}: {f.subject}: {f.problem} -- fix: {f.fix}"
                           for f in report.findings)  # fmt: skip
        table.notes.append(f"{len(report.findings)} finding(s)" if report.findings
                           else "no findings")  # fmt: skip
    data = report.to_dict()
    data["now_utc"] = result.now
    data["crons"] = [plain(r) for r in result.rows]
    table.data = data
    return finish(app, report, table, fmt, ci)


@command.command("database")
@deployment_options
@format_option()
@ci_option
@pass_app
def database_cmd(app: App, fmt: str, ci: bool) -> int:
    """PostgreSQL health: size, biggest tables, dead tuples, unused indexes, sessions.

    Also connections vs max_connections and pg_stat_statements top queries
    when the extension is installed in the database.
    """
    from odoo_ops.audit.postgres import audit_database
    from odoo_ops.report.table import Table

    target = app.target()
    result = audit_database(target.database(), series=target.series)
    report = result.report
    mb = 1024 * 1024
    table = Table(["table", "size_mb", "live", "dead", "last_vacuum", "last_autovacuum"],
                  title=f"database {report.database or '?'}: {result.size_bytes / mb:.1f} MB, "
                  f"connections {result.connections}/{result.max_connections}")  # fmt: skip
    for t in result.tables:
        table.add(t.table, round(t.total_bytes / mb, 1), t.live_tuples, t.dead_tuples,
                  t.last_vacuum, t.last_autovacuum)  # fmt: skip
    table.notes = list(report.notes)
    if fmt != "csv":
        for st in result.statements or []:
            table.notes.append(f"top query: {st['calls']} calls, {st['total_ms']} ms: "
                               f"{' '.join(str(st['query']).split())[:100]}")  # fmt: skip
        table.notes.extend(f"{f.severity}: {f.subject}: {f.problem} -- fix: {f.fix_sql or f.fix}"
                           for f in report.findings)  # fmt: skip
        table.notes.append(f"{len(report.findings)} finding(s)" if report.findings
                           else "no findings")  # fmt: skip
    data = report.to_dict()
    data.update({
        "size_bytes": result.size_bytes, "connections": result.connections,
        "database_connections": result.database_connections,
        "max_connections": result.max_connections,
        "tables": [plain(t) for t in result.tables],
        "unused_indexes": [plain(i) for i in result.unused_indexes],
        "sessions": [plain(s) for s in result.sessions],
        "statements": result.statements,
    })  # fmt: skip
    table.data = data
    return finish(app, report, table, fmt, ci)
