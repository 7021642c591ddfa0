"""Old rollback image tags go with the backups that roll back with them.

``deploy --pull/--build`` tags the image each Odoo service ran before the
change as ``<repo>:odoo-ops-rollback-<deploy id>`` (journal: ``images``). A
rollback needs that image *and* the deploy's backup: once backup retention
(``backup prune``) has let a deploy's rollback point go, its tags only hold
disk space. :func:`prune_rollback_tags` removes (``docker image rm``, which
untags and deletes the image only when nothing else uses it) the tags of the
deploys that are older than the oldest backup retention keeps and whose own
backup is not kept. The tags of the newest deploy with images are always kept.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from odoo_ops.adapters import Target

ROLLBACK_TAG_MARK = ":odoo-ops-rollback-"


@dataclass
class TagDecision:
    deploy: str
    tag: str
    image_id: str
    keep: bool
    why: str
    removed: bool = False
    error: str | None = None


def _parse(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def decide_tags(
    target: Target, kept_backups: set[str], horizon: dt.datetime | None
) -> list[TagDecision]:
    """One decision per rollback tag of the journal (``horizon``: the oldest kept
    backup's creation time; None when no backup is kept: only the newest deploy's
    tags are kept then)."""
    from odoo_ops.deploy.journal import Journal

    records = [r for r in Journal(target.state_dir / "deploy").records() if r.images]
    records.sort(key=lambda r: r.started_at)
    out: list[TagDecision] = []
    seen: set[str] = set()
    for index, record in enumerate(reversed(records)):
        started = _parse(record.started_at)
        for kept in record.images.values():
            tag = str(kept.get("tag") or "")
            if ROLLBACK_TAG_MARK not in tag or tag in seen:
                continue
            seen.add(tag)
            if index == 0:
                keep, why = True, "newest deploy with kept images"
            elif record.backup and record.backup in kept_backups:
                keep, why = True, f"its backup {record.backup} is kept"
            elif started is not None and horizon is not None and started >= horizon:
                keep, why = True, "within backup retention"
            else:
                keep, why = False, "older than backup retention"
            out.append(TagDecision(record.id, tag, str(kept.get("id") or ""), keep, why))
    return out


def prune_rollback_tags(
    target: Target, kept_backups: set[str], horizon: dt.datetime | None, *, dry_run: bool = False
) -> list[TagDecision]:
    """Decide, then ``docker image rm`` the tags not kept (not with ``dry_run``)."""
    from odoo_ops.adapters.hostcmd import compose_runner, run_on_host

    decisions = decide_tags(target, kept_backups, horizon)
    if dry_run or all(d.keep for d in decisions) or compose_runner(target) is None:
        return decisions
    for decision in decisions:
        if decision.keep:
            continue
        result = run_on_host(target, ["docker", "image", "rm", decision.tag], timeout=120)
        text = (result.output.strip().splitlines() or [""])[-1]
        if result.returncode == 0:
            decision.removed = True
        elif "No such image" in text:
            decision.removed, decision.error = True, "already gone"
        else:
            decision.error = text or f"docker image rm: exit {result.returncode}"
    return decisions
