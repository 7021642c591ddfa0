"""The addons checks on addon folders built in tmp_path (no database)."""

from __future__ import annotations

from odoo_ops.checks.base import Status

from .helpers import FileProject, assert_status, text_of

ADDON_CHECKS = ("addons-path", "addons-shadowed", "addons-missing-depends", "addons-manifests")


def path_project(fp: FileProject, *entries: str) -> None:
    fp.conf(addons_path=",".join(str(fp.root / e) for e in entries))


def test_good_addons_path_passes_every_check(fp: FileProject) -> None:
    fp.addon("ipai_core", depends=["base", "mail"])
    fp.addon("ipai_ppm", depends=["ipai_core", "project"], where="addons/oca")
    fp.addon("old_one", installable=False, version="17.0.1.0.0")  # unused: fine
    path_project(fp, "addons", "addons/oca")
    results = fp.run(*ADDON_CHECKS)
    for check_id, result in results.items():
        assert result.status == Status.PASS, (check_id, text_of(result))
    assert "installable: False and not in use" in results["addons-manifests"].message


def test_addons_checks_skip_without_addons_path(fp: FileProject) -> None:
    fp.conf()
    results = fp.run(*ADDON_CHECKS)
    assert_status(results["addons-path"], Status.SKIP, "no addons path")
    for check_id in ADDON_CHECKS[1:]:
        assert_status(results[check_id], Status.SKIP, "no addons directory")


# -- addons-path -----------------------------------------------------------------------


def test_path_entry_missing_or_an_addon_fails(fp: FileProject) -> None:
    fp.addon("a")
    path_project(fp, "addons", "nope", "addons/a")
    result = fp.one("addons-path")
    assert_status(result, Status.FAIL, "nope does not exist", "addons/a is an addon itself")


def test_path_entry_empty_warns(fp: FileProject) -> None:
    fp.addon("a")
    (fp.root / "empty").mkdir()
    path_project(fp, "addons", "empty")
    assert_status(fp.one("addons-path"), Status.WARN, "empty holds no addon")


def test_path_entry_with_only_a_readme_is_ready_for_addons(fp: FileProject) -> None:
    fp.addon("a")
    fp.write("custom/README.md", "Put your addons here.\n")
    path_project(fp, "addons", "custom")
    result = fp.one("addons-path")
    assert_status(result, Status.PASS)
    assert any("custom: no addon yet" in e for e in result.evidence)


def test_path_entry_with_a_directory_but_no_manifest_warns(fp: FileProject) -> None:
    fp.addon("a")
    fp.write("custom/README.md", "Put your addons here.\n")
    fp.write("custom/my_addon/models.py", "")
    path_project(fp, "addons", "custom")
    assert_status(fp.one("addons-path"), Status.WARN, "custom holds no addon")


def test_path_entries_inside_the_image(fp: FileProject) -> None:
    fp.write("docker-compose.yml", "services:\n  odoo:\n    image: odoo:18.0\n    volumes:\n"
             "      - ./custom:/mnt/extra-addons\n      - ./config:/etc/odoo\n")  # fmt: skip
    fp.write("config/odoo.conf", "[options]\naddons_path = /usr/lib/python3/dist-packages/odoo/"
             "addons,/mnt/extra-addons\n")  # fmt: skip
    fp.configure(runner="compose", compose_file="docker-compose.yml", odoo_conf="config/odoo.conf")
    fp.addon("my_addon", where="custom")
    result = fp.one("addons-path")
    assert_status(result, Status.PASS, "only inside the image", "custom: 1 addon(s)")
    # nothing mapped to this host: skip, saying why
    fp.write("config/odoo.conf", "[options]\naddons_path = /opt/odoo/addons\n")
    assert_status(fp.one("addons-path"), Status.SKIP, "only inside the image", "/opt/odoo/addons")


# -- addons-shadowed -------------------------------------------------------------------


def test_shadowed_addon_warns_naming_the_winner(fp: FileProject) -> None:
    fp.addon("dup", where="first")
    fp.addon("dup", where="second")
    fp.addon("other", where="second")
    path_project(fp, "first", "second")
    result = fp.one("addons-shadowed")
    assert_status(result, Status.WARN, "dup", "first/dup wins over second/dup")


# -- addons-missing-depends ------------------------------------------------------------


def test_missing_dependency_fails_with_manifest_line(fp: FileProject) -> None:
    fp.addon("ipai_ppm", depends=["base", "project_timeline"])
    fp.addon("unported", depends=["gone_for_good"], installable=False)  # ignored
    path_project(fp, "addons")
    result = fp.one("addons-missing-depends")
    assert_status(result, Status.FAIL, "project_timeline (not found) needed by ipai_ppm",
                  "addons/ipai_ppm/__manifest__.py:", "on the path")  # fmt: skip
    assert "gone_for_good" not in text_of(result)


def test_dependency_with_invalid_manifest(fp: FileProject) -> None:
    fp.addon("user", depends=["broken"])
    (fp.root / "addons/broken").mkdir(parents=True)
    (fp.root / "addons/broken/__manifest__.py").write_text("{'name': 'x',, }\n")
    path_project(fp, "addons")
    assert_status(fp.one("addons-missing-depends"), Status.FAIL, "broken (manifest invalid)")


def test_planned_module_and_its_dependencies(fp: FileProject) -> None:
    fp.addon("a", depends=["base"])
    fp.addon("b", depends=["a", "missing_x"])
    path_project(fp, "addons")
    result = fp.one("addons-missing-depends", planned=["b", "not_anywhere"])
    assert_status(result, Status.FAIL, "missing_x", "not_anywhere (planned with --module)")


def test_missing_depends_skips_without_series(fp: FileProject) -> None:
    fp.configure(series=None)
    fp.addon("a", version="1.0", depends=["base"])
    path_project(fp, "addons")
    result = fp.one("addons-missing-depends")
    assert_status(result, Status.SKIP, "series is not known")
    assert "series" in (result.remediation or "")
    # long versions tell the series: then it runs
    fp.addon("a", version="17.0.1.0.0", depends=["base", "account"])
    assert_status(fp.one("addons-missing-depends"), Status.PASS, "17.0", "guessed")


# -- addons-manifests ----------------------------------------------------------------------


def test_invalid_manifest_fails_with_file_and_line(fp: FileProject) -> None:
    fp.addon("good")
    (fp.root / "addons/bad").mkdir(parents=True)
    (fp.root / "addons/bad/__manifest__.py").write_text("{\n  'name': 'Bad',\n  'depends': [,\n}\n")
    path_project(fp, "addons")
    result = fp.one("addons-manifests")
    assert_status(result, Status.FAIL, "bad: invalid manifest", "addons/bad/__manifest__.py:4")


def test_version_of_another_series_fails(fp: FileProject) -> None:
    fp.addon("wrong_branch", version="17.0.1.0.0")
    path_project(fp, "addons")
    result = fp.one("addons-manifests")
    assert_status(result, Status.FAIL, "wrong_branch", "17.0", "__manifest__.py:")


def test_dependency_not_installable_warns(fp: FileProject) -> None:
    fp.addon("needs_it", depends=["off"])
    fp.addon("off", installable=False)
    path_project(fp, "addons")
    assert_status(fp.one("addons-manifests"), Status.WARN, "off is installable: False",
                  "needs_it")  # fmt: skip
    result = fp.one("addons-manifests", planned=["off"])
    assert_status(result, Status.FAIL, "off is planned but marked installable: False")


def test_dependency_cycle_fails(fp: FileProject) -> None:
    fp.addon("x", depends=["y"])
    fp.addon("y", depends=["x"])
    path_project(fp, "addons")
    assert_status(fp.one("addons-manifests"), Status.FAIL, "cycle")


def test_configured_addons_paths_matching_nothing_fail(fp: FileProject) -> None:
    fp.conf()
    fp.configure(addons_paths=["vendor/*"])
    assert_status(fp.one("addons-path"), Status.FAIL, "match no directory", "vendor/*")
