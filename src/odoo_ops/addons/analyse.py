"""Analysis of a whole addons path: everything that would trouble Odoo."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from odoo_ops.addons import findings as F
from odoo_ops.addons.core import core_addons, is_oca
from odoo_ops.addons.findings import Finding, sort_findings
from odoo_ops.addons.graph import find_cycles
from odoo_ops.addons.scan import AddonsScan, scan_findings
from odoo_ops.addons.versions import check_series, version_problem


@dataclass
class AddonsReport:
    """The findings of :func:`analyse` plus per-addon facts for listings.

    ``origins`` maps each addon on the path to ``core``/``oca``/``custom``;
    ``notes`` says what was not checked and why.
    """

    series: str
    findings: list[Finding] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(f.is_error for f in self.findings)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.is_error]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == F.WARNING]

    def for_addon(self, name: str) -> list[Finding]:
        return [f for f in self.findings if f.addon == name]


def analyse(
    scan: AddonsScan,
    series: str,
    *,
    installed: Collection[str] = (),
    python_cmd: Sequence[str] | None = None,
    check_python: bool = False,
    check_bin: bool = False,
) -> AddonsReport:
    """Every finding about the scanned addons path, for Odoo ``series``.

    Missing dependencies (neither core nor on the path), cycles, ``installable:
    False``, versions Odoo ``series`` refuses, invalid manifests, shadowed
    addons and bad path entries. When ``installed`` is given, installed addons
    not found are errors too. External dependencies are checked only on request:
    Python ones with ``check_python`` (in ``python_cmd``, see
    :func:`~odoo_ops.addons.external.check_python_dependencies`), programs with
    ``check_bin`` (on this host's ``PATH``).
    """
    series = check_series(series)
    core = core_addons(series)
    report = AddonsReport(series=series)
    out = report.findings
    installed_set = frozenset(installed)

    out.extend(scan_findings(scan))

    invalid = scan.invalid_names
    missing: dict[str, list[str]] = {}
    broken: dict[str, list[str]] = {}
    not_installable = {n for n, a in scan.addons.items() if not a.installable}
    for name, addon in sorted(scan.addons.items()):
        report.origins[name] = "core" if name in core else "oca" if is_oca(addon) else "custom"
        for dep in addon.depends:
            if dep in scan.addons or (dep in core and dep not in invalid):
                if dep in not_installable and addon.installable:
                    out.append(
                        Finding(
                            F.DEPENDS_NOT_INSTALLABLE, F.WARNING,
                            f"{name} depends on {dep}, which is installable: False",
                            addon=name, path=str(addon.manifest_path),
                            data={"dependency": dep},
                        )
                    )  # fmt: skip
            elif dep in invalid:
                broken.setdefault(dep, []).append(name)
            else:
                missing.setdefault(dep, []).append(name)
        if not addon.installable:
            out.append(
                Finding(
                    F.NOT_INSTALLABLE, F.ERROR if name in installed_set else F.WARNING,
                    f"{name} is marked installable: False"
                    + (" but is installed" if name in installed_set else ""),
                    addon=name, path=str(addon.manifest_path),
                )
            )  # fmt: skip
        problem = version_problem(addon.version, series)
        if problem and addon.installable:
            code = F.VERSION_INVALID if problem.startswith("invalid") else F.VERSION_SERIES
            out.append(
                Finding(
                    code, F.ERROR, f"{name}: {problem}; Odoo {series} treats it as not installable",
                    addon=name, path=str(addon.manifest_path),
                    data={"version": addon.version},
                )
            )  # fmt: skip

    for dep, users in sorted(missing.items()):
        out.append(
            Finding(
                F.MISSING_DEPENDS, F.ERROR,
                f"{dep} is needed by {', '.join(users)} but is not on the addons path "
                f"(nor an Odoo {series} core addon)",
                addon=dep, hint="add the directory that holds it to the addons path",
                data={"dependency": dep, "needed_by": users},
            )
        )  # fmt: skip
    for dep, users in sorted(broken.items()):
        out.append(
            Finding(
                F.INVALID_DEPENDS, F.ERROR,
                f"{dep} is needed by {', '.join(users)} but its manifest is invalid",
                addon=dep, data={"dependency": dep, "needed_by": users},
            )
        )  # fmt: skip

    graph = {n: a.depends for n, a in scan.addons.items()}
    for cycle in find_cycles(graph):
        out.append(
            Finding(
                F.CYCLE, F.ERROR, "dependency cycle: " + " -> ".join((*cycle, cycle[0])),
                addon=cycle[0], data={"cycle": list(cycle)},
            )
        )  # fmt: skip

    if installed_set:
        gone = sorted(n for n in installed_set if n not in scan.addons and n not in invalid)
        gone = [n for n in gone if n not in core or n in _core_expected_on_path(scan, core)]
        for name in gone:
            out.append(
                Finding(
                    F.INSTALLED_NOT_FOUND, F.ERROR,
                    f"{name} is installed in the database but not found on the addons path",
                    addon=name, hint="restore its directory or uninstall it",
                )
            )  # fmt: skip

    _external(scan, report, python_cmd, check_python, check_bin)
    report.findings = sort_findings(out)
    return report


def _core_expected_on_path(scan: AddonsScan, core: frozenset[str]) -> frozenset[str]:
    """Core addons count as expected on the path only when Odoo's own addons are there."""
    if "base" in scan.addons or "web" in scan.addons:
        return core
    return frozenset()


def _external(
    scan: AddonsScan,
    report: AddonsReport,
    python_cmd: Sequence[str] | None,
    check_python: bool,
    check_bin: bool,
) -> None:
    from odoo_ops.addons.external import check_bin_dependencies, check_python_dependencies

    py_users: dict[str, list[str]] = {}
    bin_users: dict[str, list[str]] = {}
    for name, addon in sorted(scan.addons.items()):
        if not addon.installable:
            continue
        for req in addon.python_dependencies:
            py_users.setdefault(req, []).append(name)
        for prog in addon.bin_dependencies:
            bin_users.setdefault(prog, []).append(name)
    if py_users and check_python:
        missing = check_python_dependencies(py_users, python_cmd)
        where = " ".join(python_cmd) if python_cmd else "python3"
        for req, reason in sorted(missing.items()):
            users = py_users.get(req, [])
            report.findings.append(
                Finding(
                    F.PYTHON_MISSING, F.ERROR,
                    f"Python dependency {req} of {', '.join(users)}: {reason} (in {where})",
                    addon=users[0] if users else None,
                    hint=f"pip install '{req}' in the environment that runs Odoo",
                    data={"requirement": req, "needed_by": users, "reason": reason},
                )
            )  # fmt: skip
    elif py_users:
        report.notes.append(
            f"{len(py_users)} Python dependencies not checked (use --check-external)"
        )
    if bin_users and check_bin:
        for prog in check_bin_dependencies(bin_users):
            users = bin_users[prog]
            report.findings.append(
                Finding(
                    F.BIN_MISSING, F.ERROR,
                    f"program {prog} needed by {', '.join(users)} is not on PATH",
                    addon=users[0], data={"program": prog, "needed_by": users},
                )
            )  # fmt: skip
    elif bin_users:
        report.notes.append(f"{len(bin_users)} program dependencies not checked")
