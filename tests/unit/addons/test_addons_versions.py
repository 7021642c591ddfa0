"""Versions and series, as Odoo 17/18 read them."""

from __future__ import annotations

import pytest

from odoo_ops.addons import (
    check_series,
    core_addons,
    detect_series,
    is_core,
    normalize_version,
    origin,
    parse_version,
    version_in_series,
    version_problem,
)
from odoo_ops.addons.manifest import Addon
from odoo_ops.errors import UsageError


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("1.0", "18.0.1.0"),
        ("1.2.3", "18.0.1.2.3"),
        ("18.0.1.2.0", "18.0.1.2.0"),
        ("18.0.1.0", "18.0.1.0"),
        (None, "18.0.1.0"),
        ("17.0.1.0.0", "17.0.1.0.0"),
        (" 2.0 ", "18.0.2.0"),
    ],
)
def test_normalize_version(version: str | None, expected: str) -> None:
    assert normalize_version(version, "18.0") == expected


@pytest.mark.parametrize(
    ("version", "ok"),
    [
        ("1.0", True),
        ("1.0.0", True),
        ("18.0.1.0", True),
        ("18.0.1.0.0", True),
        (None, True),
        ("17.0.1.0.0", False),
        ("19.0.1.0.0", False),
        ("18.0", False),
        ("1", False),
        ("1.0a", False),
        ("18.0.1.0.0.0", False),
    ],
)
def test_version_in_series(version: str | None, ok: bool) -> None:
    assert version_in_series(version, "18.0") is ok


def test_version_problem_messages() -> None:
    assert (
        version_problem("17.0.1.0.0", "18.0") == "version 17.0.1.0.0 is for series 17.0, not 18.0"
    )
    assert "invalid version '1.0a'" in (version_problem("1.0a", "18.0") or "")
    assert "only the series" in (version_problem("18.0", "18.0") or "")
    assert version_problem("1.0", "18.0") is None


def test_parse_version_is_tolerant() -> None:
    assert parse_version("18.0.1.2.0") == (18, 0, 1, 2, 0)
    assert parse_version("1.0b") == (1, 0)
    assert parse_version("x.2") == (0, 2)
    assert parse_version(None) == ()
    assert parse_version("18.0.1.10.0") > parse_version("18.0.1.9.0")


def test_check_series() -> None:
    assert check_series("18.0") == "18.0"
    assert check_series("18") == "18.0"
    for bad in ("eighteen", "18.1", "", "saas~17.2"):
        with pytest.raises(UsageError):
            check_series(bad)


def test_detect_series() -> None:
    assert detect_series(["18.0.1.0.0", "18.0.2.0.0", "17.0.1.0.0", "1.0", None]) == "18.0"
    assert detect_series(["1.0", None]) is None
    assert detect_series([]) is None


def test_core_addons_are_the_community_ones() -> None:
    core = core_addons("18.0")
    assert {"base", "web", "mail", "sale", "account", "stock"} <= core
    assert "account_accountant" not in core  # Enterprise
    assert is_core("base", "18.0") and not is_core("my_addon", "18.0")
    assert core_addons("18") is core  # cached, series normalised
    with pytest.raises(UsageError, match="no list of Odoo core addons"):
        core_addons("99.0")


def test_origin() -> None:
    from pathlib import Path

    def make(name: str, author: str | None = None, website: str | None = None) -> Addon:
        return Addon(name, Path("/x") / name, Path("/x") / name / "__manifest__.py",
                     author=author, website=website)  # fmt: skip

    assert origin(make("sale"), "18.0") == "core"
    assert origin("sale", "18.0") == "core"
    assert origin(make("a", author="Acme, Odoo Community Association (OCA)"), "18.0") == "oca"
    assert origin(make("b", website="https://github.com/OCA/server-tools"), "18.0") == "oca"
    assert origin(make("c", author="Acme", website="https://acme.example"), "18.0") == "custom"
    assert origin("c", "18.0") == "custom"
