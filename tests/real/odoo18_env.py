"""Unpack the trimmed Odoo 18 of ``../shared/odoo`` and give it a venv, once per input.

Standard library only: ``.ci/setup.d/30-real-odoo.sh`` runs it before the project's
own test dependencies are installed, and the ``tests/real`` fixtures run it on a
developer's machine when ``ODOO_OPS_REAL_ODOO18`` is not set.

The result lives in ``<cache>/odoo18-<key>/`` where ``key`` hashes the tarball's
sha256 and its ``requirements.txt``; a finished directory holds ``READY`` and is
reused as is. A half-built one (killed build) is removed and built again.

    python tests/real/odoo18_env.py [--cache DIR] [--tarball FILE]

prints the directory (``odoo-18.0/odoo-bin``, ``venv/bin/python``).
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

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_TARBALL = REPO_ROOT.parent / "shared" / "odoo" / "odoo-18.0-ce-trimmed.tar.zst"
ENV_VAR = "ODOO_OPS_REAL_ODOO18"
SOURCE_DIR = "odoo-18.0"


def default_cache() -> Path:
    """``$ODOO_OPS_CI_CACHE`` on CI, else ``~/.cache/odoo-ops-test``."""
    ci_cache = os.environ.get("ODOO_OPS_CI_CACHE")
    if ci_cache:
        return Path(ci_cache)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "odoo-ops-test"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _python311() -> str:
    """The interpreter for Odoo's venv: requirements.txt pins packages for Python 3.11."""
    if sys.version_info[:2] == (3, 11):
        return sys.executable
    found = shutil.which("python3.11")
    if not found:
        raise SystemExit("odoo18_env: Python 3.11 is needed for Odoo 18's requirements.txt")
    return found


def _run(cmd: list[str], log: Path) -> None:
    with log.open("ab") as out:
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
    if result.returncode != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"odoo18_env: {' '.join(cmd[:3])} ... failed "
                         f"(exit {result.returncode}):\n{tail}")


def ensure(tarball: Path = DEFAULT_TARBALL, cache: Path | None = None) -> Path:
    """Return the ready directory for ``tarball``, building it when needed."""
    cache = cache or default_cache()
    cache.mkdir(parents=True, exist_ok=True)
    unpack = Path(tempfile.mkdtemp(prefix="odoo18-unpack-", dir=cache))
    try:
        subprocess.run(["tar", "--zstd", "-xf", str(tarball), "-C", str(unpack),
                        f"{SOURCE_DIR}/requirements.txt"], check=True)
        requirements = (unpack / SOURCE_DIR / "requirements.txt").read_bytes()
    finally:
        shutil.rmtree(unpack, ignore_errors=True)
    key = hashlib.sha256(_sha256(tarball).encode() + b"\0" + requirements).hexdigest()[:16]
    target = cache / f"odoo18-{key}"
    if (target / "READY").is_file():
        return target
    building = cache / f"odoo18-{key}.building-{os.getpid()}"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir()
    log = building / "build.log"
    try:
        subprocess.run(["tar", "--zstd", "-xf", str(tarball), "-C", str(building)], check=True)
        _run([_python311(), "-m", "venv", str(building / "venv")], log)
        pip = [str(building / "venv" / "bin" / "python"), "-m", "pip", "install", "-q",
               "--disable-pip-version-check"]
        _run([*pip, "setuptools<81", "wheel"], log)
        _run([*pip, "-r", str(building / SOURCE_DIR / "requirements.txt")], log)
        # a venv's scripts name their interpreter by absolute path: build in place
        # under the final name, so rename first, then mark it ready.
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    shutil.rmtree(target, ignore_errors=True)
    building.rename(target)
    _fix_venv_paths(target, building)
    (target / "READY").write_text(key + "\n")
    return target


def _fix_venv_paths(target: Path, old: Path) -> None:
    """Point the venv's config and scripts at ``target`` after the rename."""
    venv_bin = target / "venv" / "bin"
    old_s, new_s = str(old).encode(), str(target).encode()
    for path in [target / "venv" / "pyvenv.cfg", *venv_bin.iterdir()]:
        if path.is_file() and not path.is_symlink():
            data = path.read_bytes()
            if old_s in data:
                path.write_bytes(data.replace(old_s, new_s))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None)
    parser.add_argument("--tarball", type=Path, default=DEFAULT_TARBALL)
    args = parser.parse_args(argv)
    if not args.tarball.is_file():
        print(f"odoo18_env: no tarball at {args.tarball}", file=sys.stderr)
        return 1
    print(ensure(args.tarball, args.cache))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
