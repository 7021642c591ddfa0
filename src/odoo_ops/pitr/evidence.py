"""The go-live RPO evidence (``dr:rpo``) from point-in-time recovery.

When PITR is set up for the deployment (``odoo-ops pitr setup`` wrote its
pgBackRest config), the Recovery Point Objective is not a property of the last
drill's backup but of WAL archiving right now: a commit is recoverable once the
WAL file holding it is in the repository. The figure is the archive lag, the
age of the end of the recoverable window, when WAL files are waiting to be
archived; when the archiver has caught up, a commit waits at most
``archive_timeout`` for its file to be switched and archived, so the figure is
the smaller of the lag and ``archive_timeout``. It must be within
``[dr] rpo_minutes``; no recoverable window (no backup, no WAL since) or a
failing archiver fails the item.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from odoo_ops.errors import OpsError

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.golive.evidence import Evidence

KIND = "dr:rpo"


def rpo_evidence(target: Target) -> Evidence | None:
    """The RPO evidence from the recoverable window, or None when PITR is not set up
    (the board then takes the drill's figure)."""
    from odoo_ops.golive.evidence import FAIL, PASS, Evidence
    from odoo_ops.pitr import pgbackrest
    from odoo_ops.pitr.actions import window_of
    from odoo_ops.pitr.settings import resolve
    from odoo_ops.pitr.window import archive_state, fmt_time

    try:
        st = resolve(target)
    except OpsError as exc:
        return Evidence(KIND, FAIL, f"[pitr]: {exc.message}")
    if not st.is_set_up:
        return None
    source = str(st.conf_path)
    limit = target.project.config.dr.rpo_minutes
    try:
        with target.database().connect(autocommit=True) as conn:
            state = archive_state(conn)
        info = pgbackrest.info(st)
    except OpsError as exc:
        return Evidence(KIND, FAIL, f"PITR: the recoverable window cannot be read: {exc.message}",
                        source=source)  # fmt: skip
    window = window_of(info, state, st)
    if not window.exists:
        return Evidence(KIND, FAIL, f"PITR: {window.describe()}", state.now, source)
    if state.failing:
        return Evidence(
            KIND, FAIL,
            f"PITR: WAL archiving fails ({state.failed_count} failure(s), the last on"
            f" {state.last_failed_wal}); the recoverable window ends {fmt_time(window.end)}",
            state.now, source,
        )  # fmt: skip
    lag = state.lag_seconds() or 0.0
    behind = (state.current_wal is not None and state.last_archived_wal is not None
              and state.current_wal[8:] > state.last_archived_wal[8:])  # fmt: skip
    timeout = float(st.policy.archive_timeout)
    rpo = lag if behind else min(lag, timeout)
    how = "WAL waiting to be archived" if behind else f"archive_timeout {timeout:g} s"
    text = (
        f"RPO {rpo / 60:.1f} min from PITR (archive lag {lag:.0f} s, {how};"
        f" recoverable window {window.describe()}; limit {limit:g} min)"
    )
    return Evidence(KIND, PASS if rpo <= limit * 60 else FAIL, text, state.now, source)
