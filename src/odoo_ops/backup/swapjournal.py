"""The swap journal: what a restore (or test-restore) is doing, so a kill is repaired.

A restore builds a copy of the database (``<db>__restoring_<id>``) and of the
filestore (``.<db>.restoring-<id>``) beside the live ones, then swaps them in:
one transaction renames the databases, then two renames move the filestore
directories. SIGKILL can land between any two of these steps, so before the
first one a small JSON record goes to the deployment's state directory
(``.odoo-ops/<deployment>/swap-journal-<id>.json``, written atomically) and
is rewritten after each step:

``loading``     the copies are being built; nothing live was touched
``swapping``    the database transaction is about to run
``db-swapped``  it committed: the restored database is live
``fs-aside``    the live filestore was moved aside (``<db>_before_restore_…``)

and removed when the swap is complete. The next odoo-ops command of any kind
that opens the deployment (:func:`recover_interrupted`) takes the deployment's
lock and settles what it finds: it *finishes* a swap whose database part
committed (the restored filestore goes in place, the old one aside) and
*undoes* one that did not (the copies are dropped; the live database and
filestore were never touched). Whether the database part committed is read
from the server (the temporary database is gone once it did), not from the
step alone, since the kill can land between the commit and the journal
update. A test-restore's scratch copies are always dropped.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.errors import LockError, OpsError
from odoo_ops.fileutil import atomic_write_text

if TYPE_CHECKING:
    from odoo_ops.adapters import Target

LOADING = "loading"
SWAPPING = "swapping"
DB_SWAPPED = "db-swapped"
FS_ASIDE = "fs-aside"
STEPS = (LOADING, SWAPPING, DB_SWAPPED, FS_ASIDE)

_WHERE = {
    LOADING: "while loading its copy",
    SWAPPING: "at the database swap",
    DB_SWAPPED: "after the database swap",
    FS_ASIDE: "during the filestore swap",
}

#: File names of journals: ours, and the one record an older odoo-ops wrote.
PATTERNS = ("swap-journal-*.json", "restore-journal-*.json")


@dataclass
class SwapJournal:
    """One restore's (or test-restore's) swap, as recorded on disk."""

    kind: str  # restore | test-restore
    database: str  # the database being replaced (test-restore: the scratch copy)
    tmp_db: str
    lock_database: str  # the deployment lock it runs under
    before_db: str | None = None  # the live database's name once moved aside
    fs_tmp: str | None = None
    fs_dest: str | None = None
    fs_before: str | None = None  # the live filestore's path once moved aside
    step: str = LOADING
    started: str = ""
    pid: int = field(default_factory=os.getpid)
    path: Path | None = field(default=None, compare=False, repr=False)

    @classmethod
    def new_path(cls, state_dir: Path) -> Path:
        return state_dir / f"swap-journal-{secrets.token_hex(4)}.json"

    @classmethod
    def load(cls, path: Path) -> SwapJournal:
        """Read ``path``; :class:`OpsError` when it is not a journal."""
        try:
            if not path.is_file():
                raise OpsError(f"swap journal {path} is not a regular file")
            if path.stat().st_size > 64 * 1024:
                raise OpsError(f"swap journal {path} is too large to be one")
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise OpsError(f"unreadable swap journal {path}: {exc}") from None
        if not isinstance(data, dict):
            raise OpsError(f"unreadable swap journal {path}: not an object")

        def text(key: str, *, required: bool = False) -> str | None:
            value = data.get(key)
            if value is None and not required:
                return None
            if not isinstance(value, str) or not value:
                raise OpsError(f"unreadable swap journal {path}: bad {key!r}")
            return value

        database = text("database", required=True)
        tmp_db = text("tmp_db", required=True)
        assert database is not None and tmp_db is not None
        kind = text("kind") or "restore"
        # a journal of an older odoo-ops was written just before the database swap
        step = text("step") or SWAPPING
        if kind not in ("restore", "test-restore") or step not in STEPS:
            raise OpsError(f"unreadable swap journal {path}: unknown kind or step")
        return cls(
            kind=kind,
            database=database,
            tmp_db=tmp_db,
            lock_database=text("lock_database") or database,
            before_db=text("before_db"),
            fs_tmp=text("fs_tmp"),
            fs_dest=text("fs_dest"),
            fs_before=text("fs_before"),
            step=step,
            started=str(data.get("started") or ""),
            pid=int(data["pid"]) if isinstance(data.get("pid"), int) else 0,
            path=path,
        )

    def save(self, step: str | None = None) -> None:
        """Write the journal (atomically, 0600), at ``step`` when given."""
        if step is not None:
            self.step = step
        assert self.path is not None
        record = {k: v for k, v in asdict(self).items() if k != "path"}
        atomic_write_text(self.path, json.dumps(record, sort_keys=True) + "\n", mode=0o600)

    def remove(self) -> None:
        if self.path is not None:
            with suppress(FileNotFoundError):
                self.path.unlink()


# -- deciding -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What exists now, as seen by the recovery."""

    tmp_db: bool
    database: bool
    fs_tmp: bool
    fs_dest: bool
    fs_before: bool


@dataclass
class Decision:
    action: str  # finish | undo | stuck
    summary: str
    # ("drop", database) | ("rmtree", path) | ("rename", source, destination)
    ops: list[tuple[str, ...]] = field(default_factory=list)


def decide(journal: SwapJournal, facts: Facts) -> Decision:
    """Finish or undo ``journal``'s swap given ``facts`` (pure: no I/O)."""
    j = journal
    ops: list[tuple[str, ...]] = []
    if j.kind == "test-restore":
        if facts.tmp_db:
            ops.append(("drop", j.tmp_db))
        if j.fs_tmp and facts.fs_tmp:
            ops.append(("rmtree", j.fs_tmp))
        return Decision("undo", "dropped its scratch copies", ops)
    committed = j.step != LOADING and not facts.tmp_db and facts.database
    if not committed:
        if facts.tmp_db:
            ops.append(("drop", j.tmp_db))
        if j.fs_dest and j.fs_before and facts.fs_before and not facts.fs_dest:
            ops.append(("rename", j.fs_before, j.fs_dest))  # put the live filestore back
        if j.fs_tmp and facts.fs_tmp:
            ops.append(("rmtree", j.fs_tmp))
        if j.step != LOADING and not facts.tmp_db and not facts.database:
            return Decision(
                "undo", f"neither {j.database} nor its restored copy exists: removed its copies",
                ops,
            )
        return Decision(
            "undo", "the database swap had not committed: dropped the restored copy,"
            " the live database and filestore are unchanged", ops,
        )
    # the restored database is live: its filestore must be too
    if not j.fs_tmp or not j.fs_dest:
        return Decision("finish", "the database swap had committed: nothing left to do", ops)
    if not facts.fs_tmp:
        if facts.fs_dest:
            return Decision("finish", "the swap was complete", ops)
        return Decision(
            "stuck", f"the restored database is live but its filestore {j.fs_tmp} is gone", ops
        )
    if facts.fs_dest:
        if not j.fs_before:
            return Decision(
                "stuck", f"{j.fs_dest} exists and the journal names no place to move it", ops
            )
        if facts.fs_before:
            return Decision(
                "stuck", f"cannot move {j.fs_dest} aside: {j.fs_before} already exists", ops
            )
        else:
            ops.append(("rename", j.fs_dest, j.fs_before))
    ops.append(("rename", j.fs_tmp, j.fs_dest))
    return Decision("finish", "finished the filestore swap", ops)


# -- acting ------------------------------------------------------------------------------


def observe(journal: SwapJournal, conn: Any) -> Facts:
    def db(name: str | None) -> bool:
        if not name:
            return False
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        return row is not None

    def there(path: str | None) -> bool:
        return bool(path) and os.path.lexists(str(path))

    return Facts(
        tmp_db=db(journal.tmp_db),
        database=db(journal.database),
        fs_tmp=there(journal.fs_tmp),
        fs_dest=there(journal.fs_dest),
        fs_before=there(journal.fs_before),
    )


def apply(decision: Decision, conn: Any) -> None:
    from odoo_ops.adapters.pgadmin import drop_database
    from odoo_ops.backup.layout import remove_tree

    for op in decision.ops:
        if op[0] == "drop":
            drop_database(conn, op[1])
        elif op[0] == "rmtree":
            remove_tree(Path(op[1]))
        elif op[0] == "rename":
            try:
                Path(op[1]).rename(op[2])
            except OSError as exc:
                raise OpsError(f"cannot rename {op[1]} to {op[2]}: {exc.strerror}") from None


def settle(journal: SwapJournal, conn: Any) -> Decision:
    """Finish or undo ``journal`` now (the caller holds its lock); remove it when settled."""
    decision = decide(journal, observe(journal, conn))
    if decision.action != "stuck":
        apply(decision, conn)
        journal.remove()
    return decision


def describe(journal: SwapJournal, decision: Decision, *, dry_run: bool = False) -> str:
    where = "" if journal.kind == "test-restore" else f" {_WHERE.get(journal.step, '')}"
    what = decision.summary
    if decision.action == "stuck":
        what = f"left as it is ({what}); repair by hand, then remove {journal.path}"
    elif dry_run:
        what = f"would {decision.action} it ({what})"
    return f"found an interrupted {journal.kind} of {journal.database}{where}: {what}"


def journals(state_dir: Path) -> Iterator[Path]:
    try:
        found = sorted({p for pattern in PATTERNS for p in state_dir.glob(pattern)})
    except OSError:
        return
    yield from found


def recover_interrupted(
    target: Target, *, dry_run: bool = False, database: str | None = None
) -> list[str]:
    """Settle every swap journal of ``target`` (only ``database``'s when given).

    One line per journal found says what was found and done. A journal whose
    lock another run holds belongs to that run and is left alone. Never raises
    :class:`OpsError`: a failure becomes the line (the journal stays for the
    next command).
    """
    from odoo_ops.adapters.locking import deployment_lock

    lines: list[str] = []
    for path in journals(target.state_dir):
        try:
            journal = SwapJournal.load(path)
        except OpsError as exc:
            lines.append(f"{exc.message}: left alone")
            continue
        if database is not None and database not in (journal.database, journal.lock_database):
            continue
        try:
            with deployment_lock(target, 0.0, database=journal.lock_database):
                if not path.exists():
                    continue  # its run finished it meanwhile
                conn = _admin(target)
                try:
                    if dry_run:
                        lines.append(
                            describe(journal, decide(journal, observe(journal, conn)),
                                     dry_run=True)
                        )
                    else:
                        lines.append(describe(journal, settle(journal, conn)))
                finally:
                    conn.close()
        except LockError:
            continue  # a live run owns it
        except OpsError as exc:
            lines.append(
                f"found an interrupted {journal.kind} of {journal.database}: could not settle"
                f" it now ({exc.message}); the next command will try again"
            )
    return lines


def _admin(target: Target) -> Any:
    from odoo_ops.adapters.pgadmin import admin_connection

    return admin_connection(target)
