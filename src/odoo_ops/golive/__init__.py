"""The go-live board (``odoo-ops golive``): checklist, evidence, sign-offs, verdict, report."""

from odoo_ops.golive.board import (
    Board,
    Checklist,
    Criterion,
    Evidence,
    Item,
    ItemState,
    build_board,
    evaluate_rollback,
    load_checklist,
)
from odoo_ops.golive.report import (
    run_checks_for_board,
    save_check_report,
    to_html,
    to_markdown,
    write_report,
)
from odoo_ops.golive.signoff import Signoff, read_signoffs, revoke, sign

__all__ = [
    "Board",
    "Checklist",
    "Criterion",
    "Evidence",
    "Item",
    "ItemState",
    "Signoff",
    "build_board",
    "evaluate_rollback",
    "load_checklist",
    "read_signoffs",
    "revoke",
    "run_checks_for_board",
    "save_check_report",
    "sign",
    "to_html",
    "to_markdown",
    "write_report",
]
