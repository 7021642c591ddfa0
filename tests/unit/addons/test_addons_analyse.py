"""Findings over a whole addons path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from odoo_ops.addons import analyse, scan_addons_path
from odoo_ops.addons import findings as F
from tests.unit.addons.helpers import addon, graph_tree, raw_addon


def _codes(report) -> list[tuple[str, str, str | None]]:  # type: ignore[no-untyped-def]
    return [(f.code, f.severity, f.addon) for f in report.findings]


def test_clean_path_has_no_findings(tmp_path: Path) -> None:
    graph_tree(tmp_path / "a", {"x": ["base"], "y": ["x", "sale"]})
    report = analyse(scan_addons_path([tmp_path / "a"]), "18.0")
    assert report.findings == [] and report.ok
    assert report.origins == {"x": "custom", "y": "custom"}


def test_missing_dependencies_name_who_needs_them(tmp_path: Path) -> None:
    graph_tree(tmp_path / "a", {"x": ["ghost", "base"], "y": ["ghost"], "z": ["other"]})
    report = analyse(scan_addons_path([tmp_path / "a"]), "18.0")
    missing = {f.addon: f for f in report.findings if f.code == F.MISSING_DEPENDS}
    assert set(missing) == {"ghost", "other"}
    assert missing["ghost"].data["needed_by"] == ["x", "y"]
    assert "ghost is needed by x, y" in missing["ghost"].message
    assert not report.ok


def test_dependency_on_an_invalid_addon(tmp_path: Path) -> None:
    root = tmp_path / "a"
    addon(root, "x", depends=["broken"])
    raw_addon(root, "broken", "{")
    report = analyse(scan_addons_path([root]), "18.0")
    assert (F.INVALID_DEPENDS, "error", "broken") in _codes(report)
    assert (F.INVALID_MANIFEST, "error", "broken") in _codes(report)
    assert not any(f.code == F.MISSING_DEPENDS for f in report.findings)


def test_cycles_are_reported_once_each_in_order(tmp_path: Path) -> None:
    graph_tree(tmp_path / "a", {
        "a": ["b"], "b": ["c"], "c": ["a"],      # one cycle of three
        "d": ["d"],                              # depends on itself
        "e": ["f"], "f": ["e"], "g": ["a"],      # a second cycle; g sits on top of one
    })  # fmt: skip
    report = analyse(scan_addons_path([tmp_path / "a"]), "18.0")
    cycles = [f.data["cycle"] for f in report.findings if f.code == F.CYCLE]
    assert cycles == [["a", "b", "c"], ["d"], ["e", "f"]]
    messages = [f.message for f in report.findings if f.code == F.CYCLE]
    assert messages[0] == "dependency cycle: a -> b -> c -> a"


def test_not_installable_and_its_users(tmp_path: Path) -> None:
    root = tmp_path / "a"
    addon(root, "off", installable=False)
    addon(root, "user", depends=["off"])
    report = analyse(scan_addons_path([root]), "18.0")
    assert (F.NOT_INSTALLABLE, "warning", "off") in _codes(report)
    assert (F.DEPENDS_NOT_INSTALLABLE, "warning", "user") in _codes(report)
    installed = analyse(scan_addons_path([root]), "18.0", installed={"off"})
    assert (F.NOT_INSTALLABLE, "error", "off") in _codes(installed)


def test_versions_of_another_series(tmp_path: Path) -> None:
    root = tmp_path / "a"
    addon(root, "old", version="17.0.1.0.0")
    addon(root, "bare", version="1.2.3")
    addon(root, "weird", version="1.0-beta")
    addon(root, "off_old", version="16.0.1.0.0", installable=False)
    report = analyse(scan_addons_path([root]), "18.0")
    assert (F.VERSION_SERIES, "error", "old") in _codes(report)
    assert (F.VERSION_INVALID, "error", "weird") in _codes(report)
    assert not [f for f in report.findings if f.addon == "bare"]
    assert not [f for f in report.findings if f.addon == "off_old" and "version" in f.code]


def test_shadowed_invalid_and_entries(tmp_path: Path) -> None:
    addon(tmp_path / "one", "dup")
    addon(tmp_path / "two", "dup")
    raw_addon(tmp_path / "two", "bad", "[]")
    scan = scan_addons_path(["one", "two", "nowhere"], base_dir=tmp_path)
    report = analyse(scan, "18.0")
    codes = _codes(report)
    assert (F.SHADOWED, "warning", "dup") in codes
    assert (F.INVALID_MANIFEST, "error", "bad") in codes
    entry = [f for f in report.findings if f.code == F.PATH_ENTRY]
    assert len(entry) == 1 and entry[0].severity == "error" and "does not exist" in entry[0].message
    # errors come first
    severities = [f.severity for f in report.findings]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)


def test_installed_but_gone(tmp_path: Path) -> None:
    addon(tmp_path / "a", "x")
    report = analyse(scan_addons_path([tmp_path / "a"]), "18.0", installed={"x", "gone", "sale"})
    gone = [f.addon for f in report.findings if f.code == F.INSTALLED_NOT_FOUND]
    assert gone == ["gone"]  # sale is core, and Odoo's own addons are not on this path


def test_external_dependencies(tmp_path: Path) -> None:
    root = tmp_path / "a"
    addon(root, "x", external_dependencies={
        "python": ["pytest", "PyYAML>=1.0", "surely-not-installed-odoo-ops-xyz"],
        "bin": ["sh", "surely-not-a-program-odoo-ops"],
    })  # fmt: skip
    scan = scan_addons_path([root])
    unchecked = analyse(scan, "18.0")
    assert unchecked.ok
    assert any("Python dependencies not checked" in n for n in unchecked.notes)
    report = analyse(scan, "18.0", python_cmd=[sys.executable], check_python=True, check_bin=True)
    missing = {f.data.get("requirement") or f.data.get("program") for f in report.findings}
    assert missing == {"surely-not-installed-odoo-ops-xyz", "surely-not-a-program-odoo-ops"}
    assert {f.code for f in report.findings} == {F.PYTHON_MISSING, F.BIN_MISSING}


@pytest.mark.parametrize("series", ["18.0", "17.0", "16.0", "19.0"])
def test_core_dependencies_are_not_missing(tmp_path: Path, series: str) -> None:
    graph_tree(tmp_path / "a", {"x": ["base", "web", "mail", "account"]}, version="1.0.0")
    assert analyse(scan_addons_path([tmp_path / "a"]), series).ok
