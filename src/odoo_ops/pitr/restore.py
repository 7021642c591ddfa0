"""``pitr restore``: the deployment's database as it was at a moment, in a new database.

1. the target time must lie in the recoverable window (the archive is sealed
   first, so "a minute ago" is in it);
2. ``pgbackrest restore --type=time`` of the deployment's database only
   (``--db-include``) into a scratch data directory under ``[pitr] dir``;
3. a scratch PostgreSQL server on it: a free port, its socket in the
   scratch directory (or a short directory under /tmp), no TCP, archiving
   off, the server a child of odoo-ops (it dies with it) -- or, for a compose
   deployment, a one-off container of the db service's image, removed by name;
   recovery replays WAL up to the target and promotes;
4. the database copied out of it into a scratch database on the live server
   (``transfer``: the schema through ``pg_dump | pg_restore``, the rows of N
   tables at a time through binary COPY pipes, then indexes and constraints
   N at a time), with the filestore files its ``ir_attachment`` rows name;
   ``--neutralize`` on request;
5. the scratch server stopped and its directory removed; the scratch
   database renamed to NEWDB (the old NEWDB dropped first, with ``--force``).

A cleanup record (``restore-in-progress.json`` in ``[pitr] dir``) names the
scratch directory, socket directory, container, database and filestore: a restore that fails or is
interrupted removes them at once; one killed outright (SIGKILL) leaves the
record, and the next ``pitr`` command removes what it names. NEWDB only
appears in the last step, so it never exists half-restored.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops import childproc
from odoo_ops.errors import ConfigError, OpsError, UsageError
from odoo_ops.fileutil import atomic_write_text
from odoo_ops.names import check_database_name
from odoo_ops.pitr import pgbackrest, transfer
from odoo_ops.pitr.actions import require_set_up
from odoo_ops.pitr.filestore import FilesResult, FilestoreArchive
from odoo_ops.pitr.settings import PitrSetup, chown_to
from odoo_ops.pitr.window import Window, archive_state, fmt_time, seal

if TYPE_CHECKING:
    from odoo_ops.adapters import Target
    from odoo_ops.adapters.runner import ComposeRunner

RECORD = "restore-in-progress.json"
_Log = Callable[[str], None]


@dataclass
class RestoreResult:
    database: str
    newdb: str
    target_time: datetime
    window: Window
    dry_run: bool = False
    replaced: bool = False
    neutralized: bool = False
    files: FilesResult | None = None
    filestore: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# -- leftovers ---------------------------------------------------------------------------


def settle_leftovers(target: Target, st: PitrSetup | None = None) -> list[str]:
    """Remove what a killed restore left (its record says what); notes of what was done."""
    st = st or require_set_up(target)
    record_path = st.base / RECORD
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        record = {}
    pid = record.get("pid")
    if isinstance(pid, int) and pid != os.getpid() and _alive(pid):
        return []  # a restore running right now: its own clean-up is in charge
    notes = [f"an interrupted pitr restore was cleaned up ({record.get('started', '?')})"]
    container = record.get("container")
    if isinstance(container, str) and container.startswith(CONTAINER_PREFIX):
        _remove_container(str(record.get("docker") or "docker"), container)
    scratch = record.get("scratch")
    if isinstance(scratch, str) and Path(scratch).parent == st.scratch_root:
        _kill_postmaster(Path(scratch) / "data")
        shutil.rmtree(scratch, ignore_errors=True)
    sockets = record.get("socket_dir")
    if isinstance(sockets, str) and Path(sockets).name.startswith(SOCKET_PREFIX):
        shutil.rmtree(sockets, ignore_errors=True)
    tmpdb = record.get("tmpdb")
    if isinstance(tmpdb, str):
        _drop_quietly(target, check_database_name(tmpdb))
    tmp_fs = record.get("tmp_filestore")
    if isinstance(tmp_fs, str) and tmp_fs.endswith(".pitr-tmp"):
        shutil.rmtree(tmp_fs, ignore_errors=True)
    record_path.unlink(missing_ok=True)
    return notes


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (killed, not yet reaped) is not running
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _kill_postmaster(data: Path) -> None:
    """Kill every process of the server on ``data``, and wait until they are gone.

    The postmaster's children (the startup process replaying WAL, the
    checkpointer...) each lead a process group of their own and outlive a
    postmaster killed outright for a moment, writing into ``data``. All of
    them are found by their working directory, which PostgreSQL sets to the
    data directory (``postmaster.pid`` may name a pid used by another process
    since).
    """
    import psutil

    root = str(data.resolve())
    procs = []
    for proc in psutil.process_iter():
        try:
            cwd = proc.cwd()
        except (psutil.Error, OSError):
            continue
        if cwd == root or cwd.startswith(root + os.sep):
            try:
                proc.kill()
                procs.append(proc)
            except psutil.Error:
                pass
    psutil.wait_procs(procs, timeout=10)


def _remove_container(docker: str, name: str) -> None:
    """``docker rm -f NAME`` (its processes killed with it): gone, or never there."""
    try:
        childproc.run([docker, "rm", "-f", name], capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        pass  # no docker here any more: nothing of it to remove either


def _drop_quietly(target: Target, name: str) -> None:
    from odoo_ops.adapters.pgadmin import admin_connection, drop_database

    try:
        with admin_connection(target) as conn:
            drop_database(conn, name)
    except Exception:  # best effort: the next settle tries again
        pass


# -- the scratch server ------------------------------------------------------------------


#: the scratch container's name (compose) starts with this
CONTAINER_PREFIX = "odoo-ops-pitr-"
#: a short socket directory (under /tmp) starts with this
SOCKET_PREFIX = "odoo-ops-pitr-"
#: the longest Unix-domain socket path (``sun_path`` less its NUL)
SOCKET_PATH_MAX = 107


def scratch_compose(target: Target, st: PitrSetup) -> ComposeRunner | None:
    """The runner of the db service when the scratch server runs in its image
    (``[pitr] scratch_server``), None when it runs on this host."""
    from odoo_ops.adapters.hostcmd import compose_runner
    from odoo_ops.adapters.runner import ComposeRunner

    mode = st.policy.scratch_server
    if mode == "host":
        return None
    dep = target.deployment
    runner = compose_runner(target) if dep.runner == "compose" else None
    compose = target.compose_or_none() if runner is not None else None
    if runner is None or compose is None or dep.db_service not in compose.services:
        if mode == "compose":
            raise ConfigError(
                '[pitr] scratch_server = "compose" needs runner = "compose" and the'
                f" compose service {dep.db_service!r} (db_service) in the compose file",
                hint='set scratch_server = "host" to run it from pg_bin on this host',
            )
        return None
    return ComposeRunner(runner.compose_file, dep.db_service,
                         project_directory=runner.project_directory, env_file=runner.env_file,
                         project_name=runner.project_name, docker=runner.docker)  # fmt: skip


class ScratchServer:
    """A PostgreSQL server on a restored data directory, a child of odoo-ops.

    On this host (``pg_bin/postgres`` as ``os_user``), or with ``compose`` in a
    one-off container of the db service's image (``docker compose run --rm --no-deps
    --name odoo-ops-pitr-… --entrypoint pg_bin/postgres``, as the owner of the
    restored files): the PITR directory is mounted there at the same path, so the
    data directory, the configuration files and the socket are where this host
    sees them. The socket is in the scratch directory, or, when that path would be
    too long for a Unix-domain socket (107 bytes), in a short directory under /tmp
    (mounted into the container at the same path).
    """

    def __init__(self, st: PitrSetup, root: Path, compose: ComposeRunner | None = None) -> None:
        import secrets
        import tempfile

        self.st = st
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.port = _free_port()
        self.proc: childproc.ChildPopen | None = None
        self.compose = compose
        self.container = (f"{CONTAINER_PREFIX}{_slug(st.stanza)}-{secrets.token_hex(4)}"
                          if compose is not None else None)  # fmt: skip
        self.socket_dir = root
        if len(str(root / f".s.PGSQL.{self.port}")) > SOCKET_PATH_MAX:
            self.socket_dir = Path(tempfile.gettempdir()) / f"{SOCKET_PREFIX}{secrets.token_hex(6)}"
        self.kept_log: Path | None = None

    @property
    def own_socket_dir(self) -> bool:
        return self.socket_dir != self.root

    def record(self) -> dict[str, Any]:
        """What ``settle_leftovers`` needs to remove this server after a SIGKILL."""
        return {
            "container": self.container,
            "docker": self.compose.docker if self.compose is not None else None,
            "socket_dir": str(self.socket_dir) if self.own_socket_dir else None,
        }

    def dsn(self, dbname: str, user: str | None) -> str:
        from psycopg.conninfo import make_conninfo

        params = {"host": str(self.socket_dir), "port": str(self.port), "dbname": dbname}
        if user:
            params["user"] = user
        return make_conninfo("", **params)

    def start(self) -> None:
        (self.root / "pg_hba.conf").write_text("local all all trust\n")
        (self.root / "pg_ident.conf").write_text("")
        (self.root / "postgresql.conf").write_text("# odoo-ops pitr restore: scratch server\n")
        for path in ("pg_hba.conf", "pg_ident.conf", "postgresql.conf"):
            chown_to(self.root / path, self.st.os_user)
        owner = _owner_of(self.data)
        if self.own_socket_dir:
            self.socket_dir.mkdir(mode=0o700)
            if self.compose is not None:
                if owner is not None and os.geteuid() == 0:
                    os.chown(self.socket_dir, *owner)
            else:
                chown_to(self.socket_dir, self.st.os_user)
        settings = {
            "config_file": self.root / "postgresql.conf",
            "hba_file": self.root / "pg_hba.conf",
            "ident_file": self.root / "pg_ident.conf",
            "port": self.port,
            "listen_addresses": "",
            "unix_socket_directories": self.socket_dir,
            "archive_mode": "off",
            "fsync": "off",
            "shared_preload_libraries": "",
            "hot_standby": "off",
            "logging_collector": "off",
            "max_connections": 30,
        }
        postgres = str(Path(self.st.policy.pg_bin) / "postgres")
        args = ["-D", str(self.data)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        kwargs: dict[str, Any] = {}
        if self.compose is not None:
            assert self.container is not None
            # as the owner of the restored files (the image's postgres), no entrypoint
            # (it would prepare the live server's PGDATA, or initdb), no port published
            user = f"{owner[0]}:{owner[1]}" if owner is not None else "postgres"
            mounts = (["-v", f"{self.socket_dir}:{self.socket_dir}"]
                      if self.own_socket_dir else [])  # fmt: skip
            argv = self.compose.compose_argv(
                "run", "--rm", "--no-deps", "-T", "--name", self.container, "-u", user,
                "--entrypoint", postgres, *mounts, self.compose.service, *args,
            )  # fmt: skip
        else:
            argv = [postgres, *args]
            kwargs = pgbackrest.user_kwargs(self.st.os_user)
        log = self.log.open("ab")
        try:
            self.proc = childproc.ChildPopen(argv, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, **kwargs)  # fmt: skip
        except OSError as exc:
            raise OpsError(f"cannot start the scratch server ({argv[0]}): {exc.strerror}") from None
        finally:
            log.close()

    def wait_promoted(self, user: str | None, timeout: float = 3600.0) -> None:
        """Wait until recovery reached the target and the server accepts writes."""
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                kept = self.keep_log()
                raise OpsError(
                    f"the scratch server stopped during recovery: {self.log_reason()}",
                    hint=f"its log: {kept}" if kept else None,
                )
            try:
                with psycopg.connect(self.dsn("postgres", user), connect_timeout=2,
                                     autocommit=True) as conn:  # fmt: skip
                    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                    if row is not None and not row[0]:
                        return
            except psycopg.OperationalError:
                pass
            if time.monotonic() > deadline:
                kept = self.keep_log()
                raise OpsError(
                    f"recovery did not finish within {timeout:.0f} s",
                    hint=f"the scratch server's log: {kept}" if kept else None,
                )
            time.sleep(0.2)

    def keep_log(self) -> Path | None:
        """A copy of the server's log in ``[pitr] dir/log`` (the scratch directory goes)."""
        kept = self.st.log_dir / f"scratch-{self.root.name}.log"
        try:
            shutil.copyfile(self.log, kept)
        except OSError:
            return None
        self.kept_log = kept
        return kept

    def log_reason(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return "no log"
        for line in reversed(lines):
            if "FATAL" in line or "PANIC" in line:
                return line.split("FATAL:", 1)[-1].split("PANIC:", 1)[-1].strip()[:300]
        return (lines[-1] if lines else "no log")[:300]

    def stop(self) -> None:
        """Stop the server at once (immediate shutdown: no checkpoint, as its data
        directory is thrown away next). A container is removed (``docker rm -f``: a
        signal to ``docker compose run`` may not reach the server)."""
        proc = self.proc
        docker = self.compose.docker if self.compose is not None else "docker"
        container = self.container if proc is not None else None
        if container is not None:
            _remove_container(docker, container)
        if proc is not None and proc.poll() is None:
            try:
                proc.send_signal(signal.SIGQUIT)
                proc.wait(timeout=30)
            except (subprocess.TimeoutExpired, OSError):
                proc.kill_group()
                proc.wait()
        if container is not None:  # one the client was still creating a moment ago
            _remove_container(docker, container)
        if self.data.exists():  # a postmaster killed outright (a signal) leaves children
            _kill_postmaster(self.data)
        if self.own_socket_dir:
            shutil.rmtree(self.socket_dir, ignore_errors=True)


def _slug(name: str) -> str:
    import re

    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", name)[:40] or "pitr"


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- the restore -------------------------------------------------------------------------


def _pg_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")


def _owner_of(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_uid, st.st_gid


def restore(
    target: Target,
    *,
    when: datetime,
    newdb: str,
    force: bool = False,
    neutralize: bool = False,
    dry_run: bool = False,
    wait: float = 0.0,
    log: _Log | None = None,
) -> RestoreResult:
    from odoo_ops.adapters.locking import deployment_lock
    from odoo_ops.adapters.pgadmin import admin_connection, db_exists

    say = log or (lambda _msg: None)
    newdb = check_database_name(newdb, "--to database name")
    st = require_set_up(target)
    database = target.database_name
    if not database:
        raise UsageError("no database configured for the deployment", hint="pass -d DATABASE")
    if newdb == database:
        raise UsageError(
            f"--to {newdb} is the live database: pitr restore never overwrites it",
            hint="restore into another name, check it, then switch over",
        )
    notes = [] if dry_run else settle_leftovers(target, st)
    with admin_connection(target) as conn:
        exists = db_exists(conn, newdb)
    if exists and not force:
        raise UsageError(f"database {newdb} already exists", hint="pass --force to replace it")
    new_fs = target.filestore_dir(newdb)
    if new_fs is not None and new_fs.exists() and not force:
        raise UsageError(f"the filestore {new_fs} already exists (database {newdb} does not)",
                         hint="move it away, or pass --force to replace it")  # fmt: skip
    info = pgbackrest.info(st)
    start = info.oldest.restorable_from if info.oldest else None
    window = Window(start, None)
    if start is None or when < start:
        with target.database().connect(autocommit=True) as conn:
            window.end = archive_state(conn).last_archived_time
        raise OpsError(
            f"{fmt_time(when)} is outside the recoverable window: {window.describe()}",
            hint="pick a time inside it (`odoo-ops pitr info`)",
        )
    with target.database().connect(autocommit=True) as conn:
        if dry_run:
            window.end = archive_state(conn).last_archived_time
        else:
            window.end = seal(conn, timeout=max(60.0, 2.0 * st.policy.archive_timeout), setup=st)
    if not window.contains(when):
        raise OpsError(
            f"{fmt_time(when)} is outside the recoverable window: {window.describe()}",
            hint="pick a time inside it (`odoo-ops pitr info`)",
        )
    result = RestoreResult(database, newdb, when, window, dry_run=dry_run, replaced=exists,
                           notes=notes)  # fmt: skip
    if dry_run:
        result.notes.append(
            f"would restore {database} at {fmt_time(when)} into {newdb}"
            + (" (replacing it)" if exists else "")
        )
        return result
    with deployment_lock(target, wait, database=newdb):
        _run(target, st, result, force=force, neutralize=neutralize, say=say)
    return result


def _run(target: Target, st: PitrSetup, result: RestoreResult, *, force: bool,
         neutralize: bool, say: _Log) -> None:  # fmt: skip
    from psycopg.conninfo import conninfo_to_dict

    from odoo_ops.adapters.pgadmin import (
        admin_connection,
        create_database,
        db_exists,
        drop_database,
        rename_database,
        with_suffix,
    )

    database, newdb = result.database, result.newdb
    tmpdb = with_suffix(newdb, "__pitr")
    scratch_dir = st.scratch_root / f"{newdb}-{os.getpid()}-{int(time.time())}"
    live_fs = target.filestore_dir(database)
    new_fs = target.filestore_dir(newdb)
    tmp_fs = new_fs.with_name(new_fs.name + ".pitr-tmp") if new_fs is not None else None
    record_path = st.base / RECORD
    server = ScratchServer(st, scratch_dir, scratch_compose(target, st))
    atomic_write_text(record_path, json.dumps({
        "started": datetime.now(UTC).isoformat(), "pid": os.getpid(), "newdb": newdb,
        "scratch": str(scratch_dir), "tmpdb": tmpdb,
        "tmp_filestore": str(tmp_fs) if tmp_fs else None, **server.record(),
    }))  # fmt: skip
    raw_user = conninfo_to_dict(target.dsn()).get("user")
    user = str(raw_user) if raw_user else None
    tmp_created = False
    remover: threading.Thread | None = None
    reader = ThreadPoolExecutor(1, thread_name_prefix="pitr-fnames")
    try:
        st.scratch_root.mkdir(parents=True, exist_ok=True)
        scratch_dir.mkdir(mode=0o700)
        chown_to(scratch_dir, st.os_user)
        server.data.mkdir(mode=0o700)
        chown_to(server.data, st.os_user)
        clock = time.monotonic()
        say(f"pgbackrest restore of {database} to {fmt_time(result.target_time)}")
        pgbackrest.run(
            st, "restore", f"--pg1-path={server.data}", "--type=time",
            f"--target={_pg_time(result.target_time)}", "--target-action=promote",
            f"--db-include={database}", "--archive-mode=off",
        )  # fmt: skip
        result.seconds["pgbackrest restore"] = time.monotonic() - clock
        clock = time.monotonic()
        say("recovery on the scratch server")
        server.start()
        server.wait_promoted(user)
        result.seconds["recovery"] = time.monotonic() - clock
        clock = time.monotonic()
        say(f"copying {database} into {tmpdb} on the live server")
        with admin_connection(target) as conn:
            drop_database(conn, tmpdb)
            meta = _database_meta(server, database, user)
            note = create_database(conn, tmpdb, meta)
            tmp_created = True
            if note:
                result.notes.append(note)
            from psycopg import sql

            conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(tmpdb), sql.Identifier(meta["owner"])))  # fmt: skip
        from odoo_ops.backup.pgtools import RESTORE_PGOPTIONS

        source = transfer.Endpoint(server.dsn(database, user), database)
        dest = transfer.Endpoint(target.dsn(), tmpdb, RESTORE_PGOPTIONS)
        steps: dict[str, float] = {}
        # the filestore names the restored rows reference, read off the scratch server
        # while the rows are copied (the same rows: a query of the new database would
        # wait for its indexes)
        fnames_job = reader.submit(_scratch_fnames, server, database, user)
        transfer.copy_database(source, dest, jobs=st.policy.jobs, workdir=scratch_dir,
                               timings=steps)  # fmt: skip
        fnames = fnames_job.result()
        reader.shutdown()
        clock = time.monotonic()
        # The scratch server is done with: stopped, and its data removed while the
        # indexes build.
        server.stop()
        remover = threading.Thread(target=shutil.rmtree, args=(server.data, True), daemon=True)
        remover.start()
        transfer.build_post_data(dest, jobs=st.policy.jobs, workdir=scratch_dir)
        steps["indexes and constraints"] = time.monotonic() - clock
        result.seconds.update(steps)
        remover.join()
        shutil.rmtree(scratch_dir, ignore_errors=True)
        import psycopg

        from odoo_ops.adapters.database import dsn_for_database

        if neutralize:
            from odoo_ops.backup.neutralize import neutralize_sql

            with psycopg.connect(dsn_for_database(target.dsn(), tmpdb),
                                 autocommit=True) as conn:  # fmt: skip
                neutralize_sql(conn, method="sql")
            result.neutralized = True
        if tmp_fs is not None and new_fs is not None:
            clock = time.monotonic()
            shutil.rmtree(tmp_fs, ignore_errors=True)
            archive = FilestoreArchive(st.filestore_archive, database)
            owner = _owner_of(live_fs) or _owner_of(new_fs.parent)
            result.files = archive.restore_files(fnames, tmp_fs, live=live_fs, owner=owner)
            result.seconds["filestore"] = time.monotonic() - clock
        elif fnames:
            result.notes.append(
                f"{len(fnames)} filestore file(s) not restored: the deployment's data_dir is"
                " unknown (set data_dir)"
            )
        with childproc.deferred_signals(), admin_connection(target) as conn:
            if db_exists(conn, newdb):
                if not force:
                    raise UsageError(f"database {newdb} appeared meanwhile",
                                     hint="pass --force to replace it")  # fmt: skip
                drop_database(conn, newdb)
                result.replaced = True
            if new_fs is not None and new_fs.exists():
                shutil.rmtree(new_fs)
            rename_database(conn, tmpdb, newdb)
            tmp_created = False
            if tmp_fs is not None and tmp_fs.exists() and new_fs is not None:
                os.replace(tmp_fs, new_fs)
                result.filestore = str(new_fs)
        record_path.unlink(missing_ok=True)
    except BaseException:
        server.stop()
        reader.shutdown(wait=True)  # its query ends with the server
        if remover is not None:
            remover.join()
        shutil.rmtree(scratch_dir, ignore_errors=True)
        if tmp_created:
            _drop_quietly(target, tmpdb)
        if tmp_fs is not None:
            shutil.rmtree(tmp_fs, ignore_errors=True)
        record_path.unlink(missing_ok=True)
        raise


def _database_meta(server: ScratchServer, database: str, user: str | None) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(server.dsn("postgres", user), autocommit=True) as conn:
        row = conn.execute(
            "SELECT pg_encoding_to_char(encoding), datcollate, datctype,"
            " pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (database,)
        ).fetchone()
    if row is None:
        raise OpsError(f"database {database} is not in the restored cluster")
    return {"encoding": row[0], "collate": row[1], "ctype": row[2], "owner": row[3]}


def _scratch_fnames(server: ScratchServer, database: str, user: str | None) -> list[str]:
    import psycopg

    try:
        with psycopg.connect(server.dsn(database, user), autocommit=True) as conn:
            return store_fnames(conn)
    except psycopg.Error as exc:
        raise OpsError(f"reading ir_attachment off the scratch server: {exc}") from None


def store_fnames(conn: Any) -> list[str]:
    """Every ``store_fname`` the database's ``ir_attachment`` rows reference."""
    row = conn.execute("SELECT to_regclass('ir_attachment')").fetchone()
    if row is None or row[0] is None:
        return []
    rows = conn.execute(
        "SELECT DISTINCT store_fname FROM ir_attachment WHERE store_fname IS NOT NULL"
    ).fetchall()
    return [r[0] for r in rows]
