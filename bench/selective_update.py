#!/usr/bin/env python3
"""Benchmark ``modules update --changed``: finding the changed addons among 1,000 real ones.

What it does, in one run:

1. Takes the real OCA 18.0 addons unpacked by ``bench/addons_plan.py`` (the same cache:
   ``$ODOO_OPS_BENCH_CACHE`` or ``~/.cache/odoo-ops-bench/``; the wheels are downloaded
   and unpacked the same way when missing, or ``--offline`` stops with how to get them)
   and copies the first 1,000 addons (sorted by name) into a private tree
   (``<cache>/selective-update/tree``), so touching files never alters the shared one.
2. Computes and "stores" every addon's checksum (click-odoo-update layout), then
   touches ONE addon (appends a line to a Python file).
3. Times, side by side and alternating, ``--repeat`` times each, warm page cache:

   * ``changed (stat cache)``: what ``modules update --changed`` computes on a host
     where it ran before -- the checksum of every installed addon (exclusion rules:
     ``static/``, ``tests/``, ``*.pot``, compiled files), files re-read only for addons
     whose stat signature changed (the touched one), compared with the stored ones
     (:func:`odoo_ops.modules.checksums.changed_modules` with a ``DigestCache``);
   * ``changed (no cache)``: the same reading every covered file (a first run);
   * ``floor``: a plain sha1 walk of ALL files of the same 1,000 addons (``os.walk`` +
     ``hashlib.sha1`` of each file; what any "did anything change?" script does);
   * ``floor-same-files``: the plain walk restricted to the files the checksum covers
     (same bytes read, no exclusion logic), to show what the exclusions save.

   and prints the medians and the ratio changed/floor (goal: <= 1.2).
4. With ``--db`` (PostgreSQL at ``$ODOO_OPS_TEST_PG`` or 127.0.0.1), also times the whole
   CLI ``odoo-ops modules update --changed --list-only`` against an Odoo-shaped database
   with those 1,000 modules installed and checksums stored (process start, config,
   manifest scan, database reads, hashing).
5. Says how long ``--changed`` costs next to the ``-u`` of that one addon on real Odoo 18
   (7.75 s, DESIGN.md) and next to ``-u all`` (45.8 s with 31 modules).

Not part of the test suite. Usage::

    python bench/selective_update.py [--repeat 7] [--count 1000] [--offline] [--db]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "src"))

from odoo_ops.modules import checksums as cks  # noqa: E402

U_ONE_ADDON_S = 7.75  # real Odoo 18, 31 modules installed (DESIGN.md)
U_ALL_S = 45.8


def addons_plan_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("addons_plan_bench", HERE / "addons_plan.py")
    if spec is None or spec.loader is None:
        sys.exit("bench/addons_plan.py not found: it downloads the shared OCA addons cache")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def shared_tree(offline: bool) -> Path:
    """The unpacked OCA addons shared with bench/addons_plan.py (filled when missing)."""
    ap = addons_plan_module()
    cache = ap.cache_dir()
    tree = cache / "tree"
    if tree.is_dir() and any(tree.iterdir()):
        return tree
    names = [n.strip() for n in ap.NAMES_FILE.read_text().split() if n.strip()]
    wheels = ap.fetch(names, cache, offline)
    if not wheels:
        sys.exit(
            f"no OCA wheels in {cache}/wheels: run `python bench/addons_plan.py` once"
            " (downloads them with pip), or drop --offline"
        )
    ap.unpack(wheels, tree)
    return tree


def private_tree(shared: Path, count: int) -> Path:
    cache = shared.parent / "selective-update"
    tree = cache / "tree"
    names = sorted(p.name for p in shared.iterdir()
                   if (p / "__manifest__.py").is_file())[:count]
    stamp = cache / "stamp"
    key = "\n".join(names)
    if tree.is_dir() and stamp.is_file() and stamp.read_text() == key:
        return tree
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    for name in names:
        shutil.copytree(shared / name, tree / name, symlinks=True)
    stamp.write_text(key)
    return tree


def floor_walk(top: Path) -> int:
    n = 0
    for dirpath, _dirs, files in os.walk(top):
        for name in files:
            with open(os.path.join(dirpath, name), "rb") as fh:
                hashlib.sha1(fh.read()).hexdigest()
            n += 1
    return n


def floor_same_files(paths: list[str]) -> int:
    for path in paths:
        with open(path, "rb") as fh:
            hashlib.sha1(fh.read()).hexdigest()
    return len(paths)


def timed(fn, *args):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def tree_stats(tree: Path, rules: cks.HashRules) -> tuple[int, int, int, int, list[str]]:
    files = size = 0
    for dirpath, _dirs, names in os.walk(tree):
        for name in names:
            files += 1
            size += os.path.getsize(os.path.join(dirpath, name))
    covered: list[str] = []
    for addon in sorted(p for p in tree.iterdir() if p.is_dir()):
        covered.extend(str(addon / rel) for rel in cks.addon_files(addon, rules))
    covered_size = sum(os.path.getsize(p) for p in covered)
    return files, size, len(covered), covered_size, covered


def bench_cli(tree: Path, dirs: dict[str, str], stored: dict[str, str], repeat: int) -> float:
    """Median seconds of ``odoo-ops modules update --changed --list-only`` (whole process)."""
    import psycopg

    sys.path.insert(0, str(REPO))
    from tests.support import odoo_schema
    from tests.support.pg import DEFAULT_ADMIN_DSN, dsn_for

    admin = os.environ.get("ODOO_OPS_TEST_PG") or DEFAULT_ADMIN_DSN
    name = f"odoo_ops_bench_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = dsn_for(admin, name)
    work = tree.parent / "cli-project"
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            odoo_schema.create_odoo_schema(conn, 18)
            odoo_schema.seed_base(conn, 18)
            with conn.transaction():
                for addon in sorted(dirs):
                    odoo_schema.add_module(conn, addon, state="installed", author="OCA")
            # as in a real database: English active (the test schema has no res_lang)
            conn.execute("CREATE TABLE IF NOT EXISTS res_lang (id serial PRIMARY KEY,"
                         " code varchar NOT NULL, active boolean)")
            conn.execute("INSERT INTO res_lang (code, active) VALUES ('en_US', true)")
            odoo_schema.set_param(conn, cks.PARAM_INSTALLED_CHECKSUMS, cks.dump_stored(stored))
        work.mkdir(exist_ok=True)
        (work / "odoo-ops.toml").write_text(
            f'[deployments.bench]\nseries = "18.0"\ndsn = "{dsn}"\n'
            f'addons_paths = ["{tree}"]\nlog_dir = "logs"\n'
        )
        exe = shutil.which("odoo-ops") or "odoo-ops"
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            out = subprocess.run([exe, "modules", "update", "--changed", "--list-only"],
                                 cwd=work, capture_output=True, text=True)
            times.append(time.perf_counter() - start)
            if out.returncode != 0:
                sys.exit(f"odoo-ops failed: {out.stderr}")
        print(f"  CLI listed: {out.stdout.split()}")
        return statistics.median(times)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--offline", action="store_true")
    parser.add_argument("--db", action="store_true", help="also time the CLI against PostgreSQL")
    args = parser.parse_args()

    tree = private_tree(shared_tree(args.offline), args.count)
    addons = sorted(p.name for p in tree.iterdir() if p.is_dir())
    dirs = {name: str(tree / name) for name in addons}
    rules = cks.HashRules.make(None, ["en_US"])
    files, size, covered, covered_size, covered_paths = tree_stats(tree, rules)
    print(f"{len(addons)} OCA 18.0 addons in {tree}")
    print(f"  {files} files, {size / 1e6:.1f} MB; the checksums cover {covered} files,"
          f" {covered_size / 1e6:.1f} MB (static/, tests/, *.pot, compiled files excluded)")

    stored = cks.compute_checksums(dirs, rules)
    time.sleep(cks.RACY_SECONDS + 0.1)  # nothing is "just modified" any more
    memo = cks.DigestCache(None)  # this host's stat cache, as the previous run left it
    cks.compute_checksums(dirs, rules, cache=memo)
    victim = tree / addons[len(addons) // 2]
    target_py = next(iter(sorted(victim.rglob("*.py"))))
    original = target_py.read_bytes()
    counter = [0]

    def touch() -> None:
        counter[0] += 1
        target_py.write_bytes(original + f"\n# touched by the bench ({counter[0]})\n".encode())

    touch()
    try:
        found = cks.changed_modules(addons, dirs, stored, rules, cache=memo)
        assert found.to_update == [victim.name], found.to_update
        print(f"  touched {target_py.relative_to(tree)} -> changed set {found.to_update}")

        def changed_cold() -> None:
            cks.changed_modules(addons, dirs, stored, rules)

        def changed_warm() -> None:
            result = cks.changed_modules(addons, dirs, stored, rules, cache=memo)
            assert result.to_update == [victim.name]

        runs: dict[str, list[float]] = {
            "changed (stat cache)": [], "changed (no cache)": [], "floor": [],
            "floor-same-files": [],
        }
        floor_walk(tree)  # warm the page cache
        for _ in range(args.repeat):
            runs["floor"].append(timed(floor_walk, tree))
            touch()
            runs["changed (stat cache)"].append(timed(changed_warm))
            runs["changed (no cache)"].append(timed(changed_cold))
            runs["floor-same-files"].append(timed(floor_same_files, covered_paths))
        med = {k: statistics.median(v) for k, v in runs.items()}
        print(f"\nmedians of {args.repeat} runs (warm page cache, {os.cpu_count()} CPUs):")
        for key, value in med.items():
            print(f"  {key:<22} {value * 1000:8.1f} ms")
        warm = med["changed (stat cache)"] / med["floor"]
        cold = med["changed (no cache)"] / med["floor"]
        print(f"\nratio changed (stat cache) / floor = {warm:.3f}  (goal <= 1.2)")
        print(f"ratio changed (no cache) / floor   = {cold:.2f}  (first run on a host)")
        print("ratio changed (no cache) / floor-same-files = "
              f"{med['changed (no cache)'] / med['floor-same-files']:.2f}")
        if args.db:
            cli = bench_cli(tree, dirs, stored, max(3, args.repeat // 2))
            print(f"\nwhole CLI `modules update --changed --list-only`: {cli:.2f} s (median)")
        cost = med["changed (stat cache)"]
        print(f"\n--changed with one addon touched = {cost:.2f} s to find it +"
              f" `-u {victim.name}` (~{U_ONE_ADDON_S} s on real Odoo 18)"
              f" = {U_ONE_ADDON_S + cost:.2f} s, i.e. {100 * cost / U_ONE_ADDON_S:.1f}% over"
              f" the -u of that addon alone; `-u all` took {U_ALL_S} s with only 31 modules.")
    finally:
        target_py.write_bytes(original)


if __name__ == "__main__":
    main()
