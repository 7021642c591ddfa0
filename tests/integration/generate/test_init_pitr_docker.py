"""``odoo-ops init --pitr`` on a real Docker Engine + Compose v2: the generated db service works.

The project is generated (series 16.0: PostgreSQL 15) into a directory named like a
compose project of the tier (``odoo-ops-tpitr…``, short: the scratch directory of a
short NEWDB then holds the restore's socket, under the 107 bytes of a socket path).
Its ``db/Dockerfile`` is built unchanged by ``docker compose build db``; its ``FROM
postgres:15`` is the local stand-in for the official image of
tests/support/postgres_image (this machine reaches no image registry; see
tests/support/docker_images.py), which keeps the official image's contract the
generated files rely on. Only the db service is started (the odoo service's image
is the official ``odoo`` one, absent here, and nothing below needs Odoo): with the
generated compose file, ``.env`` and ``db/init``. Then, through the host-side
``odoo-ops`` CLI and the generated ``odoo-ops.toml`` (its DSN is the ``odoo`` role,
its ``[pitr] pgbackrest`` the generated wrapper running pgBackRest in the container):
``pitr setup --apply``, ``pitr backup --type full``, writes on both sides of a moment
T, ``pitr info`` (a recoverable window past T), ``pitr filestore-sync``, ``check
--only pitr-archiving`` (``pg_stat_archiver``: WAL archived, none failed), and
``pitr restore --time T --to NEWDB``.

The generated DSN is Odoo's role ``odoo`` (no superuser) and nothing is granted to it:
``pitr setup --apply`` changes nothing (the settings are on the command line), and a
setting it would have to change is refused in one line; the restore seals the archive
through ``pgbackrest check`` (the role may not call ``pg_switch_wal()``) and runs its
scratch server in a one-off container of the db image, its socket in the scratch
directory or, for a long path, in a short directory under /tmp. The restored rows are
exactly those committed before T, the live database is untouched, and nothing is left
behind (container, processes, directories, scratch database) — also after a restore
stopped by SIGTERM, and after one killed with SIGKILL, which the next ``pitr`` command
cleans up.

Marked ``docker``; skips with the reason when no engine answers. The compose project
is brought down with its volumes (``docker compose down -v``), the generated image
removed (its layers stay in the build cache).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml

from odoo_ops.generate import InitOptions, apply_plan, plan_project
from odoo_ops.generate.project import POSTGRES_BY_SERIES
from tests.support.docker_images import engine_unavailable

pytestmark = [pytest.mark.docker, pytest.mark.timeout(900)]

SERIES = "16.0"  # PostgreSQL 15: the major of the stand-in (Debian 12 has no other)
DOMAIN = "erp.odoo-ops-tpitr.test"
DATABASE = "odoo_prod"
STANZA = "production"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(argv: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)


@dataclass
class Site:
    root: Path
    env: dict[str, str]
    db_port: int
    image: str
    moment: datetime | None = None  # T: rows before it are restored, after it not

    @property
    def pitr_dir(self) -> Path:
        return self.root / ".odoo-ops" / "pitr" / STANZA

    def compose(self, *args: str, timeout: float = 600) -> str:
        proc = _run(["docker", "compose", *args], self.root, timeout)
        assert proc.returncode == 0, f"docker compose {' '.join(args)}: {proc.stderr[-1500:]}"
        return proc.stdout

    def psql_postgres(self, sql: str, dbname: str = "postgres") -> str:
        """``sql`` as the superuser on the container's socket (what a DBA would run)."""
        return self.compose("exec", "-T", "-u", "postgres", "db", "psql", "-X", "-At",
                            "-v", "ON_ERROR_STOP=1", "-d", dbname, "-c", sql).strip()  # fmt: skip

    def odoo_dsn(self, dbname: str = DATABASE) -> str:
        return (f"host=127.0.0.1 port={self.db_port} user=odoo"
                f" password={self.env['ODOO_DB_PASSWORD']} dbname={dbname}")  # fmt: skip

    def odoo_ops(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        exe = shutil.which("odoo-ops")
        assert exe, "odoo-ops is not installed in this environment"
        return _run([exe, *args], self.root, timeout)


def _read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines()
             if line and not line.startswith("#") and "=" in line)  # fmt: skip
    return {k.strip(): v.strip() for k, v in pairs}


def _generated_image(root: Path) -> str:
    doc = yaml.safe_load((root / "docker-compose.yml").read_text())
    return str(doc["services"]["db"]["image"])


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    why = engine_unavailable()
    if why:
        pytest.skip(why)
    from tests.support.docker_images import (
        POSTGRES_STANDIN_TAG,
        PROJECT_PREFIX,
        ensure_postgres_standin,
    )

    assert f"postgres:{POSTGRES_BY_SERIES[SERIES]}" == POSTGRES_STANDIN_TAG
    cache = os.environ.get("ODOO_OPS_CI_CACHE")
    try:
        ensure_postgres_standin(Path(cache) if cache else None)
    except RuntimeError as exc:
        pytest.fail(f"the stand-in for {POSTGRES_STANDIN_TAG}: {exc}")
    # the directory's name is the compose project's (the tier's clean-up knows the prefix);
    # short, under /tmp: the restore's scratch socket lives under .odoo-ops/pitr/…/scratch/…
    root = Path(tempfile.mkdtemp(prefix=f"{PROJECT_PREFIX}pitr-", dir="/tmp"))
    port = _free_port()
    opts = InitOptions(
        directory=root, domain=DOMAIN, database=DATABASE, cpus=2, ram_mb=4096, series=SERIES,
        pitr=True, db_port=port, hash_rounds=1000,
        odoo_ops_bin=shutil.which("odoo-ops") or "/usr/local/bin/odoo-ops",
    )  # fmt: skip
    apply_plan(plan_project(opts))
    s = Site(root, _read_env(root / ".env"), port, _generated_image(root))
    try:
        t0 = time.monotonic()
        s.compose("build", "db", timeout=900)
        t1 = time.monotonic()
        s.compose("up", "-d", "--wait", "db", timeout=300)
        print(f"generated db image built in {t1 - t0:.1f} s, healthy in "
              f"{time.monotonic() - t1:.1f} s")  # fmt: skip
        # what Odoo does first: its database, created by the odoo role (CREATEDB)
        with psycopg.connect(s.odoo_dsn("postgres"), autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        with psycopg.connect(s.odoo_dsn(), autocommit=True) as conn:
            conn.execute("CREATE TABLE pitr_probe (id serial PRIMARY KEY, label text NOT NULL,"
                         " at timestamptz NOT NULL DEFAULT clock_timestamp())")  # fmt: skip
            conn.execute("INSERT INTO pitr_probe (label) VALUES ('before the backup')")
        yield s
    finally:
        subprocess.run(["docker", "compose", "down", "-v", "--remove-orphans"],
                       cwd=root, capture_output=True, timeout=180)  # fmt: skip
        left = _run(["docker", "ps", "-a", "-q", "--filter",
                     f"label=com.docker.compose.project={root.name}"], root).stdout  # fmt: skip
        subprocess.run(["docker", "image", "rm", s.image], capture_output=True, timeout=120)
        shutil.rmtree(root, ignore_errors=True)
        assert not left.split(), f"containers of {root.name} left after down"


def _archiver(site: Site) -> dict[str, Any]:
    with psycopg.connect(site.odoo_dsn(), autocommit=True) as conn:
        cur = conn.execute("SELECT archived_count, last_archived_wal, failed_count,"
                           " last_failed_wal FROM pg_stat_archiver")  # fmt: skip
        row = cur.fetchone()
        assert row is not None
        return dict(zip([c.name for c in cur.description or []], row, strict=True))


def _switch_wal_and_wait(site: Site, timeout: float = 60) -> str:
    """A WAL switch (as the superuser, in the container) and the wait until that file is
    archived: what ``archive_timeout`` does within a minute, at once."""
    wal = site.psql_postgres("SELECT pg_walfile_name(pg_switch_wal())")
    deadline = time.monotonic() + timeout
    while True:
        last = _archiver(site)["last_archived_wal"] or ""
        if last[8:] >= wal[8:]:
            return wal
        assert time.monotonic() < deadline, (
            f"{wal} not archived in {timeout:g} s: {_archiver(site)}"
        )
        time.sleep(0.2)


def _errors(stderr: str) -> str:
    """The error lines of odoo-ops' stderr (not its warnings)."""
    return " ".join(ln for ln in stderr.splitlines() if not ln.startswith("warning:")).strip()


def _setup(site: Site) -> subprocess.CompletedProcess[str]:
    return site.odoo_ops("pitr", "setup", "--apply", timeout=300)


@pytest.fixture(scope="module")
def archiving(site: Site) -> Site:
    """``pitr setup --apply`` as docs/pitr.md says for compose (once, after ``up``)."""
    proc = _setup(site)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pgbackrest stanza-create: stanza production ready" in proc.stdout
    assert "pgbackrest check: WAL archiving works" in proc.stdout
    return site


def _odoo_may(site: Site, function: str) -> bool:
    with psycopg.connect(site.odoo_dsn(), autocommit=True) as conn:
        row = conn.execute("SELECT has_function_privilege(%s, 'EXECUTE')", (function,))
        return bool(row.fetchone()[0])  # type: ignore[index]


def test_generated_db_image_is_the_official_contract_plus_pgbackrest(site: Site) -> None:
    root = site.root
    dockerfile = (root / "db" / "Dockerfile").read_text()
    assert "FROM postgres:15\n" in dockerfile  # built as generated: nothing rewritten
    labels = json.loads(_run(["docker", "image", "inspect", "--format",
                              "{{json .Config.Labels}}", site.image], root).stdout)  # fmt: skip
    assert labels.get("odoo-ops-test") == "1"  # FROM the stand-in, not some other postgres:15
    assert site.compose("exec", "-T", "db", "pgbackrest", "version").startswith("pgBackRest 2.")
    # PostgreSQL runs as postgres (pid 1 after the entrypoint's switch), uid 999 as upstream
    assert site.compose("exec", "-T", "db", "id", "-u", "postgres").strip() == "999"
    status = site.compose("exec", "-T", "db", "cat", "/proc/1/status")
    assert "\nUid:\t999\t" in status
    # the PITR directory at the same path, the data directory where [pitr] pg_data says
    site.compose("exec", "-T", "db", "test", "-d", str(site.pitr_dir))
    assert site.psql_postgres("SHOW data_directory") == "/var/lib/postgresql/data"
    # started with the generated command line: the archive settings pitr setup wants
    with psycopg.connect(site.odoo_dsn(), autocommit=True) as conn:
        settings: dict[str, str] = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN ('wal_level',"
            " 'archive_mode', 'archive_timeout', 'archive_command', 'max_connections',"
            " 'listen_addresses')").fetchall())  # fmt: skip
        role = conn.execute("SELECT rolsuper, rolcreatedb FROM pg_roles"
                            " WHERE rolname = current_user").fetchone()  # fmt: skip
    assert settings["wal_level"] == "replica" and settings["archive_mode"] == "on"
    assert settings["archive_timeout"] == "60" and settings["listen_addresses"] == "*"
    assert settings["archive_command"] == (
        f"pgbackrest --config={site.pitr_dir}/pgbackrest.conf --stanza={STANZA} archive-push %p"
    )
    # db/init/10-odoo-role.sh ran on the first start: Odoo's role, no superuser
    assert role == (False, True)
    # the network needs the password (scram-sha-256), for the superuser too
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(site.odoo_dsn().replace(site.env["ODOO_DB_PASSWORD"], "wrong"))
    with psycopg.connect(f"host=127.0.0.1 port={site.db_port} user=postgres dbname=postgres"
                         f" password={site.env['POSTGRES_PASSWORD']}") as conn:  # fmt: skip
        assert conn.execute("SELECT current_setting('is_superuser')").fetchone() == ("on",)


def test_setup_backup_info_and_check_through_the_wrapper(archiving: Site) -> None:
    site = archiving
    # pgBackRest wrote the repository as the container's postgres (uid 999 on the host too)
    assert (site.pitr_dir / "repo" / "archive" / STANZA).is_dir()
    assert (site.pitr_dir / "repo").stat().st_uid == 999
    backup = site.odoo_ops("pitr", "backup", "--type", "full", "--format", "json", timeout=600)
    assert backup.returncode == 0, backup.stdout + backup.stderr
    with psycopg.connect(site.odoo_dsn(), autocommit=True) as conn:
        conn.execute("INSERT INTO pitr_probe (label) VALUES ('after the backup')")
        time.sleep(1.2)  # T: strictly after the backup's stop second, between two commits
        site.moment = conn.execute("SELECT clock_timestamp()").fetchone()[0]  # type: ignore[index]
        time.sleep(0.5)
        conn.execute("INSERT INTO pitr_probe (label) VALUES ('after T')")
    _switch_wal_and_wait(site)

    info = site.odoo_ops("pitr", "info", "--format", "json", timeout=300)
    assert info.returncode == 0, info.stdout + info.stderr
    doc = json.loads(info.stdout)
    assert doc["stanza"] == STANZA and doc["status"] == "ok"
    assert [b["type"] for b in doc["backups"]] == ["full"]
    assert doc["archive_failing"] is False
    start = datetime.fromisoformat(doc["window"]["start"])
    end = datetime.fromisoformat(doc["window"]["end"])
    assert site.moment is not None and start <= site.moment <= end, (doc["window"], site.moment)

    sync = site.odoo_ops("pitr", "filestore-sync", timeout=300)
    assert sync.returncode == 0, sync.stdout + sync.stderr
    check = site.odoo_ops("check", "--only", "pitr-archiving", "--format", "json", timeout=300)
    result = json.loads(check.stdout)["results"][0] if check.stdout.strip() else {}
    assert check.returncode == 0 and result.get("status") == "pass", check.stdout + check.stderr
    assert "newest full backup" in result["message"]
    archiver = _archiver(site)
    assert archiver["archived_count"] >= 3, archiver  # check's, the backup's, the switch's
    # every archived WAL file is in the repository the host sees
    archived = {p.name[:24] for p in (site.pitr_dir / "repo" / "archive" / STANZA).glob("*/*/*")}
    assert archiver["last_archived_wal"] in archived


def test_pitr_setup_needs_nothing_beyond_the_generated_role(archiving: Site) -> None:
    """The generated DSN is Odoo's role (no superuser): ``pitr setup --apply`` works with
    it as generated, since the settings it wants are on the command line already; one it
    would have to change is refused in one line naming what is needed."""
    site = archiving
    assert not _odoo_may(site, "pg_reload_conf()")  # nothing was granted to get here
    proc = _setup(site)  # a re-run: idempotent, nothing altered, no reload
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ALTER SYSTEM" not in proc.stdout
    toml = site.root / "odoo-ops.toml"
    text = toml.read_text()
    toml.write_text(text.replace("archive_timeout = 60\n", "archive_timeout = 30\n", 1))
    try:
        refused = _setup(site)
    finally:
        toml.write_text(text)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    error = _errors(refused.stderr)
    assert "archive_timeout" in error and "role odoo may not run ALTER SYSTEM" in error, error
    assert "Traceback" not in refused.stderr and "unexpected error" not in refused.stderr
    assert site.psql_postgres("SHOW archive_timeout") == "1min"  # unchanged


def _leftovers(site: Site, newdb: str) -> list[str]:
    """What a restore may leave behind: scratch containers, processes, directories, the
    scratch database, the cleanup record."""
    left = []
    containers = _run(["docker", "ps", "-a", "--format", "{{.Names}}", "--filter",
                       "name=odoo-ops-pitr-"], site.root).stdout.split()  # fmt: skip
    left += [f"container {c}" for c in containers]
    scratch = site.pitr_dir / "scratch"
    left += [f"scratch {p.name}" for p in scratch.iterdir()] if scratch.is_dir() else []
    left += [f"socket dir {p}" for p in Path(tempfile.gettempdir()).glob("odoo-ops-pitr-*")]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if str(scratch).encode() in cmdline or b"odoo-ops-pitr-" in cmdline:
            shown = cmdline.replace(b"\0", b" ")[:200]
            left.append(f"process {pid}: {shown!r}")
    with psycopg.connect(site.odoo_dsn("postgres"), autocommit=True) as conn:
        names = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
    left += [f"database {n}" for n in names if n.startswith(f"{newdb}__")]
    if (site.pitr_dir / "restore-in-progress.json").exists():
        left.append("restore-in-progress.json")
    return left


#: a NEWDB whose scratch socket path would pass 107 bytes: the socket goes under /tmp
LONG_NEWDB = "odoo_pitr_restored_into_a_database_with_a_long_name"


@pytest.mark.parametrize("newdb", ["odoo_pitr", LONG_NEWDB])
def test_restore_to_a_moment_into_a_new_database(archiving: Site, newdb: str) -> None:
    site = archiving
    if site.moment is None:
        pytest.skip(
            "needs the backup and T of test_setup_backup_info_and_check_through_the_wrapper"
        )
    when = site.moment.isoformat(sep=" ")
    # the restore seals the archive as Odoo's role, which may not switch WAL itself
    assert not _odoo_may(site, "pg_switch_wal()")
    proc = site.odoo_ops("pitr", "restore", "--time", when, "--to", newdb,
                         "--format", "json", timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with psycopg.connect(site.odoo_dsn(newdb), autocommit=True) as conn:
        labels = [r[0] for r in conn.execute("SELECT label FROM pitr_probe ORDER BY id")]
        owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database"
                             " WHERE datname = current_database()").fetchone()  # fmt: skip
    assert labels == ["before the backup", "after the backup"]
    assert owner == ("odoo",)
    with psycopg.connect(site.odoo_dsn(), autocommit=True) as conn:
        live = [r[0] for r in conn.execute("SELECT label FROM pitr_probe ORDER BY id")]
    assert live == ["before the backup", "after the backup", "after T"]  # untouched
    assert _leftovers(site, newdb) == []


def _start_restore_until_its_container_runs(site: Site, newdb: str) -> tuple[
        subprocess.Popen[str], str]:  # fmt: skip
    """``pitr restore`` in the background, returned once its scratch container runs."""
    exe = shutil.which("odoo-ops")
    assert exe and site.moment is not None
    proc = subprocess.Popen([exe, "pitr", "restore", "--time", site.moment.isoformat(sep=" "),
                             "--to", newdb], cwd=site.root, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    record = site.pitr_dir / "restore-in-progress.json"
    container = None
    deadline = time.monotonic() + 120
    while container is None and proc.poll() is None and time.monotonic() < deadline:
        if record.exists():
            name = json.loads(record.read_text() or "{}").get("container")
            running = _run(["docker", "ps", "-q", "--filter", f"name={name}"], site.root)
            container = name if name and running.stdout.strip() else None
        time.sleep(0.05)
    if container is None:
        proc.kill()
        pytest.fail(f"no scratch container seen: {proc.communicate()[1]}")
    return proc, container


def test_restore_stopped_by_sigterm_removes_its_container(archiving: Site) -> None:
    """SIGTERM (Ctrl-C alike) while the scratch container runs: the restore stops and
    removes the container by name, and everything else, at once."""
    site = archiving
    if site.moment is None:
        pytest.skip("needs T of test_setup_backup_info_and_check_through_the_wrapper")
    newdb = "odoo_pitr_t"
    proc, _container = _start_restore_until_its_container_runs(site, newdb)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0, err
    assert "Traceback" not in err, err
    assert _leftovers(site, newdb) == []
    with psycopg.connect(site.odoo_dsn("postgres"), autocommit=True) as conn:
        names = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
    assert newdb not in names


def test_restore_killed_outright_is_cleaned_by_the_next_command(archiving: Site) -> None:
    """SIGKILL while the scratch container runs: ``docker compose run`` dies with
    odoo-ops, the container does not; the next ``pitr`` command removes it (its name is
    in restore-in-progress.json) with the scratch and socket directories."""
    site = archiving
    if site.moment is None:
        pytest.skip("needs T of test_setup_backup_info_and_check_through_the_wrapper")
    newdb = LONG_NEWDB + "_k"
    proc, container = _start_restore_until_its_container_runs(site, newdb)
    record = site.pitr_dir / "restore-in-progress.json"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert record.exists()
    time.sleep(1)
    state = _run(["docker", "ps", "-a", "--format", "{{.Names}}", "--filter",
                  f"name={container}"], site.root).stdout.split()  # fmt: skip
    assert state == [container]  # outlives odoo-ops: only its record can say it exists
    info = site.odoo_ops("pitr", "info", timeout=300)
    assert info.returncode == 0, info.stdout + info.stderr
    assert "interrupted pitr restore was cleaned up" in info.stdout + info.stderr
    assert _leftovers(site, newdb) == []
    with psycopg.connect(site.odoo_dsn("postgres"), autocommit=True) as conn:
        names = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
    assert newdb not in names
