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
from odoo_ops.addons.graph import TreeNode, closure, dependency_tree, find_cycles
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
    split_addons_path,
)
from odoo_ops.addons.versions import (
    check_series,
    normalize_version,
    parse_version,
    version_in_series,
    version_problem,
)

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
    "split_addons_path",
    "version_in_series",
    "version_problem",
    "why",
]
