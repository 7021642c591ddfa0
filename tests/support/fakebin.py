"""The process-boundary doubles of ``tests/support/bin`` and their logs.

- ``odoo``: the test double of the Odoo executable (see its docstring);
- ``docker``: a fake docker client (``info``, ``compose ps/exec/run/...``);
- ``ssh``: a fake ssh running the remote command locally with ``sh -c``.

:func:`install_fake_bin` puts them first on PATH and points their knobs at
files of a temporary directory; the returned :class:`FakeBin` reads the logs
and turns the knobs.

Environment knobs (all optional):

=========================  ===============================================
``FAKE_DOCKER_LOG``        file: one line per docker call (``shlex.join`` of argv)
``FAKE_DOCKER_DAEMON``     ``down`` -> ``docker info`` (and compose) fail, exit 1
``FAKE_DOCKER_FAIL``       comma list of (compose) subcommands that exit 1
``FAKE_COMPOSE_PS``        file printed by ``docker compose ps --format json``
                           (a JSON array or JSON lines, as the test writes it)
``FAKE_SSH_LOG``           file: one line per ssh call (``shlex.join`` of argv)
``FAKE_SSH_FAIL``          ``connect`` -> ssh exits 255 "Connection refused"
``ODOO_DOUBLE_SERIES``     series of the ``odoo`` double (default ``18.0``)
``ODOO_DOUBLE_VERSION``    full version printed by ``--version`` (default: series)
``ODOO_DOUBLE_CALLS``      file: one JSON array (argv) per ``odoo`` call
=========================  ===============================================
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

BIN_DIR = Path(__file__).resolve().parent / "bin"
"""``tests/support/bin``."""


@dataclass
class FakeBin:
    """Paths and knobs of the installed doubles."""

    bin_dir: Path
    docker_log: Path
    ssh_log: Path
    odoo_calls_log: Path
    compose_ps_file: Path
    monkeypatch: pytest.MonkeyPatch

    @property
    def odoo(self) -> Path:
        """Path of the ``odoo`` double."""
        return self.bin_dir / "odoo"

    def run_odoo(
        self,
        *args: str,
        input: str | None = None,
        timeout: float = 60,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``odoo ARGS`` (the double) and capture its output (text)."""
        return subprocess.run(
            [str(self.odoo), *args], input=input, capture_output=True, text=True,
            timeout=timeout, env={**os.environ, **(env or {})}, check=False,
            stdin=subprocess.DEVNULL if input is None else None,
        )

    def docker_calls(self) -> list[str]:
        """The docker calls so far, one ``shlex.join``-ed command line each."""
        return _lines(self.docker_log)

    def ssh_calls(self) -> list[str]:
        """The ssh calls so far, one ``shlex.join``-ed command line each."""
        return _lines(self.ssh_log)

    def odoo_calls(self) -> list[list[str]]:
        """The ``odoo`` double's calls so far (argv without the program name)."""
        return [json.loads(line) for line in _lines(self.odoo_calls_log)]

    def set_compose_ps(
        self, containers: Sequence[Mapping[str, Any]], *, fmt: str = "array"
    ) -> None:
        """What ``docker compose ps --format json`` prints.

        ``fmt="array"`` writes a JSON array (compose < 2.21), ``"lines"`` one
        JSON object per line (compose >= 2.21). Each container is a dict like
        ``{"Service": "odoo", "State": "running", "Name": "p-odoo-1", ...}``.
        """
        if fmt == "array":
            text = json.dumps(list(containers))
        elif fmt == "lines":
            text = "".join(json.dumps(dict(c)) + "\n" for c in containers)
        else:
            raise ValueError(f"fmt must be 'array' or 'lines', not {fmt!r}")
        self.compose_ps_file.write_text(text, encoding="utf-8")
        self.monkeypatch.setenv("FAKE_COMPOSE_PS", str(self.compose_ps_file))

    def daemon_down(self, down: bool = True) -> None:
        """Make ``docker info`` (and compose) fail as with a stopped daemon."""
        if down:
            self.monkeypatch.setenv("FAKE_DOCKER_DAEMON", "down")
        else:
            self.monkeypatch.delenv("FAKE_DOCKER_DAEMON", raising=False)

    def fail_docker(self, *subcommands: str) -> None:
        """Make these docker (compose) subcommands exit 1, e.g. ``"restart"``, ``"pull"``."""
        self.monkeypatch.setenv("FAKE_DOCKER_FAIL", ",".join(subcommands))

    def ssh_unreachable(self, unreachable: bool = True) -> None:
        """Make ssh fail as when the host refuses the connection (exit 255)."""
        if unreachable:
            self.monkeypatch.setenv("FAKE_SSH_FAIL", "connect")
        else:
            self.monkeypatch.delenv("FAKE_SSH_FAIL", raising=False)

    def odoo_series(self, series: str, version: str | None = None) -> None:
        """The series (``"17.0"``) of the ``odoo`` double; ``version`` for ``--version``."""
        self.monkeypatch.setenv("ODOO_DOUBLE_SERIES", series)
        if version:
            self.monkeypatch.setenv("ODOO_DOUBLE_VERSION", version)


def _lines(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line]


def install_fake_bin(monkeypatch: pytest.MonkeyPatch, workdir: Path) -> FakeBin:
    """Put :data:`BIN_DIR` first on PATH and point the knobs at files under ``workdir``."""
    fake = FakeBin(
        bin_dir=BIN_DIR,
        docker_log=workdir / "docker.log",
        ssh_log=workdir / "ssh.log",
        odoo_calls_log=workdir / "odoo-calls.jsonl",
        compose_ps_file=workdir / "compose-ps.json",
        monkeypatch=monkeypatch,
    )
    monkeypatch.setenv("PATH", f"{BIN_DIR}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.setenv("FAKE_DOCKER_LOG", str(fake.docker_log))
    monkeypatch.setenv("FAKE_SSH_LOG", str(fake.ssh_log))
    monkeypatch.setenv("ODOO_DOUBLE_CALLS", str(fake.odoo_calls_log))
    return fake
