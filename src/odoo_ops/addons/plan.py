"""Install plans: which addons to install, in which order, in which waves.

``plan_install`` takes the dependency closure of the requested addons and groups
it into *waves*: wave 0 holds the addons whose dependencies are all installed
(or that have none), wave k the addons whose pending dependencies are all in
waves before k. Each wave can be installed with one ``odoo -i a,b,c`` call and
the number of waves is the smallest possible (the longest dependency chain).

Odoo installs some addons by itself: an addon with ``auto_install`` is installed
as soon as all its trigger dependencies are installed and one of them is being
installed. The plan lists those separately, with the wave that makes them
eligible and the other addons they pull in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from odoo_ops.addons import findings as F
from odoo_ops.addons.core import core_addons, is_oca
from odoo_ops.addons.findings import Finding, sort_findings
from odoo_ops.addons.graph import closure, find_cycles
from odoo_ops.addons.scan import AddonsScan
from odoo_ops.addons.versions import check_series, version_problem

#: ``PlannedAddon.status`` values.
PLANNED = "planned"
INSTALLED = "installed"
MISSING = "missing"
INVALID = "invalid"
BLOCKED = "blocked"


@dataclass(frozen=True, slots=True)
class PlannedAddon:
    """One addon of the closure and what the plan does with it.

    ``status``: ``planned`` (in wave ``wave``), ``installed`` (already in the
    database: skipped), ``missing`` (nowhere to be found), ``invalid`` (its
    manifest cannot be read) or ``blocked`` (on or above a dependency cycle).
    ``core`` addons not on the addons path have unknown dependencies and are
    leaves. ``needed_by`` lists the addons of the closure that depend on it.
    """

    name: str
    status: str
    wave: int | None = None
    core: bool = False
    origin: str = "custom"
    requested: bool = False
    on_path: bool = False
    version: str | None = None
    path: Path | None = None
    depends: tuple[str, ...] = ()
    needed_by: tuple[str, ...] = ()
    in_database: bool | None = None


@dataclass(frozen=True, slots=True)
class Wave:
    """Addons that one ``odoo -i`` call can install (sorted)."""

    index: int
    addons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AutoInstall:
    """An addon Odoo will install by itself during wave ``wave``.

    ``triggers`` are the dependencies that make it eligible; ``also_installs``
    the other addons its installation pulls in (dependencies not otherwise
    planned or installed).
    """

    name: str
    wave: int
    triggers: tuple[str, ...]
    also_installs: tuple[str, ...] = ()


@dataclass
class InstallPlan:
    """The result of :func:`plan_install`."""

    series: str
    requested: tuple[str, ...]
    waves: list[Wave] = field(default_factory=list)
    addons: dict[str, PlannedAddon] = field(default_factory=dict)
    installed: tuple[str, ...] = ()
    auto_installed: list[AutoInstall] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no finding is an error (the plan can be carried out)."""
        return not any(f.is_error for f in self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    @property
    def order(self) -> list[str]:
        """All planned addons, wave after wave."""
        return [name for wave in self.waves for name in wave.addons]

    @property
    def missing(self) -> list[str]:
        return sorted(n for n, a in self.addons.items() if a.status == MISSING)

    @property
    def core(self) -> list[str]:
        return sorted(n for n, a in self.addons.items() if a.core)

    def install_arguments(self) -> list[str]:
        """One ``-i`` argument per wave: ``["base,web", "sale"]``."""
        return [",".join(w.addons) for w in self.waves]


def _dedupe(names: Iterable[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for raw in names:
        name = raw.strip()
        if name and name not in seen:
            seen.add(name)
            out.append(name)
    return out


def _levels(nodes: set[str], deps_of: Mapping[str, Sequence[str]]) -> dict[str, int] | None:
    """Longest-path level of each node (iterative); ``None`` when there is a cycle."""
    level: dict[str, int] = {}
    on_path: set[str] = set()
    for start in sorted(nodes):
        if start in level:
            continue
        stack = [(start, False)]
        while stack:
            node, done = stack.pop()
            if done:
                on_path.discard(node)
                dep_levels = [level[d] for d in deps_of.get(node, ()) if d in nodes]
                level[node] = 1 + max(dep_levels) if dep_levels else 0
                continue
            if node in level:
                continue
            if node in on_path:
                return None  # reached again before it was finished: a cycle
            on_path.add(node)
            stack.append((node, True))
            stack.extend((d, False) for d in deps_of.get(node, ()) if d in nodes and d not in level)
    return level


def plan_install(
    scan: AddonsScan,
    requested: Iterable[str],
    series: str,
    *,
    installed: Collection[str] = (),
    available_in_db: Collection[str] | None = None,
) -> InstallPlan:
    """Plan the installation of ``requested`` addons (see the module docstring).

    ``installed`` names the addons already installed in the database (skipped);
    ``available_in_db`` the addons the database knows (``ir_module_module``),
    when known. Problems are findings of the plan, never exceptions: an unknown
    requested addon is an ``addons-unknown`` error, a cycle an ``addons-cycle``
    error, and so on.
    """
    series = check_series(series)
    core = core_addons(series)
    installed_set = frozenset(installed)
    invalid = {i.name: i for i in scan.invalid}
    wanted = _dedupe(requested)
    plan = InstallPlan(series=series, requested=tuple(wanted))
    found: list[Finding] = []

    roots = []
    for name in wanted:
        if name in scan.addons or name in core or name in invalid or name in installed_set:
            roots.append(name)
        else:
            found.append(
                Finding(
                    F.UNKNOWN_ADDON, F.ERROR,
                    f"unknown addon {name}: not on the addons path and not an Odoo {series} "
                    "core addon",
                    addon=name,
                    hint="check the name and the addons path",
                )
            )  # fmt: skip

    graph = {n: a.depends for n, a in scan.addons.items()}
    members = closure(graph, roots)
    needed_by: dict[str, list[str]] = {}
    for name in members:
        for dep in graph.get(name, ()):
            needed_by.setdefault(dep, []).append(name)

    statuses: dict[str, str] = {}
    for name in members:
        if name in installed_set:
            statuses[name] = INSTALLED
        elif name in scan.addons or (name in core and name not in invalid):
            statuses[name] = PLANNED
        elif name in invalid:
            statuses[name] = INVALID
        else:
            statuses[name] = MISSING

    planned = {n for n, s in statuses.items() if s == PLANNED}
    levels = _levels(planned, graph)
    if levels is None:  # only then look for the cycles, to report and block them
        _block_cycles(planned, graph, statuses, found)
        planned = {n for n, st in statuses.items() if st == PLANNED}
        levels = _levels(planned, graph) or {}
    by_wave: dict[int, list[str]] = {}
    for name, lvl in levels.items():
        by_wave.setdefault(lvl, []).append(name)
    plan.waves = [Wave(i, tuple(sorted(by_wave[i]))) for i in sorted(by_wave)]

    db_known = frozenset(available_in_db) if available_in_db is not None else None
    requested_set = set(wanted)
    for name in sorted(members):
        addon = scan.addons.get(name)
        status = statuses[name]
        is_core = name in core
        plan.addons[name] = PlannedAddon(
            name=name,
            status=status,
            wave=levels.get(name),
            core=is_core,
            origin="core"
            if is_core
            else ("oca" if is_oca(addon) else "custom")
            if addon
            else "unknown",
            requested=name in requested_set,
            on_path=addon is not None,
            version=addon.version if addon else None,
            path=addon.path if addon else (invalid[name].path if name in invalid else None),
            depends=addon.depends if addon else (),
            needed_by=tuple(sorted(needed_by.get(name, ()))),
            in_database=(name in db_known) if db_known is not None else None,
        )
        found.extend(_addon_findings(plan.addons[name], scan, series))
    plan.installed = tuple(sorted(n for n, s in statuses.items() if s == INSTALLED))

    if db_known is not None:
        unknown_to_db = sorted(n for n in plan.order if n not in db_known)
        if unknown_to_db:
            found.append(
                Finding(
                    F.NOT_IN_DATABASE, F.INFO,
                    f"{len(unknown_to_db)} planned addon(s) are not in the database's module "
                    "list yet; Odoo updates the list when it installs",
                    data={"addons": unknown_to_db},
                )
            )  # fmt: skip

    plan.auto_installed = _auto_installs(scan, series, plan, levels, installed_set)
    plan.findings = sort_findings(found)
    return plan


def _block_cycles(
    planned: set[str],
    graph: Mapping[str, Sequence[str]],
    statuses: dict[str, str],
    found: list[Finding],
) -> None:
    """Report the cycles among ``planned`` and mark them and what sits on them blocked."""
    sub = {n: graph.get(n, ()) for n in planned}
    on_cycle: set[str] = set()
    for cycle in find_cycles(sub):
        on_cycle.update(cycle)
        found.append(
            Finding(
                F.CYCLE, F.ERROR,
                "dependency cycle: " + " -> ".join((*cycle, cycle[0])),
                addon=cycle[0],
                data={"cycle": list(cycle)},
            )
        )  # fmt: skip
    rev: dict[str, list[str]] = {}
    for node, deps in sub.items():
        for dep in deps:
            rev.setdefault(dep, []).append(node)
    blocked = closure(rev, on_cycle)
    for name in blocked:
        statuses[name] = BLOCKED
    found.append(
        Finding(
            F.BLOCKED, F.ERROR,
            f"{len(blocked)} addon(s) cannot be ordered because of dependency cycles",
            data={"addons": sorted(blocked)},
        )
    )  # fmt: skip


def _addon_findings(item: PlannedAddon, scan: AddonsScan, series: str) -> list[Finding]:
    out: list[Finding] = []
    who = ", ".join(item.needed_by) if item.needed_by else "requested"
    if item.status == MISSING:
        out.append(
            Finding(
                F.MISSING_DEPENDS, F.ERROR,
                f"{item.name} is needed by {who} but is not on the addons path",
                addon=item.name,
                hint="add the directory that holds it to the addons path",
                data={"dependency": item.name, "needed_by": list(item.needed_by)},
            )
        )  # fmt: skip
    elif item.status == INVALID:
        bad = next(i for i in scan.invalid if i.name == item.name)
        out.append(
            Finding(
                F.INVALID_DEPENDS if item.needed_by else F.INVALID_MANIFEST, F.ERROR,
                f"{item.name} ({who}) has an invalid manifest: {bad.error}",
                addon=item.name,
                path=str(bad.path),
                hint=bad.hint,
                data={"needed_by": list(item.needed_by)},
            )
        )  # fmt: skip
    elif item.status == PLANNED and item.on_path:
        addon = scan.addons[item.name]
        if not addon.installable:
            out.append(
                Finding(
                    F.NOT_INSTALLABLE, F.ERROR,
                    f"{item.name} ({who}) is marked installable: False",
                    addon=item.name,
                    path=str(addon.manifest_path),
                )
            )  # fmt: skip
        problem = version_problem(addon.version, series)
        if problem:
            code = F.VERSION_INVALID if problem.startswith("invalid") else F.VERSION_SERIES
            out.append(
                Finding(
                    code, F.ERROR,
                    f"{item.name}: {problem}; Odoo {series} will not install it",
                    addon=item.name,
                    path=str(addon.manifest_path),
                )
            )  # fmt: skip
    return out


def _auto_installs(
    scan: AddonsScan,
    series: str,
    plan: InstallPlan,
    levels: dict[str, int],
    installed: frozenset[str],
) -> list[AutoInstall]:
    """The addons Odoo will auto-install during the plan (fix point)."""
    graph = {n: a.depends for n, a in scan.addons.items()}
    # wave after which an addon is installed; -1: installed before the plan
    ready: dict[str, int] = {n: -1 for n in installed}
    ready.update(levels)
    base_wave = levels.get("base")
    candidates = sorted(
        a.name
        for a in scan.addons.values()
        if a.auto_install is not False
        and a.name not in ready
        and a.installable
        and version_problem(a.version, series) is None
    )
    out: list[AutoInstall] = []
    changed = True
    while changed:
        changed = False
        for name in candidates:
            if name in ready:
                continue
            addon = scan.addons[name]
            triggers = addon.auto_install_triggers or frozenset()
            if not triggers:
                if base_wave is None:
                    continue  # installed with base, on a new database only
                wave = base_wave
            else:
                if not all(t in ready for t in triggers):
                    continue
                wave = max(ready[t] for t in triggers)
                if wave < 0:
                    continue  # nothing this plan installs triggers it
            pulled = sorted(d for d in closure(graph, addon.depends) if d not in ready)
            for dep in pulled:
                ready[dep] = wave
            ready[name] = wave
            out.append(AutoInstall(name, wave, tuple(sorted(triggers)), tuple(pulled)))
            changed = True
    out.sort(key=lambda a: (a.wave, a.name))
    return out
