"""Runners: run a command where Odoo lives.

- :class:`LocalRunner` runs it on this host;
- :class:`ComposeRunner` runs it in the Odoo service with
  ``docker compose -f FILE exec -T SERVICE …`` (``run --rm`` when the service
  is stopped);
- :class:`SshRunner` runs it on another host with the system ``ssh``
  (honouring ``~/.ssh/config``), where a Local or Compose runner takes over.

Every runner turns an argv into the argv to execute here (:meth:`wrap`), so
``--dry-run`` prints exactly what would run.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from odoo_ops.childproc import ChildPopen
from odoo_ops.errors import TargetError


@dataclass
class CommandResult:
    argv: list[str]
    returncode: int
    output: str
    duration: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


class Runner:
    """Base runner: subclasses say how an argv is wrapped."""

    kind = "local"

    def wrap(self, argv: Sequence[str], *, stdin: bool = False, use_run: bool = False) -> list[str]:
        raise NotImplementedError

    def describe(self) -> str:
        return self.kind

    def run(
        self,
        argv: Sequence[str],
        *,
        input: str | None = None,
        timeout: float | None = None,
        log_file: Path | None = None,
        on_line: Callable[[str], None] | None = None,
        env: dict[str, str] | None = None,
        use_run: bool = False,
    ) -> CommandResult:
        """Run ``argv`` where Odoo lives; stdout and stderr are merged.

        The output goes line by line to ``log_file`` (appended) and to
        ``on_line``; the whole output is also returned. A timeout kills the
        whole process group.
        """
        full = self.wrap(argv, stdin=input is not None, use_run=use_run)
        return run_process(
            full, input=input, timeout=timeout, log_file=log_file, on_line=on_line, env=env
        )


#: What a docker client without the compose v2 plugin says: Docker 24+ and older.
_NO_COMPOSE = re.compile(
    r"unknown command: docker compose|'compose' is not a docker command"
    r"|unknown shorthand flag: 'f' in -f"
)


def compose_plugin_missing(argv: Sequence[str], output: str) -> bool:
    """True when ``argv`` is a ``docker compose …`` call the client could not run."""
    return len(argv) > 1 and argv[1] == "compose" and bool(_NO_COMPOSE.search(output))


def run_process(
    argv: Sequence[str],
    *,
    input: str | None = None,
    timeout: float | None = None,
    log_file: Path | None = None,
    on_line: Callable[[str], None] | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> CommandResult:
    """Run a process on this host, streaming merged output."""
    start = time.monotonic()
    full_env = None if env is None else {**os.environ, **env}
    try:
        proc = ChildPopen(  # dies with odoo-ops; its own session (killpg below)
            list(argv),
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            env=full_env,
            cwd=cwd,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise TargetError(
            f"command not found: {argv[0]}", hint="install it or fix the command in odoo-ops.toml"
        ) from None
    except PermissionError:
        raise TargetError(f"permission denied running {argv[0]}") from None
    lines: list[str] = []
    timed_out = False
    log: IO[str] | None = None
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log = open(log_file, "a", encoding="utf-8")  # noqa: SIM115

    def feed() -> None:
        if input is not None and proc.stdin is not None:
            try:
                proc.stdin.write(input)
                proc.stdin.close()
            except BrokenPipeError:
                pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if log is not None:
                log.write(line)
                log.flush()
            if on_line is not None:
                on_line(line.rstrip("\n"))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=5)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
    except BaseException:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        raise
    thread.join(timeout=5)
    if log is not None:
        log.close()
    output = "".join(lines)
    if proc.returncode and compose_plugin_missing(argv, output):
        raise TargetError(
            "docker compose v2 plugin not found: install docker-compose-plugin",
            hint=f"{argv[0]} has no 'compose' subcommand (the old docker-compose v1 is not used)",
        )
    return CommandResult(
        argv=list(argv),
        returncode=proc.returncode if proc.returncode is not None else -1,
        output=output,
        duration=time.monotonic() - start,
        timed_out=timed_out,
    )


class LocalRunner(Runner):
    kind = "local"

    def __init__(self, cwd: Path | None = None) -> None:
        self.cwd = cwd

    def wrap(self, argv: Sequence[str], *, stdin: bool = False, use_run: bool = False) -> list[str]:
        return list(argv)


class ComposeRunner(Runner):
    kind = "compose"

    def __init__(
        self,
        compose_file: str,
        service: str,
        *,
        project_directory: str | None = None,
        env_file: str | None = None,
        project_name: str | None = None,
        docker: str = "docker",
    ) -> None:
        self.compose_file = compose_file
        self.service = service
        self.project_directory = project_directory
        self.env_file = env_file
        self.project_name = project_name
        self.docker = docker

    def compose_argv(self, *args: str) -> list[str]:
        argv = [self.docker, "compose", "-f", self.compose_file]
        if self.project_directory:
            argv += ["--project-directory", self.project_directory]
        if self.project_name:
            argv += ["-p", self.project_name]
        if self.env_file:
            argv += ["--env-file", self.env_file]
        return argv + list(args)

    def wrap(self, argv: Sequence[str], *, stdin: bool = False, use_run: bool = False) -> list[str]:
        if use_run:
            return self.compose_argv("run", "--rm", "-T", self.service, *argv)
        return self.compose_argv("exec", "-T", self.service, *argv)

    def describe(self) -> str:
        return f"compose ({self.compose_file}, service {self.service})"


class SshRunner(Runner):
    kind = "ssh"

    def __init__(
        self,
        host: str,
        inner: Runner,
        *,
        remote_dir: str | None = None,
        options: Sequence[str] = (),
        ssh: str = "ssh",
        connect_timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.inner = inner
        self.remote_dir = remote_dir
        self.options = list(options)
        self.ssh = ssh
        self.connect_timeout = connect_timeout

    def remote_command(self, argv: Sequence[str], *, stdin: bool, use_run: bool) -> str:
        inner = shlex.join(self.inner.wrap(argv, stdin=stdin, use_run=use_run))
        if self.remote_dir:
            return f"cd {shlex.quote(self.remote_dir)} && {inner}"
        return inner

    def wrap(self, argv: Sequence[str], *, stdin: bool = False, use_run: bool = False) -> list[str]:
        return [
            self.ssh,
            "-o",
            "BatchMode=yes",
            "-o",
            f"ConnectTimeout={int(self.connect_timeout)}",
            *self.options,
            self.host,
            self.remote_command(argv, stdin=stdin, use_run=use_run),
        ]

    def describe(self) -> str:
        return f"ssh {self.host} -> {self.inner.describe()}"
