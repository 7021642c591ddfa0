"""``python-dependencies``: one probe through the real runner (local, compose double)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from odoo_ops.checks import python_deps
from odoo_ops.checks.base import Status
from odoo_ops.checks.python_deps import interpreter, parse_probe_output, probe_script

from .helpers import FileProject, assert_status, text_of


@pytest.fixture
def light_odoo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Odoo's own libraries replaced by ones this test interpreter has."""
    monkeypatch.setattr(python_deps, "ODOO_MODULES", ("json", "yaml"))
    monkeypatch.setattr(python_deps, "ODOO_PROGRAMS", ("sh",))


def source_checkout(fp: FileProject) -> None:
    """odoo-bin with the odoo package beside it, run by this interpreter."""
    fp.write("src/odoo-bin", "#!/usr/bin/env python3\n")
    fp.write("src/odoo/__init__.py", "")
    fp.configure(odoo_command=[sys.executable, str(fp.root / "src/odoo-bin")],
                 addons_paths=["addons"])  # fmt: skip
    fp.conf()


@pytest.mark.usefixtures("light_odoo")
def test_missing_python_and_bin_dependencies_fail(fp: FileProject) -> None:
    source_checkout(fp)
    fp.addon("a", external_dependencies={
        "python": ["PyYAML", "definitely_not_installed_pkg_42"],
        "bin": ["sh", "definitely-not-a-program-42"],
    })  # fmt: skip
    fp.addon("b", external_dependencies={"python": ["pyyaml>=999.0"]})
    result = fp.one("python-dependencies")
    assert_status(result, Status.FAIL, "definitely_not_installed_pkg_42 (not installed) for a",
                  "definitely-not-a-program-42", "does not satisfy >=999.0",
                  "-m pip install")  # fmt: skip
    shown = text_of(result)
    assert "PyYAML (" not in shown and "program sh " not in shown
    assert sys.executable in shown


@pytest.mark.usefixtures("light_odoo")
def test_everything_present_passes(fp: FileProject) -> None:
    source_checkout(fp)
    fp.addon("a", external_dependencies={"python": ["PyYAML>=3"], "bin": ["sh"]})
    result = fp.one("python-dependencies")
    assert_status(result, Status.PASS, "1 addon requirement(s) and 1 program(s)",
                  "the 1 addon(s) on the path", sys.executable)  # fmt: skip


@pytest.mark.usefixtures("light_odoo")
def test_odoo_not_importable_fails(fp: FileProject) -> None:
    source_checkout(fp)
    (fp.root / "src/odoo/__init__.py").unlink()
    (fp.root / "src/odoo").rmdir()
    assert_status(fp.one("python-dependencies"), Status.FAIL, "odoo package itself")


def test_odoo_libraries_missing_fail(fp: FileProject, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(python_deps, "ODOO_MODULES", ("json", "no_such_odoo_lib_42"))
    monkeypatch.setattr(python_deps, "ODOO_PROGRAMS", ())
    source_checkout(fp)
    assert_status(fp.one("python-dependencies"), Status.FAIL,
                  "Odoo's own libraries missing: no_such_odoo_lib_42")  # fmt: skip


def test_wkhtmltopdf_missing_warns(fp: FileProject, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(python_deps, "ODOO_MODULES", ("json",))
    monkeypatch.setattr(python_deps, "ODOO_PROGRAMS", ("no-wkhtmltopdf-here-42",))
    source_checkout(fp)
    assert_status(fp.one("python-dependencies"), Status.WARN, "no-wkhtmltopdf-here-42",
                  "PDF reports")  # fmt: skip


@pytest.mark.usefixtures("light_odoo")
def test_interpreter_from_the_shebang_of_odoo_command(fp: FileProject) -> None:
    script = fp.write("venv/bin/odoo", f"#!{sys.executable}\nprint('odoo')\n", mode=0o755)
    fp.configure(odoo_command=[str(script)], addons_paths=["addons"])
    fp.conf()
    fp.addon("a")
    result = fp.one("python-dependencies")
    # this interpreter has no odoo package: the point is which interpreter was asked
    assert f"{sys.executable} (the #! line of {script})" in text_of(result)


def compose_project(fp: FileProject) -> None:
    fp.write("docker-compose.yml", "services:\n  odoo:\n    image: odoo:18.0\n")
    fp.configure(runner="compose", compose_file="docker-compose.yml", odoo_conf=None,
                 addons_paths=["addons"])  # fmt: skip
    fp.addon("a", external_dependencies={"python": ["PyYAML"]})


@pytest.mark.usefixtures("light_odoo")
def test_compose_runs_one_probe_in_the_odoo_service(
    fp: FileProject, fake_bin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(python_deps, "ODOO_PACKAGE", "json")
    compose_project(fp)
    result = fp.one("python-dependencies")
    assert_status(result, Status.PASS, "compose", "python3 in compose service 'odoo'")
    calls = [c for c in fake_bin.docker_calls() if " exec " in c]
    assert len(calls) == 1
    assert " exec -T odoo python3 -c " in calls[0]


def test_compose_daemon_down_skips_with_reason(fp: FileProject, fake_bin) -> None:
    compose_project(fp)
    fake_bin.daemon_down()
    result = fp.one("python-dependencies")
    assert_status(result, Status.SKIP, "Cannot connect to the Docker daemon")
    assert result.remediation


def test_compose_service_stopped_skips(fp: FileProject, fake_bin) -> None:
    compose_project(fp)
    fake_bin.set_compose_ps([{"Service": "odoo", "Name": "p-odoo-1", "State": "exited"}])
    assert_status(fp.one("python-dependencies"), Status.SKIP, "is not running")


def test_docker_client_missing_skips(fp: FileProject, monkeypatch: pytest.MonkeyPatch) -> None:
    compose_project(fp)
    monkeypatch.setenv("PATH", str(fp.root / "no-bin-here"))
    assert_status(fp.one("python-dependencies"), Status.SKIP, "docker")


# -- pieces --------------------------------------------------------------------------------


def test_probe_script_runs_standalone(tmp_path: Path) -> None:
    import subprocess

    script = probe_script(["PyYAML", "nope_pkg_42"], ["sh", "nope-prog-42"], ["json", "nope_mod"],
                          [str(tmp_path)])  # fmt: skip
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    probe = parse_probe_output("noise before\n" + out)
    assert probe is not None
    assert probe.requirements == {"nope_pkg_42": "not installed"}
    assert probe.programs == ["nope-prog-42"]
    assert probe.odoo == ["nope_mod"]
    assert probe.executable == sys.executable


def test_parse_probe_output_without_marker() -> None:
    assert parse_probe_output("Traceback (most recent call last):\nboom\n") is None
    assert parse_probe_output("ODOO-OPS-PROBE {not json\n") is None


def test_interpreter_choices(fp: FileProject) -> None:
    fp.configure(odoo_command=["/opt/odoo/venv/bin/python3.11", "/opt/odoo/odoo-bin"])
    ctx = fp.context()
    assert interpreter(ctx) == (["/opt/odoo/venv/bin/python3.11"], ["/opt/odoo"],
                                "/opt/odoo/venv/bin/python3.11 (odoo_command)")  # fmt: skip
    fp.configure(odoo_command=["odoo-not-on-path-42"])
    assert interpreter(fp.context())[0] == ["python3"]
