"""Checks of the addons path (area ``addons``).

They run the addons engine (:mod:`odoo_ops.addons`) over the addons
directories as seen from this host (compose bind mounts translated) and
report what would trouble Odoo: path entries that do not exist or hold no
addon, shadowed copies, missing dependencies of what is installed (or, without
a database, of everything on the path) and of the modules planned with
``--module``, and manifests Odoo would refuse.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from odoo_ops.adapters import Unavailable
from odoo_ops.checks.base import Outcome, Status, check, failed, passed, warned
from odoo_ops.checks.evidence import display
from odoo_ops.errors import OpsError
from odoo_ops.inputs import MANIFEST_LIMIT, read_input_bytes

if TYPE_CHECKING:
    from odoo_ops.addons import AddonsReport, AddonsScan
    from odoo_ops.checks.context import CheckContext

AREA = "addons"
MAX_EVIDENCE = 30

#: Module states that mean "the code must be on the addons path".
INSTALLED_STATES = ("installed", "to upgrade", "to remove", "to install")


@dataclass
class AddonsView:
    """What the addons checks share: the scan, the analysis, and what is in use."""

    scan: AddonsScan
    series: str | None
    series_source: str
    report: AddonsReport | None
    installed: set[str] | None  # None when no database answered
    db_note: str
    relevant: set[str] = field(default_factory=set)  # the addons in use (and their deps)

    @property
    def scope(self) -> str:
        if self.installed is not None:
            return f"the {len(self.installed)} installed module(s)"
        return f"the {len(self.scan.addons)} addon(s) on the path (no database read)"

    @property
    def scope_evidence(self) -> str:
        if self.installed is not None:
            return f"installed modules read from the database ({len(self.installed)})"
        return f"no installed modules read: {self.db_note}"


def guess_series(versions: Iterable[str | None]) -> str | None:
    """The most common series among full manifest versions (``18.0.1.0.0``), or None."""
    counts: Counter[str] = Counter()
    for version in versions:
        parts = (version or "").strip().split(".")
        if len(parts) >= 4 and parts[0].isdigit() and parts[1] == "0":
            counts[f"{parts[0]}.0"] += 1
    if not counts:
        return None
    return max(counts.items(), key=lambda kv: (kv[1], int(kv[0].split(".")[0])))[0]


def _installed(ctx: CheckContext) -> tuple[set[str] | None, str]:
    try:
        states = ctx.module_states()
    except Unavailable as exc:
        return None, str(exc)
    return {n for n, (s, _) in states.items() if s in INSTALLED_STATES}, "database"


def addons_view(ctx: CheckContext) -> AddonsView:
    """Scan + analysis, computed once per run (Unavailable when no addons path here)."""
    if "addons_view" in ctx.cache:
        cached: AddonsView = ctx.cache["addons_view"]
        return cached
    from odoo_ops.addons import analyse, closure

    scan = ctx.addons_scan()
    series, source = ctx.series, "configured"
    if not series:
        series = guess_series(a.version for a in scan.addons.values())
        source = "guessed from manifest versions" if series else "unknown"
    installed, note = _installed(ctx)
    report = analyse(scan, series, installed=installed or ()) if series else None
    view = AddonsView(scan, series, source, report, installed, note)
    graph = {n: list(a.depends) for n, a in scan.addons.items()}
    roots = set(ctx.planned) | (installed if installed is not None else set(scan.addons))
    view.relevant = closure(graph, roots)
    ctx.cache["addons_view"] = view
    return view


def _manifest_line(path: Path, needle: str) -> int | None:
    try:
        data = read_input_bytes(path, kind="addon manifest", limit=MANIFEST_LIMIT)
    except OpsError:
        return None
    text = data.decode("utf-8", errors="replace")
    pattern = re.compile(r"""["']""" + re.escape(needle) + r"""["']""")
    for number, line in enumerate(text.splitlines(), 1):
        if pattern.search(line):
            return number
    return None


def _at(ctx: CheckContext, path: Path, needle: str) -> str:
    line = _manifest_line(path, needle)
    shown = display(ctx, path)
    return f"{shown}:{line}" if line else shown


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _installable(scan: AddonsScan, name: str) -> bool:
    addon = scan.get(name)
    return addon is not None and addon.installable


def _awaiting_addons(path: Path) -> bool:
    """An empty entry made ready for addons (``init`` writes one with a README):
    plain files and no sub-directory. A sub-directory without a manifest still
    warns (a broken or misplaced addon), and so does a bare empty directory."""
    try:
        children = list(path.iterdir())
    except OSError:
        return False
    return bool(children) and not any(child.is_dir() for child in children)


def _cap(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_EVIDENCE:
        return lines
    return [*lines[:MAX_EVIDENCE], f"... and {len(lines) - MAX_EVIDENCE} more"]


# -- addons-path ---------------------------------------------------------------


@check(
    "addons-path",
    area=AREA,
    title="every addons path entry exists and holds addons",
    severity="error",
    needs=["files"],
)
def addons_path(ctx: CheckContext) -> Outcome:
    from odoo_ops.addons.scan import (
        ENTRY_DUPLICATE,
        ENTRY_EMPTY,
        ENTRY_IS_ADDON,
        ENTRY_MISSING,
        ENTRY_NOT_A_DIRECTORY,
        ENTRY_OK,
    )

    if ctx.deployment.runner == "ssh":
        return Outcome(
            Status.SKIP,
            "the addons are on the remote host (runner ssh)",
            "set addons_paths in odoo-ops.toml to a local checkout to check them from here",
        )
    inside = ctx.target.unmapped_addons_paths()
    configured = ctx.deployment.addons_paths
    if configured and not ctx.target.addons_paths:
        return failed(
            f"addons_paths of odoo-ops.toml match no directory: {', '.join(configured)}",
            "fix addons_paths (relative paths start at the project directory; globs allowed)",
        )
    if not ctx.target.addons_paths:
        if inside:
            return Outcome(
                Status.SKIP,
                f"every addons_path entry is only inside the image, not checkable from this"
                f" host: {', '.join(inside)}",
                "bind-mount the addons directories from the project, or set addons_paths in"
                " odoo-ops.toml to their host copies",
            )
        return Outcome(
            Status.SKIP,
            "no addons path: neither addons_path in odoo.conf nor addons_paths in odoo-ops.toml",
            "set addons_path in odoo.conf (or addons_paths in odoo-ops.toml)",
        )
    scan = ctx.addons_scan()
    errors: list[str] = []
    warnings: list[str] = []
    ok: list[str] = []
    what = {
        ENTRY_MISSING: "does not exist",
        ENTRY_NOT_A_DIRECTORY: "is not a directory",
        ENTRY_IS_ADDON: "is an addon itself: list the directory that contains it",
        ENTRY_EMPTY: "holds no addon (no sub-directory with __manifest__.py)",
        ENTRY_DUPLICATE: "is listed twice",
    }
    for entry in scan.entries:
        shown = display(ctx, entry.path)
        if entry.status == ENTRY_OK:
            ok.append(f"{shown}: {entry.addon_count} addon(s)")
        elif entry.status == ENTRY_EMPTY and _awaiting_addons(entry.path):
            ok.append(f"{shown}: no addon yet (only files such as a README)")
        elif entry.status in (ENTRY_MISSING, ENTRY_NOT_A_DIRECTORY, ENTRY_IS_ADDON):
            errors.append(f"{shown} {what[entry.status]}")
        else:
            warnings.append(f"{shown} {what.get(entry.status, entry.status)}")
    notes = [
        f"{p}: only inside the image (not checkable from the host)" for p in inside
    ]  # these are usually Odoo's own addons
    evidence = [*errors, *warnings, *ok, *notes]
    if errors:
        return failed(
            f"{len(errors)} addons path entr{'y' if len(errors) == 1 else 'ies'} unusable: "
            + "; ".join(errors),
            "fix or remove these entries of addons_path: Odoo refuses to start with an entry"
            " that is not a directory of addons",
            _cap(evidence),
        )
    if warnings:
        return warned(
            "; ".join(warnings),
            "remove the empty or repeated entries from addons_path",
            _cap(evidence),
        )
    total = sum(e.addon_count for e in scan.entries)
    extra = f"; {len(inside)} entr(ies) only inside the image" if inside else ""
    return passed(f"{len(ok)} addons path entr(ies), {total} addon(s){extra}", _cap(evidence))


# -- addons-shadowed -----------------------------------------------------------


@check(
    "addons-shadowed",
    area=AREA,
    title="no addon found twice on the addons path",
    severity="warning",
    needs=["files"],
)
def addons_shadowed(ctx: CheckContext) -> Outcome:
    scan = ctx.addons_scan()
    if not scan.shadowed:
        return passed(f"no shadowed addon among {len(scan.addons)} addon(s)")
    evidence = [
        f"{s.name}: {display(ctx, s.winner_path)} wins over {display(ctx, s.shadowed_path)}"
        for s in scan.shadowed
    ]
    names = sorted({s.name for s in scan.shadowed})
    return failed(
        f"{len(names)} addon(s) exist more than once on the addons path: {', '.join(names)};"
        " Odoo loads the first copy and ignores the others",
        "delete the copies you do not want, or reorder addons_path so the intended copy comes"
        " first",
        _cap(evidence),
    )


# -- addons-missing-depends ----------------------------------------------------


@check(
    "addons-missing-depends",
    area=AREA,
    title="dependencies of installed and planned addons are available",
    severity="error",
    needs=["files", "database"],
)
def addons_missing_depends(ctx: CheckContext) -> Outcome:
    from odoo_ops.addons import core_addons
    from odoo_ops.addons import findings as F

    view = addons_view(ctx)
    if view.report is None or view.series is None:
        return Outcome(
            Status.SKIP,
            "the Odoo series is not known, so core addons cannot be told from missing ones",
            'set series = "18.0" (your series) for the deployment in odoo-ops.toml',
        )
    core = core_addons(view.series)
    scan = view.scan
    installed = view.installed or set()
    problems: list[str] = []
    evidence: list[str] = []
    for finding in view.report.findings:
        if finding.code in (F.MISSING_DEPENDS, F.INVALID_DEPENDS):
            users = [
                u
                for u in finding.data.get("needed_by", [])
                if u in view.relevant and (_installable(scan, u) or u in installed)
            ]
            if not users:
                continue
            dep = str(finding.data.get("dependency"))
            broken = finding.code == F.INVALID_DEPENDS
            problems.append(
                f"{dep} ({'manifest invalid' if broken else 'not found'}) needed by"
                f" {', '.join(users)}"
            )
            for user in users:
                addon = scan.get(user)
                if addon is not None:
                    evidence.append(
                        f"{_at(ctx, addon.manifest_path, dep)}: {user} depends on {dep}"
                    )
        elif finding.code == F.INSTALLED_NOT_FOUND:
            problems.append(f"{finding.addon} is installed but not on the addons path")
            evidence.append(f"database: {finding.addon} installed, no directory found")
    for name in ctx.planned:
        if name not in scan.addons and name not in core and name not in scan.invalid_names:
            problems.append(f"{name} (planned with --module) is not on the addons path")
    if problems:
        return failed(
            f"{_n(len(problems), 'missing dependency', 'missing dependencies')} among"
            f" {view.scope}: " + "; ".join(problems[:10]),
            "add the addons path entry (or the repository checkout) that provides each missing"
            " addon, or remove the dependency; an installed addon whose code is gone must be"
            " restored or uninstalled",
            _cap([*evidence, view.scope_evidence]),
        )
    planned = f" and {len(ctx.planned)} planned" if ctx.planned else ""
    return passed(
        f"every dependency of {view.scope}{planned} is on the addons path or an Odoo"
        f" {view.series} core addon ({view.series_source} series)",
        [view.scope_evidence],
    )


# -- addons-manifests ----------------------------------------------------------


@check(
    "addons-manifests",
    area=AREA,
    title="manifests valid, installable, versions in the series",
    severity="error",
    needs=["files"],
)
def addons_manifests(ctx: CheckContext) -> Outcome:
    from odoo_ops.addons import findings as F

    view = addons_view(ctx)
    scan = view.scan
    errors: list[str] = []
    warnings: list[str] = []
    evidence: list[str] = []
    for bad in scan.invalid:
        errors.append(f"{bad.name}: invalid manifest")
        hint = f" ({bad.hint})" if bad.hint else ""
        evidence.append(f"{bad.error}{hint}")
    not_installable = sorted(n for n, a in scan.addons.items() if not a.installable)
    installed = view.installed or set()
    for name in not_installable:
        addon = scan.addons[name]
        where = _at(ctx, addon.manifest_path, "installable")
        if name in installed:
            errors.append(f"{name} is installed but marked installable: False")
            evidence.append(f"{where}: installable False, installed in the database")
        elif name in ctx.planned:
            errors.append(f"{name} is planned but marked installable: False")
            evidence.append(f"{where}: installable False")
        elif name in view.relevant and view.installed is None:
            users = sorted(u for u, a in scan.addons.items() if name in a.depends and a.installable)
            if users:
                warnings.append(f"{name} is installable: False but {', '.join(users)} depend on it")
                evidence.append(f"{where}: installable False")
    if view.series:
        from odoo_ops.addons.versions import version_problem

        for name, addon in sorted(scan.addons.items()):
            problem = version_problem(addon.version, view.series)
            if not problem or not addon.installable:
                continue
            where = _at(ctx, addon.manifest_path, "version")
            if view.installed is None or name in view.relevant or name in ctx.planned:
                errors.append(f"{name}: {problem}")
            else:
                warnings.append(f"{name} (not installed): {problem}")
            evidence.append(f"{where}: {problem}")
    if view.report is not None:
        for finding in view.report.findings:
            if finding.code == F.CYCLE:
                errors.append(finding.message)
    if errors:
        series = f" for Odoo {view.series}" if view.series else ""
        return failed(
            f"{len(errors)} manifest problem(s){series}: " + "; ".join(errors[:10]),
            "fix the manifests shown (Odoo skips an addon it cannot read or that is not"
            " installable for its series; a checkout of the wrong branch shows as versions of"
            " another series)",
            _cap(evidence),
        )
    if warnings:
        return warned(
            "; ".join(warnings[:10]),
            "check out the branch of your series, or remove the addons nobody uses",
            _cap(evidence),
        )
    notes = []
    if not_installable:
        notes.append(f"{len(not_installable)} marked installable: False and not in use")
    if not view.series:
        notes.append("versions not checked: series unknown (set series in odoo-ops.toml)")
    extra = f" ({'; '.join(notes)})" if notes else ""
    return passed(f"{len(scan.addons)} manifest(s) valid{extra}")
