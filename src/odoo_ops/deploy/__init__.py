"""Deploys that roll themselves back (``odoo-ops deploy``, ``odoo-ops rollback``)."""

from odoo_ops.deploy.engine import (
    PHASES,
    Deployer,
    DeployOptions,
    DeployResult,
    interrupted,
    journal_of,
    roll_back_record,
)
from odoo_ops.deploy.git import GitError, GitRepo
from odoo_ops.deploy.journal import DeployRecord, Journal

__all__ = [
    "PHASES",
    "DeployOptions",
    "DeployRecord",
    "DeployResult",
    "Deployer",
    "GitError",
    "GitRepo",
    "Journal",
    "interrupted",
    "journal_of",
    "roll_back_record",
]
