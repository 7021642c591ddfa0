"""The real Odoo 18 tier: a real Odoo server against real PostgreSQL databases.

``odoo18`` (session)
    The trimmed Odoo 18 of ``../shared/odoo`` with its venv:
    ``$ODOO_OPS_REAL_ODOO18`` (set by ``.ci/setup.d/30-real-odoo.sh``), else
    built on demand under ``~/.cache/odoo-ops-test`` (once, ~30 s). The tier
    skips with one reason when the tarball is absent -- except on CI
    (``CI=true``), where that is a failure.
``real_template`` (session)
    A database made once by the real Odoo with ``-i base,web,mail,contacts``
    (owner: the login role :data:`ROLE`; Odoo refuses the ``postgres`` role),
    with its filestore in a session data_dir.
``real_project`` (function) / ``real_project_factory``
    A copy of the template (``CREATE DATABASE ... TEMPLATE``, filestore
    copied) and an odoo-ops project around it in ``tmp_path``: ``odoo.conf``
    (own http port, data_dir, log file, db_filter, workers = 0), an
    ``addons/`` directory for the test's own addons, and an ``odoo-ops.toml``
    (runner local, odoo_command = the venv's python + odoo-bin, dsn,
    data_dir, base_url). ``project.start()`` runs the real server (its own
    process group) and waits for ``/web/health``; teardown stops it by pid.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from tests.real import odoo18_env
from tests.support import pg

ROLE = "odoo_ops_real"
"""The login role the real Odoo and odoo-ops use (CREATEDB, not a superuser)."""

TEMPLATE_MODULES = "base,web,mail,contacts"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.real_odoo)
            item.add_marker(pytest.mark.pg)


# ---------------------------------------------------------------------------
# the server on disk
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Odoo18:
    """An unpacked Odoo 18 with its venv (``odoo18_env`` layout)."""

    home: Path

    @property
    def source(self) -> Path:
        return self.home / odoo18_env.SOURCE_DIR

    @property
    def python(self) -> Path:
        return self.home / "venv" / "bin" / "python"

    @property
    def odoo_bin(self) -> Path:
        return self.source / "odoo-bin"

    @property
    def command(self) -> list[str]:
        return [str(self.python), str(self.odoo_bin)]

    def addons_path(self, *extra: Path) -> list[Path]:
        return [self.source / "odoo" / "addons", self.source / "extra-addons", *extra]

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.command, *args], capture_output=True, text=True,
                              timeout=timeout, check=False, stdin=subprocess.DEVNULL)


def _locate_odoo18() -> Odoo18 | str:
    """The server, or why there is none."""
    configured = os.environ.get(odoo18_env.ENV_VAR)
    if configured:
        home = Path(configured).resolve()
        if not (home / "READY").is_file():
            return f"{odoo18_env.ENV_VAR}={configured} is not a built Odoo 18 (no READY)"
        return Odoo18(home)
    tarball = odoo18_env.DEFAULT_TARBALL
    if not tarball.is_file():
        return f"real Odoo 18 tarball not available ({tarball})"
    # a developer's machine: build once in the user's cache (not the test's HOME)
    cache = Path(os.environ.get("ODOO_OPS_TEST_CACHE") or _REAL_HOME / ".cache" / "odoo-ops-test")
    return Odoo18(odoo18_env.ensure(tarball, cache))


_REAL_HOME = Path.home()  # read at import, before the isolation fixture moves HOME


@pytest.fixture(scope="session")
def odoo18() -> Odoo18:
    found = _locate_odoo18()
    if isinstance(found, str):
        if os.environ.get("CI") == "true":
            pytest.fail(f"{found}: CI must run tests/real", pytrace=False)
        pytest.skip(found)
    return found


# ---------------------------------------------------------------------------
# databases
# ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def role_dsn(admin_dsn: str, dbname: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(admin_dsn)
    params.update(user=ROLE, dbname=dbname)
    params.pop("password", None)
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items()})


@dataclass(frozen=True)
class RealTemplate:
    name: str
    data_dir: Path
    host: str
    port: int


@pytest.fixture(scope="session")
def real_role(pg_admin_dsn: str) -> str:
    with psycopg.connect(pg_admin_dsn, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone():
            try:
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB").format(sql.Identifier(ROLE)))
            except psycopg.errors.DuplicateObject:
                pass
    return ROLE


@pytest.fixture(scope="session")
def real_template(
    odoo18: Odoo18, real_role: str, pg_databases: pg.DatabaseManager,
    tmp_path_factory: pytest.TempPathFactory,
) -> RealTemplate:
    """A database made by the real Odoo (``-i base,web,mail,contacts``), once per session."""
    params = psycopg.conninfo.conninfo_to_dict(pg_databases.admin_dsn)
    host, port = str(params.get("host") or "127.0.0.1"), int(params.get("port") or 5432)
    name = pg_databases.unique_name("real18tmpl")
    data_dir = tmp_path_factory.mktemp("real18-template-data")
    log = data_dir / "init.log"
    proc = odoo18.run(
        "--addons-path=" + ",".join(map(str, odoo18.addons_path())),
        "--db_host", host, "--db_port", str(port), "-r", real_role, "-d", name,
        "-D", str(data_dir), "-i", TEMPLATE_MODULES, "--without-demo=all",
        "--stop-after-init", "--no-http", "--logfile", str(log), timeout=600,
    )
    if proc.returncode != 0:
        pg_databases.drop_later(name)
        text = log.read_text(errors="replace") if log.exists() else ""
        pytest.fail(f"real Odoo could not create the template (exit {proc.returncode}):\n"
                    f"{proc.stderr[-2000:]}{text[-3000:]}", pytrace=False)
    pg.terminate_sessions(pg_databases.admin_dsn, name)
    return RealTemplate(name, data_dir, host, port)


def copy_template(template: RealTemplate, pg_databases: pg.DatabaseManager, name: str,
                  data_dir: Path) -> None:
    """``CREATE DATABASE name TEMPLATE template`` (owned by the role) + its filestore."""
    from odoo_ops.adapters.pgadmin import copy_database

    with psycopg.connect(pg_databases.admin_dsn, autocommit=True) as conn:
        for attempt in range(50):
            try:
                copy_database(conn, template.name, name)
                break
            except psycopg.errors.ObjectInUse:
                if attempt == 49:
                    raise
                pg.terminate_sessions(pg_databases.admin_dsn, template.name)
                time.sleep(0.1)
        conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
            sql.Identifier(name), sql.Identifier(ROLE)))
    source = template.data_dir / "filestore" / template.name
    if source.is_dir():
        shutil.copytree(source, data_dir / "filestore" / name)


# ---------------------------------------------------------------------------
# a project around a database, and its server
# ---------------------------------------------------------------------------


@dataclass
class RealProject:
    """An odoo-ops project in front of a real Odoo 18 and a copy of the template."""

    root: Path
    odoo: Odoo18
    database: str
    dsn: str
    admin_dsn: str
    data_dir: Path
    addons: Path
    port: int
    log_file: Path
    proc: subprocess.Popen[bytes] | None = None
    extra_toml: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def conf(self) -> Path:
        return self.root / "odoo.conf"

    # -- files ------------------------------------------------------------

    def write_files(self) -> None:
        addons = ",".join(str(p) for p in self.odoo.addons_path(self.addons))
        params = psycopg.conninfo.conninfo_to_dict(self.dsn)
        self.conf.write_text(
            "[options]\n"
            f"addons_path = {addons}\n"
            f"data_dir = {self.data_dir}\n"
            f"db_host = {params.get('host', '127.0.0.1')}\n"
            f"db_port = {params.get('port', 5432)}\n"
            f"db_user = {ROLE}\n"
            "db_password = False\n"
            f"db_name = {self.database}\n"
            f"dbfilter = ^{self.database}$\n"
            "list_db = False\n"
            "http_interface = 127.0.0.1\n"
            f"http_port = {self.port}\n"
            "gevent_port = 0\n"
            "workers = 0\n"
            "max_cron_threads = 0\n"
            "proxy_mode = False\n"
            f"logfile = {self.log_file}\n"
            "log_level = info\n"
            "admin_passwd = not-the-default-0d1b\n",
            encoding="utf-8",
        )
        self.write_toml()

    def write_toml(self) -> None:
        command = json.dumps([*self.odoo.command])
        (self.root / "odoo-ops.toml").write_text(
            'default_deployment = "real"\n'
            "[deployments.real]\n"
            'runner = "local"\n'
            'series = "18.0"\n'
            "production = false\n"
            f"odoo_command = {command}\n"
            'odoo_conf = "odoo.conf"\n'
            f'database = "{self.database}"\n'
            f"dsn = {json.dumps(self.dsn)}\n"
            f"data_dir = {json.dumps(str(self.data_dir))}\n"
            f'addons_paths = ["addons"]\n'
            f'base_url = "{self.url}"\n'
            'backup_dir = "backups"\n'
            'log_dir = "logs"\n'
            f"odoo_log_file = {json.dumps(str(self.log_file))}\n"
            "http_timeout = 5\n"
            "[backup]\n"
            'compress = "none"\n'
            + "".join(self.extra_toml),
            encoding="utf-8",
        )

    def configure(self, text: str) -> None:
        self.extra_toml.append(text if text.endswith("\n") else text + "\n")
        self.write_toml()

    def add_addon(self, name: str, version: str = "18.0.1.0.0", *,
                  depends: tuple[str, ...] = ("base",), data: dict[str, str] | None = None,
                  python: str = "") -> Path:
        """Write (or rewrite) addon ``name`` under ``addons/``; ``data``: file -> text."""
        path = self.addons / name
        path.mkdir(parents=True, exist_ok=True)
        manifest = {"name": name, "version": version, "depends": list(depends),
                    "license": "LGPL-3", "installable": True, "data": sorted(data or {})}
        (path / "__manifest__.py").write_text(repr(manifest) + "\n")
        (path / "__init__.py").write_text(python)
        for rel, text in (data or {}).items():
            (path / rel).parent.mkdir(parents=True, exist_ok=True)
            (path / rel).write_text(text)
        return path

    # -- database ---------------------------------------------------------

    def sql(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.admin_dsn_for(self.database), autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else []

    def admin_dsn_for(self, dbname: str) -> str:
        return pg.dsn_for(self.admin_dsn, dbname)

    def modules(self, dbname: str | None = None) -> dict[str, tuple[str, str | None]]:
        with psycopg.connect(self.admin_dsn_for(dbname or self.database)) as conn:
            rows = conn.execute(
                "SELECT name, state, latest_version FROM ir_module_module").fetchall()
        return {str(n): (str(s), v) for n, s, v in rows}

    # -- the CLI ----------------------------------------------------------

    def cli(self, *args: str, timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "odoo_ops.cli.main", *args], cwd=self.root,
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
            env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200", **(env or {})},
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "odoo_ops.cli.main", *args], cwd=self.root,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            stdin=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
        )

    def odoo_run(self, *args: str, subcommand: str | None = None,
                 timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """The real odoo-bin [subcommand] with this project's odoo.conf."""
        head = [subcommand] if subcommand else []
        return self.odoo.run(*head, "-c", str(self.conf), *args, timeout=timeout)

    # -- the server -------------------------------------------------------

    def health(self, dbname: str | None = None, timeout: float = 2.0) -> int | None:
        try:
            return httpx.get(f"{self.url}/web/health", timeout=timeout).status_code
        except httpx.HTTPError:
            return None

    def start(self, *, database: str | None = None, wait: float = 90) -> None:
        """Start the real server (own process group) and wait for ``/web/health``."""
        assert self.proc is None or self.proc.poll() is not None, "server already running"
        db = database or self.database
        argv = [*self.odoo.command, "-c", str(self.conf), "-d", db, f"--db-filter=^{db}$"]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"real Odoo exited {self.proc.returncode}: "
                                     f"{self.log_tail()}")
            if self.health() == 200:
                return
            time.sleep(0.2)
        self.stop()
        raise AssertionError(f"real Odoo did not answer /web/health in {wait} s: "
                             f"{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server by its pid (its whole process group)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    # -- the server as a service (maintenance / deploy stop and start it) ---

    @property
    def pidfile(self) -> Path:
        return self.root / "run" / "odoo.pid"

    def use_service_commands(self) -> None:
        """Configure maintenance stop/start/status commands that run the real server
        detached with ``--pidfile`` (as an init script would)."""
        run = self.pidfile.parent
        run.mkdir(exist_ok=True)
        argv = " ".join([*map(str, self.odoo.command), "-c", str(self.conf), "-d",
                         self.database, f"--db-filter=^{self.database}$",
                         f"--pidfile={self.pidfile}"])
        scripts = {
            "odoo-start": f"setsid {argv} </dev/null >/dev/null 2>&1 &\n",
            "odoo-stop": (f'pid=$(cat {self.pidfile} 2>/dev/null) || exit 0\n'
                          'kill -TERM "$pid" 2>/dev/null || exit 0\n'
                          'for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || exit 0;'
                          ' sleep 0.2; done\nkill -KILL "$pid"\n'),
            "odoo-status": f'kill -0 "$(cat {self.pidfile} 2>/dev/null)" 2>/dev/null\n',
        }
        for name, body in scripts.items():
            path = run / name
            path.write_text("#!/bin/sh\n" + body)
            path.chmod(0o755)
        self.configure("[deployments.real.maintenance]\n"
                       f"stop_command = [{json.dumps(str(run / 'odoo-stop'))}]\n"
                       f"start_command = [{json.dumps(str(run / 'odoo-start'))}]\n"
                       f"status_command = [{json.dumps(str(run / 'odoo-status'))}]\n")

    def service_start(self, wait: float = 90) -> None:
        subprocess.run([str(self.pidfile.parent / "odoo-start")], check=True)
        self.wait_health(wait)

    def wait_health(self, wait: float = 90) -> None:
        deadline = time.monotonic() + wait
        while self.health() != 200:
            assert time.monotonic() < deadline, f"no /web/health: {self.log_tail()}"
            time.sleep(0.2)

    def service_pids(self) -> list[int]:
        """Pids of the servers started by ``odoo-start`` (their argv names our pid file)."""
        import psutil

        mark = f"--pidfile={self.pidfile}"
        pids = []
        for proc in psutil.process_iter(["pid", "cmdline", "status"]):
            if mark in (proc.info["cmdline"] or []) and proc.info["status"] != "zombie":
                pids.append(int(proc.info["pid"]))
        return sorted(pids)

    def service_stop(self) -> None:
        """Kill the service's servers (process groups): our own children only."""
        for pid in self.service_pids():
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def log_tail(self, chars: int = 3000) -> str:
        if not self.log_file.exists():
            return "(no log)"
        return self.log_file.read_text(errors="replace")[-chars:]

    def log_errors(self) -> list[str]:
        if not self.log_file.exists():
            return []
        return [line for line in self.log_file.read_text(errors="replace").splitlines()
                if " ERROR " in line or " CRITICAL " in line]


@pytest.fixture(scope="session")
def real_project_factory(
    odoo18: Odoo18, real_template: RealTemplate, pg_databases: pg.DatabaseManager,
) -> Iterator[Callable[[Path], RealProject]]:
    """Factory ``make(root) -> RealProject`` (a fresh template copy; servers stopped and
    databases dropped at the end of the session unless the caller cleans up first)."""
    made: list[RealProject] = []

    def make(root: Path) -> RealProject:
        root.mkdir(parents=True, exist_ok=True)
        name = pg_databases.unique_name("real18")
        data_dir = root / "data"
        (data_dir / "filestore").mkdir(parents=True)
        copy_template(real_template, pg_databases, name, data_dir)
        addons = root / "addons"
        addons.mkdir()
        project = RealProject(
            root=root, odoo=odoo18, database=name,
            dsn=role_dsn(pg_databases.admin_dsn, name), admin_dsn=pg_databases.admin_dsn,
            data_dir=data_dir, addons=addons, port=free_port(), log_file=root / "odoo.log",
        )
        project.write_files()
        made.append(project)
        return project

    yield make
    for project in made:
        project.stop()
        project.service_stop()


def drop_project(project: RealProject, pg_databases: pg.DatabaseManager) -> None:
    project.stop()
    project.service_stop()
    pg_databases.drop_later(project.database)


@pytest.fixture
def real_project(
    real_project_factory: Callable[[Path], RealProject], tmp_path: Path,
    pg_databases: pg.DatabaseManager,
) -> Iterator[RealProject]:
    """A fresh project + database (server not started: ``real_project.start()``)."""
    project = real_project_factory(tmp_path / "project")
    try:
        yield project
    finally:
        drop_project(project, pg_databases)
