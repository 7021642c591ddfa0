"""What the backup actions share: the backup directory, the lock, small helpers."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops import childproc
from odoo_ops.backup.layout import DIR_MODE, OWNER_FILE, PARTIAL_SUFFIX, remove_tree
from odoo_ops.errors import ConfigError

if TYPE_CHECKING:
    from odoo_ops.adapters import Target

#: ``progress(phase, bytes, files)``: called as work advances.
ProgressFn = Callable[[str, int, int], None]

#: Key tables whose row counts go into the manifest (those that exist).
KEY_TABLES = (
    "res_company",
    "res_users",
    "res_partner",
    "res_groups",
    "ir_module_module",
    "ir_model",
    "ir_model_fields",
    "ir_model_data",
    "ir_ui_view",
    "ir_ui_menu",
    "ir_cron",
    "ir_config_parameter",
    "ir_attachment",
    "mail_message",
    "mail_followers",
    "product_template",
    "product_product",
    "sale_order",
    "sale_order_line",
    "purchase_order",
    "account_move",
    "account_move_line",
    "stock_picking",
    "stock_move",
    "crm_lead",
    "project_task",
    "hr_employee",
)


def backup_dir_of(target: Target) -> Path:
    path = target.backup_dir
    if path is None:
        raise ConfigError(
            "no backup_dir configured for this deployment",
            hint="set backup_dir in the deployment's section of odoo-ops.toml",
        )
    return path


def ensure_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    return path


@contextmanager
def write_lock(target: Target, database: str, wait: float) -> Iterator[None]:
    """The deployment's advisory lock for ``database``."""
    from odoo_ops.adapters.locking import deployment_lock

    with deployment_lock(target, wait, database=database):
        yield


def git_commit(root: Path) -> str | None:
    try:
        out = childproc.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = out.stdout.strip()
    return text if out.returncode == 0 and len(text) == 40 else None


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_owner(directory: Path) -> None:
    (directory / OWNER_FILE).write_text(f"{socket.gethostname()} {os.getpid()}\n")


def owner_alive(directory: Path) -> bool:
    """Whether the process that made ``directory`` (``.owner``) still runs here."""
    try:
        host, pid = (directory / OWNER_FILE).read_text().split()
    except (OSError, ValueError):
        return False
    return host == socket.gethostname() and pid_alive(int(pid))


def clean_stale_partials(backup_dir: Path) -> list[str]:
    """Remove ``.NAME.partial`` and scratch directories left by killed runs."""
    removed: list[str] = []
    if not backup_dir.is_dir():
        return removed
    for child in backup_dir.iterdir():
        if not child.name.startswith("."):
            continue
        if child.name.endswith(".deleting"):
            remove_tree(child)
            removed.append(child.name)
            continue
        if not (child.name.endswith(PARTIAL_SUFFIX) or child.name.startswith(".scratch-")):
            continue
        if owner_alive(child):
            continue
        remove_tree(child)
        removed.append(child.name)
    return removed


def pg_identifier(name: str) -> Any:
    from psycopg import sql

    return sql.Identifier(name)
