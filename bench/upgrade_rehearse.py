#!/usr/bin/env python3
"""Benchmark: ``odoo-ops upgrade rehearse`` against the same OpenUpgrade run by hand.

Restores ``../shared/fixtures/odoo17-base-mail-oca.dump`` (Odoo 17.0, 28 modules)
with its filestore, then migrates a copy of it to 18.0 with the trimmed Odoo 18
of ``../shared/odoo`` and OpenUpgrade 18.0.1.0.0.440, both ways:

- **by hand**: ``CREATE DATABASE copy TEMPLATE src``, ``cp -a`` of the filestore,
  the OpenUpgrade wheels unzipped, ``odoo-bin … --load=base,web,openupgrade_framework
  --upgrade-path=… -u all --stop-after-init``, ``DROP DATABASE``;
- **odoo-ops**: ``odoo-ops upgrade rehearse --to 18.0`` — the same copy and run,
  plus what a person would do after it: module states, broken records, row
  counts, attachments with their sha1, a start of the target server and a login,
  and the report.

Goal: odoo-ops ≤ 1.1x the manual way (everything odoo-ops adds included). Runs
alternate (manual first, then odoo-ops, ``--runs`` times) on a machine that may
be shared: read the spread as well as the ratio.

    python bench/upgrade_rehearse.py [--runs 2]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.real import odoo17_env, odoo18_env, openupgrade_env  # noqa: E402

FIXTURES = REPO.parent / "shared" / "fixtures"
DUMP = FIXTURES / "odoo17-base-mail-oca.dump"
FILESTORE_TAR = FIXTURES / "odoo17-base-mail-oca.filestore.tar"
ROLE = "odoo_ops_real"
ADMIN = ["-h", "127.0.0.1", "-U", "postgres"]


def psql(sql: str, db: str = "postgres") -> None:
    subprocess.run(["psql", *ADMIN, "-d", db, "-qXc", sql], check=True,
                   stdout=subprocess.DEVNULL)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    if not DUMP.is_file():
        print(f"no {DUMP}", file=sys.stderr)
        return 1
    odoo18 = odoo18_env.ensure()
    odoo17 = odoo17_env.ensure() / odoo17_env.SOURCE_DIR
    py18 = odoo18 / "venv" / "bin" / "python"
    src18 = odoo18 / odoo18_env.SOURCE_DIR
    openupgrade_env.ensure_openupgradelib(py18)
    wheels = openupgrade_env.ensure_wheels(py18)
    work = Path(tempfile.mkdtemp(prefix="bench-upgrade-"))
    src = "bench_up17_src"
    psql(f"DO $$BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN "
         f"CREATE ROLE {ROLE} LOGIN CREATEDB; END IF; END$$;")
    psql(f"DROP DATABASE IF EXISTS {src} WITH (FORCE)")
    psql(f"CREATE DATABASE {src} OWNER {ROLE}")
    try:
        subprocess.run(["pg_restore", *ADMIN, "--no-owner", "--no-acl", f"--role={ROLE}",
                        "-d", src, str(DUMP)], check=True)
        data = work / "data"
        (data / "filestore").mkdir(parents=True)
        with tarfile.open(FILESTORE_TAR) as tar:
            tar.extractall(data / "filestore", filter="data")
        (data / "filestore" / "up17_src").rename(data / "filestore" / src)
        # the manual way's OpenUpgrade: the two wheels unzipped
        manual_ou = work / "openupgrade"
        for whl in wheels.glob("*.whl"):
            if "scripts" in whl.name and openupgrade_env.GOOD not in whl.name:
                continue
            with zipfile.ZipFile(whl) as zf:
                zf.extractall(manual_ou)
        project = work / "project"
        project.mkdir()
        (project / "odoo-ops.toml").write_text(f"""
default_deployment = "prod"
[deployments.prod]
series = "17.0"
dsn = "postgresql://{ROLE}@127.0.0.1:5432/{src}"
data_dir = {json.dumps(str(data))}
addons_paths = [{json.dumps(str(odoo17 / "odoo" / "addons"))},
                {json.dumps(str(odoo17 / "extra-addons"))}]
[upgrade]
target_odoo_command = {json.dumps([str(py18), str(src18 / "odoo-bin")])}
target_addons_paths = [{json.dumps(str(src18 / "odoo" / "addons"))},
                       {json.dumps(str(src18 / "extra-addons"))}]
openupgrade = "{openupgrade_env.GOOD}"
openupgrade_wheels = [{json.dumps(str(wheels))}]
login_user = "admin"
""")
        manual_t: list[float] = []
        manual_mig: list[float] = []
        ops_t: list[float] = []
        ops_mig: list[float] = []
        for run in range(args.runs):
            copy = f"bench_up17_manual_{run}"
            t0 = time.monotonic()
            psql(f"CREATE DATABASE {copy} TEMPLATE {src} OWNER {ROLE}")
            mdata = work / f"manual-data-{run}"
            shutil.copytree(data / "filestore" / src, mdata / "filestore" / copy)
            addons = f"{src18}/odoo/addons,{manual_ou}/odoo/addons,{src18}/extra-addons"
            t1 = time.monotonic()
            proc = subprocess.run(
                [str(py18), str(src18 / "odoo-bin"), "--db_host", "127.0.0.1", "-r", ROLE,
                 "-d", copy, "-D", str(mdata), f"--addons-path={addons}",
                 "--load=base,web,openupgrade_framework",
                 f"--upgrade-path={manual_ou}/odoo/addons/openupgrade_scripts/scripts",
                 "-u", "all", "--stop-after-init", "--no-http",
                 "--logfile", str(work / f"manual-{run}.log")], check=False)
            manual_mig.append(time.monotonic() - t1)
            psql(f"DROP DATABASE {copy} WITH (FORCE)")
            shutil.rmtree(mdata, ignore_errors=True)
            manual_t.append(time.monotonic() - t0)
            assert proc.returncode == 0, f"manual run failed: see {work}/manual-{run}.log"
            t0 = time.monotonic()
            ops = subprocess.run(
                [sys.executable, "-m", "odoo_ops.cli.main", "upgrade", "rehearse", "--to",
                 "18.0", "-q", "--format", "json"], cwd=project, capture_output=True,
                text=True, check=False,
                env={**os.environ, "ODOO_OPS_UPGRADE_PASSWORD": "admin"})
            ops_t.append(time.monotonic() - t0)
            report = json.loads(ops.stdout)
            assert ops.returncode == 0 and report["ok"], ops.stdout[-2000:] + ops.stderr
            ops_mig.append(float(report["phases"]["migrate"]))
            phases = ", ".join(f"{k} {v} s" for k, v in report["phases"].items())
            print(f"run {run + 1}: by hand {manual_t[-1]:.1f} s (odoo {manual_mig[-1]:.1f} s), "
                  f"odoo-ops {ops_t[-1]:.1f} s ({phases}); load {os.getloadavg()[0]:.1f}")
        m, o = statistics.median(manual_t), statistics.median(ops_t)
        print(f"median: by hand {m:.1f} s, odoo-ops rehearse {o:.1f} s, ratio {o / m:.2f}x "
              f"(goal <= 1.1x)")
        # what each way adds around the migration itself (the part that varies most)
        extra_m = statistics.median(t - g for t, g in zip(manual_t, manual_mig, strict=True))
        extra_o = statistics.median(t - g for t, g in zip(ops_t, ops_mig, strict=True))
        print(f"around the migration: by hand {extra_m:.1f} s, odoo-ops {extra_o:.1f} s; "
              f"migration medians {statistics.median(manual_mig):.1f} s by hand, "
              f"{statistics.median(ops_mig):.1f} s in odoo-ops")
    finally:
        psql(f"DROP DATABASE IF EXISTS {src} WITH (FORCE)")
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
