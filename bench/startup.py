#!/usr/bin/env python3
"""Benchmark: start-up of ``odoo-ops --version`` and ``odoo-ops --help``.

Times each command against a bare ``python3 -c pass`` of the same interpreter,
interleaved in one run (so a busy machine slows all three alike), and prints
the medians and the ratios. Goal: both within 3.5x of the bare interpreter.
Not part of the test suite.

    python bench/startup.py [--runs 11]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time

GOAL = 3.5


def once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    exe = shutil.which("odoo-ops")
    odoo_ops = [exe] if exe else [sys.executable, "-m", "odoo_ops.cli.main"]
    cases = {
        "python3 -c pass": [sys.executable, "-c", "pass"],
        "odoo-ops --version": [*odoo_ops, "--version"],
        "odoo-ops --help": [*odoo_ops, "--help"],
    }
    for argv in cases.values():  # warm the page cache and .pyc files
        once(argv)
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.runs):
        for name, argv in cases.items():
            times[name].append(once(argv))
    base = statistics.median(times["python3 -c pass"])
    worst = 0.0
    for name, values in times.items():
        median = statistics.median(values)
        ratio = median / base
        if name != "python3 -c pass":
            worst = max(worst, ratio)
        print(f"{name:20} median {median * 1000:7.1f} ms   {ratio:4.2f}x")
    print(f"worst ratio {worst:.2f}x (goal <= {GOAL}x): {'met' if worst <= GOAL else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
