"""Python requirements checked in the interpreter that runs Odoo (one subprocess)."""

from __future__ import annotations

import sys

import pytest

from odoo_ops.addons import (
    check_bin_dependencies,
    check_python_dependencies,
    module_name,
    requirement_name,
)
from odoo_ops.errors import TargetError


@pytest.mark.parametrize(
    ("requirement", "dist", "module"),
    [
        ("python-dateutil", "python-dateutil", "dateutil"),
        ("PyYAML", "PyYAML", "yaml"),
        ("pycryptodome", "pycryptodome", "Crypto"),
        ("python-stdnum>=1.18", "python-stdnum", "stdnum"),
        ("Python_Stdnum", "Python_Stdnum", "stdnum"),
        ("openupgradelib", "openupgradelib", "openupgradelib"),
        ("some-package ; python_version < '3'", "some-package", "some_package"),
        ("Pillow", "Pillow", "PIL"),
    ],
)
def test_names(requirement: str, dist: str, module: str) -> None:
    assert requirement_name(requirement) == dist
    assert module_name(requirement) == module


def test_one_subprocess_checks_everything() -> None:
    missing = check_python_dependencies(
        [
            "pytest",               # distribution installed
            "PyYAML",               # distribution name differs from the module
            "pytest>=1.0",          # specifier satisfied
            "pytest<1.0",           # specifier not satisfied
            "no-such-dist-odoo-ops-test",
            "no-such-dist-odoo-ops-other ; python_version < '3'",  # marker excludes it
            "json",                 # not a distribution, but importable (Odoo's fallback)
        ],
        [sys.executable],
    )  # fmt: skip
    assert set(missing) == {"pytest<1.0", "no-such-dist-odoo-ops-test"}
    assert "does not satisfy" in missing["pytest<1.0"]
    assert missing["no-such-dist-odoo-ops-test"] == "not installed"


def test_runner_prefix_and_nothing_to_check() -> None:
    assert check_python_dependencies([], ["/nonexistent/python"]) == {}
    assert check_python_dependencies(["pytest"], ["env", sys.executable]) == {}


def test_bad_interpreter_is_a_target_error() -> None:
    with pytest.raises(TargetError, match="cannot run"):
        check_python_dependencies(["x"], ["/nonexistent/python3"])
    with pytest.raises(TargetError, match="failed"):
        check_python_dependencies(["x"], ["sh", "-c", "exit 3"])


def test_bin_dependencies() -> None:
    assert check_bin_dependencies(["sh", "no-such-program-odoo-ops"]) == [
        "no-such-program-odoo-ops"
    ]
