"""Generating a deployment: sizing, odoo.conf, .env, compose, proxy, timers (``odoo-ops init``)."""

from odoo_ops.generate.passwords import pbkdf2_sha512_hash, verify_pbkdf2_sha512
from odoo_ops.generate.project import (
    InitOptions,
    InitPlan,
    InitResult,
    PlannedFile,
    apply_plan,
    diff_text,
    explain,
    plan_project,
    recorded_answers,
)
from odoo_ops.generate.sizing import Sizing, compute_sizing, detect_host

__all__ = [
    "InitOptions",
    "InitPlan",
    "InitResult",
    "PlannedFile",
    "Sizing",
    "apply_plan",
    "compute_sizing",
    "detect_host",
    "diff_text",
    "explain",
    "pbkdf2_sha512_hash",
    "plan_project",
    "recorded_answers",
    "verify_pbkdf2_sha512",
]
