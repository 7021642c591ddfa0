#!/usr/bin/env python3
"""Benchmark ``odoo-ops audit broken`` and ``audit modules`` against the same SQL in psql.

What it does, in one run:

1. Builds an Odoo 18-shaped database per size (``--scales``, default 1 and 2)
   on the local PostgreSQL (``ODOO_OPS_TEST_PG``, default
   ``postgresql://postgres@127.0.0.1:5432/postgres``) with ``generate_series``:
   at scale 1, 3,000 modules, 20,000 menus (200 roots) leading to 5,000 window
   actions, and 100,000 ``ir_model_data`` rows of 20 models with real tables
   plus 25,000 external ids of the menus and actions; planted breakage that
   does not grow with the scale: 25 menus whose action is gone, 50 dangling
   external ids, 10 modules stuck in 'to upgrade'. An addons path of 100 small
   addons (one registers client-action tags) sits beside it.
2. Collects the SQL the audits run (``AuditReport.queries``), writes it to a
   file, and runs it with ``psql -X -q -f FILE -o /dev/null`` -- the floor a
   user pays for the same answers by hand.
3. Runs, alternating, ``--repeat`` times each: ``odoo-ops audit broken
   --format json`` and ``odoo-ops audit modules --format json`` (the installed
   CLI, as subprocesses, output discarded) and the psql floor; records the wall
   time and peak resident memory of each child (``os.wait4``), plus
   ``odoo-ops --version`` (the interpreter + import start-up).
4. Prints medians, the ratio odoo-ops / psql, and peak memory per size, so
   that memory growth with the number of rows shows (or not).

Not part of the test suite. Usage::

    python bench/audit.py [--scales 1,2] [--repeat 5] [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: E402
from tests.support import odoo_schema as S  # noqa: E402

ADMIN_DSN = os.environ.get("ODOO_OPS_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def generate(conn: psycopg.Connection, scale: int) -> dict[str, int]:
    """Fill a seeded Odoo 18 schema with generate_series rows."""
    n_mod, n_menu, n_act, n_xml = 3000 * scale, 20000 * scale, 5000 * scale, 100000 * scale
    ex = conn.execute
    ex("""INSERT INTO ir_module_module (name, state, latest_version, shortdesc, author, license,
              website, application, auto_install)
          SELECT 'bench_mod_' || i,
                 CASE WHEN i %% 3 = 0 THEN 'installed' ELSE 'uninstalled' END,
                 CASE WHEN i %% 3 = 0 THEN '18.0.1.0.' || (i %% 7) END,
                 jsonb_build_object('en_US', 'Bench module ' || i),
                 CASE WHEN i %% 5 = 0 THEN 'Odoo Community Association (OCA)' ELSE 'Bench' END,
                 'LGPL-3', NULL, false, false
          FROM generate_series(1, %s) i""", (n_mod,))
    ex("UPDATE ir_module_module SET state = 'to upgrade' WHERE name IN"
       " (SELECT 'bench_mod_' || (i * 3) FROM generate_series(1, 10) i)")
    wmin = ex("""INSERT INTO ir_act_window (type, binding_type, name, context, res_model,
                  view_mode, target)
              SELECT 'ir.actions.act_window', 'action', jsonb_build_object('en_US', 'Act ' || i),
                     '{}', 'res.partner', 'list,form', 'current'
              FROM generate_series(1, %s) i RETURNING id""", (n_act,)).fetchall()
    act_ids = [r[0] for r in wmin]
    a0 = min(act_ids)
    base = ex("SELECT coalesce(max(id), 0) FROM ir_ui_menu").fetchone()[0]
    ex("""INSERT INTO ir_ui_menu (id, name, active, sequence, parent_path)
          SELECT %s + i, jsonb_build_object('en_US', 'Root ' || i), true, i,
                 (%s + i) || '/'
          FROM generate_series(1, 200) i""", (base, base))
    ex("""INSERT INTO ir_ui_menu (id, name, active, sequence, parent_id, action, parent_path)
          SELECT %(b)s + 200 + i, jsonb_build_object('en_US', 'Menu ' || i), true, i,
                 %(b)s + 1 + (i %% 200),
                 'ir.actions.act_window,' || (%(a0)s + (i %% %(na)s)),
                 (%(b)s + 1 + (i %% 200)) || '/' || (%(b)s + 200 + i) || '/'
          FROM generate_series(1, %(n)s) i""",
       {"b": base, "a0": a0, "na": n_act, "n": n_menu - 200})
    ex("SELECT setval('ir_ui_menu_id_seq', (SELECT max(id) FROM ir_ui_menu))")
    # planted: 25 menus whose action is gone
    ex("UPDATE ir_ui_menu SET action = 'ir.actions.act_window,' || (900000000 + id)"
       " WHERE id IN (SELECT %s + 200 + i * 97 FROM generate_series(1, 25) i)", (base,))
    for k in range(20):
        ex(f"CREATE TABLE bench_t_{k} (id serial PRIMARY KEY, name varchar)")
        ex(f"INSERT INTO bench_t_{k} (name) SELECT 'r' || i FROM generate_series(1, %s) i",
           (n_xml // 20,))
        S.add_model(conn, f"bench.t.{k}")
    ex("""INSERT INTO ir_model_data (module, name, model, res_id, noupdate)
          SELECT 'bench_mod_' || (i %% 3000 + 1), 'rec_' || i, 'bench.t.' || (i %% 20),
                 (i / 20) + 1, false
          FROM generate_series(0, %s - 1) i""", (n_xml,))
    ex("""INSERT INTO ir_model_data (module, name, model, res_id)
          SELECT 'bench_ui', 'menu_' || id, 'ir.ui.menu', id FROM ir_ui_menu WHERE id > %s""",
       (base,))
    ex("""INSERT INTO ir_model_data (module, name, model, res_id)
          SELECT 'bench_ui', 'act_' || id, 'ir.actions.act_window', id FROM ir_act_window
          WHERE id >= %s""", (a0,))
    # planted: 50 dangling external ids
    ex("""INSERT INTO ir_model_data (module, name, model, res_id)
          SELECT 'bench_gone', 'gone_' || i, 'bench.t.' || (i % 20), 99999999 + i
          FROM generate_series(1, 50) i""")
    ex("ANALYZE")
    counts = {}
    for table in ("ir_module_module", "ir_ui_menu", "ir_model_data", "ir_act_window"):
        counts[table] = ex(f"SELECT count(*) FROM {table}").fetchone()[0]
    return counts


def write_addons(root: Path, n: int = 100) -> None:
    for i in range(1, n + 1):
        d = root / f"bench_mod_{i * 3}"
        (d / "static" / "src").mkdir(parents=True)
        (d / "__init__.py").write_text("")
        (d / "__manifest__.py").write_text(repr({
            "name": f"Bench {i}", "version": "18.0.1.0.1", "depends": ["base"],
            "license": "LGPL-3", "author": "Bench"}))
        if i == 1:
            (d / "static" / "src" / "a.js").write_text(
                'registry.category("actions").add("bench.tag", A);\n')


GNU_TIME = shutil.which("time") if Path("/usr/bin/time").exists() else None


def run_child(argv: list[str], cwd: Path | None = None) -> tuple[float, int, int]:
    """Wall seconds, peak RSS (KB) and exit code of one child process.

    The peak RSS is taken by GNU time when present: a child forked from this
    (large) process would report this process's pages in its ru_maxrss.
    """
    rss_file = None
    if GNU_TIME:
        fd, rss_file = tempfile.mkstemp(prefix="rss-")
        os.close(fd)
        argv = [GNU_TIME, "-f", "%M", "-o", rss_file, *argv]
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{argv} failed ({proc.returncode}): {err}")
    rss = usage.ru_maxrss
    if rss_file:
        rss = int(Path(rss_file).read_text().split()[-1])
        os.unlink(rss_file)
    return wall, rss, proc.returncode


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--scales", default="1,2")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--keep", action="store_true", help="keep the generated databases")
    args = ap.parse_args()
    exe = shutil.which("odoo-ops") or sys.exit("odoo-ops is not installed (pip install -e .)")
    psql = shutil.which("psql") or sys.exit("psql is not installed")

    from odoo_ops.adapters.database import Database
    from odoo_ops.addons import scan_addons_path
    from odoo_ops.audit.broken import audit_broken
    from odoo_ops.audit.modules import audit_modules

    results = []
    startup = [run_child([exe, "--version"])[0] for _ in range(args.repeat)]
    tmp = Path(tempfile.mkdtemp(prefix="odoo-ops-bench-audit-"))
    admin = psycopg.connect(ADMIN_DSN, autocommit=True)
    try:
        addons = tmp / "addons"
        write_addons(addons)
        for scale in [int(s) for s in args.scales.split(",")]:
            name = f"bench_audit_{scale}"
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
            dsn = make_conninfo(ADMIN_DSN, dbname=name)
            t0 = time.perf_counter()
            with psycopg.connect(dsn, autocommit=True) as conn:
                S.create_odoo_schema(conn, 18)
                S.seed_base(conn, 18)
                counts = generate(conn, scale)
            gen = time.perf_counter() - t0
            print(f"scale {scale}: generated in {gen:.1f}s: {counts}", flush=True)
            proj = tmp / f"proj{scale}"
            proj.mkdir()
            (proj / "odoo-ops.toml").write_text(
                f'[deployments.bench]\ndsn = "{dsn}"\naddons_paths = ["{addons}"]\n')
            scan = scan_addons_path([str(addons)])
            db = Database(dsn, statement_timeout=600)
            broken = audit_broken(db, scan)
            modules = audit_modules(db, scan)
            print(f"  audit broken: {len(broken.findings)} findings {broken.summary()}")
            print(f"  audit modules: {len(modules.rows)} rows, {len(modules.report.findings)} "
                  "findings")
            user = conninfo_to_dict(dsn)
            psql_argv = [psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-o", os.devnull,
                         "-h", str(user.get("host") or "127.0.0.1"),
                         "-p", str(user.get("port") or 5432),
                         "-U", str(user.get("user") or "postgres"), "-d", name]
            for label, report in (("broken", broken), ("modules", modules.report)):
                sql = tmp / f"{label}{scale}.sql"
                body = ";\n".join(q.rstrip().rstrip(";") for q in report.queries) + ";\n"
                # the same transaction shape odoo-ops uses: READ ONLY
                sql.write_text("BEGIN READ ONLY;\n" + body + "COMMIT;\n")
                ours, floor, mem, inproc = [], [], [], []
                for _ in range(args.repeat):
                    t = time.perf_counter()
                    if label == "broken":
                        audit_broken(db, scan)
                    else:
                        audit_modules(db, scan)
                    inproc.append(time.perf_counter() - t)
                    w, rss, _code = run_child([exe, "audit", label, "--format", "json"], proj)
                    ours.append(w)
                    mem.append(rss)
                    w, _rss, _code = run_child([*psql_argv, "-f", str(sql)])
                    floor.append(w)
                print(f"  {label}: peak RSS per run (MB): "
                      + ", ".join(f"{m / 1024:.1f}" for m in mem), flush=True)
                results.append((scale, label, ours, floor, inproc, max(mem),
                                len(report.queries)))
            if not args.keep:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()
        shutil.rmtree(tmp, ignore_errors=True)

    st = min(startup)
    print()
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"odoo-ops start-up (odoo-ops --version): best {st:.3f}s of {args.repeat}")
    print("best-of-N (median) seconds; in-process = the audit call alone, no interpreter "
          "start-up")
    print(f"{'scale':>5} {'audit':>8} {'queries':>7} {'odoo-ops CLI':>16} {'psql floor':>16} "
          f"{'in-process':>16} {'CLI/psql':>9} {'in-proc/psql':>12} {'peak RSS MB':>11}")

    def cell(values: list[float]) -> str:
        return f"{min(values):.3f} ({statistics.median(values):.3f})"

    for scale, label, ours, floor, inproc, rss, nq in results:
        print(f"{scale:>5} {label:>8} {nq:>7} {cell(ours):>16} {cell(floor):>16} "
              f"{cell(inproc):>16} {min(ours) / min(floor):>9.2f} "
              f"{min(inproc) / min(floor):>12.2f} {rss / 1024:>11.1f}")


if __name__ == "__main__":
    main()
