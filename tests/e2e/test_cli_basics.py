"""The installed `odoo-ops` as a user runs it: global options, config commands, errors."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "compose-project"


def odoo_ops(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("odoo-ops")
    argv = [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]
    full_env = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run(
        [*argv, *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def assert_clean_error(proc: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert proc.returncode == code, proc.stderr + proc.stdout
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    assert text in errors[0]


def test_version_and_help() -> None:
    proc = odoo_ops("--version")
    assert proc.returncode == 0 and "odoo-ops" in proc.stdout
    proc = odoo_ops("--help")
    assert proc.returncode == 0
    for name in ("check", "config"):
        assert name in proc.stdout


def test_config_sample_validates(tmp_path: Path) -> None:
    proc = odoo_ops("config", "sample", "-o", str(tmp_path / "odoo-ops.toml"))
    assert proc.returncode == 0, proc.stderr
    proc = odoo_ops("config", "validate", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "deployments production, remote, staging" in proc.stdout
    # refuses to overwrite without --force
    proc = odoo_ops("config", "sample", "-o", str(tmp_path / "odoo-ops.toml"))
    assert_clean_error(proc, 2, "exists")


def test_config_show_redacts_secrets(tmp_path: Path) -> None:
    (tmp_path / "odoo-ops.toml").write_text(
        '[deployments.p]\ndsn = "postgresql://odoo:${PGPW}@db:5432/x"\n'
        '[notifications]\nurls = ["mmost://host/tok-abc-123"]\n'
    )
    proc = odoo_ops("config", "show", "--all", cwd=tmp_path, env={"PGPW": "Very-Secret-1"})
    assert proc.returncode == 0, proc.stderr
    assert "Very-Secret-1" not in proc.stdout + proc.stderr
    assert "tok-abc-123" not in proc.stdout
    assert "postgresql://odoo:***@db:5432/x" in proc.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[deployments.p\n", "invalid TOML"),
        (
            '[deployments.production]\nrunner = "kubernetes"\n',
            "deployments.production.runner: must be one of",
        ),
    ],
)
def test_bad_config_exit_2(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "odoo-ops.toml").write_text(content)
    proc = odoo_ops("config", "validate", cwd=tmp_path)
    assert_clean_error(proc, 2, message)
    proc = odoo_ops("check", str(tmp_path))
    assert_clean_error(proc, 2, message)


def test_unknown_deployment_and_missing_dir(tmp_path: Path) -> None:
    proc = odoo_ops("check", "--deployment", "nope", str(EXAMPLE))
    assert_clean_error(proc, 2, "no deployment named 'nope'")
    proc = odoo_ops("check", str(tmp_path / "missing"))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_check_on_example_project_reports_real_findings() -> None:
    proc = odoo_ops("check", str(EXAMPLE), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    import json

    doc = json.loads(proc.stdout)
    by_id = {r["id"]: r for r in doc["results"]}
    assert doc["summary"]["fail"] >= 1
    for result in doc["results"]:
        assert set(result) >= {"id", "area", "severity", "status", "message", "remediation"}
        assert result["status"] in {"pass", "warn", "fail", "skip"}
        if result["status"] == "skip":
            assert result["message"], result
    # the database cannot be reached without .env: skipped with the reason
    db_checks = [r for r in doc["results"] if r["area"] == "database"]
    assert all(r["status"] in ("skip", "fail") for r in db_checks)
    assert by_id  # at least one check ran


def test_deployment_options_before_or_after_the_subcommand(tmp_path: Path) -> None:
    """`odoo-ops -C DIR backup list` works like `odoo-ops backup list -C DIR`."""
    project = tmp_path / "acme"
    (project / "backups").mkdir(parents=True)
    (project / "odoo-ops.toml").write_text(
        '[deployments.production]\nseries = "18.0"\nbackup_dir = "backups"\n'
    )
    before = odoo_ops("-C", str(project), "backup", "list", "--format", "json", cwd=tmp_path)
    after = odoo_ops("backup", "list", "--format", "json", "-C", str(project), cwd=tmp_path)
    assert before.returncode == after.returncode == 0, before.stderr + after.stderr
    assert before.stdout == after.stdout
    clash = odoo_ops("-C", str(project), "backup", "list", "-C", str(tmp_path), cwd=tmp_path)
    assert clash.returncode == 2
    assert "given twice" in clash.stderr and "Traceback" not in clash.stderr
