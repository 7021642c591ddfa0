"""Hostile Odoo zips for ``backup import-odoo`` (issue 19, finding 1 and part of 9).

Every zip here is loaded through the real CLI into the real PostgreSQL with
the real psql. The zip's dump.sql must stay data: no psql meta-command runs
(the ``pwned`` file never appears), no other database changes, nothing runs
as the DSN's superuser (a function doing ``COPY … TO PROGRAM`` fails for lack
of privilege), and every failure is a one-line ``error:`` with exit 1 — no
traceback, no backup, no scratch database, no temporary role left behind.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from odoo_ops.backup import odoo_zip
from odoo_ops.cli.main import main
from tests.integration.backup.conftest import BackupSite, write_config
from tests.support import pg

pytestmark = pytest.mark.pg

TABLE = "CREATE TABLE public.t (id integer, name text);\n"
COUNTS = {"inputs": 0, "tracebacks": 0, "crashes": 0}


@pytest.fixture
def site(odoo_db: Callable[..., pg.OdooTestDb], tmp_path: Path) -> Iterator[BackupSite]:
    db = odoo_db(18)
    root = tmp_path / "site"
    root.mkdir()
    data_dir = root / "data"
    db.write_filestore(data_dir)
    yield BackupSite(root, db, data_dir, root / "backups", write_config(root, db))


def make_zip(path: Path, sql: str | bytes | None, manifest: object = None) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        if sql is not None:
            zf.writestr("dump.sql", sql)
        if manifest is not None:
            zf.writestr("manifest.json", json.dumps(manifest))
        zf.writestr("filestore/ab/abcdef", b"attachment")
    return path


def run_cli(site: BackupSite, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    capsys.readouterr()
    COUNTS["inputs"] += 1
    try:
        main([*args, "-C", str(site.root)])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    text = out + err
    if "Traceback" in text:
        COUNTS["tracebacks"] += 1
    if code not in (0, 1):
        COUNTS["crashes"] += 1
    return code, text


def leftovers(site: BackupSite) -> list[str]:
    """This site's scratch databases, temporary roles and backups (other sessions share
    the server: their imports are not counted)."""
    with psycopg.connect(site.db.admin_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %(db)s)"
            " AND datname LIKE '%%\\_\\_import\\_%%'"
            " UNION ALL SELECT rolname FROM pg_roles WHERE rolname LIKE 'odoo\\_ops\\_import\\_%%'"
            " AND shobj_description(oid, 'pg_authid') LIKE '%%' || %(db)s || '%%'",
            {"db": site.db.name},
        ).fetchall()
    left = [r[0] for r in rows]
    if site.backup_dir.exists():
        left += [p.name for p in site.backup_dir.iterdir() if p.name != ".lock"]
    return left


def refused_cleanly(site: BackupSite, capsys: pytest.CaptureFixture[str], archive: Path,
                    *expected: str) -> str:
    code, text = run_cli(site, capsys, "backup", "import-odoo", str(archive))
    assert code == 1, text
    errors = [line for line in text.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and len(errors[0]) < 220, text
    assert "Traceback" not in text
    for fragment in expected:
        assert fragment in text, text
    assert leftovers(site) == []
    return text


def pwned_cases(pwned: Path, other_db: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    function = (
        "CREATE FUNCTION public.evil() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch {pwned}'''; RETURN NEW; END $$;\n"
    )
    return {
        "shell at line 1": (f"\\! touch {pwned}\n" + TABLE, ("line 1", "meta-command")),
        "shell mid-line": (TABLE + f"CREATE TABLE u (a int); \\! touch {pwned}\n",
                           ("line 2", "meta-command")),
        "shell after comment and CR": (TABLE + f"-- x\r\\! touch {pwned}\n",
                                       ("line 2", "meta-command")),
        "connect and write": (TABLE + f"\\connect {other_db}\nINSERT INTO victim VALUES (666);\n",
                              ("line 2", "meta-command")),
        "set output file": (TABLE + f"\\o {pwned}\n", ("meta-command",)),
        "copy to program": (TABLE + f"COPY public.t TO PROGRAM 'touch {pwned}';\n",
                            ("line 2", "COPY … TO")),
        "copy from file": (TABLE + "COPY public.t FROM '/etc/passwd';\n",
                           ("line 2", "COPY FROM a file")),
        "copy from program": (TABLE + f"COPY public.t FROM PROGRAM 'touch {pwned}';\n",
                              ("line 2", "COPY FROM a file")),
        "set role": (TABLE + "SET ROLE postgres;\n", ("line 2", "SET ROLE")),
        "session authorization": (TABLE + "SET SESSION AUTHORIZATION postgres;\n",
                                  ("AUTHORIZATION",)),
        "create role": (TABLE + "CREATE ROLE evil SUPERUSER LOGIN;\n", ("CREATE ROLE",)),
        "alter system": (TABLE + "ALTER SYSTEM SET archive_command = 'x';\n", ("ALTER SYSTEM",)),
        "do block": (TABLE + f"DO $$ BEGIN EXECUTE 'COPY (SELECT 1) TO PROGRAM ''touch {pwned}'''; "
                     "END $$;\n", ("the statement DO",)),
        "quote trick": (TABLE + f"CREATE TABLE v (a text DEFAULT 'x\\' \\! touch {pwned} --');\n",
                        ("backslash before a quote",)),
        "dollar trick": (TABLE + f"CREATE TABLE v$a$ (x int); \\! touch {pwned} $a$;\n",
                         ("glued",)),
        "copy line trick": (TABLE + f"COPY public.t FROM stdin; \\! touch {pwned}\n1\tx\n\\.\n",
                            ("after COPY",)),
        "copy end then shell": (TABLE + "COPY public.t (id, name) FROM stdin;\n1\t'\n\\.\n"
                                f"\\! touch {pwned}\n'\n", ("line 5", "meta-command")),
        "paren semicolon": (TABLE + "CREATE TABLE w (a int;\nCOPY public.t FROM stdin;\n"
                            f"\\! touch {pwned}\n\\.\n);\n", ("inside parentheses",)),
        "program via trigger": (
            TABLE + function
            + "CREATE TRIGGER t_evil BEFORE INSERT ON public.t"
              " FOR EACH ROW EXECUTE FUNCTION public.evil();\n"
            + "COPY public.t (id, name) FROM stdin;\n1\tx\n\\.\n",
            ("does not load", "external program"),
        ),
        "empty statements": ("-- nothing here\n;\n", ("empty",)),
        "no table": ("SET statement_timeout = 0;\n", ("creates no table",)),
        "nul byte": (TABLE + "CREATE TABLE n (a int);\0\\! id\n", ("NUL",)),
    }


def test_hostile_dumps_are_refused_and_nothing_runs(
    site: BackupSite, make_database: Callable[..., pg.TestDatabase], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    other = make_database("victim")
    with psycopg.connect(other.dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE victim (v int)")
        conn.execute("INSERT INTO victim VALUES (1)")
    pwned = tmp_path / "pwned"
    for label, (sql, expected) in pwned_cases(pwned, other.name).items():
        archive = make_zip(tmp_path / f"{label.replace(' ', '_')}.zip", sql)
        text = refused_cleanly(site, capsys, archive, *expected)
        assert not pwned.exists(), f"{label}: {text}"
    with psycopg.connect(other.dsn, autocommit=True) as conn:
        assert conn.execute("SELECT v FROM victim").fetchall() == [(1,)]
    assert COUNTS["tracebacks"] == 0 and COUNTS["crashes"] == 0


def test_encoding_switched_by_the_dump_does_not_change_how_psql_reads_it(
    site: BackupSite, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A CHECK constraint flips client_encoding to SJIS mid-load; under SJIS psql would read
    ``ぁ\\\\'`` as ``ぁ\\'`` and leave the string early. The reset after every statement
    keeps psql reading UTF-8 — shown with psql's own restricted mode switched off."""
    pwned = tmp_path / "pwned"
    sql = (
        TABLE
        + "ALTER TABLE public.t ADD CONSTRAINT c"
          " CHECK (set_config('client_encoding', 'SJIS', false) <> '');\n"
        + "INSERT INTO public.t VALUES (1, 'x');\n"
        + f"INSERT INTO public.t VALUES (2, E'ぁ\\\\' || 'x \\! touch {pwned} # ');\n"
        + "ALTER TABLE public.t DROP CONSTRAINT c;\n"
    )
    monkeypatch.setattr(odoo_zip, "_psql_can_restrict", lambda psql: False)
    for label in ("without restrict", "with restrict"):
        archive = make_zip(tmp_path / f"{label[:4]}.zip", sql)
        code, text = run_cli(site, capsys, "backup", "import-odoo", str(archive),
                             "--name", label.replace(" ", "-"))
        assert code in (0, 1) and "Traceback" not in text, text  # loads or fails: both data
        assert not pwned.exists(), text
        monkeypatch.undo()
    assert sorted(leftovers(site)) in ([], ["with-restrict"], ["with-restrict", "without-restrict"],
                                       ["without-restrict"])


def test_broken_zips_and_manifests_are_clean_errors_or_notes(
    site: BackupSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = make_zip(tmp_path / "empty.zip", "")
    refused_cleanly(site, capsys, empty, "dump.sql of the zip is empty")
    whitespace = make_zip(tmp_path / "blank.zip", "\n\n-- dump\n")
    refused_cleanly(site, capsys, whitespace, "empty")
    good = make_zip(tmp_path / "good.zip", TABLE + "INSERT INTO public.t VALUES (1, 'a');\n",
                    manifest={"odoo_dump": "1", "db_name": "x"})
    data = good.read_bytes()
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(data[: len(data) // 2])
    refused_cleanly(site, capsys, truncated, "not a zip file")
    corrupt = tmp_path / "corrupt.zip"
    raw = bytearray(data)
    start = raw.index(b"dump.sql") + len("dump.sql")
    for k in range(start + 2, start + 30):
        raw[k] ^= 0x5A
    corrupt.write_bytes(bytes(raw))
    refused_cleanly(site, capsys, corrupt, "damaged")
    for index, manifest in enumerate([[1, 2, 3], "text", 7, None, {"db_name": {"x": 1}}]):
        archive = make_zip(tmp_path / f"manifest{index}.zip",
                           TABLE + "INSERT INTO public.t VALUES (1, 'a');\n",
                           manifest=manifest if manifest is not None else [])
        code, text = run_cli(site, capsys, "backup", "import-odoo", str(archive),
                             "--name", f"m{index}")
        assert code == 0, text
        assert "manifest.json of the zip" in text, text
    assert sorted(leftovers(site)) == [f"m{i}" for i in range(5)]
    assert COUNTS["tracebacks"] == 0 and COUNTS["crashes"] == 0


def test_the_load_runs_as_a_temporary_role_not_the_dsn_superuser(
    site: BackupSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sql = TABLE + ("CREATE TABLE public.who AS SELECT current_user::text AS u,"
                   " (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS s;\n")
    archive = make_zip(tmp_path / "who.zip", sql)
    code, text = run_cli(site, capsys, "backup", "import-odoo", str(archive), "--name", "who")
    assert code == 0, text
    assert leftovers(site) == ["who"]
    restored = f"{site.db.name}_who"
    code, text = run_cli(site, capsys, "backup", "restore", "who", "--to", restored)
    assert code == 0, text
    with psycopg.connect(pg.dsn_for(site.db.admin_dsn, restored), autocommit=True) as conn:
        user, superuser = conn.execute("SELECT u, s FROM public.who").fetchone() or ("", True)
    assert user.startswith("odoo_ops_import_") and superuser is False


STATEMENTS = st.sampled_from([
    "\\! touch {pwned}", "\\connect postgres", "\\o {pwned}", "\\copy t to '{pwned}'",
    "COPY public.t TO PROGRAM 'touch {pwned}';", "COPY public.t FROM '{pwned}';",
    "SET ROLE postgres;", "RESET SESSION AUTHORIZATION;", "ALTER ROLE CURRENT_USER SUPERUSER;",
    "SELECT pg_catalog.set_config('role', 'postgres', false);", "LOAD 'x';",
    "CREATE TABLE q (a text DEFAULT 'x\\' \\! touch {pwned} --');",
    "GRANT pg_write_server_files TO CURRENT_USER;",
])


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(STATEMENTS, min_size=1, max_size=3),
       st.sampled_from(["", " ", "CREATE TABLE p (a int); ", "-- c\n", "/* c */ "]))
def test_random_hostile_mixes(site: BackupSite, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str],
                              statements: list[str], prefix: str) -> None:
    pwned = tmp_path / "pwned"
    body = "".join(prefix + s.format(pwned=pwned) + "\n" for s in statements)
    archive = make_zip(tmp_path / "mix.zip", TABLE + body)
    refused_cleanly(site, capsys, archive, "refused")
    assert not pwned.exists()


def test_what_a_killed_import_left_is_removed_by_the_next_one(
    site: BackupSite, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A SIGKILL during the load leaves a scratch database and a load role (the
    state is built here as the kill leaves it); the next import removes them
    and says so — but never those of an import that is still running."""
    from psycopg import sql

    from odoo_ops.backup.odoo_zip import _import_lock_key

    dead, live = "d0d0d0", "a1a1a1"
    names = {
        t: (f"{site.db.name}__import_{t}", f"odoo_ops_import_{t}_0123abcd") for t in (dead, live)
    }
    with psycopg.connect(site.db.admin_dsn, autocommit=True) as admin, psycopg.connect(
        site.db.admin_dsn, autocommit=True
    ) as running:
        for db, role in names.values():
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(db), sql.Identifier(role)))  # fmt: skip
        running.execute("SELECT pg_advisory_lock(%s)", (_import_lock_key(live),))
        try:
            archive = make_zip(tmp_path / "ok.zip", TABLE)
            code, text = run_cli(site, capsys, "backup", "import-odoo", str(archive))
            assert code == 0, text
            assert f"database {names[dead][0]}" in text and f"role {names[dead][1]}" in text
            left = {
                r[0]
                for r in admin.execute(
                    "SELECT datname FROM pg_database WHERE datname = ANY(%(n)s)"
                    " UNION ALL SELECT rolname FROM pg_roles WHERE rolname = ANY(%(n)s)",
                    {"n": [n for pair in names.values() for n in pair]},
                ).fetchall()
            }
            assert left == set(names[live])  # the running import's are untouched
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(names[live][0])))  # fmt: skip
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(names[live][1])))
