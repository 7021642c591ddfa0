"""Off-site copies of the backups (check ``backups-offsite``, area ``backups``).

A copy on a remote is listed only once it was uploaded whole and verified
against its manifest (see :mod:`odoo_ops.backup.remotes`), so "a complete
copy younger than ``backup_max_age_hours``" is "a verified recent copy".
The go-live item "off-site backup destination verified" takes its evidence
from this check.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from odoo_ops.checks.base import Outcome, Status, check, failed, passed
from odoo_ops.errors import OpsError

if TYPE_CHECKING:
    from odoo_ops.checks.context import CheckContext

AREA = "backups"


def _hours(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} days"


@check(
    "backups-offsite",
    area=AREA,
    title="a verified off-site copy of a recent backup exists",
    severity="error",
    needs=["files"],
)
def backups_offsite(ctx: CheckContext) -> Outcome:
    from odoo_ops.backup.remotes import open_remote

    remotes = list(ctx.config.backup.remotes)
    if ctx.deployment.runner == "ssh":
        return Outcome(
            Status.SKIP,
            "the backups are on the remote host (runner ssh)",
            "run odoo-ops backup push on the server",
        )
    if not remotes:
        return failed(
            "no off-site remote configured: every backup lives on this host",
            'add [[backup.remotes]] (name = "offsite", url = "s3://…", "ssh://…" or'
            ' "file:///mnt/nas/…") to odoo-ops.toml, then odoo-ops backup push --all',
        )
    max_hours = ctx.config.thresholds.backup_max_age_hours
    database = ctx.target.database_name
    now = dt.datetime.now(dt.UTC)
    evidence: list[str] = []
    unreachable: list[str] = []
    fresh: list[str] = []
    for cfg in remotes:
        try:
            remote = open_remote(ctx.target, cfg)
            copies = remote.copies()
        except OpsError as exc:
            unreachable.append(cfg.name)
            evidence.append(f"{cfg.name}: unreachable: {exc.message}")
            continue
        mine = [
            c
            for c in copies
            if not c.error
            and c.created_at
            and c.deployment == ctx.target.name
            and (not database or c.database == database)
        ]
        if not mine:
            evidence.append(f"{cfg.name} ({remote.display}): no copy of this deployment's backups")
            continue
        newest = max(mine, key=lambda c: c.created_at or now)
        assert newest.created_at is not None
        age = now - newest.created_at
        evidence.append(
            f"{cfg.name} ({remote.display}): {len(mine)} verified copies, newest {newest.name}"
            f" ({_hours(age)} old)"
        )
        if age.total_seconds() <= max_hours * 3600:
            fresh.append(cfg.name)
    if fresh and not unreachable:
        return passed(
            f"verified off-site copy younger than {max_hours:g} h on {', '.join(fresh)}", evidence
        )
    if unreachable:
        return failed(
            f"remote(s) {', '.join(unreachable)} cannot be reached",
            "check the remote's URL, credentials and network (odoo-ops backup list --remote NAME)",
            evidence,
        )
    return failed(
        f"no remote holds a verified copy younger than {max_hours:g} h",
        "push the newest backup (odoo-ops backup push --all, or backup create --push on a"
        " schedule)",
        evidence,
    )
