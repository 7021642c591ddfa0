"""Database truth: what the Odoo database holds, compared with the code on disk.

Each audit opens one READ ONLY transaction with a statement timeout, detects
the Odoo schema (16..19) from the columns present, streams its rows through
server-side cursors and returns an :class:`AuditReport` of :class:`Finding`
objects (what is wrong, what it breaks, how to fix it).

- :func:`audit_modules` -- disk vs database inventory, one row per module;
- :func:`audit_drift` -- versions on disk vs ``latest_version``, pending states;
- :func:`audit_broken` -- menus, actions, external ids, client-action tags;
- :func:`audit_crons` -- scheduled actions;
- :func:`audit_database` -- PostgreSQL health of the database;
- :func:`verify` -- the gates of ``[verify]``/``[thresholds]``.
"""

from odoo_ops.audit.broken import BrokenOptions, audit_broken
from odoo_ops.audit.findings import ERROR, WARNING, AuditReport, Finding
from odoo_ops.audit.modules import ModuleRow, ModulesAudit, audit_modules
from odoo_ops.audit.odoo_schema import Schema, detect_schema

__all__ = [
    "ERROR",
    "WARNING",
    "AuditReport",
    "BrokenOptions",
    "Finding",
    "ModuleRow",
    "ModulesAudit",
    "Schema",
    "audit_broken",
    "audit_modules",
    "detect_schema",
]
