"""``pitr restore --in-place``: the whole cluster back to a moment, in maintenance mode.

Only with ``--force`` (every database of the cluster goes back). The order:

1. checks before anything changes: ``pg_data`` is the live server's data
   directory (not a mount point, its parent writable), no tablespace or
   ``pg_wal`` outside it, ``hot_standby`` on, room on its file system for a
   second copy, the stop/start commands known, the time after the end of the
   oldest backup;
2. under the deployment lock: maintenance mode on (proxy flag, database
   marker, every Odoo service stopped), then the archive is *sealed* (a
   commit, a WAL switch, a wait until it is archived): everything Odoo
   committed is now in the repository, and the time must lie in the window;
3. PostgreSQL is stopped (cleanly: a fast shutdown) and its data directory
   **renamed** to ``<pg_data>.before-pitr-<stamp>`` — the safety copy: exact
   (a clean shutdown), taken in no time, put back in no time, and it does not
   depend on the repository that the restore is about to read;
4. ``pgbackrest restore --type=time --target-action=pause`` into a new,
   empty ``pg_data``; the server is started and replays WAL up to the time,
   then *pauses* there, read-only, still on its timeline;
5. the filestore is rebuilt beside the live one from the files the restored
   ``ir_attachment`` rows name (hard links to the live files, else copies from
   the filestore archive) and swapped in, the live one renamed to
   ``<filestore>.before-pitr-<stamp>``;
6. only then ``pg_wal_replay_resume()``: the server promotes (a new timeline),
   maintenance mode off (Odoo started).

Anything failing in 3-5 (or Ctrl-C / SIGTERM) puts everything back: the new
server stopped, the new data directory removed, the safety copy renamed back,
the filestore back, PostgreSQL started, maintenance off. Nothing is promoted
before step 6, so a failed attempt leaves no new timeline in the archive. The
safety copies stay after a success (remove them when satisfied). A run killed
outright leaves ``inplace-in-progress.json`` in ``[pitr] dir``, naming them:
further in-place restores are refused until it is dealt with.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops import childproc
from odoo_ops.backup.common import pid_alive
from odoo_ops.errors import ConfigError, OpsError, UsageError
from odoo_ops.fileutil import atomic_write_text
from odoo_ops.pitr import pgbackrest
from odoo_ops.pitr.actions import require_set_up
from odoo_ops.pitr.filestore import FilesResult, FilestoreArchive
from odoo_ops.pitr.settings import PitrSetup
from odoo_ops.pitr.window import Window, archive_state, fmt_time, seal

if TYPE_CHECKING:
    from odoo_ops.adapters import Target

RECORD = "inplace-in-progress.json"
SUFFIX = ".before-pitr-"
_Log = Callable[[str], None]


@dataclass
class InPlaceResult:
    database: str | None
    target_time: datetime
    window: Window
    dry_run: bool
    databases: list[str] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    safety_copy: str | None = None
    filestore_copy: str | None = None
    files: FilesResult | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class ServerControl:
    """How the PostgreSQL server of ``pg_data`` is stopped and started."""

    stop: list[str]
    start: list[str]
    as_os_user: bool  # the default pg_ctl runs as the cluster's OS user

    def run(self, st: PitrSetup, argv: list[str], what: str, timeout: float) -> None:
        kwargs = pgbackrest.user_kwargs(st.os_user) if self.as_os_user else {}
        try:
            done = childproc.run(argv, capture_output=True, text=True, timeout=timeout,
                                 stdin=subprocess.DEVNULL, **kwargs)  # fmt: skip
        except subprocess.TimeoutExpired:
            raise OpsError(f"{what} PostgreSQL did not finish within {timeout:.0f} s") from None
        except OSError as exc:
            raise OpsError(f"{what} PostgreSQL: cannot run {argv[0]}: {exc.strerror}") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout or "").strip().splitlines()[-1:] or ["no output"]
            raise OpsError(f"{what} PostgreSQL failed (exit {done.returncode}): {tail[0][:300]}")


def server_control(st: PitrSetup, pg_data: Path) -> ServerControl:
    pol = st.policy
    if pol.pg_stop_command and pol.pg_start_command:
        return ServerControl(list(pol.pg_stop_command), list(pol.pg_start_command), False)
    if pol.pg_stop_command or pol.pg_start_command:
        raise ConfigError("[pitr] sets only one of pg_stop_command and pg_start_command",
                          hint="set both, or neither (then pg_ctl -D pg_data is used)")  # fmt: skip
    if not (pg_data / "postgresql.conf").is_file():
        raise ConfigError(
            f"[pitr] pg_data {pg_data} holds no postgresql.conf: pg_ctl cannot start it alone",
            hint='set [pitr] pg_stop_command / pg_start_command, e.g. ["pg_ctlcluster", "15",'
            ' "main", "stop"] and [..., "start"] (or ["systemctl", "stop", "postgresql"])',
        )
    pg_ctl = str(Path(pol.pg_bin) / "pg_ctl")
    log = st.log_dir / "postgresql-after-pitr.log"
    return ServerControl(
        [pg_ctl, "-D", str(pg_data), "-m", "fast", "-w", "-t", "600", "stop"],
        [pg_ctl, "-D", str(pg_data), "-l", str(log), "-w", "-t", "3600", "start"],
        True,
    )


def _postmaster_running(pg_data: Path) -> bool:
    try:
        pid = int((pg_data / "postmaster.pid").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return False
    return pid_alive(pid)


def _dir_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def _connect(target: Target, dbname: str = "postgres", timeout: float = 5.0) -> Any:
    import psycopg

    from odoo_ops.adapters.database import dsn_for_database

    return psycopg.connect(dsn_for_database(target.dsn(), dbname), autocommit=True,
                           connect_timeout=max(1, int(timeout)))  # fmt: skip


@dataclass
class _Plan:
    st: PitrSetup
    pg_data: Path
    control: ServerControl
    safety: Path
    live_fs: Path | None
    fs_safety: Path | None
    fs_tmp: Path | None


def _preflight(target: Target, st: PitrSetup, when: datetime,
               result: InPlaceResult) -> _Plan:  # fmt: skip
    record = st.base / RECORD
    if record.exists():
        raise OpsError(
            f"an earlier in-place restore did not finish ({record})",
            hint="it names the safety copies; see docs/pitr.md (an in-place restore killed"
            " outright), then remove the file",
        )
    pg_data = st.require_pg_data()
    if not (pg_data / "PG_VERSION").is_file():
        raise ConfigError(f"[pitr] pg_data {pg_data} is not a PostgreSQL data directory")
    if os.path.ismount(pg_data):
        raise UsageError(
            f"{pg_data} is a mount point: it cannot be renamed aside as the safety copy",
            hint="mount the file system one level up (pg_data a directory in it), or restore"
            " to a new database instead (--to NEWDB)",
        )
    if not os.access(pg_data.parent, os.W_OK | os.X_OK):
        raise OpsError(f"cannot rename {pg_data} aside: {pg_data.parent} is not writable here",
                       hint="run odoo-ops as root or as the cluster's OS user")  # fmt: skip
    control = server_control(st, pg_data)
    with _connect(target) as conn:
        shown = conn.execute("SHOW data_directory").fetchone()[0]
        if not st.policy.pg_stop_command and Path(shown).resolve() != pg_data.resolve():
            raise ConfigError(
                f"[pitr] pg_data is {pg_data}, the server's data directory is {shown}",
                hint="an in-place restore must run on the database host, beside the data"
                " directory",
            )
        spaces = [r[0] for r in conn.execute(
            "SELECT spcname FROM pg_tablespace WHERE spcname NOT IN ('pg_default', 'pg_global')"
        ).fetchall()]  # fmt: skip
        if spaces:
            raise UsageError(
                f"the cluster has tablespaces outside its data directory ({', '.join(spaces)}):"
                " the safety copy would not cover them",
                hint="restore to a new database instead (--to NEWDB)",
            )
        if conn.execute("SHOW hot_standby").fetchone()[0] != "on":
            raise UsageError("hot_standby is off: the restore cannot pause at the time to"
                             " check it before promoting", hint="turn hot_standby on")  # fmt: skip
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datallowconn ORDER BY datname"
        ).fetchall()
        result.databases = [r[0] for r in rows]
        state = archive_state(conn)
    if (pg_data / "pg_wal").is_symlink():
        raise UsageError(
            f"{pg_data}/pg_wal is a link to another file system: the safety copy would not"
            " cover it",
            hint="restore to a new database instead",
        )
    info = pgbackrest.info(st)
    start = info.oldest.restorable_from if info.oldest else None
    result.window = Window(start, state.last_archived_time)
    if result.window.start is None or when < result.window.start:
        raise OpsError(
            f"{fmt_time(when)} is outside the recoverable window: {result.window.describe()}",
            hint="pick a time inside it (`odoo-ops pitr info`)",
        )
    # room for the restored cluster beside the safety copy (the rename takes none)
    size = _dir_size(pg_data)
    free = shutil.disk_usage(pg_data.parent).free
    if free < size * 1.1 + (256 << 20):
        raise OpsError(
            f"not enough room on the file system of {pg_data.parent}: the restore needs about"
            f" {size / 2**30:.1f} GiB beside the safety copy, {free / 2**30:.1f} GiB are free",
            hint="free space, or restore to a new database instead (--to NEWDB)",
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    safety = pg_data.with_name(pg_data.name + SUFFIX + stamp)
    live_fs = target.filestore_dir(st.database) if st.database else None
    fs_safety = live_fs.with_name(live_fs.name + SUFFIX + stamp) if live_fs else None
    fs_tmp = live_fs.with_name(live_fs.name + ".pitr-tmp") if live_fs else None
    return _Plan(st, pg_data, control, safety, live_fs, fs_safety, fs_tmp)


@contextmanager
def _file_lock(st: PitrSetup) -> Iterator[None]:
    """Held for the whole restore: the advisory lock lapses while the server is down."""
    st.base.mkdir(parents=True, exist_ok=True)
    with (st.base / "inplace.lock").open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OpsError("another in-place pitr restore is running",
                           hint=f"it holds {st.base / 'inplace.lock'}") from None  # fmt: skip
        yield


def restore_in_place(target: Target, *, when: datetime, force: bool, dry_run: bool = False,
                     wait: float = 0.0, log: _Log | None = None) -> InPlaceResult:  # fmt: skip
    from odoo_ops.modules import maintenance as mx

    say = log or (lambda _msg: None)
    st = require_set_up(target)
    if not force and not dry_run:
        raise UsageError(
            "--in-place puts the whole PostgreSQL cluster (every database on it) back in time",
            hint="pass --force to do it (try --dry-run first), or restore into a new database"
            " with --to NEWDB",
        )
    result = InPlaceResult(st.database, when, Window(None, None), dry_run)
    plan = _preflight(target, st, when, result)
    result.notes.append("every database of the cluster goes back: " + ", ".join(result.databases))
    if dry_run:
        on = mx.maintenance_on(target, dry_run=True)
        result.steps += [f"would: {c}" for c in on.commands]
        result.steps += [
            "would: seal the archive (pg_switch_wal, wait until archived); the time must be in"
            " the window then",
            f"would: stop PostgreSQL: {' '.join(plan.control.stop)}",
            f"would: rename {plan.pg_data} to {plan.safety} (the safety copy)",
            f"would: pgbackrest restore --type=time --target={fmt_time(when)}"
            f" --target-action=pause into {plan.pg_data}",
            f"would: start PostgreSQL: {' '.join(plan.control.start)}; wait for the pause at"
            " the time",
        ]
        if plan.live_fs is not None:
            result.steps.append(
                f"would: rebuild {plan.live_fs} from the restored ir_attachment rows; the live"
                f" one kept as {plan.fs_safety}"
            )
        result.steps.append("would: pg_wal_replay_resume() (promote), then:")
        result.steps += [f"would: {c}" for c in mx.maintenance_off(target, dry_run=True).commands]
        return result
    with _file_lock(st):
        _run(target, plan, result, wait=wait, say=say)
    return result


def _run(target: Target, plan: _Plan, result: InPlaceResult, *, wait: float,
         say: _Log) -> None:  # fmt: skip
    from odoo_ops.adapters.locking import deployment_lock
    from odoo_ops.modules import maintenance as mx

    st = plan.st
    turned_on = False
    with deployment_lock(target, wait):
        if mx.maintenance_status(target).state == mx.ON:
            result.steps.append("maintenance mode already on: left on")
        else:
            on = mx.maintenance_on(target, reason="odoo-ops pitr restore --in-place", note=say)
            turned_on = True
            result.steps += on.commands
            result.notes += on.warnings
        try:
            with _connect(target) as conn:
                result.window.end = seal(conn, timeout=max(60.0, 2.0 * st.policy.archive_timeout),
                                         setup=st)
            if not result.window.contains(result.target_time):
                raise OpsError(
                    f"{fmt_time(result.target_time)} is outside the recoverable window:"
                    f" {result.window.describe()}",
                    hint="pick a time inside it (`odoo-ops pitr info`)",
                )
        except BaseException:
            if turned_on:
                mx.maintenance_off(target, note=say)
            raise
    record = st.base / RECORD
    moved_data = moved_fs = False
    promoted = False
    try:
        atomic_write_text(record, json.dumps({
            "started": datetime.now(UTC).isoformat(), "pid": os.getpid(),
            "pg_data": str(plan.pg_data), "safety_copy": str(plan.safety),
            "filestore": str(plan.live_fs) if plan.live_fs else None,
            "filestore_copy": str(plan.fs_safety) if plan.fs_safety else None,
            "maintenance_turned_on": turned_on,
        }))  # fmt: skip
        clock = time.monotonic()
        say("stopping PostgreSQL")
        plan.control.run(st, plan.control.stop, "stopping", 660)
        _wait_stopped(plan.pg_data)
        result.steps.append("PostgreSQL stopped")
        os.rename(plan.pg_data, plan.safety)
        moved_data = True
        result.safety_copy = str(plan.safety)
        result.steps.append(f"safety copy: {plan.pg_data} renamed to {plan.safety}")
        plan.pg_data.mkdir(mode=0o700)
        shutil.copystat(plan.safety, plan.pg_data)
        own = plan.safety.stat()
        if os.geteuid() == 0:
            os.chown(plan.pg_data, own.st_uid, own.st_gid)
        result.seconds["stop and safety copy"] = time.monotonic() - clock
        clock = time.monotonic()
        say(f"pgbackrest restore of the cluster to {fmt_time(result.target_time)}")
        from odoo_ops.pitr.restore import _pg_time

        pgbackrest.run(st, "restore", "--type=time", f"--target={_pg_time(result.target_time)}",
                       "--target-action=pause")  # fmt: skip
        result.steps.append(f"pgbackrest restore --type=time into {plan.pg_data}")
        result.seconds["pgbackrest restore"] = time.monotonic() - clock
        clock = time.monotonic()
        say("starting PostgreSQL: recovery to the time")
        try:
            plan.control.run(st, plan.control.start, "starting", 3660)
        except OpsError as exc:
            if plan.control.as_os_user:  # pg_ctl: "Examine the log output." - so we do
                why = _server_log_reason(st)
                exc.message = f"PostgreSQL did not start on the restored data: {why}"
            raise
        _wait_paused(target, st, plan.pg_data)
        result.steps.append("recovery reached the time and paused (not promoted yet)")
        result.seconds["recovery"] = time.monotonic() - clock
        if plan.live_fs is not None and st.database:
            clock = time.monotonic()
            fnames = _store_fnames(target, st.database)
            result.files = _rebuild_filestore(plan, fnames)
            say(f"filestore rebuilt: {result.files.copied} file(s)")
            if plan.live_fs.exists():
                os.rename(plan.live_fs, plan.fs_safety)  # type: ignore[arg-type]
            moved_fs = True
            os.rename(plan.fs_tmp, plan.live_fs)  # type: ignore[arg-type]
            result.filestore_copy = str(plan.fs_safety)
            result.steps.append(f"filestore at the time swapped in; the live one kept as"
                                f" {plan.fs_safety}")  # fmt: skip
            result.seconds["filestore"] = time.monotonic() - clock
        with childproc.deferred_signals():
            with _connect(target) as conn:
                conn.execute("SELECT pg_wal_replay_resume()")
            promoted = True
            _wait_promoted(target, plan.pg_data)
            result.steps.append("promoted: a new timeline starts at the time")
    except BaseException as exc:
        if promoted:
            record.unlink(missing_ok=True)
            raise
        say(f"restore failed, putting the cluster back: {exc}")
        try:
            _roll_back(target, plan, moved_data=moved_data, moved_fs=moved_fs)
        except BaseException as undo:
            raise OpsError(
                f"the in-place restore failed ({_why(exc)}) and putting the cluster back failed"
                f" too ({_why(undo)})",
                hint=f"maintenance stays on; the cluster as it was is {plan.safety}"
                f" (see {record})",
            ) from None
        record.unlink(missing_ok=True)
        if turned_on:
            try:
                mx.maintenance_off(target, note=say)
            except OpsError as off_exc:
                result.notes.append(f"turning maintenance off failed: {off_exc.message}")
        if isinstance(exc, OpsError):
            exc.message += " (the cluster and the filestore were put back as they were)"
        elif isinstance(exc, OSError):
            raise OpsError(f"the in-place restore failed: {exc} (the cluster and the filestore"
                           " were put back as they were)") from None  # fmt: skip
        raise
    record.unlink(missing_ok=True)
    if turned_on:
        with deployment_lock(target, wait):
            off = mx.maintenance_off(target, note=say)
        result.steps += off.commands
    result.notes.append(
        f"safety copies kept: {plan.safety}"
        + (f" and {plan.fs_safety}" if result.filestore_copy else "")
        + " (remove them when satisfied)"
    )
    result.notes.append(
        "take a full backup of the new timeline: `odoo-ops pitr backup --type full`"
    )


def _why(exc: BaseException) -> str:
    return getattr(exc, "message", None) or str(exc) or type(exc).__name__


def _wait_stopped(pg_data: Path, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while _postmaster_running(pg_data):
        if time.monotonic() > deadline:
            raise OpsError(f"PostgreSQL on {pg_data} still runs after the stop command")
        time.sleep(0.2)


def _server_log_reason(st: PitrSetup) -> str:
    """The last FATAL/PANIC of the log the default pg_ctl start writes."""
    log = st.log_dir / "postgresql-after-pitr.log"
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return "see the server log"
    for line in reversed(lines[-200:]):
        if "FATAL" in line or "PANIC" in line:
            return line.split("FATAL:", 1)[-1].split("PANIC:", 1)[-1].strip()[:300]
    return f"see the server log {log}"


def _wait_paused(target: Target, st: PitrSetup, pg_data: Path, timeout: float = 3600.0) -> None:
    """Wait until recovery reached the target and paused there (hot standby)."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with _connect(target, timeout=2) as conn:
                row = conn.execute(
                    "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery()"
                    " THEN pg_get_wal_replay_pause_state() END").fetchone()  # fmt: skip
                if row and not row[0]:
                    raise OpsError("the restored server promoted before the pause at the time")
                if row and row[1] == "paused":
                    return
        except psycopg.OperationalError:
            if not _postmaster_running(pg_data):
                raise OpsError("the restored server stopped during recovery: "
                               + _server_log_reason(st)) from None  # fmt: skip
        if time.monotonic() > deadline:
            raise OpsError(f"recovery did not reach the time within {timeout:.0f} s")
        time.sleep(0.3)


def _wait_promoted(target: Target, pg_data: Path, timeout: float = 600.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with _connect(target, timeout=2) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                if row and not row[0]:
                    return
        except psycopg.OperationalError:
            pass
        time.sleep(0.2)
    raise OpsError(f"the server on {pg_data} did not leave recovery within {timeout:.0f} s")


def _store_fnames(target: Target, database: str) -> list[str]:
    import psycopg

    try:
        conn = _connect(target, database)
    except psycopg.OperationalError:
        return []  # the database did not exist at the time
    from odoo_ops.pitr.restore import store_fnames

    with conn:
        return store_fnames(conn)


def _rebuild_filestore(plan: _Plan, fnames: list[str]) -> FilesResult:
    """The filestore at the time in ``fs_tmp``: hard links to the live files (Odoo never
    rewrites one), else copies from the filestore archive."""
    assert plan.fs_tmp is not None and plan.live_fs is not None
    shutil.rmtree(plan.fs_tmp, ignore_errors=True)
    archive = FilestoreArchive(plan.st.filestore_archive, plan.st.database or "")
    live = plan.live_fs if plan.live_fs.exists() else None
    owner = None
    for candidate in (plan.live_fs, plan.live_fs.parent):
        try:
            stat = candidate.stat()
            owner = (stat.st_uid, stat.st_gid)
            break
        except OSError:
            continue
    return archive.restore_files(fnames, plan.fs_tmp, live=live, owner=owner, link_live=True)


def _roll_back(target: Target, plan: _Plan, *, moved_data: bool, moved_fs: bool) -> None:
    """Put the data directory and the filestore back, and PostgreSQL running on them."""
    st = plan.st
    with childproc.deferred_signals():
        if moved_data:
            if _postmaster_running(plan.pg_data):
                try:
                    plan.control.run(st, plan.control.stop, "stopping", 660)
                except OpsError:
                    _pg_ctl_immediate(st, plan.pg_data)
                _wait_stopped(plan.pg_data)
            shutil.rmtree(plan.pg_data, ignore_errors=True)
            if plan.pg_data.exists():
                raise OpsError(f"cannot remove the restored {plan.pg_data}")
            os.rename(plan.safety, plan.pg_data)
        if plan.fs_tmp is not None:
            shutil.rmtree(plan.fs_tmp, ignore_errors=True)
        fs_back = moved_fs and plan.live_fs is not None and plan.fs_safety is not None
        if fs_back and plan.fs_safety is not None and plan.fs_safety.exists():
            assert plan.live_fs is not None
            shutil.rmtree(plan.live_fs, ignore_errors=True)
            os.rename(plan.fs_safety, plan.live_fs)
        if not _postmaster_running(plan.pg_data):
            plan.control.run(st, plan.control.start, "starting", 3660)
        _wait_promoted(target, plan.pg_data, timeout=300)


def _pg_ctl_immediate(st: PitrSetup, pg_data: Path) -> None:
    argv = [str(Path(st.policy.pg_bin) / "pg_ctl"), "-D", str(pg_data), "-m", "immediate",
            "-w", "stop"]  # fmt: skip
    childproc.run(argv, capture_output=True, text=True, timeout=120,
                  **pgbackrest.user_kwargs(st.os_user))  # fmt: skip


def pending_record(st: PitrSetup) -> dict[str, Any] | None:
    """What an in-place restore killed outright left (None when nothing)."""
    try:
        doc = json.loads((st.base / RECORD).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}
