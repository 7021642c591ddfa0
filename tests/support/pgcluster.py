"""Throw-away PostgreSQL clusters for tests that need a whole server of their own.

:class:`PgCluster` runs ``initdb`` from the installed server binaries
(``/usr/lib/postgresql/<major>/bin``, PostgreSQL 15 by default) into a fresh
directory under ``/tmp``, on a free port, with its socket in that directory,
and starts it with ``pg_ctl``. initdb refuses to run as root, so when the
tests run as root the cluster runs as the ``postgres`` OS user (the directory
is made that user's). ``settings`` go to ``postgresql.conf``: the PITR tests
turn on ``archive_mode`` with an ``archive_command`` calling pgBackRest.

Short paths on purpose: a Unix socket path must fit in 107 bytes.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PG_MAJOR = 15
PG_BIN = Path(f"/usr/lib/postgresql/{PG_MAJOR}/bin")


def server_available() -> str | None:
    """Why a cluster cannot be made here (None when it can)."""
    if not (PG_BIN / "initdb").exists():
        return f"PostgreSQL {PG_MAJOR} server binaries not found in {PG_BIN}"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no 'postgres' OS user to run initdb as"
    return None


def os_user() -> str | None:
    """The OS user clusters run as: ``postgres`` when the tests run as root, else None (us)."""
    return "postgres" if os.geteuid() == 0 else None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def make_shared_dir(prefix: str = "oo-pg-") -> Path:
    """A new directory under /tmp the cluster's OS user may use (owned by it when root)."""
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    give_to_cluster_user(path)
    return path


def give_to_cluster_user(path: Path) -> None:
    user = os_user()
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(0o700)


def run_as_cluster_user(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` as the cluster's OS user (text mode, output captured, checked)."""
    user = os_user()
    extra: dict[str, object] = {}
    if user is not None:
        extra = {"user": user, "group": pwd.getpwnam(user).pw_gid, "extra_groups": []}
    env = dict(os.environ)
    if user is not None:
        env["HOME"] = pwd.getpwnam(user).pw_dir
    result = subprocess.run(argv, capture_output=True, text=True, env=env, cwd="/tmp",
                            **extra, **kwargs)  # type: ignore[call-overload]  # fmt: skip
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {result.returncode}: {result.stderr.strip()[-2000:]}"
        )
    return result


class PgCluster:
    """One PostgreSQL cluster in ``base/data`` with its socket in ``base``."""

    def __init__(self, base: Path, *, port: int | None = None) -> None:
        self.base = base
        self.data = base / "data"
        self.socket_dir = base
        self.port = port or free_port()
        self.log = base / "server.log"

    # -- life cycle -----------------------------------------------------------
    @classmethod
    def create(cls, base: Path | None = None, *, settings: Mapping[str, str] | None = None,
               port: int | None = None) -> PgCluster:  # fmt: skip
        cluster = cls(base or make_shared_dir(), port=port)
        cluster.initdb(settings or {})
        return cluster

    def initdb(self, settings: Mapping[str, str]) -> None:
        run_as_cluster_user([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                             "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8",
                             "--no-sync"])  # fmt: skip
        conf = {
            "port": str(self.port),
            "listen_addresses": "''",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",
            "shared_buffers": "16MB",
            "max_connections": "20",
            "logging_collector": "off",
            **dict(settings),
        }
        with (self.data / "postgresql.conf").open("a", encoding="utf-8") as fh:
            fh.write("\n# tests/support/pgcluster.py\n")
            for key, value in conf.items():
                fh.write(f"{key} = {value}\n")

    def start(self) -> None:
        run_as_cluster_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                             "-w", "-t", "60", "start"])  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            run_as_cluster_user([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode,
                                 "-w", "-t", "60", "stop"])  # fmt: skip

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        try:
            self.stop("immediate")
        except RuntimeError:
            pass
        shutil.rmtree(self.base, ignore_errors=True)

    # -- use --------------------------------------------------------------------
    def dsn(self, dbname: str = "postgres") -> str:
        return f"host={self.socket_dir} port={self.port} user=postgres dbname={dbname}"

    def execute(
        self, sql: str, params: Any = None, *, dbname: str = "postgres"
    ) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.dsn(dbname), autocommit=True) as conn:
            cur = conn.execute(sql.encode(), params)
            return cur.fetchall() if cur.description else []

    def is_running(self) -> bool:
        try:
            self.execute("SELECT 1")
        except Exception:
            return False
        return True

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""
