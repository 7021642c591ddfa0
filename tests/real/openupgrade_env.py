"""OpenUpgrade for the 17.0 -> 18.0 upgrade tests: openupgradelib in the Odoo 18 venv
and a directory of OpenUpgrade 18.0 wheels.

- ``openupgradelib`` (PyPI) is what OpenUpgrade's scripts import: it is installed
  into the Odoo 18 venv (``pip install``) when that venv lacks it.
- The wheels: ``../shared/odoo/wheels`` has ``openupgrade_framework`` 18.0.1.0.3.2
  and ``openupgrade_scripts`` 18.0.1.0.0.440 (the build that migrates the shared
  17.0 database); ``openupgrade_scripts`` 18.0.1.0.0.554 (newer than the 18.0
  build: it fails on ``base.XCG``) comes from PyPI with ``pip download --no-deps``.
  All are gathered in ``<cache>/openupgrade-wheels-18.0/`` (``READY`` when complete).

    python tests/real/openupgrade_env.py --odoo18 DIR [--cache DIR]

prints the wheel directory. Standard library only (``.ci/setup.d/35-odoo17.sh``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_WHEELS = REPO_ROOT.parent / "shared" / "odoo" / "wheels"
ENV_VAR = "ODOO_OPS_OPENUPGRADE_WHEELS"
GOOD = "18.0.1.0.0.440"
TOO_NEW = "18.0.1.0.0.554"
FRAMEWORK = "18.0.1.0.3.2"


def wheel_name(dist: str, version: str) -> str:
    return f"odoo_addon_{dist}-{version}-py3-none-any.whl"


def default_cache() -> Path:
    ci_cache = os.environ.get("ODOO_OPS_CI_CACHE")
    if ci_cache:
        return Path(ci_cache)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "odoo-ops-test"


def ensure_openupgradelib(python: Path) -> None:
    """``pip install openupgradelib`` into the venv of ``python`` unless it is there."""
    probe = subprocess.run([str(python), "-c", "import openupgradelib"],
                           capture_output=True, check=False)
    if probe.returncode == 0:
        return
    result = subprocess.run([str(python), "-m", "pip", "install", "-q",
                             "--disable-pip-version-check", "openupgradelib>=3.13"],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"openupgrade_env: pip install openupgradelib failed:\n"
                         f"{result.stderr[-2000:]}")


def ensure_wheels(python: Path, cache: Path | None = None) -> Path:
    """The directory with the framework, the .440 and the .554 scripts wheels (``python``:
    an interpreter with pip, e.g. the Odoo 18 venv's)."""
    cache = cache or default_cache()
    target = cache / "openupgrade-wheels-18.0"
    if (target / "READY").is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for dist, version in (("openupgrade_framework", FRAMEWORK), ("openupgrade_scripts", GOOD)):
        src = SHARED_WHEELS / wheel_name(dist, version)
        if not src.is_file():
            raise SystemExit(f"openupgrade_env: {src} is missing")
        shutil.copyfile(src, target / src.name)
    if not (target / wheel_name("openupgrade_scripts", TOO_NEW)).is_file():
        result = subprocess.run(
            [str(python), "-m", "pip", "download", "-q", "--disable-pip-version-check",
             "--no-deps", "--only-binary=:all:", f"odoo-addon-openupgrade_scripts=={TOO_NEW}",
             "-d", str(target)], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise SystemExit(f"openupgrade_env: pip download of openupgrade_scripts "
                             f"{TOO_NEW} failed:\n{result.stderr[-2000:]}")
    (target / "READY").write_text("ok\n")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--odoo18", type=Path, required=True,
                        help="the built Odoo 18 directory (holding venv/)")
    parser.add_argument("--cache", type=Path, default=None)
    args = parser.parse_args(argv)
    python = args.odoo18 / "venv" / "bin" / "python"
    ensure_openupgradelib(python)
    print(ensure_wheels(python, args.cache))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
