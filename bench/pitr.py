#!/usr/bin/env python3
"""Benchmark: point-in-time recovery with ``odoo-ops pitr`` (pgBackRest).

Creates its own PostgreSQL 15 cluster (``tests/support/pgcluster.py``: initdb
as the ``postgres`` OS user, a free port), sets PITR up through the CLI
(``pitr setup --apply``, ``pitr backup --type full``), then measures:

- **RPO under a steady write load**: a writer commits a row every 100 ms for
  ``--seconds``; every second the age of the newest recoverable moment
  (``now - pg_stat_archiver.last_archived_time``: a commit is recoverable once
  its WAL file is archived) is sampled. Goal: at most ``archive_timeout``
  (``--archive-timeout``; 60 in production) — the nightly backup it replaces
  loses up to 24 h.
- **Restore to a moment into a new database**: a database of ``--db-mb`` MB,
  by default (``--shape odoo``) the real Odoo 18 dump of ``../shared/fixtures``
  grown where Odoo grows (chatter, partners, attachments, notifications,
  followers, external ids: ``bench/odoo_data.py``), so it has Odoo's 215 tables
  and its indexes and foreign keys; ``--shape one-table`` is a single table with
  two indexes instead (the case where parallel jobs have least to share).
  Restored to a time after its creation with ``odoo-ops pitr restore --to
  NEWDB`` against **the manual way**: ``pgbackrest restore --type=time`` into a
  directory, ``pg_ctl start`` on another port, wait for promotion, ``createdb`` + ``pg_dump -Fc |
  pg_restore`` into the live server, ``pg_ctl stop``, ``rm -rf``. Goal:
  ``pitr restore`` ≤ 0.8x the manual way (``--db-mb 1024`` for the issue's
  1 GiB figure; it takes minutes on 2 cores).

    python bench/pitr.py [--seconds 40] [--archive-timeout 10] [--db-mb 300] [--jobs 2]
                         [--shape odoo|one-table] [--repeat 1]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench import odoo_data  # noqa: E402
from tests.support.pgcluster import (  # noqa: E402
    PG_BIN,
    PgCluster,
    free_port,
    make_shared_dir,
    run_as_cluster_user,
    server_available,
)


def odoo_ops(root: Path, *args: str) -> str:
    exe = shutil.which("odoo-ops")
    assert exe, "odoo-ops not on PATH (pip install -e .)"
    proc = subprocess.run([exe, *args, "-C", str(root)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"odoo-ops {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def rpo(cluster: PgCluster, seconds: float) -> list[float]:
    import psycopg

    stop = threading.Event()

    def writer() -> None:
        with psycopg.connect(cluster.dsn("shop"), autocommit=True) as conn:
            while not stop.is_set():
                conn.execute("INSERT INTO tick (at) VALUES (clock_timestamp())")
                time.sleep(0.1)

    thread = threading.Thread(target=writer)
    thread.start()
    samples: list[float] = []
    try:
        with psycopg.connect(cluster.dsn(), autocommit=True) as conn:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                time.sleep(1)
                row = conn.execute("SELECT extract(epoch FROM clock_timestamp()"
                                   " - last_archived_time) FROM pg_stat_archiver").fetchone()
                if row and row[0] is not None:
                    samples.append(float(row[0]))
    finally:
        stop.set()
        thread.join()
    return samples


def settle(cluster: PgCluster) -> None:
    """Let the server finish what the last run left: its WAL archived, a checkpoint.

    Both ways write the whole database into the live server's WAL, which the
    archiver then pushes for a while; the next run must not pay for that
    (``pitr restore`` waits for the archive at its start).
    """
    cluster.execute("CHECKPOINT")
    wal = cluster.execute("SELECT pg_walfile_name(pg_switch_wal())")[0][0]
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        last = cluster.execute("SELECT last_archived_wal FROM pg_stat_archiver")[0][0]
        if last is not None and last >= wal:
            break
        time.sleep(0.5)
    time.sleep(2)


def manual_restore(cluster: PgCluster, pitr_dir: Path, when: str, newdb: str) -> float:
    """pgbackrest restore + pg_ctl start + pg_dump | pg_restore, as a runbook does it."""
    start = time.monotonic()
    scratch = make_shared_dir("oo-pitr-manual-")
    data = scratch / "data"
    run_as_cluster_user(["mkdir", "-m", "700", str(data)])
    run_as_cluster_user(["pgbackrest", f"--config={pitr_dir / 'pgbackrest.conf'}",
                         "--stanza=prod", f"--pg1-path={data}", "--type=time",
                         f"--target={when}", "--target-action=promote", "restore"])
    port = free_port()
    with (data / "postgresql.auto.conf").open("a") as fh:
        fh.write(f"port = {port}\nunix_socket_directories = '{scratch}'\narchive_mode = off\n")
    run_as_cluster_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(scratch / "log"),
                         "-w", "-t", "3600", "start"])
    import psycopg

    while True:
        with psycopg.connect(f"host={scratch} port={port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            if not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:  # type: ignore[index]
                break
        time.sleep(0.2)
    cluster.execute(f'CREATE DATABASE "{newdb}"')
    dump = subprocess.Popen(["pg_dump", "-Fc", "-Z0", "-h", str(scratch), "-p", str(port),
                             "-U", "postgres", "shop"], stdout=subprocess.PIPE)
    subprocess.run(["pg_restore", "-h", str(cluster.socket_dir), "-p", str(cluster.port),
                    "-U", "postgres", "-d", newdb], stdin=dump.stdout, check=True)
    assert dump.stdout is not None
    dump.stdout.close()
    assert dump.wait() == 0
    run_as_cluster_user([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"])
    shutil.rmtree(scratch)
    return time.monotonic() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--archive-timeout", type=int, default=10)
    ap.add_argument("--db-mb", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--shape", choices=("odoo", "one-table"), default="odoo",
                    help="odoo: the real Odoo 18 dump grown to --db-mb (bench/odoo_data.py);"
                    " one-table: a single table of --db-mb with two indexes")
    ap.add_argument("--repeat", type=int, default=1,
                    help="restores of each way, alternating which goes first")
    args = ap.parse_args()
    reason = server_available() or (None if shutil.which("pgbackrest") else "pgbackrest missing")
    if args.shape == "odoo" and not odoo_data.DUMP.is_file():
        reason = f"{odoo_data.DUMP} missing (../shared/fixtures)"
    if reason:
        print(f"cannot run: {reason}")
        return 2
    cluster = PgCluster.create(settings={"wal_level": "replica", "archive_mode": "on",
                                         "max_wal_size": "1GB", "shared_buffers": "128MB"})
    pitr_dir = make_shared_dir("oo-pitr-bench-")
    root = make_shared_dir("oo-pitr-proj-")
    try:
        cluster.start()
        if args.shape == "odoo":
            odoo_data.restore_dump(cluster.dsn("postgres"), "shop")
        else:
            cluster.execute("CREATE DATABASE shop")
        cluster.execute("CREATE TABLE tick (id serial PRIMARY KEY, at timestamptz)", dbname="shop")
        (root / "odoo-ops.toml").write_text(
            f'default_deployment = "prod"\n[deployments.prod]\ndsn = "{cluster.dsn("shop")}"\n'
            f'database = "shop"\n[pitr]\ndir = "{pitr_dir}"\npg_data = "{cluster.data}"\n'
            f"archive_timeout = {args.archive_timeout}\njobs = {args.jobs}\n"
            f"process_max = {args.jobs}\n"
        )
        odoo_ops(root, "pitr", "setup", "--apply")
        if args.shape == "odoo":
            print(f"growing the real Odoo 18 database to ~{args.db_mb} MB ...", flush=True)
            odoo_data.grow(cluster.dsn("shop"), args.db_mb * 2**20)
        else:
            print(f"generating ~{args.db_mb} MB of rows in one table ...", flush=True)
            cluster.execute(
                "CREATE TABLE res_partner AS SELECT g AS id, md5(g::text) AS name,"
                " repeat(md5((g * 7)::text), 14) AS comment, now() AS write_date"
                f" FROM generate_series(1, {args.db_mb * 2**20 // 600}) g;"
                "CREATE INDEX ON res_partner (name); ALTER TABLE res_partner ADD PRIMARY KEY (id)",
                dbname="shop",
            )
        tables = cluster.execute(
            "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind = 'r' AND n.nspname = 'public'", dbname="shop")[0][0]
        post = cluster.execute(
            "SELECT (SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid"
            "         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public')"
            " + (SELECT count(*) FROM pg_constraint WHERE contype = 'f')", dbname="shop")[0][0]
        rows = cluster.execute("SELECT count(*) FROM res_partner", dbname="shop")[0][0]
        size = cluster.execute("SELECT pg_database_size('shop')")[0][0]
        t0 = time.monotonic()
        odoo_ops(root, "pitr", "backup", "--type", "full")
        print(f"database {size / 2**20:.0f} MB ({args.shape}: {tables} tables, {post} indexes"
              f" and foreign keys); full backup {time.monotonic() - t0:.1f} s")

        samples = rpo(cluster, args.seconds)
        print(f"\nRPO under steady writes (archive_timeout = {args.archive_timeout} s,"
              f" {len(samples)} samples over {args.seconds:.0f} s):")
        print(f"  newest recoverable moment age: median {statistics.median(samples):.1f} s,"
              f" max {max(samples):.1f} s  (goal ≤ {args.archive_timeout} s;"
              f" a nightly backup: up to 86400 s = {86400 / max(samples):.0f}x worse)")

        when = str(cluster.execute("SELECT clock_timestamp()")[0][0])
        cluster.execute("INSERT INTO tick (at) VALUES (now())", dbname="shop")
        manual_s: list[float] = []
        ours_s: list[float] = []
        steps: list[str] = []
        for run in range(args.repeat):
            # alternate which way goes first; each starts on a settled server
            for way in (("manual", "ours") if run % 2 == 0 else ("ours", "manual")):
                settle(cluster)
                if way == "manual":
                    manual_s.append(manual_restore(cluster, pitr_dir, when, "shop_manual"))
                    continue
                t0 = time.monotonic()
                out = odoo_ops(root, "pitr", "restore", "--time", when, "--to", "shop_pitr")
                ours_s.append(time.monotonic() - t0)
                steps = [ln.strip() for ln in out.splitlines() if ln.strip().endswith(" s")]
            count = [cluster.execute("SELECT count(*) FROM res_partner", dbname=d)[0][0]
                     for d in ("shop_manual", "shop_pitr")]
            assert count[0] == count[1] == rows, count
            for name in ("shop_manual", "shop_pitr"):
                cluster.execute(f'DROP DATABASE "{name}"')
        manual = statistics.median(manual_s)
        ours = statistics.median(ours_s)
        print(f"\nrestore of {size / 2**20:.0f} MB to a moment into a new database"
              f" (median of {args.repeat}):")
        print(f"  manual (pgbackrest restore, pg_ctl start, pg_dump | pg_restore): {manual:6.1f} s"
              f"  ({', '.join(f'{x:.1f}' for x in manual_s)})")
        print(f"  odoo-ops pitr restore (--db-include, -j {args.jobs}):"
              f"{'':14}{ours:6.1f} s  ({', '.join(f'{x:.1f}' for x in ours_s)})"
              f"  = {ours / manual:.2f}x (goal ≤ 0.8x)")
        pairs = [o / m for m, o in zip(manual_s, ours_s, strict=True)]
        print(f"  pairs (same round): {', '.join(f'{r:.2f}x' for r in pairs)};"
              f" median {statistics.median(pairs):.2f}x")
        print("  its steps (last run): " + "; ".join(steps))
    finally:
        cluster.destroy()
        shutil.rmtree(pitr_dir, ignore_errors=True)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
