"""The addons engine: discover addons, read manifests, analyse, plan installs.

A library: nothing here prints, exits or reads the environment. Manifests are
read with :mod:`ast` only; addon code is never imported or executed.

Typical use::

    scan = scan_addons_path(["addons/*", "custom"], base_dir=project_dir)
    report = analyse(scan, "18.0")
    plan = plan_install(scan, ["sale_custom"], "18.0", installed=db_installed)
    for wave in plan.waves:
        print(",".join(wave.addons))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from odoo_ops.addons.analyse import AddonsReport, analyse
    from odoo_ops.addons.core import core_addons, is_core, is_oca, origin
    from odoo_ops.addons.external import (
        PIP_TO_MODULE,
        check_bin_dependencies,
        check_python_dependencies,
        module_name,
        requirement_name,
    )
    from odoo_ops.addons.findings import ERROR, INFO, WARNING, Finding
    from odoo_ops.addons.graph import closure, find_cycles
    from odoo_ops.addons.manifest import (
        MANIFEST_NAME,
        Addon,
        addon_from_manifest,
        load_addon,
        read_manifest,
        read_manifest_text,
    )
    from odoo_ops.addons.plan import AutoInstall, InstallPlan, PlannedAddon, Wave, plan_install
    from odoo_ops.addons.query import Why, addon_tree, why
    from odoo_ops.addons.scan import (
        AddonsScan,
        InvalidAddon,
        PathEntry,
        Shadowed,
        scan_addons_path,
        scan_findings,
        split_addons_path,
    )
    from odoo_ops.addons.tree import TreeNode, dependency_tree
    from odoo_ops.addons.versions import (
        check_series,
        detect_series,
        normalize_version,
        parse_version,
        version_in_series,
        version_problem,
    )

# Public name -> module defining it. Imported on first use: a command that only
# plans does not pay for the analysis or the subprocess machinery (start-up time).
_WHERE: dict[str, str] = {
    "Addon": "odoo_ops.addons.manifest",
    "AddonsReport": "odoo_ops.addons.analyse",
    "AddonsScan": "odoo_ops.addons.scan",
    "AutoInstall": "odoo_ops.addons.plan",
    "ERROR": "odoo_ops.addons.findings",
    "Finding": "odoo_ops.addons.findings",
    "INFO": "odoo_ops.addons.findings",
    "InstallPlan": "odoo_ops.addons.plan",
    "InvalidAddon": "odoo_ops.addons.scan",
    "MANIFEST_NAME": "odoo_ops.addons.manifest",
    "PIP_TO_MODULE": "odoo_ops.addons.external",
    "PathEntry": "odoo_ops.addons.scan",
    "PlannedAddon": "odoo_ops.addons.plan",
    "Shadowed": "odoo_ops.addons.scan",
    "TreeNode": "odoo_ops.addons.tree",
    "WARNING": "odoo_ops.addons.findings",
    "Wave": "odoo_ops.addons.plan",
    "Why": "odoo_ops.addons.query",
    "addon_from_manifest": "odoo_ops.addons.manifest",
    "addon_tree": "odoo_ops.addons.query",
    "analyse": "odoo_ops.addons.analyse",
    "check_bin_dependencies": "odoo_ops.addons.external",
    "check_python_dependencies": "odoo_ops.addons.external",
    "check_series": "odoo_ops.addons.versions",
    "closure": "odoo_ops.addons.graph",
    "core_addons": "odoo_ops.addons.core",
    "dependency_tree": "odoo_ops.addons.tree",
    "detect_series": "odoo_ops.addons.versions",
    "find_cycles": "odoo_ops.addons.graph",
    "is_core": "odoo_ops.addons.core",
    "is_oca": "odoo_ops.addons.core",
    "load_addon": "odoo_ops.addons.manifest",
    "module_name": "odoo_ops.addons.external",
    "normalize_version": "odoo_ops.addons.versions",
    "origin": "odoo_ops.addons.core",
    "parse_version": "odoo_ops.addons.versions",
    "plan_install": "odoo_ops.addons.plan",
    "read_manifest": "odoo_ops.addons.manifest",
    "read_manifest_text": "odoo_ops.addons.manifest",
    "requirement_name": "odoo_ops.addons.external",
    "scan_addons_path": "odoo_ops.addons.scan",
    "scan_findings": "odoo_ops.addons.scan",
    "split_addons_path": "odoo_ops.addons.scan",
    "version_in_series": "odoo_ops.addons.versions",
    "version_problem": "odoo_ops.addons.versions",
    "why": "odoo_ops.addons.query",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


__all__ = [
    "ERROR",
    "INFO",
    "MANIFEST_NAME",
    "PIP_TO_MODULE",
    "WARNING",
    "Addon",
    "AddonsReport",
    "AddonsScan",
    "AutoInstall",
    "Finding",
    "InstallPlan",
    "InvalidAddon",
    "PathEntry",
    "PlannedAddon",
    "Shadowed",
    "TreeNode",
    "Wave",
    "Why",
    "addon_from_manifest",
    "addon_tree",
    "analyse",
    "check_bin_dependencies",
    "check_python_dependencies",
    "check_series",
    "closure",
    "core_addons",
    "dependency_tree",
    "detect_series",
    "find_cycles",
    "is_core",
    "is_oca",
    "load_addon",
    "module_name",
    "normalize_version",
    "origin",
    "parse_version",
    "plan_install",
    "read_manifest",
    "read_manifest_text",
    "requirement_name",
    "scan_addons_path",
    "scan_findings",
    "split_addons_path",
    "version_in_series",
    "version_problem",
    "why",
]
