"""``odoo-ops check --compare A B``: rendering of :mod:`odoo_ops.compare`."""

from __future__ import annotations

from odoo_ops.cli.common import App
from odoo_ops.errors import UsageError


def run_compare(app: App, names: tuple[str, str], fmt: str) -> int:
    """Compare deployments A and B; exit 0 when identical, 1 when they differ."""
    from odoo_ops.audit.compare import compare_deployments
    from odoo_ops.report.table import Table, to_jsonable

    a_name, b_name = names
    if a_name == b_name:
        raise UsageError(f"--compare needs two different deployments (got {a_name} twice)")
    if fmt == "junit":
        raise UsageError("--compare prints table, markdown or json")
    for key, option in (("database", "--database"), ("odoo_conf", "--odoo-conf")):
        if app.options.get(key):
            raise UsageError(f"{option} names one deployment's: not with --compare")
    targets = []
    for name in (a_name, b_name):
        one = App(verbose=app.verbose, quiet=app.quiet, color=app.color,
                  options={**app.options, "deployment": name})  # fmt: skip
        targets.append(one.target())
    result = compare_deployments(targets[0], targets[1])
    verdict = "identical" if result.identical else f"{len(result.differences)} differences"
    table = Table(
        ["what", "name", a_name, b_name, f"promoting {a_name} to {b_name}"],
        title=f"{a_name} -> {b_name}: {verdict} ({', '.join(result.compared)})",
    )
    for d in result.differences:
        table.add(d.kind, d.name, d.a if d.a is not None else "-",
                  d.b if d.b is not None else "-", d.change)  # fmt: skip
    table.notes.extend(result.notes)
    table.data = {**to_jsonable(result), "identical": result.identical}
    app.render(table, fmt)
    return 0 if result.identical else 1
