"""The file-based check modules register stable, documented checks."""

from __future__ import annotations

from pathlib import Path

from odoo_ops.checks import all_checks, check_modules

# module -> (area, id prefix)
MODULES = {
    "conf": ("odoo-conf", "conf-"),
    "addons": ("addons", "addons-"),
    "python_deps": ("python", "python-"),
    "secrets": ("secrets", "secrets-"),
    "backups": ("backups", "backups-"),
    "logs": ("logs", "logs-"),
}
DOC = Path(__file__).resolve().parents[3] / "docs" / "checks.md"


def test_each_module_registers_checks_of_its_area() -> None:
    checks = all_checks()
    assert set(MODULES) <= set(check_modules())
    for module, (area, prefix) in MODULES.items():
        mine = [c for c in checks.values() if c.module == f"odoo_ops.checks.{module}"]
        assert mine, f"{module} registers no check"
        assert {c.area for c in mine} == {area}, module
        for c in mine:
            assert c.title and c.id.startswith(prefix), c.id


def test_every_file_check_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    checks = all_checks()
    for c in checks.values():
        if c.module.rsplit(".", 1)[1] in MODULES:
            assert f"| `{c.id}` | {c.severity.value} |" in text, c.id
