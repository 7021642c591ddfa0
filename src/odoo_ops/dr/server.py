"""The drill's Odoo server, started through the deployment's runner and stopped again.

- **local**: ``odoo … --http-interface 127.0.0.1 --http-port P -D data_dir`` on
  this host (libpq settings from the dsn in its environment when no
  odoo.conf names the database server);
- **compose**: ``docker compose run --rm -T --no-deps --name odoo-ops-drill-…
  --publish 127.0.0.1:P:P SERVICE odoo … --http-interface 0.0.0.0
  --http-port P``: a scratch container of the Odoo service (its image, its
  odoo.conf and volumes) beside the running one, removed with
  ``docker rm -f`` at the end;
- **ssh**: the same command on the remote host (``remote_runner`` local or
  compose, in ``remote_dir``) through the system ``ssh`` with a local port
  forward (``-L 127.0.0.1:L:127.0.0.1:P``), so ``/web/health`` and the login
  are reached from here. With ``remote_runner = "local"`` the remote command
  is a small ``sh`` wrapper that stops Odoo when the ssh session ends (its
  stdin closes): nothing outlives the drill on the remote host. Without an
  odoo.conf, the database server comes from the dsn (``--db_host``,
  ``--db_port``, ``--db_user``) and its password through that stdin, never
  on a command line.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from odoo_ops import childproc
from odoo_ops.adapters.hostcmd import compose_runner, run_on_host
from odoo_ops.adapters.runner import LocalRunner, SshRunner
from odoo_ops.errors import OpsError

if TYPE_CHECKING:
    from odoo_ops.adapters import Target

#: The ssh + local wrapper: read the password line, run Odoo, stop it when stdin
#: closes (the ssh session ended), exit with Odoo's status when Odoo ends first.
_WATCH = (
    'IFS= read -r PGPASSWORD; if [ -n "$PGPASSWORD" ]; then export PGPASSWORD;'
    " else unset PGPASSWORD; fi; exec 3<&0;"
    ' "$@" 3<&- </dev/null & pid=$!;'
    ' { cat <&3 >/dev/null; kill -TERM "$pid"; } >/dev/null 2>&1 &'
    ' exec 3<&-; wait "$pid"'
)


def free_ports(count: int) -> list[int]:
    """``count`` distinct free TCP ports of 127.0.0.1 (held together while chosen)."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for sock in socks:
            sock.close()


def _pg_settings(target: Target) -> dict[str, str]:
    """libpq settings of the dsn (host, port, user, password) that are set."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(target.dsn())
    return {k: str(info[k]) for k in ("host", "port", "user", "password") if info.get(k)}


def _local_env(target: Target) -> dict[str, str]:
    """This host's environment, plus libpq settings when no odoo.conf names the server."""
    env = dict(os.environ)
    if target.deployment.odoo_conf:
        return env
    names = {"host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "password": "PGPASSWORD"}
    for key, value in _pg_settings(target).items():
        env[names[key]] = value
    return env


@dataclass
class DrillServer:
    """A started Odoo: the process here (Odoo, docker compose or ssh) and its URL."""

    proc: childproc.ChildPopen
    url: str
    how: str  # local, compose, ssh -> local, ssh -> compose
    container: str | None = None  # the scratch container (compose)
    stdin: IO[bytes] | None = None  # ssh -> local: closing it stops the remote Odoo

    def stop(self, target: Target) -> list[str]:
        """Stop Odoo (and remove the scratch container); what went wrong, as notes."""
        notes: list[str] = []
        if self.container is not None:
            compose = compose_runner(target)
            docker = compose.docker if compose is not None else "docker"
            try:
                result = run_on_host(target, [docker, "rm", "-f", self.container], timeout=60)
                if not result.ok:
                    notes.append(
                        f"could not remove the drill container {self.container}:"
                        f" {result.output.strip()[-200:]}"
                    )
            except OpsError as exc:
                notes.append(f"could not remove the drill container {self.container}: {exc}")
        if self.stdin is not None:
            with contextlib.suppress(OSError):
                self.stdin.close()  # the remote wrapper stops Odoo, then ssh ends
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=20)
        if self.proc.poll() is None:
            self.proc.kill_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill_group()
                self.proc.wait()
        return notes


def start_server(target: Target, database: str, log_path: Path) -> DrillServer:
    """Start Odoo on ``database`` through the deployment's runner; output to ``log_path``."""
    dep = target.deployment
    runner = target.runner()
    argv = target.odoo(database).server()
    odoo_port, local_port = free_ports(2)
    env = dict(os.environ)
    password: str | None = None
    container: str | None = None
    compose = compose_runner(target)
    if isinstance(runner, LocalRunner):
        argv += ["--http-interface", "127.0.0.1", "--http-port", str(odoo_port)]
        data_dir = target.data_dir()
        if data_dir is not None:
            argv += ["-D", str(data_dir)]
        full = runner.wrap(argv)
        env = _local_env(target)
        local_port = odoo_port
        how = "local"
    elif compose is not None:
        # a scratch container of the Odoo service: its image, odoo.conf and volumes
        container = f"odoo-ops-drill-{secrets.token_hex(4)}"
        argv += ["--http-interface", "0.0.0.0", "--http-port", str(odoo_port)]
        inner = compose.compose_argv(
            "run", "--rm", "-T", "--no-deps", "--name", container,
            "--publish", f"127.0.0.1:{odoo_port}:{odoo_port}", compose.service, *argv,
        )  # fmt: skip
        how = "compose"
        if isinstance(runner, SshRunner):
            full = _ssh(runner, inner, local_port, odoo_port)
            how = "ssh -> compose"
        else:
            full = inner
            local_port = odoo_port
    else:
        assert isinstance(runner, SshRunner)
        argv += ["--http-interface", "127.0.0.1", "--http-port", str(odoo_port)]
        if dep.data_dir:
            argv += ["-D", dep.data_dir]  # as the remote host sees it
        if not dep.odoo_conf:
            settings = _pg_settings(target)
            password = settings.pop("password", None)
            flags = {"host": "--db_host", "port": "--db_port", "user": "--db_user"}
            for key, value in settings.items():
                argv += [flags[key], value]
        full = _ssh(runner, ["sh", "-c", _WATCH, "sh", *argv], local_port, odoo_port)
        how = "ssh -> local"
    remote_local = how == "ssh -> local"
    with open(log_path, "ab") as log:
        try:
            proc = childproc.ChildPopen(
                full, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.PIPE if remote_local else subprocess.DEVNULL,
                env=env, cwd=target.root,
            )  # fmt: skip
        except FileNotFoundError:
            raise OpsError(
                f"command not found: {full[0]}", hint="install it or fix the deployment's runner"
            ) from None
    stdin = proc.stdin if remote_local else None
    if stdin is not None:
        try:
            stdin.write((password or "").encode() + b"\n")
            stdin.flush()
        except OSError:
            pass  # ssh already gone: the health wait reports its exit
    return DrillServer(proc, f"http://127.0.0.1:{local_port}", how, container, stdin)


def _ssh(runner: SshRunner, argv: list[str], local_port: int, remote_port: int) -> list[str]:
    """``argv`` run on the remote host, its Odoo port forwarded to 127.0.0.1 here."""
    forward = SshRunner(
        runner.host,
        LocalRunner(),
        remote_dir=runner.remote_dir,
        options=[
            *runner.options, "-o", "ExitOnForwardFailure=yes",
            "-L", f"127.0.0.1:{local_port}:127.0.0.1:{remote_port}",
        ],
        ssh=runner.ssh,
        connect_timeout=runner.connect_timeout,
    )  # fmt: skip
    return forward.wrap(argv)
