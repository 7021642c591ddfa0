"""``pitr setup``, ``pitr backup`` and ``pitr info``: results as dataclasses, no printing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from odoo_ops.errors import ConfigError, OpsError, TargetError, UsageError
from odoo_ops.fileutil import atomic_write_text
from odoo_ops.pitr import pgbackrest
from odoo_ops.pitr.settings import PitrSetup, chown_to, resolve
from odoo_ops.pitr.window import ArchiveState, Window, archive_state

if TYPE_CHECKING:
    from odoo_ops.adapters import Target

BACKUP_TYPES = ("full", "diff", "incr")


@dataclass
class SettingRow:
    name: str
    current: str | None
    wanted: str
    pending_restart: bool = False

    @property
    def ok(self) -> bool:
        return self.current == self.wanted and not self.pending_restart


@dataclass
class SetupResult:
    setup: PitrSetup
    conf_text: str
    settings: list[SettingRow]
    applied: bool
    dry_run: bool
    steps: list[str] = field(default_factory=list)
    restart_needed: bool = False


def _server_settings(conn: Any, names: list[str]) -> dict[str, tuple[str, bool]]:
    rows = conn.execute(
        "SELECT name, setting, pending_restart FROM pg_settings WHERE name = ANY(%s)", (names,)
    ).fetchall()
    return {r[0]: (r[1], bool(r[2])) for r in rows}


def _compare(setup: PitrSetup, conn: Any) -> list[SettingRow]:
    wanted = setup.postgres_settings()
    current = _server_settings(conn, list(wanted))
    rows = []
    for name, value in wanted.items():
        cur, pending = current.get(name, (None, False))
        if name == "archive_timeout" and cur is not None:
            value = str(int(value))  # pg_settings gives seconds without the unit
        rows.append(SettingRow(name, cur, value, pending))
    # wal_level 'logical' is a superset of 'replica'; more WAL senders are fine
    for row in rows:
        if row.name == "wal_level" and row.current == "logical":
            row.wanted = "logical"
        if row.name == "max_wal_senders" and row.current and int(row.current) >= int(row.wanted):
            row.wanted = row.current
    return rows


def setup(target: Target, *, apply: bool, dry_run: bool, wait: float = 0.0) -> SetupResult:
    """Write the stanza's config; with ``apply``, set the server up and create the stanza."""
    from odoo_ops.adapters.locking import deployment_lock

    st = resolve(target)
    db = target.database()
    with db.connect(autocommit=True) as conn:
        if st.pg_data is None:
            try:
                shown = conn.execute("SHOW data_directory").fetchone()
                where = shown[0] if shown else None
            except Exception:  # not a superuser: the generic hint
                where = None
            if where:
                raise ConfigError("[pitr] pg_data is not set",
                                  hint=f'the server says: pg_data = "{where}"')  # fmt: skip
        conf_text = st.pgbackrest_conf()
        rows = _compare(st, conn)
        result = SetupResult(st, conf_text, rows, applied=False, dry_run=dry_run)
        if dry_run:
            result.steps.append(f"would write {st.conf_path}")
            if apply:
                for row in rows:
                    if row.current != row.wanted:
                        result.steps.append(f"would ALTER SYSTEM SET {row.name}")
                result.steps.append("would run pgbackrest stanza-create and check")
            return result
        pgbackrest.pgbackrest_path(st)  # fail before writing anything when it is missing
        st.make_dirs()
        if st.remote is not None and st.remote.copies:  # sftp key and known hosts, S3 CA
            for path in st.remote.install_copies(lambda p: chown_to(p, st.os_user)):
                result.steps.append(f"copied for pgBackRest: {path} (0600)")
        # the keys of a remote repository are in it: readable by its owner only
        atomic_write_text(st.conf_path, conf_text, mode=0o600 if st.conf_has_secrets else 0o640)
        chown_to(st.conf_path, st.os_user)
        result.steps.append(f"wrote {st.conf_path}")
        if not apply:
            result.restart_needed = any(r.name == "archive_mode" and not r.ok for r in rows)
            return result
        with deployment_lock(target, wait):
            altered = _alter_system(conn, [r for r in rows if r.current != r.wanted], result)
            if altered:
                _privileged(conn, "SELECT pg_reload_conf()", "pg_reload_conf()", altered)
                import time

                time.sleep(0.3)  # the reload is asynchronous
                result.settings = _compare(st, conn)
            result.applied = True
        result.restart_needed = any(
            r.name in ("archive_mode", "wal_level", "max_wal_senders") and not r.ok
            for r in result.settings
        )
        pgbackrest.run(st, "stanza-create", timeout=300)
        result.steps.append(
            f"pgbackrest stanza-create: stanza {st.stanza} ready in {st.repo_display}"
        )
        if result.restart_needed:
            result.steps.append(
                "pgbackrest check skipped: restart PostgreSQL first, then run"
                " `odoo-ops pitr setup --apply` again"
            )
        else:
            pgbackrest.run(st, "check", timeout=300)
            result.steps.append("pgbackrest check: WAL archiving works")
    return result


def _alter_system(conn: Any, rows: list[SettingRow], result: SetupResult) -> list[str]:
    """``ALTER SYSTEM SET`` each of ``rows``; the names altered."""
    from psycopg import sql

    names = [r.name for r in rows]
    for row in rows:
        statement = sql.SQL("ALTER SYSTEM SET {} = {}").format(
            sql.Identifier(row.name), sql.Literal(row.wanted))  # fmt: skip
        _privileged(conn, statement, "ALTER SYSTEM", names)
        result.steps.append(f"ALTER SYSTEM SET {row.name}")
    return names


def _privileged(conn: Any, statement: Any, what: str, names: list[str]) -> None:
    """Run ``statement``; a role that may not becomes one clear :class:`OpsError`."""
    import psycopg

    try:
        conn.execute(statement)
    except psycopg.errors.InsufficientPrivilege:
        user = conn.info.user
        raise OpsError(
            f"pitr setup --apply must change {', '.join(names)} on the server, and the"
            f" role {user} may not run {what} (a superuser may)",
            hint="set them on the server (postgresql.conf, or the db service's command"
            " line; `odoo-ops pitr setup` lists them) and restart it, or run"
            " `pitr setup --apply` once with a superuser in the deployment's dsn",
        ) from None


def require_set_up(target: Target) -> PitrSetup:
    st = resolve(target)
    if not st.is_set_up:
        raise UsageError(
            f"point-in-time recovery is not set up for {target.name} ({st.conf_path} absent)",
            hint="run `odoo-ops pitr setup --apply` first",
        )
    return st


@dataclass
class BackupResult:
    backup: pgbackrest.BackupSet
    info: pgbackrest.StanzaInfo


def backup(target: Target, *, kind: str) -> BackupResult:
    if kind not in BACKUP_TYPES:
        raise UsageError(f"unknown backup type {kind!r}", hint="use full, diff or incr")
    st = require_set_up(target)
    pgbackrest.run(st, "backup", f"--type={kind}")
    info = pgbackrest.info(st)
    newest = info.newest()
    if newest is None:
        raise OpsError("pgbackrest backup finished but info lists no backup")
    return BackupResult(newest, info)


@dataclass
class InfoResult:
    setup: PitrSetup
    info: pgbackrest.StanzaInfo
    state: ArchiveState | None
    state_error: str | None
    window: Window
    filestore_last_sync: datetime | None


def window_of(info: pgbackrest.StanzaInfo, state: ArchiveState | None,
              st: PitrSetup) -> Window:  # fmt: skip
    start = info.oldest.restorable_from if info.oldest else None
    end = state.last_archived_time if state is not None else pgbackrest.newest_archived_mtime(st)
    return Window(start, end)


def read_state(target: Target) -> tuple[ArchiveState | None, str | None]:
    try:
        with target.database().connect(autocommit=True) as conn:
            return archive_state(conn), None
    except TargetError as exc:
        return None, exc.message


def info(target: Target) -> InfoResult:
    from odoo_ops.pitr.filestore import FilestoreArchive

    st = require_set_up(target)
    stanza = pgbackrest.info(st)
    state, error = read_state(target)
    last_sync = FilestoreArchive(st.filestore_archive, st.database or "").last_sync()
    return InfoResult(st, stanza, state, error, window_of(stanza, state, st), last_sync)
