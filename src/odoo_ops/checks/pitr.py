"""``pitr-archiving``: point-in-time recovery works right now (area ``pitr``).

Skipped when ``odoo-ops pitr setup`` never ran for the deployment. Fails when
``archive_mode`` is off, the archiver's last attempt failed
(``pg_stat_archiver``), the last archived WAL file is older than
``[pitr] max_archive_lag_minutes`` while the server wrote WAL since, there
is no full backup or the newest is older than ``[pitr] full_max_age_hours``,
or the filestore archive was not synced within
``[pitr] filestore_max_age_minutes``. Every failure says why; all are listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from odoo_ops.adapters import Unavailable
from odoo_ops.checks.base import Outcome, check, failed, passed

if TYPE_CHECKING:
    from odoo_ops.checks.context import CheckContext

AREA = "pitr"


@check("pitr-archiving", area=AREA, title="Point-in-time recovery: WAL archived, backups fresh",
       needs=["database"])  # fmt: skip
def pitr_archiving(ctx: CheckContext) -> Outcome:
    from odoo_ops.pitr.settings import resolve
    from odoo_ops.pitr.status import archiving_problems

    st = resolve(ctx.target)
    if not st.is_set_up:
        raise Unavailable("point-in-time recovery is not set up (odoo-ops pitr setup --apply)")
    with ctx.database().connect(autocommit=True) as conn:
        problems, facts = archiving_problems(ctx.target, conn)
    if problems:
        return failed("; ".join(problems),
                      remediation="fix the archive_command (the PostgreSQL log names the error),"
                                  " run `odoo-ops pitr backup`, `odoo-ops pitr filestore-sync`",
                      evidence=facts)  # fmt: skip
    return passed("; ".join(facts))
