"""The deployment lock: one name for every command that changes a database.

Every action that writes to a deployment's database (install, update,
uninstall, maintenance mode, cron pause, restore, deploy...) runs inside
:func:`deployment_lock`, a PostgreSQL session-level advisory lock named
``deployment:<deployment>:<database>``. Two odoo-ops runs against the same
deployment therefore never overlap: the second one fails at once with a
:class:`~odoo_ops.errors.LockError`, or waits up to ``wait`` seconds.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from odoo_ops.adapters import Target


def deployment_lock_name(target: Target, database: str | None = None) -> str:
    """The advisory-lock name of ``target`` (and ``database``, default the deployment's)."""
    db = database or target.database_name or ""
    return f"deployment:{target.name}:{db}"


@contextmanager
def deployment_lock(
    target: Target, wait: float = 0.0, *, database: str | None = None
) -> Iterator[None]:
    """Hold the deployment's advisory lock for the block.

    ``wait`` is how many seconds to keep trying before raising
    :class:`~odoo_ops.errors.LockError` (0 = fail at once).
    """
    name = deployment_lock_name(target, database)
    db = target.database()
    with db.lock(name, wait=max(0.0, float(wait or 0.0))):
        yield
