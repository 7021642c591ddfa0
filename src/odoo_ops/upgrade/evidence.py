"""The go-live evidence ``upgrade:rehearsed``: the last ``upgrade rehearse`` of the
deployment succeeded, with the target code configured now."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from odoo_ops.backup.layout import parse_time
from odoo_ops.errors import OpsError
from odoo_ops.upgrade.rehearse import upgrade_dir

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.config.schema import Upgrade
    from odoo_ops.golive.evidence import Evidence


def rehearsal_evidence(target: Target, arg: str) -> Evidence:
    """pass: the last rehearsal succeeded on the configured target code; warn: it
    succeeded but the target code changed since; fail: it failed; none: never run.
    A project with no ``[upgrade]`` target has no major upgrade to rehearse (pass)."""
    from odoo_ops.golive.evidence import FAIL, NONE, PASS, WARN, Evidence
    from odoo_ops.upgrade.rehearse import LAST, last_rehearsal

    kind = f"upgrade:{arg}"
    if arg != "rehearsed":
        return Evidence(kind, NONE, f"unknown evidence kind {kind!r}")
    cfg = target.project.config.upgrade
    if not cfg.target_odoo_command and not cfg.steps:
        return Evidence(kind, PASS, "no major upgrade in this go-live ([upgrade] has no "
                        "target_odoo_command nor steps)")
    path = upgrade_dir(target) / LAST
    doc = last_rehearsal(target)
    if doc is None:
        return Evidence(kind, NONE, "no evidence yet: no rehearsal "
                        "(odoo-ops upgrade rehearse)", source=str(path))
    at = parse_time(doc.get("started_at"))
    what = (f"{doc.get('source_series')} -> {doc.get('target_series')} with OpenUpgrade "
            f"{doc.get('openupgrade_scripts')}")
    if not doc.get("ok"):
        failure = doc.get("failure") or {}
        if failure:
            where = ": ".join(str(failure[k]) for k in ("module", "file") if failure.get(k))
            why = f"{where}: {failure.get('message')}" if where else str(failure.get("message"))
        else:
            failed = [str(c.get("name")) for c in doc.get("checks") or []
                      if isinstance(c, dict) and not c.get("ok")]
            why = "audit(s) failed: " + (", ".join(failed) or "?")
        return Evidence(kind, FAIL, f"the last rehearsal {what} failed: {why}", at, str(path))
    if cfg.openupgrade and cfg.openupgrade != doc.get("openupgrade_scripts"):
        return Evidence(kind, WARN, f"rehearsed {what}, but [upgrade] openupgrade is now "
                        f"{cfg.openupgrade}: rehearse again", at, str(path))
    try:
        now = _fingerprint_now(target, cfg, doc)
    except OpsError as exc:
        return Evidence(kind, WARN, f"rehearsed {what}, but the target code cannot be read "
                        f"now: {exc.message}", at, str(path))
    if now != doc.get("code_fingerprint"):
        return Evidence(kind, WARN, f"rehearsed {what}, but the target code changed since: "
                        "rehearse again", at, str(path))
    return Evidence(kind, PASS, f"rehearsed {what}: migration {doc.get('migration_seconds')} s,"
                    " audits and login passed", at, str(path))


def _fingerprint_now(target: Target, cfg: Upgrade, doc: dict[str, Any]) -> str:
    """The fingerprint of the target code configured now, for the rehearsal's steps."""
    from odoo_ops.upgrade.rehearse import code_fingerprint, prepare_steps, steps_fingerprint
    from odoo_ops.upgrade.steps import resolve_steps

    steps = resolve_steps(cfg, str(doc.get("source_series")), str(doc.get("target_series")))
    if len(steps) == 1:
        return code_fingerprint(steps[0].cfg, target, str(doc.get("openupgrade_scripts")),
                                str(doc.get("openupgrade_framework")))
    prepared = prepare_steps(target, steps, str(doc.get("copy") or "copy"),
                             upgrade_dir(target) / "evidence", dry_run=True)
    return steps_fingerprint(prepared)
