"""``upgrade plan``: what happens to every installed module in a major upgrade.

For each module installed in the deployment's database (``ir_module_module``)
the plan says one of:

``blocked``
    nothing on the target can take it over: a custom or OCA module with no
    target version on ``[upgrade] target_addons_paths`` (it must be ported;
    its size in lines says how much), a target version of the wrong series,
    a core module the target no longer has, or a rename/merge whose new module
    is not on the target path;
``renamed`` / ``merged``
    OpenUpgrade's ``apriori.py`` moves it to another module, which the
    target has;
``openupgrade``
    a core module with OpenUpgrade migration scripts for the target series;
``core``
    a core module without scripts (nothing to migrate, or not covered:
    OpenUpgrade's coverage list says which);
``available``
    an OCA or third-party module whose target-series version is on the target
    addons path (its own ``migrations/`` run with ``-u all``).

Blocked modules come first; the plan blocks when any module is blocked.
"""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.errors import ConfigError, OpsError, UsageError
from odoo_ops.upgrade.openupgrade import SCRIPTS_DIST, ScriptsIndex, choose_wheel, read_scripts
from odoo_ops.upgrade.steps import Step, resolve_steps

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.addons import AddonsScan
    from odoo_ops.addons.manifest import Addon
    from odoo_ops.config.schema import Upgrade
    from odoo_ops.upgrade.registry import Answer, Registry

BLOCKED = "blocked"
RENAMED = "renamed"
MERGED = "merged"
OPENUPGRADE = "openupgrade"
CORE = "core"
AVAILABLE = "available"
ORDER = (BLOCKED, RENAMED, MERGED, OPENUPGRADE, CORE, AVAILABLE)

#: Files counted in a module's size (what a port has to read and change).
CODE_SUFFIXES = frozenset({".py", ".xml", ".js", ".ts", ".scss", ".css", ".less", ".csv",
                           ".html", ".sql", ".yml", ".yaml"})
_SKIP_DIRS = frozenset({"i18n", "i18n_extra", "lib", "__pycache__", "node_modules"})
_MAX_COUNTED_BYTES = 20 << 20
OCA_AUTHOR = "odoo community association"


@dataclass(frozen=True)
class ModulePlan:
    name: str
    fate: str  # one of ORDER
    origin: str  # core | oca | custom | third-party | unknown
    source_version: str | None
    target_name: str | None
    target_version: str | None
    detail: str
    lines: int | None = None
    scripts: tuple[str, ...] = ()
    step: str | None = None  # the series this step migrates to
    wheel: str | None = None  # odoo-addon-NAME==VERSION on the index (OCA, off the path)

    @property
    def blocker(self) -> bool:
        return self.fate == BLOCKED


@dataclass
class UpgradePlan:
    database: str | None
    source_series: str
    target_series: str
    openupgrade_scripts: str | None  # the wheel's version
    modules: list[ModulePlan] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    steps: list[UpgradePlan] = field(default_factory=list)  # one per major version

    @property
    def blockers(self) -> list[ModulePlan]:
        return [m for m in self.modules if m.blocker]

    @property
    def exit_code(self) -> int:
        return 1 if self.blockers else 0

    def counts(self) -> dict[str, int]:
        out = {fate: 0 for fate in ORDER}
        for m in self.modules:
            out[m.fate] += 1
        return out


def series_of(version: str | None) -> str | None:
    """``17.0`` from ``17.0.1.3`` (None when the version has no series prefix)."""
    if not version:
        return None
    parts = version.split(".")
    if len(parts) >= 4 and parts[0].isdigit() and parts[1].isdigit():
        return f"{parts[0]}.{parts[1]}"
    return None


def full_version(version: str | None, series: str) -> str:
    """A manifest version as Odoo stores it: the series prefixed when it is missing
    (``1.3`` -> ``18.0.1.3``; no version -> ``18.0.1.0``)."""
    if not version:
        return f"{series}.1.0"
    return version if series_of(version) else f"{series}.{version}"


def next_series(series: str) -> str:
    major = int(series.split(".")[0])
    return f"{major + 1}.0"


def check_target_series(source: str, to: str) -> None:
    """One major version at a time (OpenUpgrade migrates N-1 to N)."""
    try:
        src_major, to_major = int(source.split(".")[0]), int(to.split(".")[0])
    except ValueError:
        raise UsageError(f"--to {to!r}: not an Odoo series", hint="e.g. --to 18.0") from None
    if to_major <= src_major:
        raise UsageError(f"the database is at {source}: --to {to} is not an upgrade")
    if to_major != src_major + 1:
        raise UsageError(
            f"{source} -> {to} is {to_major - src_major} major versions: OpenUpgrade "
            "migrates one at a time",
            hint=f"plan and rehearse {source} -> {next_series(source)} first")


def code_lines(directory: Path) -> int:
    """Lines of code and data of an addon (translations and vendored libs left out)."""
    total = 0
    for root, dirs, files in os.walk(directory, followlinks=False):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
        for name in files:
            path = Path(root, name)
            if path.suffix.lower() not in CODE_SUFFIXES or path.is_symlink():
                continue
            try:
                if path.stat().st_size > _MAX_COUNTED_BYTES:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            total += data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    return total


def core_dirs(scan: AddonsScan) -> set[Path]:
    """The addons directories of an Odoo source tree among the scanned entries:
    ``odoo/addons`` (it holds ``base``) and the tree's top-level ``addons/``."""
    out: set[Path] = set()
    for entry in scan.entries:
        path = entry.path
        if (path / "base" / "__manifest__.py").is_file() or (
            path.name == "addons"
            and (path.parent / "odoo" / "addons" / "base" / "__manifest__.py").is_file()
        ):
            out.add(path.resolve())
    return out


def origin_of(addon: Addon | None, cores: set[Path]) -> str:
    if addon is None:
        return "unknown"
    if addon.path.parent.resolve() in cores:
        return "core"
    if OCA_AUTHOR in (addon.author or "").lower():
        return "oca"
    return "custom"


def upgrade_settings(target: Target) -> Upgrade:
    return target.project.config.upgrade


_SCANS: weakref.WeakKeyDictionary[Any, tuple[tuple[str, ...], AddonsScan]] = (
    weakref.WeakKeyDictionary())


def target_scan(target: Target, cfg: Upgrade) -> AddonsScan:
    """The addons on ``target_addons_paths`` (scanned once per target and paths)."""
    key = tuple(cfg.target_addons_paths)
    cached = _SCANS.get(target)
    if cached is not None and cached[0] == key:
        return cached[1]
    scan = _scan_target(target, cfg)
    _SCANS[target] = (key, scan)
    return scan


def _scan_target(target: Target, cfg: Upgrade) -> AddonsScan:
    from odoo_ops.addons import scan_addons_path
    from odoo_ops.addons.cache import user_cache_dir

    if not cfg.target_addons_paths:
        raise ConfigError("[upgrade] target_addons_paths is not set",
                          hint="list the target Odoo's addons directories (core, OCA, "
                               "ported custom addons) in odoo-ops.toml")
    paths = [target.project.path(p) for p in cfg.target_addons_paths]
    missing = [str(p) for p in paths if not p.is_dir()]
    if missing:
        raise ConfigError(f"[upgrade] target_addons_paths: not a directory: {missing[0]}")
    return scan_addons_path(paths, base_dir=target.root, cache_dir=user_cache_dir())


def wheel_dirs(target: Target, cfg: Upgrade) -> list[Path]:
    return [target.project.path(p) for p in cfg.openupgrade_wheels]


def scripts_index(target: Target, cfg: Upgrade, series: str) -> ScriptsIndex:
    if not cfg.openupgrade_wheels:
        raise ConfigError("[upgrade] openupgrade_wheels is not set",
                          hint="the directory holding odoo_addon_openupgrade_scripts-"
                               f"{series}.*.whl (pip download --no-deps "
                               "odoo-addon-openupgrade_scripts==VERSION -d DIR)")
    wheel = choose_wheel(wheel_dirs(target, cfg), SCRIPTS_DIST, series, cfg.openupgrade)
    if wheel.series != series:
        raise ConfigError(f"[upgrade] openupgrade = {cfg.openupgrade!r} is for {wheel.series}, "
                          f"not {series}")
    return read_scripts(wheel)


def read_installed(target: Target) -> tuple[str | None, dict[str, str | None]]:
    """(database name, {installed module: its installed version})."""
    from odoo_ops.modules.db import INSTALLED_STATES

    db = target.database()
    try:
        with db.read_only() as cur:
            cur.execute("SELECT to_regclass('ir_module_module') IS NOT NULL")
            row = cur.fetchone()
            if not row or not row[0]:
                raise OpsError(f"{db.name}: not an Odoo database (no ir_module_module)")
            cur.execute("SELECT name, latest_version FROM ir_module_module"
                        " WHERE state = ANY(%s) ORDER BY name", (list(INSTALLED_STATES),))
            rows: list[Any] = cur.fetchall()
    except OpsError:
        raise
    return db.name, {str(name): version for name, version in rows}


def classify(
    installed: dict[str, str | None], *, target_series: str, source: AddonsScan,
    target_addons: AddonsScan, index: ScriptsIndex, registry: Registry | None = None,
) -> list[ModulePlan]:
    src_cores, dst_cores = core_dirs(source), core_dirs(target_addons)
    out: list[ModulePlan] = []
    answers = _ask_registry(installed, source, src_cores, target_addons, index,
                            target_series, registry)
    for name, version in sorted(installed.items()):
        src_addon = source.get(name)
        origin = origin_of(src_addon, src_cores)
        dst_addon = target_addons.get(name)
        if name in index.renamed or name in index.merged:
            fate = RENAMED if name in index.renamed else MERGED
            new = index.renamed.get(name) or index.merged[name]
            new_addon = target_addons.get(new)
            if new_addon is None:
                out.append(ModulePlan(
                    name, BLOCKED, origin, version, new, None,
                    f"{fate} into {new} by OpenUpgrade, but {new} is not on the target "
                    "addons path"))
            else:
                out.append(ModulePlan(
                    name, fate, origin, version, new,
                    full_version(new_addon.version, target_series),
                    f"{fate} into {new} (OpenUpgrade apriori.py)",
                    scripts=index.versions_for(new, target_series)))
            continue
        if dst_addon is not None and dst_addon.path.parent.resolve() in dst_cores:
            scripts = index.versions_for(name, target_series)
            if scripts:
                out.append(ModulePlan(name, OPENUPGRADE, "core", version, name,
                                      full_version(dst_addon.version, target_series),
                                      f"OpenUpgrade scripts {', '.join(scripts)}",
                                      scripts=scripts))
            else:
                out.append(ModulePlan(name, CORE, "core", version, name,
                                      full_version(dst_addon.version, target_series),
                                      "core module without OpenUpgrade scripts (nothing to "
                                      "migrate, or not covered)"))
            continue
        if dst_addon is not None:
            dst_series = series_of(dst_addon.version)
            if dst_series not in (None, target_series):
                out.append(ModulePlan(
                    name, BLOCKED, origin, version, name, dst_addon.version,
                    f"the target addons path holds its {dst_series} version "
                    f"({dst_addon.path}), not {target_series}",
                    lines=code_lines(src_addon.path) if src_addon else None))
                continue
            if not dst_addon.installable:
                out.append(ModulePlan(
                    name, BLOCKED, origin, version, name, dst_addon.version,
                    f"its target version is not installable ({dst_addon.manifest_path})"))
                continue
            dst_origin = origin_of(dst_addon, dst_cores)
            out.append(ModulePlan(
                name, AVAILABLE, origin if origin != "unknown" else dst_origin, version, name,
                full_version(dst_addon.version, target_series),
                f"{target_series} version at {dst_addon.path}"))
            continue
        lines = code_lines(src_addon.path) if src_addon else None
        if origin == "core":
            why = f"core module not in the target Odoo {target_series} and not renamed/merged"
        elif origin == "oca":
            answer = answers.get(name)
            if answer is not None and answer.status == "yes":
                out.append(ModulePlan(
                    name, AVAILABLE, origin, version, name, answer.version,
                    f"not on the target addons path, but {answer.project}=={answer.version} "
                    "is on the package index: pip install it (or add its repository)",
                    wheel=f"{answer.project}=={answer.version}"))
                continue
            why = (f"OCA module with no {target_series} version on the target addons path "
                   "(not migrated yet, or its repository is missing)")
            if answer is not None:
                why += (f"; package index: no {answer.project} for {target_series}"
                        if answer.status == "no" else
                        f"; package index: unknown ({answer.detail})")
        elif origin == "custom":
            why = f"custom module with no {target_series} version: it must be ported"
        else:
            why = ("installed in the database but on neither the deployment's nor the "
                   "target's addons path")
        out.append(ModulePlan(name, BLOCKED, origin, version, None, None, why, lines=lines))
    out.sort(key=lambda m: (ORDER.index(m.fate), m.name))
    return out


def source_and_target(installed: dict[str, str | None], target: Target,
                      to: str | None) -> tuple[str, str]:
    """(the database's series, the target series: ``to`` or the default one)."""
    source_series, steps = source_and_steps(installed, target, to)
    return source_series, steps[-1].to


def source_and_steps(installed: dict[str, str | None], target: Target,
                     to: str | None) -> tuple[str, list[Step]]:
    """(the database's series, the steps to ``to``: :func:`resolve_steps`)."""
    source_series = series_of(installed.get("base")) or target.series
    if not source_series:
        raise OpsError("cannot tell the database's series (no base version)",
                       hint="set series in the deployment")
    return source_series, resolve_steps(upgrade_settings(target), source_series, to)


def _ask_registry(installed: dict[str, str | None], source: AddonsScan, src_cores: set[Path],
                  target_addons: AddonsScan, index: ScriptsIndex, series: str,
                  registry: Registry | None) -> dict[str, Answer]:
    """Ask the index about the OCA modules that the target path lacks (one batch)."""
    if registry is None:
        return {}
    ask = [n for n in installed
           if n not in index.renamed and n not in index.merged
           and target_addons.get(n) is None and origin_of(source.get(n), src_cores) == "oca"]
    return registry.lookup(ask, series) if ask else {}


def after_step(installed: dict[str, str | None], modules: list[ModulePlan],
               step: Step) -> dict[str, str | None]:
    """What is installed after ``step``: renames and merges followed, the step's
    uninstall list removed, its install list added (blocked modules kept)."""
    out: dict[str, str | None] = {}
    for m in modules:
        if m.fate in (RENAMED, MERGED) and m.target_name:
            out[m.target_name] = m.target_version
        else:
            out[m.name] = m.target_version or installed.get(m.name)
    for name in step.cfg.uninstall:
        out.pop(name, None)
    for name in step.cfg.install:
        out.setdefault(name, None)
    return dict(sorted(out.items()))


def make_plan(target: Target, to: str | None) -> UpgradePlan:
    """The plan of ``target``'s database for ``to`` (reads, never writes): one
    :class:`UpgradePlan` per step in ``steps``; the top level holds every step's
    modules (each with its ``step``) and the source and final series."""
    from odoo_ops.upgrade.registry import registry_for

    database, installed = read_installed(target)
    source_series, steps = source_and_steps(installed, target, to)
    registry = registry_for(upgrade_settings(target))
    source = target.addons_scan()
    plans: list[UpgradePlan] = []
    for step in steps:
        scan = target_scan(target, step.cfg)
        index = scripts_index(target, step.cfg, step.to)
        sub = UpgradePlan(database, step.source, step.to, index.wheel.version)
        sub.modules = [
            replace(m, step=step.to) for m in classify(
                installed, target_series=step.to, source=source, target_addons=scan,
                index=index, registry=registry)]
        if step.cfg.uninstall or step.cfg.install:
            sub.notes.append(f"after {step.label}: uninstall "
                             f"{', '.join(step.cfg.uninstall) or '-'}; install "
                             f"{', '.join(step.cfg.install) or '-'}")
        plans.append(sub)
        installed = after_step(installed, sub.modules, step)
        source = scan
    plan = UpgradePlan(database, source_series, steps[-1].to,
                       ", ".join(p.openupgrade_scripts or "-" for p in plans)
                       if len(plans) > 1 else plans[0].openupgrade_scripts)
    plan.steps = plans
    plan.modules = [m for p in plans for m in p.modules]
    for p in plans:
        plan.notes.extend(p.notes)
    if not target.addons_paths:
        plan.notes.append("the deployment has no addons_paths: origins of modules are "
                          "unknown and custom modules cannot be measured")
    return plan


def to_markdown(plan: UpgradePlan) -> str:
    if len(plan.steps) <= 1:
        return _markdown(plan, "# Upgrade plan")
    blocked = sorted({m.name for m in plan.blockers})
    lines = [f"# Upgrade plan: {plan.database or '?'} {plan.source_series} -> "
             f"{plan.target_series} in {len(plan.steps)} steps", "",
             "**BLOCKED**: " + ", ".join(blocked) if blocked else "Nothing blocks.", ""]
    for sub in plan.steps:
        lines.append(_markdown(sub, "## Step").rstrip())
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _markdown(plan: UpgradePlan, heading: str) -> str:
    counts = plan.counts()
    lines = [
        f"{heading}: {plan.database or '?'} {plan.source_series} -> {plan.target_series}",
        "",
        f"OpenUpgrade scripts {plan.openupgrade_scripts or '-'}; "
        + ", ".join(f"{k} {v}" for k, v in counts.items() if v),
        "",
        "**BLOCKED**: " + ", ".join(m.name for m in plan.blockers) if plan.blockers
        else "Nothing blocks.",
        "",
        "| module | fate | origin | from | to | lines | details |",
        "|---|---|---|---|---|---|---|",
    ]
    for m in plan.modules:
        to = m.target_name if m.target_name and m.target_name != m.name else ""
        to = f"{to} {m.target_version or ''}".strip()
        cells = [m.name, m.fate, m.origin, m.source_version or "", to,
                 "" if m.lines is None else str(m.lines), m.detail]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    lines += ["", *[f"- {n}" for n in plan.notes]]
    return "\n".join(lines).rstrip() + "\n"
