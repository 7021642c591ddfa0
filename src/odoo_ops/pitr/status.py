"""Is point-in-time recovery working right now? Shared by check ``pitr-archiving``
and the health probe of the same name."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from odoo_ops.errors import OpsError

if TYPE_CHECKING:
    from odoo_ops.adapters import Target


def archiving_problems(target: Target, conn: Any) -> tuple[list[str], list[str]]:
    """(problems, facts) of PITR for ``target`` through ``conn`` (shared with the probe)."""
    from odoo_ops.pitr import pgbackrest
    from odoo_ops.pitr.filestore import FilestoreArchive
    from odoo_ops.pitr.settings import resolve
    from odoo_ops.pitr.window import archive_state, fmt_time

    st = resolve(target)
    policy = st.policy
    problems: list[str] = []
    facts: list[str] = []
    state = archive_state(conn)
    if state.archive_mode not in ("on", "always"):
        problems.append(f"archive_mode is {state.archive_mode} (needs on and a restart)")
    if "archive-push" not in state.archive_command or st.stanza not in state.archive_command:
        problems.append(f"archive_command does not push to stanza {st.stanza}:"
                        f" {state.archive_command or '(empty)'}")  # fmt: skip
    if state.failing:
        problems.append(
            f"WAL archiving fails: {state.failed_count} failure(s), the last on"
            f" {state.last_failed_wal} at {fmt_time(state.last_failed_time)}"
            " (see the PostgreSQL log for the archive_command's error)"
        )
    lag = state.lag_seconds()
    limit = policy.max_archive_lag_minutes * 60
    if lag is None:
        problems.append("no WAL file was ever archived")
    else:
        facts.append(f"last WAL archived {lag:.0f} s ago ({state.last_archived_wal})")
        behind = state.current_wal is not None and state.last_archived_wal is not None and \
            state.current_wal[8:] > state.last_archived_wal[8:]
        if lag > limit and behind:
            problems.append(f"the last archived WAL is {lag / 60:.0f} min old"
                            f" (max_archive_lag_minutes = {policy.max_archive_lag_minutes:g})")
    try:
        info = pgbackrest.info(st)
    except OpsError as exc:
        problems.append(f"pgbackrest info failed: {exc.message}")
        info = None
    now = datetime.now(UTC)
    if info is not None:
        full = info.newest("full")
        if full is None:
            problems.append("no full backup (run `odoo-ops pitr backup --type full`)")
        else:
            age_h = (now - full.stop).total_seconds() / 3600
            facts.append(f"newest full backup {full.label}, {age_h:.1f} h old")
            if age_h > policy.full_max_age_hours:
                problems.append(f"the newest full backup is {age_h:.0f} h old"
                                f" (full_max_age_hours = {policy.full_max_age_hours:g})")
    if st.database:
        last = FilestoreArchive(st.filestore_archive, st.database).last_sync()
        if last is None:
            problems.append(
                "the filestore archive was never synced (`odoo-ops pitr filestore-sync`)"
            )
        else:
            minutes = (now - last).total_seconds() / 60
            facts.append(f"filestore archive synced {minutes:.0f} min ago")
            if minutes > policy.filestore_max_age_minutes:
                problems.append(
                    f"the filestore archive was last synced {minutes:.0f} min ago"
                    f" (filestore_max_age_minutes = {policy.filestore_max_age_minutes:g})"
                )
    return problems, facts


def probe_result(target: Target) -> tuple[str, str]:
    """(status, message) for the health probe: ``skip`` when PITR is not set up,
    ``fail`` naming every problem, else ``ok`` with the facts."""
    from odoo_ops.pitr.settings import resolve

    if not resolve(target).is_set_up:
        return "skip", "point-in-time recovery is not set up (odoo-ops pitr setup --apply)"
    with target.database().connect(autocommit=True) as conn:
        problems, facts = archiving_problems(target, conn)
    if problems:
        return "fail", "; ".join(problems)
    return "ok", "; ".join(facts)
