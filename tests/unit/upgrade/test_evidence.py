"""The go-live evidence ``upgrade:rehearsed`` from the last rehearsal's record."""

from __future__ import annotations

import json
from pathlib import Path

from odoo_ops.adapters import Target
from odoo_ops.adapters.project import resolve_project
from odoo_ops.upgrade.evidence import rehearsal_evidence
from odoo_ops.upgrade.rehearse import LAST, code_fingerprint, upgrade_dir
from odoo_ops.upgrade.run import why_not_rehearsed

UPGRADE = """
[upgrade]
target_odoo_command = ["/opt/odoo18/odoo-bin"]
target_addons_paths = ["addons18"]
openupgrade = "18.0.1.0.0.440"
"""


def _target(root: Path, upgrade: str = UPGRADE) -> Target:
    (root / "addons18" / "acme").mkdir(parents=True, exist_ok=True)
    (root / "addons18" / "acme" / "__manifest__.py").write_text(
        "{'name': 'acme', 'version': '18.0.1.0.0'}\n")
    (root / "odoo-ops.toml").write_text('[deployments.prod]\nseries = "17.0"\n' + upgrade)
    return Target(resolve_project(root))


def _record(target: Target, **changes: object) -> dict[str, object]:
    cfg = target.project.config.upgrade
    doc: dict[str, object] = {
        "id": "r1", "ok": True, "started_at": "2026-12-07T10:00:00+00:00",
        "source_series": "17.0", "target_series": "18.0",
        "openupgrade_scripts": "18.0.1.0.0.440", "openupgrade_framework": "18.0.1.0.3.2",
        "migration_seconds": 28.0, "failure": None, "checks": [],
        "code_fingerprint": code_fingerprint(cfg, target, "18.0.1.0.0.440", "18.0.1.0.3.2"),
    }
    doc.update(changes)
    path = upgrade_dir(target) / LAST
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return doc


def test_no_target_no_rehearsal_needed(tmp_path: Path) -> None:
    evidence = rehearsal_evidence(_target(tmp_path, upgrade=""), "rehearsed")
    assert evidence.status == "pass" and "no major upgrade" in evidence.summary


def test_states_from_the_record(tmp_path: Path) -> None:
    target = _target(tmp_path)
    assert rehearsal_evidence(target, "rehearsed").status == "none"

    doc = _record(target)
    evidence = rehearsal_evidence(target, "rehearsed")
    assert evidence.status == "pass" and "17.0 -> 18.0" in evidence.summary
    assert why_not_rehearsed(doc, "18.0", "18.0.1.0.0.440", str(doc["code_fingerprint"])) is None

    _record(target, ok=False, failure={"module": "base", "file": "base/18.0.1.3/x.xml",
                                       "message": "External ID not found: base.XCG"})
    evidence = rehearsal_evidence(target, "rehearsed")
    assert evidence.status == "fail"
    assert "base: base/18.0.1.3/x.xml: External ID not found: base.XCG" in evidence.summary

    _record(target, ok=False, checks=[{"name": "attachments", "ok": False}])
    assert "audit(s) failed: attachments" in rehearsal_evidence(target, "rehearsed").summary

    doc = _record(target)
    (tmp_path / "addons18" / "acme" / "__manifest__.py").write_text(
        "{'name': 'acme', 'version': '18.0.1.0.1'}\n")  # the target code moved on
    target = Target(resolve_project(tmp_path))
    evidence = rehearsal_evidence(target, "rehearsed")
    assert evidence.status == "warn" and "changed since" in evidence.summary
    assert why_not_rehearsed(doc, "18.0", "18.0.1.0.0.440", code_fingerprint(
        target.project.config.upgrade, target, "18.0.1.0.0.440", "18.0.1.0.3.2")
    ) == "the target code changed since the last rehearsal"
    assert why_not_rehearsed(None, "18.0", "x", "y") == "no rehearsal was run"
    assert "used OpenUpgrade" in str(why_not_rehearsed(doc, "18.0", "18.0.1.0.0.554", "y"))
