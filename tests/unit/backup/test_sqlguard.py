"""The guard between an Odoo zip's dump.sql and psql (odoo_ops.backup.sqlguard)."""

from __future__ import annotations

import io
import subprocess

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.support.pg import REAL_ODOO18_DUMP

from odoo_ops.backup.sqlguard import MAX_SQL_LINE, RESET_LINE, SqlGuard, SqlRefused
from odoo_ops.errors import OpsError

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
TABLE = "CREATE TABLE public.t (id integer NOT NULL, name text);\n"


def run(text: str | bytes, *, chunk: int = 1 << 20) -> tuple[SqlGuard, bytes]:
    """Feed ``text`` as the loader does (readline pieces); return the guard and psql's input."""
    data = text.encode() if isinstance(text, str) else text
    src = io.BytesIO(data)
    guard = SqlGuard()
    out = bytearray()
    while piece := src.readline(chunk):
        result = guard.feed(piece)
        if result is not None:
            out += result.data
            if result.reset_after:
                out += RESET_LINE
    tail = guard.finish()
    if tail is not None:
        out += tail.data
    return guard, bytes(out)


def refused(text: str | bytes) -> SqlRefused:
    with pytest.raises(SqlRefused) as info:
        run(text)
    return info.value


# -- what pg_dump writes passes -------------------------------------------------------

PG_DUMP_SHAPES = """--
-- PostgreSQL database dump
--

\\restrict 4Ua21Nxld569h2Kix9SE61sxUwIDrR7qfBkYNPgpXhnRhmbY91FEZ9jKSzqtXsP

SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET default_tablespace = '';
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
COMMENT ON EXTENSION pg_trgm IS 'text similarity measurement and index searching';
CREATE FUNCTION public.f(x integer) RETURNS text
    LANGUAGE plpgsql
    AS $_$ BEGIN RETURN 'a;b\\' || $1; /* ; */ END; $_$;
CREATE TABLE public.res_partner (
    id integer NOT NULL,
    "from" character varying DEFAULT 'it''s; \\\\ -- not a comment'::character varying,
    data jsonb DEFAULT '{"a": 1}'::jsonb
);
COMMENT ON COLUMN public.res_partner."from" IS 'Start; /* not a comment */';
COPY public.res_partner (id, "from", data) FROM stdin;
1\tline with \\\\ backslash and 'quote\t{"x": "\\\\n"}
2\t\\N\t\\N
\\.
SELECT pg_catalog.setval('public.res_partner_id_seq', 2, true);
SELECT pg_catalog.lo_create('16400');
ALTER TABLE ONLY public.res_partner ADD CONSTRAINT res_partner_pkey PRIMARY KEY (id);
CREATE VIEW public.v AS SELECT ('x'::text)[1:2] AS a;
REVOKE USAGE ON SCHEMA public FROM PUBLIC;
GRANT ALL ON SCHEMA public TO PUBLIC;

\\unrestrict 4Ua21Nxld569h2Kix9SE61sxUwIDrR7qfBkYNPgpXhnRhmbY91FEZ9jKSzqtXsP
"""


def test_pg_dump_shapes_pass_and_restrict_lines_are_dropped() -> None:
    guard, out = run(PG_DUMP_SHAPES)
    assert guard.copies == 1 and guard.tables == 1
    text = out.decode()
    assert "\\restrict" not in text and "\\unrestrict" not in text
    assert "2\t\\N\t\\N\n\\.\n" + RESET_LINE.decode() in text
    # blank lines keep psql's line numbers those of the dump
    assert text.count("\n") - text.count(RESET_LINE.decode()) == PG_DUMP_SHAPES.count("\n")


def test_the_real_odoo18_dump_passes_completely() -> None:
    if not REAL_ODOO18_DUMP.is_file():
        pytest.skip(f"real Odoo 18 dump not available ({REAL_ODOO18_DUMP})")
    sql = subprocess.run(["pg_restore", "--no-owner", "-f", "-", str(REAL_ODOO18_DUMP)],
                         capture_output=True, check=True).stdout
    guard, out = run(sql, chunk=1 << 16)
    assert guard.line_no == sql.count(b"\n")
    assert guard.tables > 200 and guard.copies == guard.tables
    assert out.replace(RESET_LINE, b"").count(b"\n") == sql.count(b"\n")


# -- refusals ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("sql", "line", "what"),
    [
        ("\\! touch pwned\n", 1, "meta-command"),
        (TABLE + "CREATE TABLE x (a int); \\! touch pwned\n", 2, "meta-command"),
        (TABLE + "CREATE TABLE y (a int) \\g\n", 2, "meta-command"),
        (TABLE + "\\connect other_db\n", 2, "meta-command"),
        (TABLE + "SELECT 'a' \\gexec\n", 2, "meta-command"),
        (TABLE + "-- comment\r\\! touch pwned\n", 2, "meta-command"),
        (TABLE + "COPY t TO PROGRAM 'touch pwned';\n", 2, "COPY … TO"),
        (TABLE + "COPY (SELECT 1) TO STDOUT;\n", 2, "COPY … TO"),
        (TABLE + "COPY t FROM '/etc/passwd';\n", 2, "COPY FROM a file"),
        (TABLE + "COPY t FROM PROGRAM 'id';\n", 2, "COPY FROM a file"),
        (TABLE + "COPY t FROM 'stdin';\n", 2, "COPY FROM a file"),
        (TABLE + "SET ROLE postgres;\n", 2, "SET ROLE"),
        (TABLE + "SET LOCAL role = 'postgres';\n", 2, "SET ROLE"),
        (TABLE + "SET SESSION AUTHORIZATION postgres;\n", 2, "SET AUTHORIZATION"),
        (TABLE + "RESET ROLE;\n", 2, "RESET ROLE"),
        (TABLE + "RESET ALL;\n", 2, "RESET ALL"),
        (TABLE + "SET client_encoding = 'SJIS';\n", 2, "client_encoding"),
        (TABLE + "SET NAMES 'BIG5';\n", 2, "client_encoding"),
        (TABLE + "SET standard_conforming_strings = off;\n", 2, "standard_conforming"),
        (TABLE + "CREATE ROLE evil SUPERUSER;\n", 2, "CREATE ROLE"),
        (TABLE + "CREATE USER evil;\n", 2, "CREATE USER"),
        (TABLE + "ALTER USER postgres PASSWORD 'x';\n", 2, "ALTER USER"),
        (TABLE + "DROP DATABASE production;\n", 2, "DROP DATABASE"),
        (TABLE + "CREATE TABLESPACE x LOCATION '/tmp';\n", 2, "CREATE TABLESPACE"),
        (TABLE + "ALTER SYSTEM SET archive_command = 'x';\n", 2, "ALTER SYSTEM"),
        (TABLE + "GRANT pg_execute_server_program TO CURRENT_USER;\n", 2, "GRANT of a role"),
        (TABLE + "DO $$ BEGIN PERFORM 1; END $$;\n", 2, "DO"),
        (TABLE + "LOAD 'evil';\n", 2, "LOAD"),
        (TABLE + "CALL p();\n", 2, "CALL"),
        (TABLE + "COMMIT;\n", 2, "COMMIT"),
        (TABLE + "SELECT pg_read_file('/etc/passwd');\n", 2, "SELECT other than"),
        (TABLE + "SELECT pg_catalog.set_config('role', 'postgres', false);\n", 2, "search_path"),
        (TABLE + "SELECT pg_catalog.lo_import('/etc/passwd');\n", 2, "SELECT other than"),
        (TABLE + "SELECT pg_catalog.setval((SELECT 'x'), 1);\n", 2, "SELECT other than"),
        (TABLE + "CREATE TABLE z (a int); CREATE TABLE w (\n a int);\n", 2, "goes on past"),
        (TABLE + "CREATE TABLE z (a int;\nCOPY t FROM stdin;\n", 2, "inside parentheses"),
        (TABLE + "COPY t FROM stdin; \\! id\n1\n\\.\n", 2, "after COPY"),
        (TABLE + "CREATE TABLE z (a text DEFAULT 'x\\' \\! id');\n", 2, "backslash before"),
        (TABLE + "CREATE TABLE a$b$ (c int);\n", 2, "glued"),
        (TABLE + "CREATE TABLE z (a int DEFAULT 1$b$);\n", 2, "glued"),
        (TABLE + "CREATE TABLE z (a int DEFAULT $é$ x $é$);\n", 2, "not ASCII"),
        (TABLE + "CREATE TABLE z (a text DEFAULT :'DBNAME');\n", 2, "psql variable"),
        ("CREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC SELECT 1; END;\n",
         1, "BEGIN ATOMIC"),
        (TABLE + "CREATE TABLE z (a text DEFAULT 'never closed);\n", 2, "never closed"),
        (TABLE + "/* open comment\n", 2, "never closed"),
        (TABLE + "(SELECT 1);\n", 2, "does not start with a keyword"),
    ],
)
def test_refused(sql: str, line: int, what: str) -> None:
    error = refused(sql)
    assert error.line == line, error.message
    assert what in error.message
    assert error.message.startswith(f"dump.sql line {line}: ")


def test_refusal_shows_at_most_60_characters() -> None:
    error = refused(TABLE + "\\! " + "x" * 500 + "\n")
    assert len(error.excerpt) <= 64 and "x" * 61 not in error.message


@pytest.mark.parametrize("data", [b"CREATE TABLE a (b int);\n\x00\n", b"SELECT '\xff';\n"])
def test_bytes_psql_reads_differently_are_refused(data: bytes) -> None:
    assert isinstance(refused(data), SqlRefused)


@pytest.mark.parametrize("sql", ["", "\n\n", "-- only a comment\n", ";\n;\n"])
def test_empty_dump_is_an_error(sql: str) -> None:
    with pytest.raises(OpsError, match="empty"):
        run(sql)


def test_dump_without_tables_is_an_error() -> None:
    with pytest.raises(OpsError, match="creates no table"):
        run("SET statement_timeout = 0;\n")


def test_copy_data_is_data_until_the_end_marker() -> None:
    sql = TABLE + "COPY public.t (id, name) FROM stdin;\n1\t\\! touch x; \\connect y '\n\\.\n"
    guard, out = run(sql)
    assert guard.copies == 1 and b"\\connect y" in out
    # after the end marker it is SQL again: the same line is now refused
    error = refused(sql + "\\! touch x\n")
    assert error.line == 5


def test_long_lines_are_read_in_pieces() -> None:
    value = "y" * 5000
    guard, out = run(TABLE + f"COMMENT ON TABLE public.t IS '{value}';\n"
                     "COPY public.t (id, name) FROM stdin;\n1\t" + value + "\n\\.\n", chunk=100)
    assert guard.copies == 1 and value.encode() in out
    assert len(value) < MAX_SQL_LINE


# -- properties --------------------------------------------------------------------------

TEXT = st.lists(st.sampled_from(list("ab;$'\"\\/*-:()\n\r\tEé!") + ["\\!", "$$", "\\."]),
                max_size=40).map("".join)


@FAST
@given(TEXT)
def test_any_text_inside_a_string_literal_passes(text: str) -> None:
    literal = text.replace("\\", "\\\\").replace("'", "''")
    guard, _ = run(f"CREATE TABLE a (b text DEFAULT '{literal}');\n" + TABLE)
    assert guard.statements == 2


@FAST
@given(TEXT, st.sampled_from(["", "_", "body", "X1"]))
def test_any_text_inside_dollar_quotes_passes(text: str, tag: str) -> None:
    assume(f"${tag}$" not in text and not text.endswith("$") and not text.endswith(f"${tag}"))
    sql = f"CREATE FUNCTION f() RETURNS text LANGUAGE sql AS ${tag}${text}${tag}$;\n" + TABLE
    guard, _ = run(sql)
    assert guard.statements == 2


@FAST
@given(TEXT)
def test_any_text_inside_comments_and_identifiers_passes(text: str) -> None:
    block = text.replace("*/", "").replace("/*", "")
    assume("*/" not in block and "/*" not in block and not block.endswith("*")
           and not block.startswith("/"))
    line = text.replace("\n", " ").replace("\r", " ")
    ident = text.replace('"', '""')
    sql = (f"/* {block} */\n-- {line}\nCREATE TABLE \"{ident}\" (a int);\n" + TABLE)
    guard, _ = run(sql)
    assert guard.statements == 2


SAFE_SQL = st.lists(st.sampled_from(["CREATE", "TABLE", "a", "(", "b", "int", ")", "'x'",
                                     "\"q\"", "$$ d $$", "/* c */", "::", "1", ","]),
                    max_size=8).map(" ".join)


@FAST
@given(SAFE_SQL, st.text(max_size=30).filter(lambda s: "\0" not in s))
def test_a_backslash_outside_quotes_is_always_refused(prefix: str, after: str) -> None:
    error = refused(TABLE + prefix + " \\" + after + "\n")
    assert error.line == 2 and "meta-command" in error.message


@FAST
@given(st.text(max_size=200))
def test_arbitrary_text_is_passed_or_refused_never_crashes(text: str) -> None:
    try:
        run(text)
    except OpsError as exc:
        assert exc.message.startswith("dump.sql")
