"""The recoverable window, and the WAL archiving state of the live server.

The window runs from the end of the oldest backup (a restore needs a backup
that finished before its target) to the last WAL file archived: a commit is
recoverable once the WAL file holding it is in the repository. A restore
first *seals* the archive (one commit, ``pg_switch_wal()`` -- or ``pgbackrest
check`` when the role may not --, wait until that file is archived) so that
everything up to the moment it was asked is in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from odoo_ops.errors import OpsError

if TYPE_CHECKING:
    from odoo_ops.pitr.settings import PitrSetup


@dataclass
class ArchiveState:
    """``pg_stat_archiver`` and the archiving settings of the live server."""

    archive_mode: str
    archive_command: str
    wal_level: str
    archive_timeout: str
    archived_count: int
    last_archived_wal: str | None
    last_archived_time: datetime | None
    failed_count: int
    last_failed_wal: str | None
    last_failed_time: datetime | None
    current_wal: str | None
    now: datetime

    @property
    def failing(self) -> bool:
        """The last attempt failed (a failure after the last success)."""
        if self.last_failed_time is None:
            return False
        return self.last_archived_time is None or self.last_failed_time > self.last_archived_time

    def lag_seconds(self) -> float | None:
        if self.last_archived_time is None:
            return None
        return max(0.0, (self.now - self.last_archived_time).total_seconds())


def archive_state(conn: Any) -> ArchiveState:
    """Read the archiving state through ``conn`` (psycopg)."""
    row = conn.execute(
        "SELECT current_setting('archive_mode'), current_setting('archive_command'),"
        " current_setting('wal_level'), current_setting('archive_timeout'),"
        " archived_count, last_archived_wal, last_archived_time, failed_count,"
        " last_failed_wal, last_failed_time,"
        " CASE WHEN pg_is_in_recovery() THEN NULL"
        "      ELSE pg_walfile_name(pg_current_wal_lsn()) END, clock_timestamp()"
        " FROM pg_stat_archiver"
    ).fetchone()
    return ArchiveState(
        archive_mode=row[0], archive_command=row[1], wal_level=row[2], archive_timeout=row[3],
        archived_count=int(row[4]), last_archived_wal=row[5], last_archived_time=row[6],
        failed_count=int(row[7]), last_failed_wal=row[8], last_failed_time=row[9],
        current_wal=row[10], now=row[11],
    )  # fmt: skip


def seal(conn: Any, timeout: float = 60.0, setup: PitrSetup | None = None) -> datetime:
    """Make everything committed so far recoverable: a commit, a WAL switch, and a wait
    until that WAL file is archived. Returns the time of that commit.

    The switch is ``pg_switch_wal()`` when the connection's role may call it. A role
    that may not (Odoo's, in a compose project) leaves it to ``pgbackrest check``
    through ``setup`` (``[pitr] pgbackrest``: it connects as ``pg1-user``, switches
    and waits until that file is archived), then the same wait here, for the WAL
    file that held the commit.

    Raises :class:`OpsError` naming the archiver's failure when the file is not
    archived within ``timeout`` seconds.
    """
    import psycopg

    stamp = conn.execute("SELECT txid_current(), clock_timestamp()").fetchone()[1]
    try:
        wal = conn.execute("SELECT pg_walfile_name(pg_switch_wal() - 1)").fetchone()[0]
    except psycopg.errors.InsufficientPrivilege:
        user = conn.info.user
        if setup is None:
            raise OpsError(
                f"the role {user} may not switch WAL files (pg_switch_wal)",
                hint="use a superuser in the deployment's dsn for this command",
            ) from None
        # the WAL file of the commit (the insert position is past it: at worst the next
        # file, which pgbackrest check's switch closes as well)
        wal = conn.execute("SELECT pg_walfile_name(pg_current_wal_insert_lsn())").fetchone()[0]
        from odoo_ops.pitr import pgbackrest

        try:
            pgbackrest.run(setup, "check", f"--archive-timeout={max(1, int(timeout))}",
                           timeout=timeout + 60)  # fmt: skip
        except OpsError as exc:
            raise OpsError(
                f"sealing the archive failed: the role {user} may not call pg_switch_wal(),"
                f" and {exc.message}",
                hint=exc.hint,
            ) from None
        timeout = min(timeout, 10.0)  # check waited for the archive already
    deadline = time.monotonic() + timeout
    while True:
        state = archive_state(conn)
        if state.last_archived_wal and state.last_archived_wal[8:] >= wal[8:]:
            return stamp
        if time.monotonic() > deadline:
            why = (f"; the archiver fails on {state.last_failed_wal}"
                   if state.failing else "")  # fmt: skip
            raise OpsError(
                f"WAL file {wal} was not archived within {timeout:.0f} s{why}",
                hint="run `odoo-ops check --only pitr-archiving` and read the server log",
            )
        time.sleep(0.2)


@dataclass
class Window:
    """The recoverable window: ``start`` .. ``end`` (None when there is none)."""

    start: datetime | None
    end: datetime | None

    @property
    def exists(self) -> bool:
        return self.start is not None and self.end is not None and self.start <= self.end

    def contains(self, moment: datetime) -> bool:
        return self.exists and self.start <= moment <= self.end  # type: ignore[operator]

    def describe(self) -> str:
        if not self.exists:
            if self.start is None:
                return "no recoverable window (no backup yet: run `odoo-ops pitr backup`)"
            # pgBackRest restores from the second after the oldest backup's stop: until a
            # WAL file is archived after that, no moment can be restored yet
            return (
                f"{fmt_time(self.start)} → nothing yet (no WAL archived after it; the next"
                " WAL switch or archive_timeout brings it)"
            )
        return f"{fmt_time(self.start)} → {fmt_time(self.end)}"


def fmt_time(moment: datetime | None) -> str:
    if moment is None:
        return "-"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S+00")


def parse_time(text: str) -> datetime:
    """A restore target: ISO-like, with a UTC offset (``2026-12-07 10:00:00+00``)."""
    from odoo_ops.errors import UsageError

    raw = text.strip()
    candidate = raw.replace(" ", "T", 1) if " " in raw else raw
    if candidate.endswith(("Z", "z")):
        candidate = candidate[:-1] + "+00:00"
    import re

    match = re.search(r"([+-]\d{2})(:?\d{2})?$", candidate)
    if match and "T" in candidate and match.start() > candidate.index("T"):
        minutes = (match.group(2) or "00").lstrip(":")
        candidate = candidate[: match.start()] + f"{match.group(1)}:{minutes}"
    try:
        moment = datetime.fromisoformat(candidate)
    except ValueError:
        raise UsageError(
            f"cannot read the time {text!r}", hint='write it like "2026-12-07 10:00:00+00"'
        ) from None
    if moment.tzinfo is None:
        raise UsageError(
            f"the time {text!r} has no UTC offset",
            hint='add one, e.g. "2026-12-07 10:00:00+00" (UTC) or "+01"',
        )
    return moment
