"""``modules-states``: no module is left half-way, none needs an upgrade it did not get.

Odoo marks modules ``to install``, ``to upgrade`` or ``to remove`` when an
operation is scheduled (the Apps buttons, an interrupted ``-i``/``-u``) and
processes them at the next start that updates modules. Left over, they make
the next restart do work nobody planned. When the addons path is readable
here, installed modules are also compared with their manifests: a newer
version on disk than ``latest_version`` is what the Apps page shows as
"Upgrade"; a manifest that is not installable for the series makes Odoo skip
a module the database says is installed.
"""

from __future__ import annotations

import shlex

from odoo_ops.checks.base import Need, Outcome, Severity, check, failed, passed, warned
from odoo_ops.checks.context import CheckContext

PENDING = ("to install", "to upgrade", "to remove")
MAX_NAMES = 15


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_NAMES])
    return shown + (f" … (+{len(names) - MAX_NAMES})" if len(names) > MAX_NAMES else "")


def _odoo_command(ctx: CheckContext, modules: list[str]) -> str:
    """The exact host command that processes the pending states (``-u``)."""
    try:
        argv = ctx.target.odoo().update(modules)
        return shlex.join(ctx.runner.wrap(argv))
    except Exception:
        return f"odoo -c odoo.conf -d DB -u {','.join(modules)} --stop-after-init"


def _disk_findings(
    ctx: CheckContext, states: dict[str, tuple[str, str | None]]
) -> tuple[list[str], list[str], str | None]:
    """(newer on disk, not installable on disk, why no comparison) for installed modules."""
    series = ctx.series
    if not series:
        return [], [], "no series configured: manifest versions not compared"
    try:
        scan = ctx.addons_scan()
    except Exception as exc:  # Unavailable, or an unreadable path
        return [], [], f"addons not compared: {exc}"
    from odoo_ops.addons.versions import normalize_version, parse_version, version_problem

    newer: list[str] = []
    broken: list[str] = []
    for name, (state, latest) in sorted(states.items()):
        if state != "installed":
            continue
        addon = scan.get(name)
        if addon is None:
            continue
        problem = version_problem(addon.version, series)
        if not addon.installable or problem:
            why = problem or "installable: False"
            broken.append(f"{name} ({why}; {addon.manifest_path})")
            continue
        on_disk = normalize_version(addon.version, series)
        if latest and parse_version(on_disk) > parse_version(latest):
            newer.append(f"{name} {latest} -> {on_disk}")
    return newer, broken, None


@check(
    "modules-states",
    area="modules",
    title="No module pending install/upgrade/removal or needing an upgrade",
    severity=Severity.ERROR,
    needs=[Need.DATABASE, Need.FILES],
)
def modules_states(ctx: CheckContext) -> Outcome:
    states = ctx.module_states()  # Unavailable (-> skip) when not initialised
    pending: dict[str, list[str]] = {s: [] for s in PENDING}
    for name, (state, _version) in sorted(states.items()):
        if state in pending:
            pending[state].append(name)
    newer, broken, note = _disk_findings(ctx, states)
    evidence: list[str] = []
    problems: list[str] = []
    for state, names in pending.items():
        if names:
            problems.append(f"{len(names)} {state}: {_names(names)}")
            evidence += [f"{state}: {n}" for n in names]
    evidence += [f"not installable on disk: {b}" for b in broken]
    evidence += [f"newer on disk: {n}" for n in newer]
    if note:
        evidence.append(note)
    installed = sum(1 for s, _ in states.values() if s == "installed")
    if broken:
        problems.append(
            f"{len(broken)} installed but not installable on disk "
            f"(Odoo skips them): {_names([b.split(' ', 1)[0] for b in broken])}"
        )
    if problems:
        targets = pending["to upgrade"] or ["base"]
        fix = (
            f"finish the scheduled operations with `{_odoo_command(ctx, targets)}` (a start "
            "with -u processes every to install/to upgrade/to remove), or cancel them from "
            "Apps (Cancel Install/Upgrade/Uninstall)"
        )
        if broken:
            fix += "; fix the manifests (installable, version for the series) or uninstall them"
        return failed("; ".join(problems), fix, evidence)
    if newer:
        names = [n.split(" ", 1)[0] for n in newer]
        return warned(
            f"{len(newer)} installed module(s) have a newer version on disk than in the "
            f"database (Apps shows 'Upgrade'): {_names(names)}",
            f"update them as part of the deploy: `{_odoo_command(ctx, names)}`",
            evidence,
        )
    return passed(f"{installed} modules installed, none pending", evidence)
