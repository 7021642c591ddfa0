"""``odoo-ops dr drill`` on the real Odoo 18 with a database of ``--db-gib`` GiB: the RTO.

    python bench/dr_drill.py [--dsn postgresql://postgres@127.0.0.1:5432/postgres]
        [--db-gib 1.0] [--keep]

* **Odoo**: the trimmed real Odoo 18 of ``../shared/odoo`` with its venv
  (``$ODOO_OPS_REAL_ODOO18``, else built once under ``~/.cache/odoo-ops-test``
  by ``tests/real/odoo18_env.py``).
* **Database**: the shared 18.0 dump ``../shared/fixtures/odoo18-base-mail-oca.dump``
  (31 modules, OCA ones included) restored into ``odoo_ops_dr_bench`` owned by a
  login role (Odoo refuses the superuser), then grown server-side with
  ``generate_series`` rows of ``mail_message`` (chatter messages: HTML bodies,
  subjects, authors, indexes) until ``pg_database_size`` reaches ``--db-gib``.
* **Run**: an odoo-ops project around it (runner local, odoo.conf, a ``file://``
  remote, ``[dr] login = "admin"``): ``backup create``, ``backup push --remote nas``,
  then ``dr drill --from nas --format json`` — fetch, restore neutralized into a
  scratch database, start the real Odoo on it, log in as admin through
  ``/web/login``, compare, tear down. The drill's RTO and its phases are printed
  (JSON on the last line), with the database and backup sizes.

Everything made is removed at the end (``--keep`` keeps the work directory and
the database).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.real import odoo18_env  # noqa: E402

DUMP = ROOT.parent / "shared" / "fixtures" / "odoo18-base-mail-oca.dump"
DB = "odoo_ops_dr_bench"
ROLE = "odoo_ops_bench"


def log(text: str) -> None:
    print(text, flush=True)


def odoo_home() -> Path:
    configured = os.environ.get(odoo18_env.ENV_VAR)
    if configured and (Path(configured) / "READY").is_file():
        return Path(configured)
    return odoo18_env.ensure(odoo18_env.DEFAULT_TARBALL, odoo18_env.default_cache())


def admin(dsn: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(dsn, autocommit=True)


def drop(dsn: str, name: str) -> None:
    with admin(dsn) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


def make_database(dsn: str, gib: float) -> int:
    """The shared dump restored (owned by ROLE), grown to ``gib``; its size in bytes."""
    with admin(dsn) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ROLE,)).fetchone():
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEDB").format(sql.Identifier(ROLE)))
    drop(dsn, DB)
    with admin(dsn) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
                sql.Identifier(DB), sql.Identifier(ROLE)
            )
        )
    params = conninfo_to_dict(dsn)
    role_dsn = make_conninfo("", **{**params, "user": ROLE, "dbname": DB})
    subprocess.run(
        ["pg_restore", "--no-owner", "--no-privileges", "-j", "2", "-d", role_dsn, str(DUMP)],
        check=True, capture_output=True,
    )  # fmt: skip
    with psycopg.connect(role_dsn, autocommit=True) as conn:
        author = conn.execute("SELECT min(id) FROM res_partner").fetchone()
        partner = author[0] if author else None
        batch = 0
        while True:
            size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
            assert size is not None
            if int(size[0]) >= gib * 1024**3:
                return int(size[0])
            batch += 1
            # 50,000 chatter messages of 0.3-0.8 KB per round (HTML bodies of distinct
            # hex words: about as compressible as real text once compressed, ~2x)
            conn.execute(
                """
                INSERT INTO mail_message (model, res_id, message_type, subject, body,
                    author_id, date, create_date, write_date, create_uid, write_uid,
                    record_name, email_from)
                SELECT 'res.partner', %(partner)s, 'comment',
                       'Order follow-up #' || g,
                       '<p>' || (SELECT string_agg(md5(g::text || '-' || i), ' ')
                                 FROM generate_series(1, 8 + g %% 16) AS i) || '</p>',
                       %(partner)s, now() - (g || ' minutes')::interval, now(), now(), 1, 1,
                       'Partner ' || (g %% 997), 'customer' || (g %% 5000) || '@example.com'
                FROM generate_series(%(lo)s, %(hi)s) AS g
                """,
                {"partner": partner, "lo": batch * 50_000, "hi": batch * 50_000 + 49_999},
            )


def cli(root: Path, *args: str, timeout: float = 3600) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "odoo_ops.cli.main", *args], cwd=root, capture_output=True,
        text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"},
    )  # fmt: skip
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"odoo-ops {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return seconds, proc.stdout


def write_project(root: Path, home: Path, dsn: str) -> None:
    params = conninfo_to_dict(dsn)
    host, port = params.get("host", "127.0.0.1"), params.get("port", 5432)
    source = home / odoo18_env.SOURCE_DIR
    addons = f"{source / 'odoo' / 'addons'},{source / 'extra-addons'}"
    data_dir = root / "data"
    data_dir.mkdir()
    (root / "odoo.conf").write_text(
        "[options]\n"
        f"addons_path = {addons}\ndata_dir = {data_dir}\n"
        f"db_host = {host}\ndb_port = {port}\ndb_user = {ROLE}\ndb_password = False\n"
        f"db_name = {DB}\nlist_db = False\nworkers = 0\nmax_cron_threads = 0\n"
        f"logfile = {root / 'odoo.log'}\nlog_level = info\n"
    )
    role_dsn = make_conninfo("", **{**params, "user": ROLE, "dbname": DB})
    command = json.dumps([str(home / "venv" / "bin" / "python"), str(source / "odoo-bin")])
    (root / "nas").mkdir()
    (root / "odoo-ops.toml").write_text(
        'default_deployment = "bench"\n[deployments.bench]\nrunner = "local"\n'
        f'series = "18.0"\nproduction = false\nodoo_command = {command}\n'
        f'odoo_conf = "odoo.conf"\ndatabase = "{DB}"\ndsn = {json.dumps(role_dsn)}\n'
        f'data_dir = "data"\nbackup_dir = "backups"\n'
        '[[backup.remotes]]\nname = "nas"\n'
        f'url = "file://{root / "nas"}"\n'
        '[dr]\nrto_minutes = 15\nrpo_minutes = 60\nlogin = "admin"\npassword = "admin"\n'
    )


def restore_floor(dsn: str, work: Path) -> float:
    """Seconds of ``pg_restore -j 2`` of an uncompressed directory dump of the database
    into a new one: PostgreSQL's own load and index builds, the restore phase's floor."""
    params = conninfo_to_dict(dsn)
    source = make_conninfo("", **{**params, "dbname": DB})
    dump = work / "floor.dump"
    subprocess.run(["pg_dump", "-Fd", "-Z0", "-j", "2", "-f", str(dump), "-d", source],
                   check=True, capture_output=True)  # fmt: skip
    name = f"{DB}_floor"
    drop(dsn, name)
    with admin(dsn) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template0").format(
            sql.Identifier(name), sql.Identifier(ROLE)))  # fmt: skip
    target = make_conninfo("", **{**params, "user": ROLE, "dbname": name})
    start = time.perf_counter()
    try:
        subprocess.run(["pg_restore", "--no-owner", "-j", "2", "-d", target, str(dump)],
                       check=True, capture_output=True)  # fmt: skip
        return time.perf_counter() - start
    finally:
        drop(dsn, name)
        shutil.rmtree(dump, ignore_errors=True)


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--db-gib", type=float, default=1.0)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--no-floor", action="store_true",
                        help="skip the pg_restore floor (what the restore phase cannot beat)")
    args = parser.parse_args()
    home = odoo_home()
    work = Path(tempfile.mkdtemp(prefix="odoo-ops-bench-dr-"))
    try:
        start = time.perf_counter()
        db_bytes = make_database(args.dsn, args.db_gib)
        log(f"database {db_bytes / 1024**3:.2f} GiB made in {time.perf_counter() - start:.0f} s")
        write_project(work, home, args.dsn)
        seconds, _ = cli(work, "backup", "create", "--format", "json")
        name = sorted(p.name for p in (work / "backups").iterdir() if p.is_dir())[-1]
        backup_bytes = du(work / "backups" / name)
        log(f"backup create {seconds:.1f} s ({backup_bytes / 1024**2:.0f} MiB)")
        seconds, _ = cli(work, "backup", "push", name, "--remote", "nas")
        log(f"backup push {seconds:.1f} s")
        load = os.getloadavg()[0]
        seconds, out = cli(work, "dr", "drill", "--from", "nas", "--format", "json")
        result = json.loads(out)
        log(f"dr drill {seconds:.1f} s (process), RTO {result['rto_seconds']} s,"
            f" phases {result['phases']}, problems {result['problems']}")  # fmt: skip
        floor = restore_floor(args.dsn, work) if not args.no_floor else None
        if floor is not None:
            log(f"floor: pg_restore -j 2 of an uncompressed directory dump {floor:.1f} s")
        print(json.dumps({
            "db_gib": round(db_bytes / 1024**3, 2), "backup_mib": round(backup_bytes / 1024**2),
            "rto_seconds": result["rto_seconds"], "phases": result["phases"],
            "pg_restore_floor_seconds": None if floor is None else round(floor, 1),
            "ok": result["ok"], "loadavg": round(load, 1),
        }))  # fmt: skip
    finally:
        if not args.keep:
            drop(args.dsn, DB)
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept: {work} and database {DB}")


if __name__ == "__main__":
    main()
