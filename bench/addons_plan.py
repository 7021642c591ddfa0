#!/usr/bin/env python3
"""Benchmark ``odoo-ops addons plan`` against manifestoo on real OCA 18.0 addons.

What it does, in one run:

1. Downloads the wheels of the OCA 18.0 addons named in ``bench/oca_addons_18.txt``
   (``odoo-addon-<name>``, series 18.0) with ``pip download``, then the wheels of
   the non-core dependencies they name, until the set is closed (or a name cannot
   be had). Wheels are cached OUTSIDE the repository, in ``$ODOO_OPS_BENCH_CACHE``
   or ``~/.cache/odoo-ops-bench/``; a second run downloads nothing.
2. Unpacks ``odoo/addons/<name>/`` of every wheel into one addons tree
   (``<cache>/tree/``).
3. Installs manifestoo into a venv of its own (``<cache>/venv-manifestoo``): it is
   the tool a user would otherwise run, and no dependency of odoo-ops. odoo-ops
   is installed from this checkout (``pip install -e``) into another venv
   (``<cache>/venv-odoo-ops``), so that both start the same way.
4. Runs, side by side and alternating, several times each:

   * ``odoo-ops addons plan --addons-path TREE --series 18.0 --format json <all>``
     (the installed CLI, as a subprocess; ``--no-cache`` for the cold figure and
     with the parse cache warm for the warm figure), and
   * ``manifestoo --addons-path TREE --select-include <all> list-depends
     --include-selected --ignore-missing``.

   Each run's wall time, CPU time (user + system, children included) and peak
   resident memory (``ru_maxrss`` of that one child, from ``os.wait4``) are
   recorded; the medians and the ratios are printed, with the load average (the
   wall figures mean little on a busy machine; the CPU figures hold better).

Not part of the test suite. Usage::

    python bench/addons_plan.py [--repeat 7] [--limit N] [--offline]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
NAMES_FILE = HERE / "oca_addons_18.txt"
SERIES = "18.0"
BATCH = 60


def cache_dir() -> Path:
    """The bench cache: ``$ODOO_OPS_BENCH_CACHE`` or ``~/.cache/odoo-ops-bench``."""
    env = os.environ.get("ODOO_OPS_BENCH_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "odoo-ops-bench"


def dist_name(addon: str) -> str:
    """The PyPI distribution that carries an OCA addon (16.0 and later)."""
    return "odoo-addon-" + addon.replace("_", "-")


def wheel_addon(wheel: Path) -> str:
    """The addon name of a wheel file name (``odoo_addon_x_y-18.0...whl`` -> ``x_y``)."""
    return wheel.name.split("-", 1)[0].removeprefix("odoo_addon_")


def have_wheels(wheels: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for whl in sorted(wheels.glob("odoo_addon_*.whl")):
        out[wheel_addon(whl)] = whl
    return out


def pip_download(names: list[str], wheels: Path) -> None:
    """Download the 18.0 wheels of ``names`` (batch first, one by one on failure)."""
    reqs = [f"{dist_name(n)}>={SERIES},<{SERIES[:-1]}1" for n in names]
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        "--disable-pip-version-check",
        "--quiet",
        "-d",
        str(wheels),
    ]
    result = subprocess.run([*cmd, *reqs], capture_output=True, text=True)
    if result.returncode == 0:
        return
    for req in reqs:
        subprocess.run([*cmd, req], capture_output=True, text=True)


def fetch(names: list[str], cache: Path, offline: bool) -> dict[str, Path]:
    """Make sure a wheel is cached for every name (and its non-core dependencies)."""
    wheels = cache / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    failed_file = cache / "unavailable.txt"
    failed = set(failed_file.read_text().split()) if failed_file.exists() else set()
    from odoo_ops.addons import core_addons, read_manifest_text

    core = core_addons(SERIES)
    wanted = set(names)
    for _round in range(6):
        have = have_wheels(wheels)
        todo = sorted(wanted - set(have) - failed)
        if todo and not offline:
            print(f"downloading {len(todo)} wheels into {wheels} ...", flush=True)
            for i in range(0, len(todo), BATCH):
                pip_download(todo[i : i + BATCH], wheels)
                print(f"  {min(i + BATCH, len(todo))}/{len(todo)}", flush=True)
            have = have_wheels(wheels)
            failed |= set(todo) - set(have)
            failed_file.write_text("\n".join(sorted(failed)) + "\n")
        # close the set over the dependencies named by the manifests
        deps: set[str] = set()
        for addon, whl in have.items():
            if addon not in wanted:
                continue
            with zipfile.ZipFile(whl) as zf:
                try:
                    text = zf.read(f"odoo/addons/{addon}/__manifest__.py").decode()
                except KeyError:
                    continue
            try:
                manifest = read_manifest_text(text, f"{addon}/__manifest__.py")
            except Exception:
                continue
            deps.update(d for d in manifest.get("depends", []) if isinstance(d, str))
        extra = deps - core - wanted - failed
        if offline:
            extra &= set(have)  # offline: close the set over what the cache holds
        if not extra:
            break
        wanted |= extra
    have = have_wheels(wheels)
    return {n: have[n] for n in sorted(wanted) if n in have}


def unpack(wheels: dict[str, Path], tree: Path) -> list[str]:
    """Unpack ``odoo/addons/<name>/`` of every wheel into ``tree`` (kept between runs)."""
    stamp = tree / ".bench-stamp"
    key = "\n".join(sorted(str(w.name) for w in wheels.values()))
    if stamp.exists() and stamp.read_text() == key:
        return sorted(p.name for p in tree.iterdir() if p.is_dir())
    if tree.exists():
        shutil.rmtree(tree)
    tree.mkdir(parents=True)
    prefix = "odoo/addons/"
    for whl in wheels.values():
        with zipfile.ZipFile(whl) as zf:
            for info in zf.infolist():
                if not info.filename.startswith(prefix) or info.is_dir():
                    continue
                rel = info.filename[len(prefix) :]
                target = tree / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    stamp.write_text(key)
    return sorted(p.name for p in tree.iterdir() if p.is_dir())


def manifestoo_exe(cache: Path, offline: bool) -> Path:
    """manifestoo in a venv of its own (created once)."""
    env_dir = cache / "venv-manifestoo"
    exe = env_dir / "bin" / "manifestoo"
    if exe.exists():
        return exe
    if offline:
        sys.exit(f"manifestoo is not installed in {env_dir} (run once without --offline)")
    print(f"installing manifestoo into {env_dir} ...", flush=True)
    venv.create(env_dir, with_pip=True)
    subprocess.run(
        [
            str(env_dir / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "manifestoo",
        ],
        check=True,
    )
    return exe


def odoo_ops_exe(cache: Path, offline: bool) -> str:
    """``odoo-ops`` installed from this checkout into a venv of its own (created once).

    Both tools then start the same way: from a clean venv, with no ``.pth``
    hooks of the machine's main interpreter. ``pip install -e`` keeps it current
    with the checkout.
    """
    env_dir = cache / "venv-odoo-ops"
    exe = env_dir / "bin" / "odoo-ops"
    if exe.exists():
        return str(exe)
    if offline:
        sys.exit(f"odoo-ops is not installed in {env_dir} (run once without --offline)")
    print(f"installing odoo-ops ({REPO}) into {env_dir} ...", flush=True)
    venv.create(env_dir, with_pip=True)
    pip = [str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--disable-pip-version-check", "-e", str(REPO)], check=True)
    return str(exe)


def precompile(cache: Path) -> None:
    """Byte-compile both tools, as an install from a wheel would have.

    pip compiles what it installs, but an editable install (odoo-ops here)
    leaves its source uncompiled, and with ``PYTHONDONTWRITEBYTECODE`` set
    (as on some CI machines) every run would compile those modules again:
    a cost no installed copy pays.
    """
    for env_dir, extra in (
        (cache / "venv-odoo-ops", [str(REPO / "src" / "odoo_ops")]),
        (cache / "venv-manifestoo", []),
    ):
        python = env_dir / "bin" / "python"
        site = subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        subprocess.run(
            [str(python), "-m", "compileall", "-q", site, *extra], check=True, env=env
        )


@dataclass
class Run:
    seconds: float
    cpu_seconds: float
    maxrss_kib: int
    returncode: int


def run_measured(cmd: list[str], env: dict[str, str]) -> Run:
    """Run ``cmd`` with its output to /dev/null; wall time and this child's peak RSS."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, devnull, 1), (os.POSIX_SPAWN_DUP2, devnull, 2)]
        start = time.perf_counter()
        pid = os.posix_spawnp(cmd[0], cmd, env, file_actions=actions)
        _pid, status, usage = os.wait4(pid, 0)
        seconds = time.perf_counter() - start
    finally:
        os.close(devnull)
    cpu = usage.ru_utime + usage.ru_stime
    return Run(seconds, cpu, usage.ru_maxrss, os.waitstatus_to_exitcode(status))


def check_output_once(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per tool (default 7)")
    parser.add_argument("--limit", type=int, default=0, help="use only the first N names")
    parser.add_argument("--offline", action="store_true", help="use the cache only")
    args = parser.parse_args(argv)

    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    names = [n.strip() for n in NAMES_FILE.read_text().split() if n.strip()]
    if args.limit:
        names = names[: args.limit]
    wheels = fetch(names, cache, args.offline)
    tree = cache / "tree"
    addons = unpack(wheels, tree)
    print(f"addons tree: {tree} ({len(addons)} addons from {len(names)} listed names)")
    mexe = manifestoo_exe(cache, args.offline)
    ours = odoo_ops_exe(cache, args.offline)
    precompile(cache)

    with tempfile.TemporaryDirectory(prefix="odoo-ops-bench-") as tmp:
        env = dict(os.environ)
        env["XDG_CACHE_HOME"] = tmp  # our parse cache lives here, fresh for this run
        env.pop("ODOO_OPS_CONFIG", None)
        env["NO_COLOR"] = "1"
        selected = ",".join(addons)
        ours_base = [
            ours,
            "addons",
            "plan",
            "--addons-path",
            str(tree),
            "--series",
            SERIES,
            "--format",
            "json",
        ]
        commands = {
            "odoo-ops (cold)": [*ours_base, "--no-cache", *addons],
            "odoo-ops (warm cache)": [*ours_base, *addons],
            "manifestoo": [
                str(mexe),
                "--addons-path",
                str(tree),
                "--no-addons-path-from-import-odoo",
                "--odoo-series",
                SERIES,
                "--select-include",
                selected,
                "list-depends",
                "--transitive",
                "--include-selected",
                "--ignore-missing",
                "--sort",
                "topological",
            ],
        }
        # sanity: both succeed and agree on the closure
        out_ours = check_output_once(commands["odoo-ops (warm cache)"], env)
        out_mft = check_output_once(commands["manifestoo"], env)
        if out_mft.returncode != 0:
            print(out_mft.stderr[-2000:])
            sys.exit("manifestoo failed")
        if out_ours.returncode not in (0, 1) or not out_ours.stdout.strip():
            print(out_ours.stderr[-2000:])
            sys.exit("odoo-ops failed")
        plan = json.loads(out_ours.stdout)
        ours_set = {a for wave in plan["waves"] for a in wave["addons"]}
        ours_set |= set(plan["missing"])  # manifestoo --ignore-missing lists them too
        mft_set = {a for a in re.split(r"[,\s]+", out_mft.stdout.strip()) if a}
        agree = (
            "same"
            if ours_set == mft_set
            else (
                f"DIFFER: only odoo-ops {sorted(ours_set - mft_set)[:10]}, "
                f"only manifestoo {sorted(mft_set - ours_set)[:10]}"
            )
        )
        print(
            f"closure: odoo-ops {len(ours_set)} addons, manifestoo {len(mft_set)} ({agree});"
            f" {len(plan['waves'])} waves; odoo-ops exit {out_ours.returncode}"
        )

        results: dict[str, list[Run]] = {k: [] for k in commands}
        load_before = os.getloadavg()
        for _ in range(args.repeat):
            for label, cmd in commands.items():
                results[label].append(run_measured(cmd, env))
        load_after = os.getloadavg()

    def med(label: str, attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in results[label])

    print()
    print(
        f"{len(addons)} addons, {args.repeat} runs each, alternating; medians "
        f"(python {sys.version.split()[0]}, {os.cpu_count()} cpus, load average "
        f"{load_before[0]:.1f} before, {load_after[0]:.1f} after)"
    )
    print(f"{'tool':<24}{'wall s':>9}{'min wall':>10}{'cpu s':>9}{'peak RSS MiB':>14}")
    for label in commands:
        walls = [r.seconds for r in results[label]]
        print(
            f"{label:<24}{med(label, 'seconds'):>9.3f}{min(walls):>10.3f}"
            f"{med(label, 'cpu_seconds'):>9.3f}{med(label, 'maxrss_kib') / 1024:>14.1f}"
        )
    print()
    base = "manifestoo"
    for label in commands:
        if label == base:
            continue
        wall = med(base, "seconds") / med(label, "seconds")
        best = min(r.seconds for r in results[base]) / min(r.seconds for r in results[label])
        cpu = med(base, "cpu_seconds") / med(label, "cpu_seconds")
        mem = med(label, "maxrss_kib") / med(base, "maxrss_kib")
        print(
            f"{label}: {wall:.2f}x faster than manifestoo (median wall; {best:.2f}x best "
            f"wall, {cpu:.2f}x CPU), peak memory {mem:.2f}x of manifestoo's"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
