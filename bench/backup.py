#!/usr/bin/env python3
"""Benchmark: odoo-ops backup create/restore against pg_dump -Fc + tar czf / pg_restore + tar xzf.

Generates (server-side, with generate_series) a database of Odoo-like rows
(res_partner and mail_message shaped tables with text and jsonb, with their
indexes) of at least ``--db-gb`` GB, and a filestore of ``--files`` files
(about ``--fs-mb`` MB; a mix of compressible documents and incompressible
images/PDFs, named like Odoo's sha1 layout), then times side by side:

- create:  ``pg_dump -Fc`` + ``tar czf`` (one after the other, as in the
  usual cron script)  vs  ``odoo-ops backup create`` (the default, the former
  default directory dump gzipped by pg_dump, and the older zstd stream) vs
  **the create floor**: ``pg_dump -Fd -Z0 -j N`` with the filestore copied
  (``cp -a``) at the same time — no compression at all;
- restore: ``createdb`` + ``pg_restore`` + ``tar xzf``  vs
  ``odoo-ops backup restore`` (into a new database and filestore; it
  checks every checksum on the bytes it restores, which is counted) vs
  **the floor**: ``pg_restore -j N`` of an uncompressed directory dump of the
  same database with the filestore copied (``cp -a``) at the same time — the
  best any tool can do on this machine. Restore ratios are printed against
  both the manual way and the floor.

It prints times, sizes, ratios, and odoo-ops' own peak RSS (the Python
process, sampled every 20 ms; pg_dump/pg_restore/zstd are separate
programs). Everything generated is removed at the end (``--keep`` keeps it).

    python bench/backup.py [--dsn postgresql://postgres@127.0.0.1/postgres]
        [--db-gb 1.0] [--files 10000] [--fs-mb 520] [--jobs N] [--sweep gzip:1,gzip:3]
        [--workdir DIR] [--keep] [--reuse] [--db-name NAME] [--only-default]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

BENCH_DB = "odoo_ops_backup_bench"  # every database this bench makes starts with it
#: odoo-ops configurations compared with the baseline: (label, extra create options)
VARIANTS: list[tuple[str, list[str]]] = [
    ("default", []),
    ("directory gzip:6 (former)", ["--dump-format", "directory", "--compress", "gzip:6"]),
    ("zstd stream (older)", ["--dump-format", "custom", "--compress", "zstd:3"]),
]


def log(text: str) -> None:
    print(text, flush=True)


def pg_env(dsn: str) -> dict[str, str]:
    params = conninfo_to_dict(dsn)
    env = dict(os.environ)
    for key, var in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"),
                     ("password", "PGPASSWORD")):
        if params.get(key):
            env[var] = str(params[key])
    return env


def generate_database(admin: str, db_gb: float) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {BENCH_DB}")
    dsn = make_conninfo(admin, dbname=BENCH_DB)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '256MB'")
        conn.execute("""
            CREATE TABLE ir_module_module (id serial PRIMARY KEY, name varchar NOT NULL,
                state varchar, latest_version varchar);
            INSERT INTO ir_module_module (name, state, latest_version)
                VALUES ('base', 'installed', '18.0.1.3'), ('mail', 'installed', '18.0.1.18');
            CREATE TABLE res_partner (id serial PRIMARY KEY, name varchar NOT NULL,
                display_name varchar, email varchar, phone varchar, street varchar,
                city varchar, zip varchar, comment text, active boolean DEFAULT true,
                properties jsonb, create_date timestamp, write_date timestamp);
            CREATE TABLE mail_message (id serial PRIMARY KEY, model varchar, res_id integer,
                author_id integer, subject varchar, body text, message_type varchar,
                tracking jsonb, date timestamp, create_date timestamp);
            CREATE TABLE ir_attachment (id serial PRIMARY KEY, name varchar, res_model varchar,
                res_id integer, store_fname varchar, checksum varchar, file_size integer,
                mimetype varchar, type varchar DEFAULT 'binary', create_date timestamp);
        """)
        partners = 400_000
        conn.execute(f"""
            INSERT INTO res_partner (name, display_name, email, phone, street, city, zip,
                comment, properties, create_date, write_date)
            SELECT 'Partner ' || g, 'Company ' || (g % 5000) || ', Partner ' || g,
                   'partner' || g || '@example.' || (ARRAY['com','org','net'])[1 + g % 3],
                   '+32 ' || (400000000 + g), g || ' ' || md5(g::text) || ' street',
                   (ARRAY['Brussels','Liege','Gent','Namur','Paris','Lyon'])[1 + g % 6],
                   (1000 + g % 9000)::text,
                   repeat('Customer since ' || (2000 + g % 24) || '. ', 1 + g % 4)
                     || md5((g * 7)::text),
                   jsonb_build_object('segment', g % 17, 'score', (g * 37) % 1000,
                                      'tags', jsonb_build_array('t' || g % 11, 't' || g % 13)),
                   now() - (g || ' minutes')::interval, now()
            FROM generate_series(1, {partners}) g
        """)
        # mail_message: add batches until the database reaches the target size
        batch = 250_000
        start = 1
        while True:
            conn.execute(f"""
                INSERT INTO mail_message (model, res_id, author_id, subject, body, message_type,
                    tracking, date, create_date)
                SELECT (ARRAY['res.partner','sale.order','account.move','crm.lead'])[1 + g % 4],
                       g % 400000, 1 + g % 400000, 'Re: order S' || lpad((g % 99999)::text, 5, '0'),
                       '<p>Dear customer,</p><p>' || repeat('Thank you for your order. ', 1 + g % 5)
                         || md5(g::text) || ' ' || md5((g + 1)::text) || ' '
                         || substr(repeat(md5((g * 3)::text), 8), 1, 120 + g % 200)
                         || '</p><p>Best regards</p>',
                       (ARRAY['comment','notification','email'])[1 + g % 3],
                       jsonb_build_object('old', g % 7, 'new', g % 9, 'field', 'state'),
                       now() - (g || ' seconds')::interval, now()
                FROM generate_series({start}, {start + batch - 1}) g
            """)
            start += batch
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            # indexes add roughly 12% more: stop when data + indexes reach the target
            if size * 1.12 >= db_gb * 1024**3:
                break
        log("  building indexes")
        conn.execute("""
            CREATE INDEX res_partner_email_idx ON res_partner (email);
            CREATE INDEX res_partner_name_idx ON res_partner (name);
            CREATE INDEX mail_message_res_idx ON mail_message (model, res_id);
            CREATE INDEX mail_message_date_idx ON mail_message (date);
            CREATE INDEX mail_message_author_idx ON mail_message (author_id);
        """)
        conn.execute("VACUUM ANALYZE")


def generate_filestore(root: Path, files: int, total_mb: int, conn_dsn: str) -> int:
    rng = random.Random(42)
    words = ["invoice", "order", "customer", "delivery", "payment", "total", "amount",
             "product", "price", "tax", "discount", "address", "shipping", "reference"]
    average = total_mb * 1024 * 1024 // files
    raw = [min(average * 8, rng.expovariate(1 / average)) for _ in range(files)]
    scale = total_mb * 1024 * 1024 / sum(raw)
    sizes = [max(1024, int(r * scale)) for r in raw]
    total = 0
    rows = []
    for i, size in enumerate(sizes):
        if i % 10 < 4:  # images / compressed PDFs: incompressible
            content = os.urandom(size)
            mimetype = "image/jpeg"
        else:  # text-heavy documents: compressible
            chunk = " ".join(rng.choice(words) for _ in range(200)).encode()
            content = (chunk + os.urandom(64)) * (size // (len(chunk) + 64) + 1)
            content = content[:size]
            mimetype = "application/pdf"
        digest = hashlib.sha1(content).hexdigest()
        path = root / digest[:2] / digest
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        total += len(content)
        rows.append((f"doc{i}", f"{digest[:2]}/{digest}", digest, len(content), mimetype))
    with psycopg.connect(conn_dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO ir_attachment (name, store_fname, checksum, file_size, mimetype)"
            " VALUES (%s, %s, %s, %s, %s)", rows)
    return total


class PeakRss:
    """Samples the RSS of one process (not its children) until stopped."""

    def __init__(self, pid: int) -> None:
        self.peak = 0
        self._proc = psutil.Process(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.peak = max(self.peak, self._proc.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.02)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def timed(argv: list[str], env: dict[str, str], cwd: Path | None = None,
          track: bool = False) -> tuple[float, int]:
    start = time.monotonic()
    proc = subprocess.Popen(argv, env=env, cwd=cwd)
    sampler = PeakRss(proc.pid) if track else None
    rc = proc.wait()
    elapsed = time.monotonic() - start
    peak = sampler.stop() if sampler else 0
    if rc != 0:
        raise SystemExit(f"command failed ({rc}): {' '.join(argv)}")
    return elapsed, peak


def timed_together(commands: list[list[str]], env: dict[str, str]) -> float:
    """Wall time of ``commands`` run at the same time (all must succeed)."""
    start = time.monotonic()
    procs = [subprocess.Popen(argv, env=env) for argv in commands]
    codes = [p.wait() for p in procs]
    elapsed = time.monotonic() - start
    for argv, rc in zip(commands, codes, strict=True):
        if rc != 0:
            raise SystemExit(f"command failed ({rc}): {' '.join(argv)}")
    return elapsed


def du(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    global BENCH_DB, VARIANTS  # one run, one database
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--db-gb", "--size-gb", type=float, default=1.0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2,
                        help="pg_restore -j of the floor (default: the CPUs)")
    parser.add_argument("--sweep", default="",
                        help="also create with these --compress values, e.g. gzip:1,gzip:3"
                             " (size and time only)")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--fs-mb", type=int, default=520)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="Keep the generated data.")
    parser.add_argument("--reuse", action="store_true",
                        help="Reuse the database and filestore kept by a --keep run.")
    parser.add_argument("--db-name", default=BENCH_DB,
                        help="name of the generated database (and prefix of the others)")
    parser.add_argument("--only-default", action="store_true",
                        help="time only odoo-ops' default backup beside the manual way and"
                             " the floor (for the large sizes of the memory check)")
    args = parser.parse_args()
    BENCH_DB = args.db_name
    if args.only_default:
        VARIANTS = VARIANTS[:1]

    work = args.workdir or Path(tempfile.mkdtemp(prefix="odoo-ops-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "data"
    fs = data / "filestore" / BENCH_DB
    env = pg_env(args.dsn)
    odoo_ops = shutil.which("odoo-ops") or sys.exit("odoo-ops is not installed")
    restore_dbs = [f"{BENCH_DB}_baseline_restore", f"{BENCH_DB}_floor_restore"] + [
        f"{BENCH_DB}_ops_restore{i}" for i in range(len(VARIANTS))]
    try:
        if args.reuse:
            for stale in ("backups", "baseline.dump", "baseline-filestore.tgz", ".odoo-ops",
                          "baseline-restored", "floor.dir", "floor-restored", "floor-copied"):
                path = work / stale
                if path.is_dir():
                    shutil.rmtree(path)
                elif path.exists():
                    path.unlink()
            with psycopg.connect(args.dsn, autocommit=True) as conn:
                for name in restore_dbs:
                    conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            for name in restore_dbs:
                shutil.rmtree(data / "filestore" / name, ignore_errors=True)
            fs_bytes = du(fs)
        else:
            log(f"generating >= {args.db_gb} GB of rows in {BENCH_DB} (server-side)...")
            t = time.monotonic()
            generate_database(args.dsn, args.db_gb)
            log(f"  done in {time.monotonic() - t:.0f}s")
            log(f"generating {args.files} filestore files (~{args.fs_mb} MB)...")
            fs_bytes = generate_filestore(fs, args.files, args.fs_mb,
                                          make_conninfo(args.dsn, dbname=BENCH_DB))
        with psycopg.connect(make_conninfo(args.dsn, dbname=BENCH_DB)) as conn:
            db_size = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
        log(f"database {db_size / 1024**3:.2f} GiB, filestore {args.files} files "
            f"{fs_bytes / 1024**2:.0f} MiB")
        (work / "odoo-ops.toml").write_text(
            "[deployments.bench]\n"
            f'dsn = "{make_conninfo(args.dsn, dbname=BENCH_DB)}"\n'
            'data_dir = "data"\nbackup_dir = "backups"\n'
        )
        subprocess.run(["sync"], check=False)

        # -- create ---------------------------------------------------------------
        log("baseline create: pg_dump -Fc, then tar czf ...")
        t_dump, _ = timed(["pg_dump", "-Fc", "-f", str(work / "baseline.dump"), "-d", BENCH_DB],
                          env)
        t_tar, _ = timed(["tar", "czf", str(work / "baseline-filestore.tgz"), "-C",
                          str(data / "filestore"), BENCH_DB], env)
        base_create = t_dump + t_tar
        base_size = du(work / "baseline.dump") + du(work / "baseline-filestore.tgz")
        log(f"  {base_create:.1f}s (pg_dump {t_dump:.1f}s + tar {t_tar:.1f}s), "
            f"{base_size / 1024**2:.0f} MiB")
        log(f"create floor: pg_dump -Fd -Z0 -j {args.jobs} with the filestore copied (cp -a)"
            " at the same time ...")
        create_floor = timed_together([
            ["pg_dump", "-Fd", "-Z0", "-j", str(args.jobs), "-f", str(work / "floor.dir"),
             "-d", BENCH_DB],
            ["cp", "-a", str(fs), str(work / "floor-copied")],
        ], env)
        shutil.rmtree(work / "floor-copied")
        log(f"  {create_floor:.1f}s")
        results = []
        for index, (label, extra) in enumerate(VARIANTS):
            log(f"odoo-ops backup create ({label}) ...")
            name = f"bench{index}"
            t_ops, rss = timed([odoo_ops, "-q", "backup", "create", "--name", name, *extra],
                               env, cwd=work, track=True)
            size = du(work / "backups" / name)
            log(f"  {t_ops:.1f}s, {size / 1024**2:.0f} MiB, peak RSS {rss / 1024**2:.0f} MiB")
            results.append({"label": label, "name": name, "create": t_ops, "size": size,
                            "create_rss": rss})

        sweep = []
        for index, compress in enumerate(c for c in args.sweep.split(",") if c):
            log(f"odoo-ops backup create --compress {compress} (size sweep) ...")
            name = f"sweep{index}"
            t_ops, rss = timed([odoo_ops, "-q", "backup", "create", "--name", name,
                                "--compress", compress], env, cwd=work, track=True)
            size = du(work / "backups" / name)
            log(f"  {t_ops:.1f}s, {size / 1024**2:.0f} MiB")
            sweep.append((compress, t_ops, size))
            shutil.rmtree(work / "backups" / name)

        # -- restore --------------------------------------------------------------
        # the floor's input: the uncompressed directory dump of the create floor
        with psycopg.connect(args.dsn, autocommit=True) as conn:
            for name in restore_dbs:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        log("baseline restore: createdb + pg_restore, then tar xzf ...")
        t_create, _ = timed(["createdb", restore_dbs[0]], env)
        t_restore, _ = timed(["pg_restore", "--no-owner", "-d", restore_dbs[0],
                              str(work / "baseline.dump")], env)
        target = work / "baseline-restored"
        target.mkdir()
        t_untar, _ = timed(["tar", "xzf", str(work / "baseline-filestore.tgz"), "-C",
                            str(target)], env)
        base_restore = t_create + t_restore + t_untar
        log(f"  {base_restore:.1f}s (pg_restore {t_restore:.1f}s + tar {t_untar:.1f}s)")
        log(f"floor: createdb + pg_restore -j {args.jobs} of an uncompressed directory dump,"
            " filestore copied (cp -a) at the same time ...")
        t_fcreate, _ = timed(["createdb", restore_dbs[1]], env)
        floor_fs = work / "floor-restored"
        floor_fs.mkdir()
        t_fboth = timed_together([
            ["pg_restore", "--no-owner", "-j", str(args.jobs), "-d", restore_dbs[1],
             str(work / "floor.dir")],
            ["cp", "-a", str(fs), str(floor_fs)],
        ], env)
        floor_restore = t_fcreate + t_fboth
        log(f"  {floor_restore:.1f}s")
        for index, result in enumerate(results):
            log(f"odoo-ops backup restore ({result['label']}) ...")
            t_ops, rss = timed(
                [odoo_ops, "-q", "backup", "restore", str(result["name"]), "--to",
                 restore_dbs[2 + index]], env, cwd=work, track=True)
            log(f"  {t_ops:.1f}s, peak RSS {rss / 1024**2:.0f} MiB")
            result.update(restore=t_ops, restore_rss=rss)

        log("")
        log(f"data: database {db_size / 1024**3:.2f} GiB, filestore {args.files} files "
            f"{fs_bytes / 1024**2:.0f} MiB; {os.cpu_count()} CPUs; warm page cache for all; "
            f"load average at the end {os.getloadavg()[0]:.1f}")
        log(f"{'':34}{'create':>9}{'ratio':>7}{'restore':>10}{'ratio':>7}{'/floor':>8}"
            f"{'size':>9}{'ratio':>7}{'RSS create':>11}{'RSS restore':>12}")
        log(f"{'manual (pg_dump -Fc + tar czf)':34}{base_create:>8.1f}s{'':>7}"
            f"{base_restore:>9.1f}s{'':>7}{base_restore / floor_restore:>7.2f}x"
            f"{base_size / 1024**2:>6.0f}MiB")
        log(f"{'floor (pg_dump/restore -j' + str(args.jobs) + ' -Z0, cp -a)':34}"
            f"{create_floor:>8.1f}s{base_create / create_floor:>6.2f}x"
            f"{floor_restore:>9.1f}s{base_restore / floor_restore:>6.2f}x{1.0:>7.2f}x")
        for r in results:
            log(f"{'odoo-ops ' + str(r['label']):34}{r['create']:>8.1f}s"
                f"{base_create / r['create']:>6.2f}x{r['restore']:>9.1f}s"
                f"{base_restore / r['restore']:>6.2f}x{r['restore'] / floor_restore:>7.2f}x"
                f"{r['size'] / 1024**2:>6.0f}MiB{r['size'] / base_size:>6.2f}x"
                f"{r['create_rss'] / 1024**2:>8.0f}MiB{r['restore_rss'] / 1024**2:>9.0f}MiB")
        for compress, t_ops, size in sweep:
            log(f"{'odoo-ops --compress ' + compress:34}{t_ops:>8.1f}s"
                f"{base_create / t_ops:>6.2f}x{'':>10}{'':>7}{'':>8}"
                f"{size / 1024**2:>6.0f}MiB{size / base_size:>7.3f}x")
        for r in results:
            log(f"{'  ' + str(r['label']) + ': create / floor':34}"
                f"{r['create'] / create_floor:>8.2f}x")
        log("ratio columns: manual / odoo-ops (higher is faster); /floor: time / the floor's"
            " (1.00x is the best possible); size ratio: odoo-ops / manual")
    finally:
        if args.keep:
            log(f"kept: database {BENCH_DB}, {work} (rerun with --reuse --workdir {work})")
        else:
            with psycopg.connect(args.dsn, autocommit=True) as conn:
                for name in [BENCH_DB, *restore_dbs]:
                    conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                rows = conn.execute(
                    "SELECT datname FROM pg_database WHERE starts_with(datname, %s)",
                    (f"{BENCH_DB}_",)).fetchall()
                for (name,) in rows:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            shutil.rmtree(work, ignore_errors=True)
            log("generated data removed")


if __name__ == "__main__":
    main()
