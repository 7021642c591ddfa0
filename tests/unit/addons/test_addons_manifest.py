"""Reading manifests: ast only, precise errors, Odoo's rules on types."""

from __future__ import annotations

from pathlib import Path

import pytest

from odoo_ops.addons import Addon, load_addon, read_manifest, read_manifest_text
from odoo_ops.addons.manifest import ManifestProblem, parse_manifest
from odoo_ops.errors import ManifestError, OpsError
from tests.unit.addons.helpers import addon, raw_addon


def test_valid_manifest_becomes_an_addon(tmp_path: Path) -> None:
    path = addon(
        tmp_path, "my_sale", depends=["sale", "stock"], auto_install=["sale", "stock"],
        version="18.0.1.2.0", application=True, website="https://example.com",
        external_dependencies={"python": ["PyYAML"], "bin": ["wkhtmltopdf"], "deb": ["x"]},
    )  # fmt: skip
    got = load_addon(path)
    assert isinstance(got, Addon)
    assert got.name == "my_sale"
    assert got.path == path
    assert got.manifest_path == path / "__manifest__.py"
    assert got.version == "18.0.1.2.0"
    assert got.depends == ("sale", "stock")
    assert got.auto_install == ("sale", "stock")
    assert got.auto_install_triggers == frozenset({"sale", "stock"})
    assert got.application is True and got.installable is True
    assert got.python_dependencies == ("PyYAML",)
    assert got.bin_dependencies == ("wkhtmltopdf",)
    assert "deb" not in got.external_dependencies
    hash(got)  # frozen and hashable


def test_defaults_follow_odoo() -> None:
    manifest = parse_manifest("{'name': 'x'}")
    assert manifest == {"name": "x"}
    from odoo_ops.addons import addon_from_manifest

    got = addon_from_manifest("x", Path("/a/x"), manifest)
    assert got.version is None and got.depends == () and got.auto_install is False
    assert got.installable is True and got.auto_install_triggers is None


def test_auto_install_true_triggers_on_all_depends() -> None:
    from odoo_ops.addons import addon_from_manifest

    got = addon_from_manifest("b", Path("/a/b"), parse_manifest(
        "{'depends': ['sale', 'stock'], 'auto_install': True}"
    ))  # fmt: skip
    assert got.auto_install is True
    assert got.auto_install_triggers == frozenset({"sale", "stock"})


def test_comments_are_fine_a_bom_is_not(tmp_path: Path) -> None:
    text = "# Copyright\n# -*- coding: utf-8 -*-\n{\n    'name': 'x',  # trailing\n}\n"
    assert parse_manifest(text) == {"name": "x"}
    path = raw_addon(tmp_path, "bom", b"\xef\xbb\xbf" + text.encode())
    with pytest.raises(ManifestError, match="byte-order mark") as info:
        read_manifest(path, display_path="bom/__manifest__.py")
    assert info.value.message.startswith("bom/__manifest__.py:1: ")


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("{\n 'name': 'x',\n 'depends': ['base',\n", 3, "never closed"),
        ("{'a': 1,, }", 1, "invalid syntax"),
        ("{'name' 'x'}", 1, "must be a dict, not set"),
        ("['a', 'b']", 1, "must be a dict, not list"),
        ("{\n 'name': 'x',\n 'data': open('x'),\n}", 3, "not a literal value (Call)"),
        ("{\n 'depends': 'base',\n}", 2, "'depends' must be a list of addon names, not str"),
        ("{\n 'depends': ['base', 3],\n}", 2, "'depends' must be a list"),
        ("{'installable': 'yes'}", 1, "'installable' must be True or False, not str"),
        ("{\n\n 'version': 1.0}", 3, "'version' must be a string, not float"),
        ("{'auto_install': 'x'}", 1, "'auto_install' must be True, False or a list"),
        ("{'depends': ['a'], 'auto_install': ['a', 'b']}", 1, "not dependencies: b"),
        ("{'external_dependencies': ['x']}", 1, "'external_dependencies' must be a dict"),
        ("{'external_dependencies': {'python': 'x'}}", 1, "external_dependencies['python']"),
        ("{1: 'x'}", None, "keys must be strings"),
        ("", None, ""),
        ("{'a': 1} + {'b': 2}", 1, "not a literal value (BinOp)"),
        ("{'name': 'x'}\x00", None, ""),
    ],
)
def test_invalid_manifests_say_where_and_why(text: str, line: int | None, words: str) -> None:
    with pytest.raises(ManifestError) as info:
        read_manifest_text(text, "custom/x/__manifest__.py")
    message = str(info.value)
    prefix = "custom/x/__manifest__.py" + (f":{line}:" if line else "")
    assert message.startswith(prefix), message
    assert words in message
    assert isinstance(info.value, OpsError)
    assert "Traceback" not in message


def test_problem_without_file_and_located() -> None:
    with pytest.raises(ManifestProblem) as info:
        parse_manifest("{\n'depends': 'x'}")
    assert info.value.line == 2
    assert info.value.located("a/b.py") == "a/b.py:2: " + info.value.reason
    assert info.value.error("a/b.py").message.startswith("a/b.py:2: ")


def test_addon_code_is_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = raw_addon(
        tmp_path, "evil",
        f"{{'name': __import__('os').system('touch {marker}')}}",
    )  # fmt: skip
    (path / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    with pytest.raises(ManifestError, match="not a literal value"):
        read_manifest(path)
    assert not marker.exists()


def test_openerp_manifest_is_refused(tmp_path: Path) -> None:
    path = raw_addon(tmp_path, "old", "{'name': 'old'}", manifest_name="__openerp__.py")
    with pytest.raises(ManifestError) as info:
        read_manifest(path)
    assert "__openerp__.py is not read by Odoo 16+" in info.value.message
    assert info.value.hint == "rename it to __manifest__.py"


def test_missing_and_undecodable(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no such file"):
        read_manifest(tmp_path)
    path = raw_addon(tmp_path, "latin", "{'name': 'caf\xe9'}".encode("latin-1"))
    with pytest.raises(ManifestError, match="not valid UTF-8"):
        read_manifest(path, display_path="latin/__manifest__.py")


def test_layout_is_read_as_odoo_reads_it() -> None:
    # ast.literal_eval (Odoo) strips spaces and tabs before the text, nothing else
    assert parse_manifest("  {'a': 1}") == {"a": 1}
    assert parse_manifest("# c\n\n  # c\n{'a': 1}\n  # end\n") == {"a": 1}
    for text in ("# c\n  {'a': 1}", "{'a': 1}\n  "):
        with pytest.raises(ManifestProblem, match="unexpected indent"):
            parse_manifest(text)
