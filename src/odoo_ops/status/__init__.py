"""``odoo-ops status``: is a deployment fine, from the records odoo-ops keeps."""

from odoo_ops.status.model import (
    BackupStatus,
    CheckStatus,
    DeploymentStatus,
    DeployStatus,
    GoliveStatus,
    HealthStatus,
    PendingUpgrades,
    PhaseTime,
    age_text,
    backup_status,
    deploy_status,
    deployment_status,
    health_status,
)

__all__ = [
    "BackupStatus",
    "CheckStatus",
    "DeployStatus",
    "DeploymentStatus",
    "GoliveStatus",
    "HealthStatus",
    "PendingUpgrades",
    "PhaseTime",
    "age_text",
    "backup_status",
    "deploy_status",
    "deployment_status",
    "health_status",
]
