"""``backup prune``: apply the retention policy to the deployment's backups."""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from odoo_ops.backup.common import backup_dir_of, clean_stale_partials, write_lock
from odoo_ops.backup.layout import list_backups, remove_tree, utcnow
from odoo_ops.backup.retention import Decision, Item, Policy, decide
from odoo_ops.deploy.image_prune import TagDecision, prune_rollback_tags

if TYPE_CHECKING:
    from odoo_ops.adapters import Target


@dataclass
class PruneResult:
    decisions: list[Decision]
    deleted: list[str] = field(default_factory=list)
    dry_run: bool = False
    skipped: list[str] = field(default_factory=list)  # other deployments/databases
    # rollback image tags of old deploys (docs/topology.md), removed with the backups
    images: list[TagDecision] = field(default_factory=list)


def policy_of(target: Target) -> Policy:
    cfg = target.project.config.backup
    return Policy(
        keep_within=cfg.keep_within,
        keep_daily=cfg.keep_daily,
        keep_weekly=cfg.keep_weekly,
        keep_monthly=cfg.keep_monthly,
        keep_yearly=cfg.keep_yearly,
    )


def prune(
    target: Target,
    *,
    dry_run: bool = False,
    wait: float = 0.0,
    now: dt.datetime | None = None,
    database: str | None = None,
) -> PruneResult:
    """Delete the backups of this deployment's database that the policy does not keep."""
    backup_dir = backup_dir_of(target)
    db = database or target.database_name
    entries = list_backups(backup_dir)
    mine, skipped = [], []
    for entry in entries:
        manifest = entry.manifest
        if manifest is None:
            skipped.append(f"{entry.name} (damaged manifest: never pruned)")
            continue
        if manifest.deployment != target.name or (db and manifest.database != db):
            skipped.append(entry.name)
            continue
        mine.append(entry)
    items = [
        Item(
            e.name,
            e.created_at or utcnow(),
            verified=bool(e.verified and e.verified.get("ok")),
            keep=e.keep,
        )
        for e in mine
    ]
    decisions = decide(items, policy_of(target), now or utcnow())
    result = PruneResult(decisions, dry_run=dry_run, skipped=skipped)
    kept = [d for d in decisions if d.keep]
    horizon = min((d.created_at for d in kept), default=None)
    if dry_run:
        result.images = prune_rollback_tags(target, {d.name for d in kept}, horizon, dry_run=True)
        return result
    by_name = {e.name: e for e in mine}
    with write_lock(target, db or "", wait):
        for decision in decisions:
            if not decision.keep:
                path = by_name[decision.name].path
                # hide it first: a prune killed halfway never leaves a half backup listed
                doomed = path.with_name(f".{path.name}.deleting")
                os.rename(path, doomed)
                remove_tree(doomed)
                result.deleted.append(decision.name)
        clean_stale_partials(backup_dir)
        result.images = prune_rollback_tags(target, {d.name for d in kept}, horizon)
    return result
