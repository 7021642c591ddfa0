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
from dataclasses import dataclass, field
from typing import Any

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


#: Starts the one line of the probe's answer (whatever else the interpreter prints).
MARKER = "ODOO-OPS-PROBE "

# Runs in the interpreter that runs Odoo (any Python 3.8+); prints one marked JSON line.
_PROBE = r"""
import importlib.util, json, shutil, sys
try:
    import importlib.metadata as md
except ImportError:
    md = None
try:
    from packaging.requirements import Requirement
except Exception:
    Requirement = None
data = json.loads(DATA)
for extra in data["sys_path"]:
    sys.path.insert(0, extra)
def have(name):
    try:
        return importlib.util.find_spec(name) is not None
    except Exception:
        return False
out = {"python": sys.version.split()[0], "executable": sys.executable,
       "requirements": [], "programs": [], "odoo": []}
for req, dist, mod in data["requirements"]:
    parsed = None
    if Requirement is not None:
        try:
            parsed = Requirement(req)
        except Exception:
            parsed = None
        if parsed is not None and parsed.marker is not None and not parsed.marker.evaluate():
            continue
    version = None
    if md is not None:
        try:
            version = md.version(dist)
        except Exception:
            version = None
    if version is not None:
        spec = parsed.specifier if parsed is not None else None
        if spec and not spec.contains(version, prereleases=True):
            why = "installed %s does not satisfy %s" % (version, spec)
            out["requirements"].append([req, why])
        continue
    if not have(mod):
        out["requirements"].append([req, "not installed"])
for prog in data["programs"]:
    if shutil.which(prog) is None:
        out["programs"].append(prog)
for mod in data["odoo"]:
    if not have(mod):
        out["odoo"].append(mod)
sys.stdout.write("\n" + MARKER + json.dumps(out) + "\n")
"""


def probe_script(
    requirements: Iterable[str],
    programs: Iterable[str] = (),
    odoo_modules: Iterable[str] = (),
    sys_path: Iterable[str] = (),
) -> str:
    """The one script sent to the interpreter that runs Odoo: which of
    ``requirements`` it cannot satisfy, which ``programs`` are not on its PATH,
    which ``odoo_modules`` it cannot import (after prepending ``sys_path``)."""
    data = {
        "requirements": [[r, requirement_name(r), module_name(r)] for r in requirements],
        "programs": list(programs),
        "odoo": list(odoo_modules),
        "sys_path": list(sys_path),
    }
    return f"DATA = {json.dumps(json.dumps(data))}\nMARKER = {MARKER!r}\n{_PROBE}"


@dataclass
class ProbeResult:
    python: str
    executable: str
    requirements: dict[str, str] = field(default_factory=dict)
    programs: list[str] = field(default_factory=list)
    odoo: list[str] = field(default_factory=list)


def parse_probe_output(output: str) -> ProbeResult | None:
    """The probe's answer: its last marked line (None when there is none)."""
    for line in reversed(output.splitlines()):
        if line.startswith(MARKER):
            try:
                doc: dict[str, Any] = json.loads(line[len(MARKER) :])
            except ValueError:
                return None
            return ProbeResult(
                python=str(doc.get("python", "")),
                executable=str(doc.get("executable", "")),
                requirements={str(r): str(why) for r, why in doc.get("requirements", [])},
                programs=[str(p) for p in doc.get("programs", [])],
                odoo=[str(m) for m in doc.get("odoo", [])],
            )
    return None



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
            input=probe_script(unique),
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
    probe = parse_probe_output(result.stdout) if result.returncode == 0 else None
    if probe is None:
        detail = (result.stderr.strip().splitlines() or ["no answer"])[-1]
        raise TargetError(f"checking Python dependencies with {' '.join(cmd)} failed: {detail}")
    return probe.requirements


def check_bin_dependencies(names: Iterable[str], path: str | None = None) -> list[str]:
    """The programs among ``names`` not found on ``path`` (default ``$PATH``), sorted."""
    return sorted({n for n in names if shutil.which(n, path=path) is None})
