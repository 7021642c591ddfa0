"""The go-live evidence of the newest drill (``dr:restore``, ``dr:rto``, ``dr:rpo``)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from odoo_ops.backup.layout import parse_time
from odoo_ops.errors import OpsError
from odoo_ops.inputs import REPORT_LIMIT, read_input_text

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.golive.evidence import Evidence


def drill_evidence(target: Target, arg: str) -> Evidence:
    """``restore``: the drill restored and Odoo answered; ``rto``/``rpo``: within [dr]."""
    from odoo_ops.golive.evidence import FAIL, NONE, PASS, Evidence

    kind = f"dr:{arg}"
    path = target.state_dir / "dr" / "last.json"
    try:
        text = read_input_text(path, kind="dr drill record", limit=REPORT_LIMIT, missing_ok=True)
        doc: Any = json.loads(text) if text else None
    except (OpsError, ValueError):
        return Evidence(kind, FAIL, f"the drill record {path} cannot be read")
    if not isinstance(doc, dict):
        return Evidence(kind, NONE, "no evidence yet: no dr drill was run (odoo-ops dr drill)")
    at = parse_time(doc.get("started_at"))
    backup = str(doc.get("backup"))
    problems = [str(p) for p in doc.get("problems") or []][:10]
    if arg == "restore":
        ok = not problems and doc.get("rto_seconds") is not None
        onto = doc.get("target")
        where = f" on deployment {onto}" if onto and onto != doc.get("deployment") else ""
        text = (
            f"{backup} restored from {doc.get('source')}{where}, Odoo answered"
            if ok
            else (f"{backup}: the drill failed{where}")
        )
        return Evidence(kind, PASS if ok else FAIL, text, at, str(path), problems)
    if arg in ("rto", "rpo"):
        seconds = doc.get(f"{arg}_seconds")
        limit = doc.get(f"{arg}_limit_minutes")
        if seconds is None:
            return Evidence(kind, FAIL, f"{arg.upper()} not measured: the drill failed", at,
                            str(path), problems)  # fmt: skip
        ok = bool(doc.get(f"{arg}_ok"))
        text = f"{arg.upper()} {float(seconds) / 60:.1f} min (limit {limit} min)"
        return Evidence(kind, PASS if ok else FAIL, text, at, str(path))
    return Evidence(kind, NONE, f"unknown evidence kind {kind!r}")
