#!/usr/bin/env python3
"""Benchmark: the `odoo-ops serve` overview over a year of records, 3 deployments.

Builds a project of three deployments, each with a year of records:

- health rounds every 30 minutes (17,520 rounds; the bounded history keeps
  them all), written with health's own writer (``append_history``);
- two deploys a week (104 journal records, one in ten rolled back) with
  their phases;
- a daily backup (365): one real ``odoo-ops backup create`` of an Odoo-shaped
  database on the local PostgreSQL, copied under 364 other names and dates;
- a saved check report a week (52).

Then times, side by side:

- the overview page (``GET /``) of the Starlette application, in process,
  cold (first request) and warm (median of --repeat);
- the health page over 365 days (the heaviest chart);
- what a user would otherwise run for the same answer: ``odoo-ops health``
  is live, so the record-reading commands — ``backup list``, ``golive
  status`` and ``status --no-database`` — once per deployment, as
  subprocesses.

Prints milliseconds, the 200 ms goal for the overview, and ratios.

    python bench/serve.py [--repeat 15] [--dsn postgresql://postgres@127.0.0.1:5432/postgres]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import pg
from tests.support.status_records import (
    clone_backup,
    deploy_record,
    write_check_report,
    write_health,
    write_journal,
)

DEPLOYMENTS = ("prod", "staging", "test")
UTC = dt.UTC


def odoo_ops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("odoo-ops") or "odoo-ops"
    return subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1"}, timeout=600)  # fmt: skip


def build(root: Path, dsn: str, now: dt.datetime) -> None:
    lines = ['default_deployment = "prod"\n']
    for name in DEPLOYMENTS:
        lines.append(f'[deployments.{name}]\ndsn = "{dsn}"\ndata_dir = "data"\n'
                     f'backup_dir = "backups-{name}"\nconnect_timeout = 2\n')  # fmt: skip
    (root / "odoo-ops.toml").write_text("\n".join(lines))
    (root / "data").mkdir()
    made = odoo_ops("backup", "create", "-D", "prod", "--name", "seed", cwd=root)
    if made.returncode != 0:
        sys.exit(f"backup create failed: {made.stderr}")
    seed = root / "backups-prod" / "seed"
    year = now - dt.timedelta(days=365)
    for i, name in enumerate(DEPLOYMENTS):
        t0 = time.perf_counter()
        rounds = []
        at = year
        k = 0
        while at <= now:
            k += 1
            rounds.append((at, k % 97 != 0, 80.0 + (k * 37 % 120)))
            at += dt.timedelta(minutes=30)
        write_health(root, name, rounds)
        records = []
        for week in range(52):
            for day in (1, 4):
                started = year + dt.timedelta(days=week * 7 + day, hours=i)
                rid = f"{started:%Y%m%dT%H%M%S}-{week:02d}{day}"
                bad = (week * 2 + day) % 10 == 0
                records.append(deploy_record(
                    rid, started, [1.5, 0.1, 2.0, 8.0, 3.0, 12.0, 40.0 + week, 9.0, 4.0, 6.0, 1.0],
                    "rolled-back" if bad else "deployed",
                    failed_phase="verify" if bad else None, error="login page 500" if bad else None,
                ))  # fmt: skip
        write_journal(root, name, records)
        target_dir = root / f"backups-{name}"
        target_dir.mkdir(exist_ok=True)
        for day in range(365):
            created = year + dt.timedelta(days=day, hours=2)
            clone_backup(seed, f"{name}-{created:%Y%m%d}", created, 20.0 + day % 13, target_dir)
        for week in range(52):
            write_check_report(root, name, year + dt.timedelta(days=week * 7),
                               [(f"c-{j}", f"area{j % 6}", "fail" if (j + week) % 17 == 0
                                 else "pass") for j in range(60)])  # fmt: skip
        print(f"  {name}: records written in {time.perf_counter() - t0:.1f} s")
    shutil.rmtree(seed)


def timed(func: object, repeat: int) -> tuple[float, float]:
    assert callable(func)
    t0 = time.perf_counter()
    func()
    cold = (time.perf_counter() - t0) * 1000
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        func()
        runs.append((time.perf_counter() - t0) * 1000)
    return cold, statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--dsn", default=os.environ.get("ODOO_OPS_TEST_PG", pg.DEFAULT_ADMIN_DSN))
    args = parser.parse_args()
    manager = pg.DatabaseManager(args.dsn)
    db = manager.odoo_db(18)
    now = dt.datetime.now(UTC).replace(microsecond=0)
    with tempfile.TemporaryDirectory(prefix="odoo-ops-bench-serve-") as tmp:
        root = Path(tmp)
        try:
            print("building a year of records for 3 deployments ...")
            build(root, db.dsn, now)
        finally:
            manager.cleanup()
        from starlette.testclient import TestClient

        from odoo_ops.adapters import Target
        from odoo_ops.adapters.project import resolve_project
        from odoo_ops.serve import ServeState, create_app

        targets = [Target(resolve_project(root, deployment=n)) for n in DEPLOYMENTS]
        client = TestClient(create_app(ServeState(targets, lambda text: text)))

        def overview() -> None:
            response = client.get("/")
            assert response.status_code == 200 and "NEEDS ATTENTION" in response.text

        def health_year() -> None:
            assert client.get("/d/prod/health?days=365").status_code == 200

        cold, warm = timed(overview, args.repeat)
        h_cold, h_warm = timed(health_year, args.repeat)
        cli_runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            for name in DEPLOYMENTS:
                for argv in (("backup", "list"), ("golive", "status"),
                             ("status", "--no-database")):  # fmt: skip
                    odoo_ops(*argv, "-D", name, cwd=root)
            cli_runs.append((time.perf_counter() - t0) * 1000)
        cli = statistics.median(cli_runs)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"overview GET /            cold {cold:7.1f} ms   warm median {warm:7.1f} ms"
          f"   goal 200 ms: {'met' if warm < 200 else 'MISSED'} ({warm / 200:.2f} of it)")
    print(f"health page, 365 days     cold {h_cold:7.1f} ms   warm median {h_warm:7.1f} ms")
    print(f"CLI: backup list + golive status + status, x3 deployments: {cli:7.0f} ms"
          f"   ratio CLI / overview: {cli / warm:.0f}x")


if __name__ == "__main__":
    main()
