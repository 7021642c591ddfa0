"""Unpack the trimmed Odoo 17 of ``../shared/odoo`` (the source side of 17 -> 18 upgrades).

The same layout and cache rules as :mod:`tests.real.odoo18_env` (whose helpers it
reuses): ``<cache>/odoo17-<key>/odoo-17.0/`` where ``key`` hashes the tarball's
sha256 and its ``requirements.txt``; ``READY`` marks a finished directory. The
upgrade tests read the 17.0 tree (its core and OCA addons are the deployment's
addons path) and never run it, so the venv (three sdists to compile) is built
only with ``--venv``.

    python tests/real/odoo17_env.py [--cache DIR] [--tarball FILE] [--venv]

prints the directory. Standard library only (run by ``.ci/setup.d/35-odoo17.sh``).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import the sibling by path
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import odoo18_env  # type: ignore[import-not-found,no-redef]
else:
    from tests.real import odoo18_env

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TARBALL = REPO_ROOT.parent / "shared" / "odoo" / "odoo-17.0-ce-trimmed.tar.zst"
ENV_VAR = "ODOO_OPS_REAL_ODOO17"
SOURCE_DIR = "odoo-17.0"
default_cache = odoo18_env.default_cache


def ensure(tarball: Path = DEFAULT_TARBALL, cache: Path | None = None, *,
           venv: bool = False) -> Path:
    """The ready directory for ``tarball`` (unpacked; with a venv when ``venv``)."""
    cache = cache or default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    unpack = Path(tempfile.mkdtemp(prefix="odoo17-unpack-", dir=cache))
    try:
        subprocess.run(["tar", "--zstd", "-xf", str(tarball), "-C", str(unpack),
                        f"{SOURCE_DIR}/requirements.txt"], check=True)
        requirements = (unpack / SOURCE_DIR / "requirements.txt").read_bytes()
    finally:
        shutil.rmtree(unpack, ignore_errors=True)
    key = hashlib.sha256(odoo18_env._sha256(tarball).encode() + b"\0"
                         + requirements).hexdigest()[:16]
    target = cache / f"odoo17-{key}"
    if (target / "READY").is_file() and (not venv or (target / "VENV-READY").is_file()):
        return target
    if not (target / "READY").is_file():
        building = cache / f"odoo17-{key}.building-{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        building.mkdir()
        try:
            subprocess.run(["tar", "--zstd", "-xf", str(tarball), "-C", str(building)],
                           check=True)
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise
        shutil.rmtree(target, ignore_errors=True)
        building.rename(target)
        (target / "READY").write_text(key + "\n")
    if venv:
        log = target / "build.log"
        shutil.rmtree(target / "venv", ignore_errors=True)
        odoo18_env._run([odoo18_env._python311(), "-m", "venv", str(target / "venv")], log)
        pip = [str(target / "venv" / "bin" / "python"), "-m", "pip", "install", "-q",
               "--disable-pip-version-check"]
        odoo18_env._run([*pip, "setuptools<81", "wheel"], log)
        odoo18_env._run([*pip, "-r", str(target / SOURCE_DIR / "requirements.txt")], log)
        (target / "VENV-READY").write_text(key + "\n")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--tarball", type=Path, default=DEFAULT_TARBALL)
    parser.add_argument("--venv", action="store_true", help="also build its venv")
    args = parser.parse_args(argv)
    if not args.tarball.is_file():
        print(f"odoo17_env: no tarball at {args.tarball}", file=sys.stderr)
        return 1
    print(ensure(args.tarball, args.cache, venv=args.venv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
