"""External dependencies of addons: Python packages and programs.

Odoo 17+ reads ``external_dependencies['python']`` as PyPI requirements
(``requests>=2``, markers allowed) and checks the installed distribution,
falling back to importing the name as a module. :func:`check_python_dependencies`
does the same checks in the interpreter that runs Odoo — which is rarely the one
running odoo-ops — by sending one small script to ``python_cmd`` on stdin (so a
runner prefix such as ``docker compose exec -T odoo python3`` or ``ssh host
python3`` works unchanged). Nothing of the addon is imported.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable, Sequence

from odoo_ops.errors import TargetError

#: PyPI distribution names whose import name differs (normalised: lower case, ``-``).
PIP_TO_MODULE: dict[str, str] = {
    "beautifulsoup4": "bs4",
    "dnspython": "dns",
    "email-validator": "email_validator",
    "google-api-python-client": "googleapiclient",
    "mysql-connector-python": "mysql.connector",
    "opencv-python": "cv2",
    "opencv-python-headless": "cv2",
    "pillow": "PIL",
    "protobuf": "google.protobuf",
    "pycryptodome": "Crypto",
    "pycryptodomex": "Cryptodome",
    "pyjwt": "jwt",
    "pyopenssl": "OpenSSL",
    "pyserial": "serial",
    "pyusb": "usb",
    "python-barcode": "barcode",
    "python-dateutil": "dateutil",
    "python-docx": "docx",
    "python-jose": "jose",
    "python-json-logger": "pythonjsonlogger",
    "python-ldap": "ldap",
    "python-magic": "magic",
    "python-pptx": "pptx",
    "python-slugify": "slugify",
    "python-stdnum": "stdnum",
    "pyyaml": "yaml",
    "requests-oauthlib": "requests_oauthlib",
    "scikit-learn": "sklearn",
    "xlsxwriter": "xlsxwriter",
}

_NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize_dist_name(name: str) -> str:
    """PEP 503 normalisation: ``Python_DateUtil`` -> ``python-dateutil``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The distribution name of a requirement (``"requests>=2; os_name=='nt'"`` -> ``requests``)."""
    match = _NAME_RE.match(requirement)
    return match.group(1) if match else requirement.strip()


def module_name(requirement: str) -> str:
    """The import name to try for a requirement (``PyYAML`` -> ``yaml``)."""
    dist = requirement_name(requirement)
    return PIP_TO_MODULE.get(normalize_dist_name(dist), dist.replace("-", "_"))


# Runs in the target interpreter (any Python 3.8+). Reads nothing but its own text.
_PROBE = r"""
import importlib.util, json, sys
try:
    import importlib.metadata as md
except ImportError:
    md = None
try:
    from packaging.requirements import Requirement
except Exception:
    Requirement = None
missing = []
for req, dist, mod in json.loads(REQS):
    if Requirement is not None:
        try:
            parsed = Requirement(req)
        except Exception:
            parsed = None
        if parsed is not None and parsed.marker is not None and not parsed.marker.evaluate():
            continue
    else:
        parsed = None
    version = None
    if md is not None:
        try:
            version = md.version(dist)
        except Exception:
            version = None
    if version is not None:
        spec = parsed.specifier if parsed is not None else None
        if spec and not spec.contains(version, prereleases=True):
            missing.append([req, "installed %s does not satisfy %s" % (version, spec)])
        continue
    try:
        found = importlib.util.find_spec(mod) is not None
    except Exception:
        found = False
    if not found:
        missing.append([req, "not installed"])
sys.stdout.write("\n" + json.dumps(missing) + "\n")
"""


def python_probe_script(requirements: Iterable[str]) -> str:
    """The script that :func:`check_python_dependencies` sends to the interpreter."""
    reqs = [[r, requirement_name(r), module_name(r)] for r in requirements]
    return f"REQS = {json.dumps(reqs)!r}\n{_PROBE}"


def check_python_dependencies(
    names: Iterable[str],
    python_cmd: Sequence[str] | None = None,
    *,
    timeout: float = 60.0,
) -> dict[str, str]:
    """The Python requirements among ``names`` that ``python_cmd`` cannot satisfy.

    ``python_cmd`` is a command list (``["python3"]``, or a runner prefix like
    ``["docker", "compose", "exec", "-T", "odoo", "python3"]``); ``None`` means
    ``["python3"]`` on this host. One subprocess runs for all names. Returns
    ``{requirement: reason}``; raises :class:`~odoo_ops.errors.TargetError` when
    the interpreter cannot be run.
    """
    import subprocess

    from odoo_ops import childproc

    unique = sorted(set(names))
    if not unique:
        return {}
    cmd = [*(python_cmd or ["python3"]), "-"]
    try:
        result = childproc.run(
            cmd,
            input=python_probe_script(unique),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except FileNotFoundError:
        raise TargetError(
            f"cannot run {cmd[0]!r} to check Python dependencies",
            hint="name the interpreter that runs Odoo, e.g. "
            "--python 'docker compose exec -T odoo python3'",
        ) from None
    except subprocess.TimeoutExpired:
        raise TargetError(f"{' '.join(cmd)} did not answer within {timeout:.0f} s") from None
    lines = result.stdout.strip().splitlines()
    if result.returncode != 0 or not lines:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise TargetError(f"checking Python dependencies with {' '.join(cmd)} failed: {detail}")
    try:
        missing = json.loads(lines[-1])
    except ValueError:
        raise TargetError(f"unexpected answer from {' '.join(cmd)}: {lines[-1][:200]}") from None
    return {str(req): str(reason) for req, reason in missing}


def check_bin_dependencies(names: Iterable[str], path: str | None = None) -> list[str]:
    """The programs among ``names`` not found on ``path`` (default ``$PATH``), sorted."""
    return sorted({n for n in names if shutil.which(n, path=path) is None})
