"""Module lifecycle: plan, install, update (incl. ``--changed``), sync, uninstall,
reinstall; maintenance mode and cron pause, which every change can run inside.

Actions return result objects and never print; the CLI renders them.
"""

from odoo_ops.modules.checksums import (
    DEFAULT_EXCLUDE_PATTERNS,
    PARAM_EXCLUDE_PATTERNS,
    PARAM_INSTALLED_CHECKSUMS,
    ChangedSet,
    HashRules,
    addon_checksum,
    changed_modules,
)
from odoo_ops.modules.crons import (
    PAUSED_PARAM,
    CronsStatus,
    crons_status,
    pause_crons,
    resume_crons,
)
from odoo_ops.modules.install import InstallResult, install_modules
from odoo_ops.modules.maintenance import (
    MARKER_PARAM,
    MaintenanceStatus,
    flag_path,
    maintenance_off,
    maintenance_on,
    maintenance_status,
)
from odoo_ops.modules.plan import ModulesPlan, plan_modules
from odoo_ops.modules.steps import StepEvent, StepResult, scan_log
from odoo_ops.modules.sync import SyncResult, sync_modules
from odoo_ops.modules.uninstall import (
    Impact,
    UninstallResult,
    reinstall_module,
    uninstall_impact,
    uninstall_modules,
)
from odoo_ops.modules.update import UpdateResult, compute_changed, update_modules
from odoo_ops.modules.window import ActionResult, change_window

__all__ = [
    "DEFAULT_EXCLUDE_PATTERNS",
    "MARKER_PARAM",
    "PARAM_EXCLUDE_PATTERNS",
    "PARAM_INSTALLED_CHECKSUMS",
    "PAUSED_PARAM",
    "ActionResult",
    "ChangedSet",
    "CronsStatus",
    "HashRules",
    "Impact",
    "InstallResult",
    "MaintenanceStatus",
    "ModulesPlan",
    "StepEvent",
    "StepResult",
    "SyncResult",
    "UninstallResult",
    "UpdateResult",
    "addon_checksum",
    "change_window",
    "changed_modules",
    "compute_changed",
    "crons_status",
    "flag_path",
    "install_modules",
    "maintenance_off",
    "maintenance_on",
    "maintenance_status",
    "pause_crons",
    "plan_modules",
    "reinstall_module",
    "resume_crons",
    "scan_log",
    "sync_modules",
    "uninstall_impact",
    "uninstall_modules",
    "update_modules",
]
