"""``pitr.transfer``: a database copied between two real databases, exactly as pg_dump sees it.

The source holds what a careless copy gets wrong: text with backslashes, tabs,
newlines and non-ASCII; floats that must round-trip; bytea; json; arrays;
enums (and arrays of them: binary COPY embeds type oids, so those tables go
as text); a domain; a generated column; a dropped column; an identity column;
inheritance (``ONLY``); a partitioned table; an unlogged table; an empty
table; a mixed-case schema and table; sequences called and not; a large
object; a table without columns; names a loose pg_dump pattern would
confuse; a foreign key, indexes and a trigger built after the rows. The copy
is compared with the source through plain ``pg_dump`` of both.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from odoo_ops.errors import OpsError
from odoo_ops.pitr import transfer
from tests.support import pg

pytestmark = pytest.mark.skipif(shutil.which("pg_dump") is None, reason="pg_dump missing")

SOURCE_SQL = r"""
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN positive AS integer CHECK (VALUE > 0);
CREATE SCHEMA "Sales";
CREATE TABLE res_partner (
    id serial PRIMARY KEY, name varchar NOT NULL, comment text, ratio double precision,
    amount numeric(12, 2), active boolean, born date, write_date timestamptz,
    pause interval, data jsonb, raw bytea, tags text[], ids integer[],
    drop_me text, total integer GENERATED ALWAYS AS (id * 2) STORED
);
ALTER TABLE res_partner DROP COLUMN drop_me;
INSERT INTO res_partner (name, comment, ratio, amount, active, born, write_date, pause,
                         data, raw, tags, ids)
SELECT 'partner ' || g, E'back\\slash\ttab\nnewline é ünïcode ' || g, g / 3.0, g * 1.25,
       g % 2 = 0, date '2020-01-01' + g,
       timestamptz '2026-12-07 10:00:00+01' + g * interval '1 min',
       g * interval '1 hour 3 sec', jsonb_build_object('k', g, 's', E'q"uote\\'),
       decode(md5(g::text), 'hex'), ARRAY['a' || g, NULL, E'x,y"z'], ARRAY[g, -g]
  FROM generate_series(1, 3000) g;
INSERT INTO res_partner (name, ratio)
VALUES ('float edge', 0.1::float8 + 0.2::float8), ('tiny', 1e-300);
CREATE TABLE moods (id integer GENERATED ALWAYS AS IDENTITY, m mood, ms mood[], p positive);
INSERT INTO moods (m, ms, p) VALUES ('happy', '{sad,ok}', 3), ('sad', NULL, 1);
CREATE TABLE "Sales"."Order Line" (id bigserial PRIMARY KEY, partner_id integer
    REFERENCES res_partner (id), qty numeric);
INSERT INTO "Sales"."Order Line" (partner_id, qty) SELECT g, g FROM generate_series(1, 500) g;
CREATE TABLE parent (id integer, note text);
CREATE TABLE child (extra text) INHERITS (parent);
INSERT INTO parent VALUES (1, 'parent row');
INSERT INTO child VALUES (2, 'child row', 'x');
CREATE TABLE measure (at date NOT NULL, v integer) PARTITION BY RANGE (at);
CREATE TABLE measure_2025 PARTITION OF measure FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE measure_2026 PARTITION OF measure FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
INSERT INTO measure VALUES ('2025-06-01', 1), ('2026-06-01', 2);
CREATE UNLOGGED TABLE cache (k text PRIMARY KEY, v text);
INSERT INTO cache VALUES ('a', 'b');
CREATE TABLE empty (id integer);
CREATE SEQUENCE never_called;
CREATE SEQUENCE called START 10;
SELECT nextval('called'), nextval('called');
SELECT setval('res_partner_id_seq', 5000);
CREATE INDEX res_partner_name ON res_partner (name);
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN NEW.comment := 'touched'; RETURN NEW; END $$;
CREATE TRIGGER res_partner_touch BEFORE INSERT ON res_partner FOR EACH ROW EXECUTE FUNCTION touch();
SELECT lo_from_bytea(0, 'a large object');
CREATE TABLE nocols ();
INSERT INTO nocols DEFAULT VALUES;
CREATE TABLE "Sales"."odd.name*" (v text);
INSERT INTO "Sales"."odd.name*" SELECT repeat('x', 100) || g FROM generate_series(1, 4000) g;
CREATE TABLE "Sales"."oddXnameZZZ" (v text);
INSERT INTO "Sales"."oddXnameZZZ" VALUES ('a small table a loose pattern would leave out');
"""


def plain_dump(dsn: str) -> str:
    """``pg_dump`` in plain format, without its header comments and random restrict keys,
    the rows of each table sorted: a load puts rows where the free space map says, so
    physical order is no property of a copy (pg_restore's own loads reorder them too)."""
    out = subprocess.run(["pg_dump", "--no-comments", "-d", dsn], capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    lines: list[str] = []
    rows: list[str] | None = None
    for line in out.splitlines():
        if rows is not None:
            if line == "\\.":
                lines += sorted(rows) + [line]
                rows = None
            else:
                rows.append(line)
        elif line.startswith("COPY ") and line.endswith("FROM stdin;"):
            lines.append(line)
            rows = []
        elif not line.startswith("--") and not line.startswith(("\\restrict", "\\unrestrict")):
            lines.append(line)
    return re.sub(r"lo_create\('\d+'\)|lo_open\('\d+'", "LO", "\n".join(lines))


@pytest.fixture
def source(make_database: Callable[..., pg.TestDatabase]) -> pg.TestDatabase:
    db = make_database("xfer_src")
    with db.connect() as conn:
        conn.execute(SOURCE_SQL)  # type: ignore[arg-type]
    return db


def endpoints(src: pg.TestDatabase, dst: pg.TestDatabase) -> tuple[transfer.Endpoint, ...]:
    return transfer.Endpoint(src.dsn, src.name), transfer.Endpoint(dst.dsn, dst.name)


@pytest.mark.parametrize("min_bytes", [0, 160 * 1024, transfer.MIN_PIPE_BYTES],
                         ids=["every-table-piped", "large-tables-piped", "all-through-pg_dump"])
def test_copy_matches_the_source_as_pg_dump_sees_it(
    source: pg.TestDatabase, make_database: Callable[..., pg.TestDatabase], tmp_path: Path,
    min_bytes: int,
) -> None:  # fmt: skip
    dest = make_database("xfer_dst")
    src, dst = endpoints(source, dest)
    timings: dict[str, float] = {}
    piped = transfer.copy_database(src, dst, jobs=2, workdir=tmp_path, timings=timings,
                                   min_bytes=min_bytes)  # fmt: skip
    transfer.build_post_data(dst, jobs=2, workdir=tmp_path)
    assert set(timings) == {"schema", "rows"}
    names = {t.name for t in piped}
    if min_bytes == 160 * 1024:
        assert names == {"public.res_partner", '"Sales"."odd.name*"'}
    copied = plain_dump(dest.dsn)
    assert "partner 3000" in copied and "setval('public.called', 11, true)" in copied
    assert "a small table a loose pattern would leave out" in copied
    assert copied == plain_dump(source.dsn)
    # the rows went in before the trigger existed
    assert dest.scalar("SELECT count(*) FROM res_partner WHERE comment = 'touched'") == 0
    assert dest.scalar("SELECT count(*) FROM ONLY parent") == 1
    assert dest.scalar("SELECT count(*) FROM nocols") == 1
    assert dest.scalar("SELECT nextval('called')") == 12
    assert dest.scalar("SELECT nextval('never_called')") == 1
    assert dest.scalar("SELECT ratio FROM res_partner WHERE name = 'float edge'") == 0.1 + 0.2
    assert list(tmp_path.iterdir()) == []  # the tools' error files are gone


def test_tables_are_planned_largest_first_binary_where_types_are_built_in(
    source: pg.TestDatabase,
) -> None:
    with source.connect() as conn:
        tables, rest = transfer.plan_tables(conn, 0)
        big, rest_big = transfer.plan_tables(conn, 160 * 1024)
    names = [t.name for t in tables]
    assert names[0] == "public.res_partner"
    assert '"Sales"."Order Line"' in names
    assert "public.measure" not in names  # partitioned: its partitions hold the rows
    assert "public.nocols" not in names  # no column to name: pg_dump copies it
    assert {"public.measure_2025", "public.measure_2026", "public.child"} <= set(names)
    by_name = {t.name: t for t in tables}
    assert by_name["public.res_partner"].binary
    assert "total" not in by_name["public.res_partner"].columns  # generated
    assert not by_name["public.moods"].binary  # enum, enum[] and a domain go as text
    assert by_name['"Sales"."odd.name*"'].pattern == '"Sales"."odd.name*"'
    assert [t.name for t in big] == ["public.res_partner", '"Sales"."odd.name*"']
    assert rest < rest_big
    assert rest_big + sum(t.size for t in big) == rest + sum(t.size for t in tables)


def test_a_failing_table_copy_stops_with_the_table_named(
    source: pg.TestDatabase, make_database: Callable[..., pg.TestDatabase], tmp_path: Path
) -> None:
    dest = make_database("xfer_bad")
    src, dst = endpoints(source, dest)
    bad = transfer.TableCopy("public.no_such_table", '"public"."no_such_table"', 0, True, "id")

    pipe = transfer.Pipe(
        f"table {bad.name}",
        transfer._psql(bad.read_sql(), dbname=src.dbname), src.env(),
        transfer._psql(bad.write_sql(), dbname=dst.dbname), dst.env(),
    )  # fmt: skip

    with pytest.raises(OpsError, match=r"copying table public\.no_such_table: .*no_such_table"):
        transfer.run_pipes([pipe], 2)
    assert list(tmp_path.iterdir()) == []


def test_rows_cut_short_on_the_reading_side_fail_the_copy(
    source: pg.TestDatabase, make_database: Callable[..., pg.TestDatabase], tmp_path: Path
) -> None:
    """A reader that dies mid-table (text COPY ends cleanly at EOF) still fails the copy."""
    dest = make_database("xfer_cut")
    src, dst = endpoints(source, dest)
    transfer.run_pipes([transfer._dump_pipe("the schema", src, dst, ["--section=pre-data"])], 1)
    table = transfer.TableCopy("public.cache", '"public"."cache"', 0, False, "k, v")
    reader = ["sh", "-c", "printf 'x\\ty\\n'; exit 3"]

    pipe = transfer.Pipe(
        "table public.cache", reader, src.env(),
        transfer._psql(table.write_sql(), dbname=dst.dbname), dst.env(),
    )  # fmt: skip

    with pytest.raises(OpsError, match=r"copying table public\.cache"):
        transfer.run_pipes([pipe], 1)


@pytest.mark.parametrize("min_bytes", [0, transfer.MIN_PIPE_BYTES],
                         ids=["every-table-piped", "default"])
def test_a_real_odoo_18_database_copies_exactly(
    real_odoo18_db: pg.OdooTestDb, make_database: Callable[..., pg.TestDatabase],
    tmp_path: Path, min_bytes: int,
) -> None:  # fmt: skip
    """Hundreds of real Odoo tables (jsonb translations, binary fields, ir_* sequences)."""
    dest = make_database("xfer_real18")
    src = transfer.Endpoint(real_odoo18_db.dsn, real_odoo18_db.name)
    dst = transfer.Endpoint(dest.dsn, dest.name)
    piped = transfer.copy_database(src, dst, jobs=2, workdir=tmp_path, min_bytes=min_bytes)
    transfer.build_post_data(dst, jobs=2, workdir=tmp_path)
    if min_bytes == 0:
        assert len(piped) > 150
    copied = plain_dump(dest.dsn)
    assert "COPY public.res_users " in copied
    assert copied == plain_dump(real_odoo18_db.dsn)


def test_a_failing_index_is_named_with_the_servers_reason_and_no_file_is_left(
    source: pg.TestDatabase, make_database: Callable[..., pg.TestDatabase], tmp_path: Path
) -> None:
    """pg_restore prints the statement after its error ("Command was: ..."): the
    message gives the error itself."""
    dest = make_database("xfer_clash")
    with dest.connect() as conn:  # an index of the source's name, on another table
        conn.execute("CREATE TABLE blocker (x integer);"
                     " CREATE INDEX res_partner_name ON blocker (x)")
    src, dst = endpoints(source, dest)
    transfer.copy_database(src, dst, jobs=2, workdir=tmp_path)
    with pytest.raises(OpsError, match=rf"pg_restore into {dest.name} failed: .*ERROR: .*"
                       r"relation \"res_partner_name\" already exists"):
        transfer.build_post_data(dst, jobs=2, workdir=tmp_path)
    assert list(tmp_path.iterdir()) == []
