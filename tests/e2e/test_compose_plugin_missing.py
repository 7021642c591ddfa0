"""A docker client without the compose v2 plugin is named as such by check,
health and maintenance (not as a failed `docker compose ps`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "compose-project"
MESSAGE = "docker compose v2 plugin not found: install docker-compose-plugin"

#: A docker client whose daemon answers but which has no compose plugin: it
#: says exactly what Docker 28's client says then (recorded on this machine).
NO_PLUGIN_DOCKER = r"""#!/bin/sh
case "$1" in
  info) echo 28.2.2; exit 0 ;;
  compose)
    if [ "$2" = "-f" ]; then
      printf "unknown shorthand flag: 'f' in -f\n\nUsage:  docker [OPTIONS] COMMAND [ARG...]\n" >&2
      exit 125
    fi
    echo "docker: unknown command: docker compose" >&2
    printf "\nRun 'docker --help' for more information\n" >&2
    exit 1 ;;
esac
exit 0
"""


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    copy = tmp_path / "project"
    shutil.copytree(EXAMPLE, copy)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(NO_PLUGIN_DOCKER)
    docker.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "NO_COLOR": "1"}
    return copy, env


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("odoo-ops")
    argv = [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]
    return subprocess.run(
        [*argv, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--only", "docker", "--format", "json"],
        ["health", "--format", "json"],
        ["maintenance", "status"],
    ],
    ids=["check", "health", "maintenance"],
)
def test_missing_compose_plugin_is_named(
    project: tuple[Path, dict[str, str]], args: list[str]
) -> None:
    path, env = project
    proc = run([*args, "-C", str(path)], env)
    assert "Traceback" not in proc.stderr
    assert MESSAGE in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    assert "unknown shorthand flag" not in proc.stdout + proc.stderr


def test_the_real_client_without_the_plugin_says_what_the_double_says() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker client on this machine")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True)
    if probe.returncode == 0:
        pytest.skip("this docker client has the compose plugin")
    from odoo_ops.adapters.runner import compose_plugin_missing

    for argv in ([docker, "compose", "ps"], [docker, "compose", "-f", "x.yml", "ps"]):
        real = subprocess.run(argv, capture_output=True, text=True)
        assert real.returncode != 0
        assert compose_plugin_missing(["docker", *argv[1:]], real.stdout + real.stderr), real.stderr
