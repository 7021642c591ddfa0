"""Copy one database out of a scratch server into a new database on the live server.

``pitr restore`` uses this to take the deployment's database out of the
cluster pgBackRest restored. Nobody else uses the scratch server, so every
step sees the same database. :func:`copy_database`:

1. **the schema** streamed: ``pg_dump -Fc -Z0 --section=pre-data |
   pg_restore`` (tables, sequences, types, functions), no file between;
2. **the rows**, ``jobs`` streams at a time, the largest first:

   - every large table (``min_bytes`` and more) through its own pipe, ``psql
     COPY (SELECT columns FROM ONLY t) TO STDOUT | psql COPY t FROM STDIN
     (FREEZE)`` in one transaction after ``TRUNCATE ONLY t``. The binary COPY
     format is used where every column has a built-in type: it skips the text
     formatting on one side and the parsing on the other, about half the time
     of pg_dump's text COPY for Odoo's text-heavy rows. Tables with other
     types (enums, domains, extension types...) go as text, which names values
     rather than type oids. ``FREEZE`` leaves the rows frozen and visible: no
     hint-bit rewrite of the whole table on its first read;
   - everything else of the data section in one ``pg_dump -Fc -Z0
     --section=data --exclude-table-data=<the large tables> | pg_restore``:
     the small tables (hundreds in an Odoo database, most nearly empty: a
     pipe each would cost more than their rows), the sequences' values, large
     objects, extension configuration tables under the extension's filter;
3. **indexes, constraints and triggers** (:func:`build_post_data`): the
   post-data section, read off the source while the rows go, built ``jobs``
   at a time (``pg_restore -j``) — the source is no longer needed then.
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from odoo_ops import childproc
from odoo_ops.backup.streams import ProcessChain, StreamError
from odoo_ops.errors import OpsError

#: The first oid of objects created after initdb: below it, built-in types.
FIRST_NORMAL_OID = 16384

#: Session settings of the reading side: pg_dump's own, so text COPY output
#: reads back exactly (dates, intervals, floats), and an error rather than rows
#: silently hidden by row-level security.
SOURCE_PGOPTIONS = (
    "-c datestyle=ISO -c intervalstyle=postgres -c extra_float_digits=3 -c row_security=off"
)

#: Tables at least this large (with their TOAST) get a COPY pipe of their own.
MIN_PIPE_BYTES = 32 * 1024 * 1024

_TABLES_SQL = f"""
SELECT format('%%I.%%I', n.nspname, c.relname),
       '"' || replace(n.nspname, '"', '""') || '"."' || replace(c.relname, '"', '""') || '"',
       pg_table_size(c.oid),
       bool_and(a.atttypid < {FIRST_NORMAL_OID}),
       string_agg(format('%%I', a.attname), ', ' ORDER BY a.attnum)
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
       AND NOT a.attisdropped AND a.attgenerated = ''
 WHERE c.relkind = 'r' AND pg_table_size(c.oid) >= %s
   AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%%' AND n.nspname NOT LIKE 'pg\\_temp\\_%%'
   AND NOT EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                      AND d.deptype = 'e')
 GROUP BY c.oid, n.nspname, c.relname
 ORDER BY pg_table_size(c.oid) DESC, 1
"""

_DATA_BYTES_SQL = """
SELECT coalesce(sum(pg_table_size(c.oid)), 0)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
   AND n.nspname NOT LIKE 'pg\\_toast%'
"""


@dataclass(frozen=True)
class TableCopy:
    """A large table whose rows get a COPY pipe of their own.

    ``name`` is the quoted SQL name, ``pattern`` the same name as a pg_dump
    pattern that matches it alone (each part double-quoted: literal).
    """

    name: str
    pattern: str
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


def plan_tables(conn: Any, min_bytes: int = MIN_PIPE_BYTES) -> tuple[list[TableCopy], int]:
    """The tables of ``min_bytes`` and more, largest first; the bytes of all the others.

    Extension members are left to pg_dump (their configuration tables' rows
    go under the extension's own filter), and so are tables without columns.
    """
    tables = [TableCopy(name, pattern, int(size), bool(binary), columns)
              for name, pattern, size, binary, columns
              in conn.execute(_TABLES_SQL, (min_bytes,)).fetchall()]  # fmt: skip
    row = conn.execute(_DATA_BYTES_SQL).fetchone()
    total = int(row[0]) if row is not None else 0
    return tables, max(0, total - sum(t.size for t in tables))


# -- the pipes ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Pipe:
    """``reader | writer``, each with its own environment (they reach different servers)."""

    label: str
    reader: list[str]
    reader_env: dict[str, str]
    writer: list[str]
    writer_env: dict[str, str]

    def start(self) -> ProcessChain:
        return ProcessChain([self.reader, self.writer], stdout=subprocess.DEVNULL,
                            envs=[self.reader_env, self.writer_env])  # fmt: skip


def _tail(fh: IO[bytes]) -> str:
    fh.seek(0)
    return last_line(fh.read().decode("utf-8", "replace"))


def last_line(text: str) -> str:
    """The line of a tool's output that says why: its first error, else its last line
    (pg_restore follows its error with the statement: "Command was: ...")."""
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    errors = [ln for ln in lines if "ERROR:" in ln or "error:" in ln]
    return (errors or lines or [""])[0 if errors else -1][:300]


def run_pipes(pipes: list[Pipe], jobs: int) -> None:
    """Start the pipes in order, ``jobs`` at a time; the first failure stops all of them
    and is named with the writer's reason first (a database refusing the rows)."""
    waiting = list(reversed(pipes))
    running: list[tuple[Pipe, ProcessChain]] = []
    try:
        while waiting or running:
            while waiting and len(running) < max(1, jobs):
                pipe = waiting.pop()
                running.append((pipe, pipe.start()))
            for pipe, chain in list(running):
                if chain.finished():
                    running.remove((pipe, chain))
                    if chain.procs[-1].returncode != 0:
                        chain.kill()  # the reader may be stuck on something else
                    try:
                        chain.wait(last_first=True)
                    except StreamError as exc:
                        raise OpsError(f"copying {pipe.label}: {exc}") from None
            time.sleep(0.02)
    finally:
        for _pipe, chain in running:
            chain.kill()


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
                  timings: dict[str, float] | None = None,
                  min_bytes: int = MIN_PIPE_BYTES) -> list[TableCopy]:  # fmt: skip
    """Copy the schema and rows of ``source`` into the empty database ``dest``.

    Indexes, constraints and triggers are left to :func:`build_post_data`.
    ``workdir`` receives the post-data section (and pg_dump's error output while it
    is read). Returns the
    tables that had a pipe of their own.
    """
    import psycopg

    clock = time.monotonic()
    seconds = timings if timings is not None else {}
    with psycopg.connect(source.conninfo(), autocommit=True) as conn:
        tables, other_bytes = plan_tables(conn, min_bytes)
    run_pipes([_dump_pipe("the schema", source, dest, ["--section=pre-data"])], 1)
    seconds["schema"] = time.monotonic() - clock
    clock = time.monotonic()
    read_env = source.env(SOURCE_PGOPTIONS)
    write_env = dest.env("-c datestyle=ISO -c intervalstyle=postgres")

    def table_pipe(table: TableCopy) -> Pipe:
        return Pipe(
            f"table {table.name}",
            _psql(table.read_sql(), dbname=source.dbname), read_env,
            _psql(f"TRUNCATE ONLY {table.name}", table.write_sql(), dbname=dest.dbname,
                  single_transaction=True), write_env,
        )  # fmt: skip

    rest = ["--section=data", *(f"--exclude-table-data={t.pattern}" for t in tables)]
    streams = [(t.size, table_pipe(t)) for t in tables]
    streams.append((other_bytes, _dump_pipe("the other rows", source, dest, rest)))
    streams.sort(key=lambda item: -item[0])  # stable: the tables keep their order
    post = _PostDataDump(source, workdir)  # read off the catalog while the rows go
    try:
        run_pipes([pipe for _, pipe in streams], jobs)
    except BaseException:
        post.kill()
        raise
    post.wait()
    seconds["rows"] = time.monotonic() - clock
    return tables


class _PostDataDump:
    """``pg_dump --section=post-data`` of the source into ``workdir/post-data.dump``."""

    def __init__(self, source: Endpoint, workdir: Path) -> None:
        from odoo_ops.backup.pgtools import tool

        self.path = post_data_path(workdir)
        self._err: IO[bytes] = open(workdir / "post-data.err", "w+b")  # noqa: SIM115
        try:
            self.proc = childproc.ChildPopen(
                [tool("pg_dump"), "-Fc", "--section=post-data", "-f", str(self.path),
                 "-d", source.dbname], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=self._err, env=source.env(),
            )  # fmt: skip
        except BaseException:
            self._close()
            raise

    def wait(self) -> None:
        try:
            code = self.proc.wait()
            if code != 0:
                raise OpsError(f"pg_dump of the restored database failed: {_tail(self._err)}")
        finally:
            self._close()

    def kill(self) -> None:
        self.proc.kill_group()
        self.proc.wait()
        self._close()
        self.path.unlink(missing_ok=True)

    def _close(self) -> None:
        if not self._err.closed:
            self._err.close()
            Path(self._err.name).unlink(missing_ok=True)


def post_data_path(workdir: Path) -> Path:
    """Where :func:`copy_database` leaves the post-data section for :func:`build_post_data`."""
    return workdir / "post-data.dump"


def build_post_data(dest: Endpoint, *, jobs: int, workdir: Path) -> None:
    """Indexes, constraints and triggers (the post-data section :func:`copy_database` read
    off the source) built in ``dest``, ``jobs`` at a time; the section's file is removed."""
    from odoo_ops.backup.pgtools import tool

    post = post_data_path(workdir)
    try:
        built = childproc.run(
            [tool("pg_restore"), "-j", str(max(1, jobs)), "--exit-on-error", "-d", dest.dbname,
             str(post)], capture_output=True, text=True, env=dest.env(),
        )  # fmt: skip
    finally:
        post.unlink(missing_ok=True)
    if built.returncode != 0:
        raise OpsError(f"pg_restore into {dest.dbname} failed: {last_line(built.stderr)}")


def _dump_pipe(label: str, source: Endpoint, dest: Endpoint, sections: list[str]) -> Pipe:
    """``pg_dump -Fc -Z0 SECTIONS | pg_restore``: no file between."""
    from odoo_ops.backup.pgtools import tool

    return Pipe(
        label,
        [tool("pg_dump"), "-Fc", "-Z", "0", *sections, "-d", source.dbname], source.env(),
        [tool("pg_restore"), "--exit-on-error", "-d", dest.dbname], dest.env(),
    )  # fmt: skip
