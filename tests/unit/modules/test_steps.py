"""Log scanning, command lines and shell scripts of the modules steps."""

from __future__ import annotations

import pytest

from odoo_ops.modules import db as dbx
from odoo_ops.modules.steps import command_line, py_list, scan_log, shell_script

LOG = """\
2026-11-25 10:00:00,001 123 INFO db odoo.modules.loading: loading 12 modules...
2026-11-25 10:00:00,002 123 WARNING db odoo.modules.loading: invalid module names, ignored: zz
2026-11-25 10:00:01,003 123 ERROR db odoo.modules.registry: Failed to load registry
Traceback (most recent call last):
  File "/odoo/modules/loading.py", line 71, in load_data
    tools.convert_file(env, package.name, filename)
  File "/odoo/tools/convert.py", line 627, in convert_file
    convert_xml_import(env, module, fp)
odoo.tools.convert.ParseError: while parsing shop/views/a.xml:3
boom in shop
2026-11-25 10:00:01,004 123 CRITICAL db odoo.service.server: Failed to initialize database `db`.
"""


def test_scan_log_keeps_errors_and_the_traceback_tail() -> None:
    found = scan_log(LOG)
    assert [line.split()[3] for line in found.errors] == ["ERROR", "CRITICAL"]
    assert found.traceback[0] == "Traceback (most recent call last):"
    assert found.traceback[-1] == "boom in shop"
    short = scan_log(LOG, tail=2)
    assert short.traceback == [
        "Traceback (most recent call last):",
        "  ...",
        "odoo.tools.convert.ParseError: while parsing shop/views/a.xml:3",
        "boom in shop",
    ]


def test_scan_log_of_a_clean_run() -> None:
    found = scan_log("2026-11-25 10:00:00,001 1 INFO db odoo.modules.loading: Modules loaded.\n")
    assert found.errors == [] and found.traceback == []


def test_command_line_quotes_and_heredoc() -> None:
    assert command_line(["odoo", "-c", "/a b/odoo.conf"]) == "odoo -c '/a b/odoo.conf'"
    text = command_line(["odoo", "shell"], "print(1)\n")
    assert text == "odoo shell <<'EOF'\nprint(1)\nEOF"


def test_py_list_refuses_odd_names() -> None:
    assert py_list(["a", "b_c"]) == "['a', 'b_c']"
    with pytest.raises(ValueError):
        py_list(["a'); import os; ('"])


def test_shell_script_commits() -> None:
    script = shell_script("env['ir.module.module'].update_list()")
    assert script.splitlines() == ["env['ir.module.module'].update_list()", "env.cr.commit()"]


def test_dependents_are_transitive_and_installed_only() -> None:
    rows = {
        "base": dbx.ModuleRow("base", "installed", "18.0.1.3", False),
        "a": dbx.ModuleRow("a", "installed", None, False, ("base",)),
        "b": dbx.ModuleRow("b", "installed", None, False, ("a",)),
        "c": dbx.ModuleRow("c", "uninstalled", None, False, ("a",)),
        "d": dbx.ModuleRow("d", "to upgrade", None, False, ("b",)),
    }
    assert dbx.dependents(rows, ["a"]) == ["b", "d"]
    assert dbx.dependents(rows, ["d"]) == []


def test_translated() -> None:
    assert dbx.translated({"en_US": "Mail"}) == "Mail"
    assert dbx.translated('{"en_US": "Mail"}') == "Mail"
    assert dbx.translated("Plain") == "Plain"
    assert dbx.translated(None) == ""


def test_addon_from_row_auto_install() -> None:
    row = dbx.ModuleRow("x", "uninstalled", None, True, ("a", "b"), ("a",))
    assert dbx.addon_from_row(row).auto_install == ("a",)
    row = dbx.ModuleRow("x", "uninstallable", None, True, ("a", "b"), ("a", "b"))
    addon = dbx.addon_from_row(row)
    assert addon.auto_install is True and not addon.installable
