#!/usr/bin/env python3
"""Benchmark: instant rollback (template copy + rename) vs a full restore.

Builds a database of Odoo-like rows of at least --size-gb (default 1.0) on
the local PostgreSQL, then times side by side:

- what a deploy pays at its rollback point: ``CREATE DATABASE … TEMPLATE``
  (odoo_ops.deploy.instant.create_copy);
- the instant rollback itself: renaming the copy into place
  (odoo_ops.deploy.instant.restore_copy);
- a full restore of the same database from an odoo-ops backup
  (``odoo-ops backup restore --force``), what a rollback without a copy does;
- and, for reference, ``pg_restore -j 2`` of a ``pg_dump -Fc``.

Prints seconds and the ratio full-restore / instant-rollback. Not part of
the test suite. Drops everything it created.

    python bench/rollback.py [--size-gb 1.0] [--dsn postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

DB = "odoo_ops_bench_rollback"


def admin(dsn: str) -> psycopg.Connection:
    return psycopg.connect(dsn, autocommit=True)


def drop(dsn: str, *names: str) -> None:
    with admin(dsn) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def build(dsn: str, size_gb: float) -> int:
    drop(dsn, DB)
    with admin(dsn) as conn:
        conn.execute(f'CREATE DATABASE "{DB}"')
    target = int(size_gb * (1 << 30))
    with psycopg.connect(make_conninfo(dsn, dbname=DB), autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE ir_module_module (id serial PRIMARY KEY, name varchar UNIQUE,"
            " state varchar, latest_version varchar)"
        )
        conn.execute("INSERT INTO ir_module_module (name, state, latest_version)"
                     " SELECT 'mod_' || g, 'installed', '18.0.1.0' FROM generate_series(1,300) g")
        conn.execute(
            "CREATE TABLE mail_message (id serial PRIMARY KEY, model varchar, res_id int,"
            " author_id int, date timestamp, subject varchar, body text, tracking jsonb)"
        )
        batch = 0
        while True:
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            if size >= target:
                break
            conn.execute(
                "INSERT INTO mail_message (model, res_id, author_id, date, subject, body, tracking)"
                " SELECT 'res.partner', g %% 5000, g %% 97, now() - (g || ' minutes')::interval,"
                " 'Subject ' || g, repeat(md5(g::text), 12) || ' <p>message body</p>',"
                " jsonb_build_object('old', g, 'new', g + 1)"
                " FROM generate_series(%s, %s) g",
                (batch * 200_000 + 1, (batch + 1) * 200_000),
            )
            batch += 1
        conn.execute("CREATE INDEX ON mail_message (model, res_id)")
        conn.execute("CREATE INDEX ON mail_message (date)")
        conn.execute("VACUUM ANALYZE")
        return int(conn.execute("SELECT pg_database_size(current_database())").fetchone()[0])


def timed(label: str, func) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    func()
    seconds = time.perf_counter() - start
    print(f"  {label:<48} {seconds:8.2f} s", flush=True)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gb", type=float, default=1.0)
    parser.add_argument("--dsn", default=os.environ.get(
        "ODOO_OPS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres"))
    args = parser.parse_args()
    from odoo_ops.adapters import Database
    from odoo_ops.deploy.instant import create_copy, restore_copy

    work = Path(tempfile.mkdtemp(prefix="odoo-ops-bench-rollback-"))
    copy_name = f"{DB}_odoo_ops_rb"
    try:
        print(f"building {args.size_gb:g} GB database {DB} …", flush=True)
        size = build(args.dsn, args.size_gb)
        print(f"  database size: {size / (1 << 30):.2f} GB")
        db_dsn = make_conninfo(args.dsn, dbname=DB)
        params = conninfo_to_dict(args.dsn)
        (work / "odoo-ops.toml").write_text(
            f'[deployments.bench]\nrunner = "local"\ndatabase = "{DB}"\ndsn = "{db_dsn}"\n'
            f'backup_dir = "backups"\nseries = "18.0"\n[backup]\njobs = 2\n'
        )
        exe = shutil.which("odoo-ops") or f"{sys.executable} -m odoo_ops.cli.main"
        subprocess.run([*exe.split(), "backup", "create", "--name", "bench"], cwd=work,
                       check=True, capture_output=True)
        env = {**os.environ, "PGHOST": str(params.get("host", "127.0.0.1")),
               "PGPORT": str(params.get("port", 5432)), "PGUSER": str(params.get("user",
                                                                                 "postgres"))}
        subprocess.run(["pg_dump", "-Fc", "-f", str(work / "plain.dump"), DB], check=True,
                       env=env)
        database = Database(db_dsn)
        print("side by side:")
        t_copy = timed("rollback point: CREATE DATABASE … TEMPLATE",
                       lambda: create_copy(database, DB, copy_name, None))
        from odoo_ops.deploy.instant import InstantCopy

        t_instant = timed("instant rollback: rename copy into place",
                          lambda: restore_copy(database, InstantCopy(DB, copy_name)))
        t_full = timed("full restore: odoo-ops backup restore --force",
                       lambda: subprocess.run([*exe.split(), "backup", "restore", "bench",
                                               "--to", DB, "--force"], cwd=work, check=True,
                                              capture_output=True))
        drop(args.dsn, DB + "_pg_restore")
        with admin(args.dsn) as conn:
            conn.execute(f'CREATE DATABASE "{DB}_pg_restore"')
        t_pg = timed("reference: pg_restore -j 2 of pg_dump -Fc",
                     lambda: subprocess.run(["pg_restore", "-j", "2", "-d", DB + "_pg_restore",
                                             str(work / "plain.dump")], check=True, env=env))
        print()
        print(f"ratio full restore / instant rollback: {t_full / max(t_instant, 1e-6):8.1f}x")
        print(f"ratio pg_restore / instant rollback:   {t_pg / max(t_instant, 1e-6):8.1f}x")
        print(f"(the copy itself costs {t_copy:.1f} s at the rollback point, before the change)")
    finally:
        with admin(args.dsn) as conn:
            rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE %s",
                                (DB + "%",)).fetchall()
        drop(args.dsn, *[r[0] for r in rows])
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
