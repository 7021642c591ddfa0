"""The installed ``odoo-ops addons`` as a user runs it: formats, exit codes, the database."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.addons import write_addon


def odoo_ops(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("odoo-ops")
    argv = [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [*argv, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def assert_clean_error(proc: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert proc.returncode == code, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr and "unexpected error" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert text in errors[0]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """custom/ and oca/<repo>/ addons, with one broken manifest and one shadowed addon."""
    root = tmp_path / "proj"
    custom, repo1, repo2 = root / "custom", root / "oca" / "repo1", root / "oca" / "repo2"
    write_addon(custom, "my_base", version="18.0.1.0.0", depends=["base", "mail"])
    write_addon(custom, "my_sale", version="1.0", depends=["my_base", "sale", "oca_tool"])
    write_addon(custom, "my_bridge", depends=["my_sale", "stock"], auto_install=True)
    write_addon(custom, "needs_ghost", version="18.0.1.0.0", depends=["ghost"])
    write_addon(repo1, "oca_tool", version="18.0.1.0.0",
                author="Odoo Community Association (OCA)")  # fmt: skip
    write_addon(repo2, "oca_tool", version="18.0.2.0.0")
    broken = custom / "broken"
    broken.mkdir()
    (broken / "__manifest__.py").write_text("{\n 'name': 'x',\n 'depends': ['base',\n")
    return root


PATHS = ("--addons-path", "custom,oca/*", "--series", "18.0")


def test_plan_json(project: Path) -> None:
    proc = odoo_ops("addons", "plan", *PATHS, "--format", "json", "my_sale,stock", cwd=project)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] is True
    assert data["waves"] == [
        {"wave": 0, "addons": ["base", "mail", "sale", "stock"]},
        {"wave": 1, "addons": ["my_base", "oca_tool"]},
        {"wave": 2, "addons": ["my_sale"]},
    ]
    assert data["auto_installed"] == [
        {"name": "my_bridge", "wave": 2, "triggers": ["my_sale", "stock"], "also_installs": []}
    ]
    by_name = {a["name"]: a for a in data["addons"]}
    assert by_name["oca_tool"]["origin"] == "oca"
    assert by_name["oca_tool"]["path"].endswith("oca/repo1/oca_tool")
    assert by_name["sale"]["core"] is True
    assert "no database configured: installed addons not checked" in data["notes"]
    # the broken manifest elsewhere on the path is reported, the plan goes on
    assert [f["addon"] for f in data["findings"]] == ["broken"]
    assert data["findings"][0]["message"].startswith("custom/broken/__manifest__.py:3: ")


def test_plan_table_markdown_csv(project: Path) -> None:
    table = odoo_ops("addons", "plan", *PATHS, "my_sale", cwd=project)
    assert table.returncode == 0, table.stderr
    assert "my_base,oca_tool" in table.stdout and "install plan (18.0)" in table.stdout
    md = odoo_ops("addons", "plan", *PATHS, "--format", "markdown", "my_sale", cwd=project)
    assert md.returncode == 0 and "| wave | count | odoo -i |" in md.stdout
    out = odoo_ops("addons", "plan", *PATHS, "--format", "csv", "my_sale", cwd=project)
    assert out.returncode == 0, out.stderr
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert [r["addon"] for r in rows] == ["base", "mail", "sale", "my_base", "oca_tool", "my_sale"]
    assert rows[-1]["wave"] == "2" and rows[-1]["requested"] == "yes"


def test_plan_installed_option(project: Path) -> None:
    proc = odoo_ops(
        "addons", "plan", *PATHS, "--format", "json", "--installed", "base,mail,my_base",
        "my_sale", cwd=project,
    )  # fmt: skip
    data = json.loads(proc.stdout)
    assert data["installed"] == ["base", "mail", "my_base"]
    assert data["waves"] == [
        {"wave": 0, "addons": ["oca_tool", "sale"]},
        {"wave": 1, "addons": ["my_sale"]},
    ]


def test_plan_that_cannot_be_carried_out_exits_1(project: Path) -> None:
    proc = odoo_ops("addons", "plan", *PATHS, "--format", "json", "needs_ghost", cwd=project)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    data = json.loads(proc.stdout)
    assert data["ok"] is False and data["missing"] == ["ghost"]
    assert any(f["code"] == "addons-missing-depends" for f in data["findings"])


def test_unknown_addon_is_one_line_error(project: Path) -> None:
    proc = odoo_ops("addons", "plan", *PATHS, "my_sale", "nope", cwd=project)
    assert_clean_error(proc, 1, "unknown addon nope")
    assert proc.stdout == ""
    for sub in ("tree", "why"):
        assert_clean_error(odoo_ops("addons", sub, *PATHS, "nope", cwd=project), 1, "nope")


def test_usage_errors_exit_2(project: Path, tmp_path: Path) -> None:
    bad_series = odoo_ops("addons", "plan", "--addons-path", "custom", "--series", "x", "a",
                          cwd=project)  # fmt: skip
    assert_clean_error(bad_series, 2, "invalid Odoo series")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_clean_error(odoo_ops("addons", "plan", "x", cwd=empty), 2, "no addons path")
    missing_arg = odoo_ops("addons", "plan", *PATHS, cwd=project)
    assert missing_arg.returncode == 2 and "Traceback" not in missing_arg.stderr


def test_missing_path_entry_is_said(project: Path) -> None:
    proc = odoo_ops("addons", "plan", "--addons-path", "nowhere", "--series", "18.0", "x",
                    cwd=project)  # fmt: skip
    assert "warning: addons path entry nowhere: no such directory" in proc.stderr
    assert_clean_error(proc, 1, "unknown addon x")


def test_series_is_guessed_from_versions(project: Path) -> None:
    proc = odoo_ops("addons", "plan", "--addons-path", "custom,oca/*", "--format", "json",
                    "my_sale", cwd=project)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["series"] == "18.0"
    assert any("guessed" in n for n in data["notes"])


def test_list_formats(project: Path) -> None:
    proc = odoo_ops("addons", "list", *PATHS, "--format", "json", cwd=project)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    names = [a["name"] for a in data["addons"]]
    assert names == ["my_base", "my_bridge", "my_sale", "needs_ghost", "oca_tool"]
    assert [i["name"] for i in data["invalid"]] == ["broken"]
    assert data["shadowed"][0]["name"] == "oca_tool"
    codes = {f["code"] for f in data["findings"]}
    assert {"addons-invalid-manifest", "addons-missing-depends", "addons-shadowed"} <= codes
    assert data["ok"] is False
    by_name = {a["name"]: a for a in data["addons"]}
    assert by_name["needs_ghost"]["problems"] == ["missing-depends"]
    assert by_name["oca_tool"]["origin"] == "oca" and by_name["my_base"]["problems"] == []
    table = odoo_ops("addons", "list", *PATHS, cwd=project)
    assert table.returncode == 0 and "invalid-manifest" in table.stdout
    assert "custom/broken/__manifest__.py:3:" in table.stdout
    rows = list(csv.DictReader(io.StringIO(
        odoo_ops("addons", "list", *PATHS, "--format", "csv", cwd=project).stdout
    )))  # fmt: skip
    assert rows[0]["name"] == "my_base" and rows[-1]["problems"] == "invalid-manifest"
    md = odoo_ops("addons", "list", *PATHS, "--format", "markdown", "--origin", "oca", cwd=project)
    assert "| oca_tool |" in md.stdout and "my_base" not in md.stdout


def test_tree_and_why(project: Path) -> None:
    tree = odoo_ops("addons", "tree", *PATHS, "my_sale", cwd=project)
    assert tree.returncode == 0, tree.stderr
    assert tree.stdout.splitlines()[0] == "my_sale"
    assert "└── sale (core)" in tree.stdout and "base (core, see above)" in tree.stdout
    data = json.loads(odoo_ops("addons", "tree", *PATHS, "--format", "json", "my_sale",
                               cwd=project).stdout)  # fmt: skip
    assert [c["name"] for c in data["tree"]["depends"]] == ["my_base", "oca_tool", "sale"]
    why = json.loads(odoo_ops("addons", "why", *PATHS, "--format", "json", "my_base",
                              cwd=project).stdout)  # fmt: skip
    assert why["direct"] == ["my_sale"]
    assert why["chains"] == [["my_bridge", "my_sale", "my_base"]]
    rooted = odoo_ops("addons", "why", *PATHS, "--root", "my_sale", "my_base", cwd=project)
    assert "my_sale -> my_base" in rooted.stdout


def test_cache_lives_under_xdg_cache_home(project: Path, tmp_path: Path) -> None:
    cache = tmp_path / "xdg-cache"
    env = {"XDG_CACHE_HOME": str(cache)}
    first = odoo_ops("addons", "plan", *PATHS, "--format", "json", "my_sale", cwd=project, env=env)
    assert (cache / "odoo-ops" / "manifests.json").is_file()
    second = odoo_ops("addons", "plan", *PATHS, "--format", "json", "my_sale", cwd=project, env=env)
    assert first.stdout == second.stdout
    (cache / "odoo-ops" / "manifests.json").unlink()
    odoo_ops("addons", "plan", *PATHS, "--no-cache", "my_sale", cwd=project, env=env)
    assert not (cache / "odoo-ops" / "manifests.json").exists()


@pytest.mark.pg
def test_plan_reads_what_the_database_has_installed(project: Path, odoo_db) -> None:  # type: ignore[no-untyped-def]
    db = odoo_db(version=18)
    (project / "odoo-ops.toml").write_text(
        f'[deployments.prod]\ndsn = "{db.dsn}"\nseries = "18.0"\n'
        'addons_paths = ["custom", "oca/*"]\n'
    )
    proc = odoo_ops("addons", "plan", "--format", "json", "my_sale", cwd=project)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {"base", "mail"} <= set(data["installed"])
    planned = [a for w in data["waves"] for a in w["addons"]]
    assert "base" not in planned and "my_sale" in planned
    by_name = {a["name"]: a for a in data["addons"]}
    assert by_name["my_sale"]["in_database"] is False
    assert by_name["base"]["status"] == "installed"
    # --no-db skips the database; explicit --addons-path still wins over the config
    no_db = json.loads(
        odoo_ops(
            "addons",
            "plan",
            "--no-db",
            "--format",
            "json",
            "--addons-path",
            "custom,oca/*",
            "my_sale",
            cwd=project,
        ).stdout
    )
    assert no_db["installed"] == []


def test_plan_with_unreachable_database_notes_it(project: Path) -> None:
    (project / "odoo-ops.toml").write_text(
        '[deployments.prod]\ndsn = "postgresql://nobody@127.0.0.1:1/none"\nseries = "18.0"\n'
        'addons_paths = ["custom", "oca/*"]\nconnect_timeout = 1\n'
    )
    proc = odoo_ops("addons", "plan", "--format", "json", "my_sale", cwd=project)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert any(n.startswith("installed addons not checked") for n in data["notes"])
    assert "Traceback" not in proc.stderr


def test_broken_config_does_not_stop_an_explicit_plan(project: Path) -> None:
    (project / "odoo-ops.toml").write_text("this is = not [valid toml\n")
    proc = odoo_ops("addons", "plan", *PATHS, "--format", "json", "my_sale", cwd=project)
    assert proc.returncode == 0, proc.stderr
    assert any(n.startswith("deployment not read: ") for n in json.loads(proc.stdout)["notes"])
    # without --series the configuration is needed, and its error is the answer
    assert_clean_error(
        odoo_ops("addons", "plan", "--addons-path", "custom", "my_sale", cwd=project),
        2,
        "invalid TOML",
    )


@pytest.mark.parametrize("names", [[""], [" , ", ","], ["", ""]])
def test_plan_of_no_name_is_a_usage_error(project: Path, names: list[str]) -> None:
    proc = odoo_ops("addons", "plan", *PATHS, *names, cwd=project)
    assert_clean_error(proc, 2, "no addon named")
