"""Copy one database out of a scratch server into a new database on the live server.

``pitr restore`` uses this to take the deployment's database out of the
cluster pgBackRest restored. Nobody else uses the scratch server, so every
step sees the same database. The fast way, ``copy_database``:

1. **schema** (and large objects, if any) streamed: ``pg_dump -Fc -Z0
   --section=pre-data --section=data --exclude-table-data='*.*' |
   pg_restore`` — the tables, sequences, types and functions, without the
   rows;
2. **rows**, every ordinary table (the ones whose data pg_dump would dump),
   the largest first, ``jobs`` tables at a time, each through its own pipe
   ``psql COPY (SELECT columns FROM ONLY t) TO STDOUT | psql COPY t FROM
   STDIN (FREEZE)`` in one transaction after ``TRUNCATE ONLY t``. The binary
   COPY format is used where every column has a built-in type: it skips the
   text formatting on one side and the parsing on the other, about half the
   time of pg_dump's text COPY for Odoo's text-heavy rows. Tables with other
   types (enums, domains, extension types...) go as text, which names values
   rather than type oids. ``FREEZE`` leaves the rows frozen and visible: no
   hint-bit rewrite of the whole table on its first read;
3. **sequences**: ``last_value``/``is_called`` read off the scratch server
   and set with ``setval``, as pg_dump's SEQUENCE SET entries do;
4. **indexes, constraints and triggers**: the post-data section built
   ``jobs`` at a time (``pg_restore -j``).

A database with extension configuration tables (whose rows pg_dump dumps
under the extension's filter) goes the whole way through pg_dump instead
instead: schema and rows streamed through one ``pg_dump -Fc -Z0 |
pg_restore``, then step 4.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from odoo_ops import childproc
from odoo_ops.errors import OpsError

#: The first oid of objects created after initdb: below it, built-in types.
FIRST_NORMAL_OID = 16384

#: Session settings of the reading side: pg_dump's own, so text COPY output
#: reads back exactly (dates, intervals, floats), and an error rather than rows
#: silently hidden by row-level security.
SOURCE_PGOPTIONS = (
    "-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3 -c row_security=off"
)

_TABLES_SQL = f"""
SELECT format('%I.%I', n.nspname, c.relname),
       pg_relation_size(c.oid),
       coalesce(bool_and(a.atttypid < {FIRST_NORMAL_OID}), true),
       coalesce(string_agg(format('%I', a.attname), ', ' ORDER BY a.attnum), '')
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
       AND NOT a.attisdropped AND a.attgenerated = ''
 WHERE c.relkind = 'r'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp\\_%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype = 'e')
 GROUP BY c.oid, n.nspname, c.relname
 ORDER BY pg_relation_size(c.oid) DESC, 1
"""

_SEQUENCES_SQL = """
SELECT format('%I.%I', n.nspname, c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'S'
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype = 'e')
 ORDER BY 1
"""


@dataclass(frozen=True)
class TableCopy:
    """One table's rows to copy: its quoted name, size and column list."""

    name: str
    size: int
    binary: bool
    columns: str

    def read_sql(self) -> str:
        return f"COPY (SELECT {self.columns} FROM ONLY {self.name}) TO STDOUT{self._format}"

    def write_sql(self) -> str:
        return f"COPY {self.name} ({self.columns}) FROM STDIN (FORMAT {self._kind}, FREEZE)"

    @property
    def _kind(self) -> str:
        return "binary" if self.binary else "text"

    @property
    def _format(self) -> str:
        return " (FORMAT binary)" if self.binary else ""


@dataclass(frozen=True)
class Endpoint:
    """A database: a connection string to its server, its name, session options."""

    dsn: str
    dbname: str
    options: str | None = None

    def env(self, options: str | None = None) -> dict[str, str]:
        """The environment for a PostgreSQL tool connecting to it (``-d dbname`` aside)."""
        from odoo_ops.backup.pgtools import pg_env

        extra = " ".join(o for o in (self.options, options) if o) or None
        return {**os.environ, **pg_env(self.dsn, options=extra)}

    def conninfo(self) -> str:
        from odoo_ops.adapters.database import dsn_for_database

        return dsn_for_database(self.dsn, self.dbname)


def plan_tables(conn: Any) -> list[TableCopy] | None:
    """The tables to copy, largest first; ``None`` when only pg_dump can copy the database.

    ``None`` for extension configuration tables (pg_dump dumps their rows under
    the extension's own filter) and for tables without any column (COPY cannot
    name an empty column list).
    """
    row = conn.execute(
        "SELECT count(*) FROM pg_extension WHERE cardinality(extconfig) > 0"
    ).fetchone()
    if row is not None and row[0]:
        return None
    tables = [TableCopy(name, int(size), bool(binary), columns)
              for name, size, binary, columns in conn.execute(_TABLES_SQL).fetchall()]  # fmt: skip
    if any(not t.columns for t in tables):
        return None
    return tables


def sequence_values(conn: Any) -> list[tuple[str, int, bool]]:
    """``(quoted name, last_value, is_called)`` of every sequence pg_dump would set."""
    names = [r[0] for r in conn.execute(_SEQUENCES_SQL).fetchall()]
    values: list[tuple[str, int, bool]] = []
    for start in range(0, len(names), 500):
        chunk = names[start:start + 500]
        query = " UNION ALL ".join(
            f"SELECT {i}, last_value, is_called FROM {name}" for i, name in enumerate(chunk)
        )
        for index, last_value, is_called in conn.execute(query).fetchall():
            values.append((chunk[index], int(last_value), bool(is_called)))
    return values


def set_sequences(conn: Any, values: list[tuple[str, int, bool]]) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany("SELECT pg_catalog.setval(%s::regclass, %s, %s)", values)


# -- the pipes ----------------------------------------------------------------------------


class _Pipe:
    """``reader | writer``: two child processes, their stderr in files under ``workdir``."""

    def __init__(self, label: str, reader: list[str], reader_env: dict[str, str],
                 writer: list[str], writer_env: dict[str, str], workdir: Path) -> None:  # fmt: skip
        self.label = label
        stem = workdir / f"pipe-{os.getpid()}-{id(self)}"
        self._err_reader: IO[bytes] = open(f"{stem}.read.err", "w+b")  # noqa: SIM115
        self._err_writer: IO[bytes] = open(f"{stem}.write.err", "w+b")  # noqa: SIM115
        self.reader: childproc.ChildPopen | None = None
        self.writer: childproc.ChildPopen | None = None
        try:
            self.reader = childproc.ChildPopen(reader, stdout=subprocess.PIPE,
                                               stderr=self._err_reader, env=reader_env,
                                               stdin=subprocess.DEVNULL)  # fmt: skip
            self.writer = childproc.ChildPopen(writer, stdin=self.reader.stdout,
                                               stdout=subprocess.DEVNULL,
                                               stderr=self._err_writer, env=writer_env)  # fmt: skip
        except BaseException:
            self.kill()
            self.close()
            raise
        assert self.reader.stdout is not None
        self.reader.stdout.close()  # the writer holds the pipe now

    def done(self) -> bool:
        assert self.reader is not None and self.writer is not None
        return self.writer.poll() is not None and (
            self.reader.poll() is not None or self.writer.returncode != 0
        )

    def failure(self) -> str | None:
        """Why the pipe failed, or ``None``; call once :meth:`done`."""
        assert self.reader is not None and self.writer is not None
        if self.writer.returncode != 0:
            self.kill()
            return f"{self.label}: {_tail(self._err_writer) or _tail(self._err_reader)}"
        if self.reader.wait() != 0:
            return f"{self.label}: {_tail(self._err_reader)}"
        return None

    def kill(self) -> None:
        for proc in (self.reader, self.writer):
            if proc is not None and proc.returncode is None:
                proc.kill_group()
                proc.wait()

    def close(self) -> None:
        for fh in (self._err_reader, self._err_writer):
            name = fh.name
            fh.close()
            Path(name).unlink(missing_ok=True)


def _tail(fh: IO[bytes]) -> str:
    fh.seek(0)
    return last_line(fh.read().decode("utf-8", "replace"))


def last_line(text: str) -> str:
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def run_pipes(pipes: list[Callable[[], _Pipe]], jobs: int) -> None:
    """Run the pipes ``jobs`` at a time, in order; the first failure stops all of them."""
    waiting = list(reversed(pipes))
    running: list[_Pipe] = []
    try:
        while waiting or running:
            while waiting and len(running) < max(1, jobs):
                running.append(waiting.pop()())
            for pipe in list(running):
                if pipe.done():
                    running.remove(pipe)
                    reason = pipe.failure()
                    pipe.close()
                    if reason:
                        raise OpsError(f"copying {reason}")
            time.sleep(0.02)
    finally:
        for pipe in running:
            pipe.kill()
            pipe.close()


# -- the copies ---------------------------------------------------------------------------


def _psql(*commands: str, dbname: str, single_transaction: bool = False) -> list[str]:
    from odoo_ops.backup.pgtools import tool

    argv = [tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dbname]
    if single_transaction:
        argv.append("-1")
    for command in commands:
        argv += ["-c", command]
    return argv


def copy_database(source: Endpoint, dest: Endpoint, *, jobs: int, workdir: Path,
                  timings: dict[str, float] | None = None) -> str:  # fmt: skip
    """Copy ``source`` into the empty database ``dest``: the way taken, ``copy`` or ``stream``.

    Indexes, constraints and triggers are left to :func:`build_post_data`.
    ``workdir`` holds the tools' error output while they run.
    """
    import psycopg

    clock = time.monotonic()
    seconds = timings if timings is not None else {}
    with psycopg.connect(source.conninfo(), autocommit=True) as conn:
        tables = plan_tables(conn)
    if tables is None:
        _stream("the database", source, dest, workdir, [])
        seconds["schema and rows"] = time.monotonic() - clock
        return "stream"
    _stream("the schema", source, dest, workdir, ["--exclude-table-data=*.*"])
    seconds["schema"] = time.monotonic() - clock
    clock = time.monotonic()
    read_env = source.env(SOURCE_PGOPTIONS)
    write_env = dest.env("-c datestyle=ISO -c intervalstyle=postgres")

    def pipe_of(table: TableCopy) -> Callable[[], _Pipe]:
        return lambda: _Pipe(
            f"table {table.name}",
            _psql(table.read_sql(), dbname=source.dbname), read_env,
            _psql(f"TRUNCATE ONLY {table.name}", table.write_sql(), dbname=dest.dbname,
                  single_transaction=True), write_env,
            workdir,
        )  # fmt: skip

    run_pipes([pipe_of(t) for t in tables], jobs)
    with psycopg.connect(source.conninfo(), autocommit=True) as conn:
        values = sequence_values(conn)
    if values:
        with psycopg.connect(dest.conninfo()) as conn:
            set_sequences(conn, values)
    seconds["rows"] = time.monotonic() - clock
    return "copy"


def build_post_data(source: Endpoint, dest: Endpoint, *, jobs: int, workdir: Path) -> None:
    """Indexes, constraints and triggers of ``source`` built in ``dest``, ``jobs`` at a time."""
    from odoo_ops.backup.pgtools import tool

    post = workdir / "post-data.dump"
    dumped = childproc.run([tool("pg_dump"), "-Fc", "--section=post-data", "-f", str(post),
                            "-d", source.dbname], capture_output=True, text=True,
                           env=source.env())  # fmt: skip
    if dumped.returncode != 0:
        raise OpsError(f"pg_dump of the restored database failed: {last_line(dumped.stderr)}")
    try:
        built = childproc.run(
            [tool("pg_restore"), "-j", str(max(1, jobs)), "--exit-on-error", "-d", dest.dbname,
             str(post)], capture_output=True, text=True, env=dest.env(),
        )  # fmt: skip
    finally:
        post.unlink(missing_ok=True)
    if built.returncode != 0:
        raise OpsError(f"pg_restore into {dest.dbname} failed: {last_line(built.stderr)}")


def _stream(label: str, source: Endpoint, dest: Endpoint, workdir: Path,
            extra: list[str]) -> None:  # fmt: skip
    """``pg_dump -Fc -Z0 --section=pre-data --section=data | pg_restore`` (no file between)."""
    from odoo_ops.backup.pgtools import tool

    def pipe() -> _Pipe:
        return _Pipe(
            label,
            [tool("pg_dump"), "-Fc", "-Z", "0", "--section=pre-data", "--section=data", *extra,
             "-d", source.dbname], source.env(),
            [tool("pg_restore"), "--exit-on-error", "-d", dest.dbname], dest.env(),
            workdir,
        )  # fmt: skip

    run_pipes([pipe], 1)
