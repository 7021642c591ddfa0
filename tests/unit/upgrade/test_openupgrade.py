"""OpenUpgrade wheels read as data, the Odoo log of a migration, series rules."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from odoo_ops.errors import OpsError, UsageError
from odoo_ops.upgrade.logscan import scan_log
from odoo_ops.upgrade.openupgrade import (
    SCRIPTS_DIST,
    choose_wheel,
    find_wheels,
    parse_apriori,
    read_scripts,
    unpack,
)
from odoo_ops.upgrade.plan import check_target_series, code_lines, full_version, series_of

SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "odoo" / "wheels"
SCRIPTS = "odoo/addons/openupgrade_scripts/"


def _wheel(directory: Path, version: str, members: dict[str, str]) -> Path:
    path = directory / f"odoo_addon_openupgrade_scripts-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return path


def test_apriori_is_parsed_as_data_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    source = (f"import os\nos.mkdir({str(marker)!r})\n"
              "renamed_modules = {'old_a': 'new_a'}\n"
              "merged_modules: dict = {'gone_b': 'account'}\n"
              "renamed_models = {'x.y': 'x.z'}\n")
    renamed, merged = parse_apriori(source)
    assert renamed == {"old_a": "new_a"} and merged == {"gone_b": "account"}
    assert not marker.exists()
    with pytest.raises(OpsError, match="not a literal dict"):
        parse_apriori("renamed_modules = dict(a='b')\n")
    with pytest.raises(OpsError, match="not a dict of module names"):
        parse_apriori("merged_modules = {'a': 1}\n")
    with pytest.raises(OpsError, match="not Python"):
        parse_apriori("renamed_modules = {\n")


def test_scripts_index_lists_version_directories_per_module(tmp_path: Path) -> None:
    _wheel(tmp_path, "18.0.1.0.0.7", {
        SCRIPTS + "apriori.py": "renamed_modules = {'a': 'b'}\nmerged_modules = {}\n",
        SCRIPTS + "scripts/base/18.0.1.3/post-migration.py": "",
        SCRIPTS + "scripts/base/tests/test_base.py": "",
        SCRIPTS + "scripts/mail/18.0.1.18/pre-migration.py": "",
        SCRIPTS + "scripts/mail/17.0.1.15/pre-migration.py": "",
    })
    _wheel(tmp_path, "18.0.1.0.0.12", {})
    assert [w.version for w in find_wheels([tmp_path], SCRIPTS_DIST)] == [
        "18.0.1.0.0.12", "18.0.1.0.0.7"]  # numerically newest first
    wheel = choose_wheel([tmp_path], SCRIPTS_DIST, "18.0", "18.0.1.0.0.7")
    index = read_scripts(wheel)
    assert index.scripts == {"base": ("18.0.1.3",), "mail": ("17.0.1.15", "18.0.1.18")}
    assert index.versions_for("mail", "18.0") == ("18.0.1.18",)
    assert index.renamed == {"a": "b"}
    with pytest.raises(OpsError, match=r"no openupgrade_scripts wheel 18\.0\.1\.0\.0\.9"):
        choose_wheel([tmp_path], SCRIPTS_DIST, "18.0", "18.0.1.0.0.9")
    with pytest.raises(OpsError, match=r"no openupgrade_scripts wheel for 17\.0"):
        choose_wheel([tmp_path], SCRIPTS_DIST, "17.0", None)


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/odoo/wheels not available")
def test_the_real_440_wheel() -> None:
    wheel = choose_wheel([SHARED], SCRIPTS_DIST, "18.0", None)
    index = read_scripts(wheel)
    assert wheel.version == "18.0.1.0.0.440"
    assert index.versions_for("base", "18.0") == ("18.0.1.3",)
    assert "contacts" not in index.scripts
    assert index.renamed["website_sale_picking"] == "website_sale_collect"
    assert index.merged["account_lock"] == "account"


def test_unpack_refuses_members_leaving_the_directory(tmp_path: Path) -> None:
    bad = _wheel(tmp_path, "18.0.1.0.0.1", {"../escape.py": "x"})
    wheel = choose_wheel([tmp_path], SCRIPTS_DIST, "18.0", "18.0.1.0.0.1")
    assert wheel.path == bad
    with pytest.raises(OpsError, match="leaves the wheel's directory"):
        unpack([wheel], tmp_path / "cache")
    assert not (tmp_path / "escape.py").exists()
    assert not list((tmp_path / "cache").iterdir())  # no half-unpacked directory left
    good = tmp_path / "good"
    good.mkdir()
    _wheel(good, "18.0.1.0.0.2", {SCRIPTS + "scripts/base/18.0.1.3/post-migration.py": "#\n"})
    addons = unpack([choose_wheel([good], SCRIPTS_DIST, "18.0", None)], tmp_path / "cache")
    assert (addons / "openupgrade_scripts/scripts/base/18.0.1.3/post-migration.py").is_file()


LOG = """\
2026-12-07 14:46:28,610 30271 INFO db odoo.modules.loading: Loading module base (1/1)
2026-12-07 14:46:28,611 30271 INFO db odoo.modules.migration: module base: Running migration [>18.0.1.3] pre-migration
2026-12-07 14:46:30,100 30271 WARNING db odoo.models: Not dropping the column x
2026-12-07 14:46:40,823 30271 ERROR db OpenUpgrade: base: error in migration script /u/scripts/base/18.0.1.3/post-migration.py: while parsing /u/scripts/base/18.0.1.3/noupdate_changes.xml:511, somewhere inside
Traceback (most recent call last):
ValueError: External ID not found in the system: base.XCG
2026-12-07 14:46:40,921 30271 CRITICAL db odoo.service.server: Failed to initialize database `db`.
"""  # noqa: E501


def test_log_scan_names_module_file_line_and_record() -> None:
    scan = scan_log(LOG, "/u/scripts")
    assert scan.failure is not None
    assert (scan.failure.module, scan.failure.file, scan.failure.line) == (
        "base", "base/18.0.1.3/noupdate_changes.xml", 511)
    assert scan.failure.missing_record == "base.XCG"
    assert scan.warnings == 1 and len(scan.errors) == 2
    assert scan_log(LOG.split("ERROR")[0].rsplit("\n", 1)[0]).failure is None


def test_series_rules_and_sizes(tmp_path: Path) -> None:
    assert series_of("17.0.1.3") == "17.0" and series_of("1.3") is None
    assert full_version("1.3", "18.0") == "18.0.1.3"
    assert full_version(None, "18.0") == "18.0.1.0"
    check_target_series("17.0", "18.0")
    with pytest.raises(UsageError, match="one at a time"):
        check_target_series("16.0", "18.0")
    with pytest.raises(UsageError, match="not an upgrade"):
        check_target_series("17.0", "17.0")
    (tmp_path / "i18n").mkdir()
    (tmp_path / "i18n" / "fr.po").write_text("a\nb\n")
    (tmp_path / "m.py").write_text("a\nb\nc")  # no final newline: still 3 lines
    (tmp_path / "v.xml").write_text("<odoo/>\n")
    (tmp_path / "logo.png").write_bytes(b"\n\n\n")
    assert code_lines(tmp_path) == 4
