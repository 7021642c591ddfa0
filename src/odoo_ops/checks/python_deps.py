"""``python-dependencies``: what Odoo and its addons import is there where Odoo runs.

One probe runs through the deployment's runner — in the odoo service for
compose (``python3``), with the interpreter of ``odoo_command`` on a local
host — and answers for everything at once: Odoo's own libraries, the Python
``external_dependencies`` of the addons in use (checked like Odoo 17+ does:
the installed distribution and its version specifier first, then the import
name) and the programs of ``external_dependencies['bin']`` on ``PATH``.
Nothing of the addons is imported.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.adapters import Unavailable
from odoo_ops.addons.external import parse_probe_output, probe_script
from odoo_ops.checks.base import Outcome, Status, check, failed, passed, skipped, warned
from odoo_ops.errors import OpsError

if TYPE_CHECKING:
    from odoo_ops.checks.context import CheckContext

AREA = "python"
PROBE_TIMEOUT = 45.0

#: Import names of libraries every Odoo 16.0-19.0 server loads (requirements.txt).
ODOO_MODULES = (
    "babel", "dateutil", "decorator", "docutils", "idna", "lxml", "markupsafe", "num2words",
    "passlib", "PIL", "polib", "psutil", "psycopg2", "pytz", "qrcode", "reportlab", "requests",
    "stdnum", "vobject", "werkzeug", "xlsxwriter", "zeep",
)  # fmt: skip
#: The package that is Odoo itself.
ODOO_PACKAGE = "odoo"
#: Programs Odoo calls itself: wkhtmltopdf renders every PDF report.
ODOO_PROGRAMS = ("wkhtmltopdf",)

_PYTHON_NAME = re.compile(r"^python(\d+(\.\d+)?)?$")

def _shebang_python(path: Path) -> str | None:
    """The interpreter named on the ``#!`` line of a script (``/venv/bin/python3``)."""
    try:
        with path.open("rb") as fh:
            first = fh.readline(300).decode("utf-8", errors="replace").strip()
    except OSError:
        return None
    if not first.startswith("#!"):
        return None
    parts = first[2:].split()
    if not parts:
        return None
    if Path(parts[0]).name == "env" and len(parts) > 1:
        parts = parts[1:]
        if parts[0] == "-S" and len(parts) > 1:
            parts = parts[1:]
    return parts[0] if _PYTHON_NAME.match(Path(parts[0]).name) else None


def interpreter(ctx: CheckContext) -> tuple[list[str], list[str], str]:
    """(python argv, extra sys.path entries, how it was chosen) where Odoo runs."""
    dep = ctx.deployment
    if dep.runner == "compose" or (dep.runner == "ssh" and dep.remote_runner == "compose"):
        return ["python3"], [], f"python3 in compose service {dep.odoo_service!r}"
    command = list(dep.odoo_command)
    first = command[0]
    extra: list[str] = []
    # odoo-bin run from a source checkout: the odoo package sits next to it
    for arg in command:
        if Path(arg).name in ("odoo-bin", "openerp-server"):
            extra.append(str(Path(arg).parent))
    if _PYTHON_NAME.match(Path(first).name):
        return [first], extra, f"{first} (odoo_command)"
    if dep.runner == "local":
        path = Path(first) if os.sep in first else None
        if path is None:
            import shutil

            found = shutil.which(first)
            path = Path(found) if found else None
        if path is not None:
            python = _shebang_python(path)
            if python:
                return [python], extra, f"{python} (the #! line of {path})"
    return ["python3"], extra, "python3 (odoo_command does not name a Python interpreter)"


def addons_in_use(ctx: CheckContext) -> tuple[list[Any], str, str]:
    """Installable addons whose dependencies count, how they were chosen, and why."""
    from odoo_ops.checks.addons import addons_view

    try:
        view = addons_view(ctx)
    except Unavailable as exc:
        return [], "no addons", f"addons not checked: {exc}"
    addons = [
        a for n, a in sorted(view.scan.addons.items()) if n in view.relevant and a.installable
    ]
    return addons, view.scope, view.scope_evidence


@check(
    "python-dependencies",
    area=AREA,
    title="Python libraries and programs of Odoo and its addons present where Odoo runs",
    severity="error",
    needs=["files", "runner"],
)
def python_dependencies(ctx: CheckContext) -> Outcome:
    addons, scope, scope_note = addons_in_use(ctx)
    req_users: dict[str, list[str]] = {}
    bin_users: dict[str, list[str]] = {}
    for addon in addons:
        for req in addon.python_dependencies:
            req_users.setdefault(req, []).append(addon.name)
        for prog in addon.bin_dependencies:
            bin_users.setdefault(prog, []).append(addon.name)
    python, sys_path, how = interpreter(ctx)
    if ctx.deployment.runner == "compose":
        from odoo_ops.checks.docker import daemon_state

        ok, said = daemon_state(ctx)  # asked once per run, shared with docker-daemon
        if not ok:
            return Outcome(
                Status.SKIP,
                f"Docker daemon not reachable: {said}",
                "start Docker (see docker-daemon) and run the check again",
            )
    programs = sorted({*bin_users, *ODOO_PROGRAMS})
    script = probe_script(sorted(req_users), programs, [ODOO_PACKAGE, *ODOO_MODULES], sys_path)
    try:
        runner = ctx.runner
        result = runner.run([*python, "-c", script], timeout=PROBE_TIMEOUT)
    except OpsError as exc:
        return skipped(f"cannot run {python[0]} where Odoo runs: {exc}")
    where = runner.describe()
    if result.timed_out:
        return skipped(f"{python[0]} via {where} gave no answer within {PROBE_TIMEOUT:g}s")
    probe = parse_probe_output(result.output)
    if probe is None:
        lines = [ln.strip() for ln in result.output.splitlines() if ln.strip()]
        telling = [ln for ln in lines if re.search(r"error|cannot|not |denied|refused", ln, re.I)]
        last = (telling or lines or ["no output"])[0][:200]
        return Outcome(
            Status.SKIP,
            f"cannot run {python[0]} via {where} (exit code {result.returncode}): {last}",
            "start the Odoo service (or fix odoo_command) and run the check again",
        )
    env = f"Python {probe.python} ({probe.executable or python[0]}) via {where}"
    errors: list[str] = []
    evidence: list[str] = [f"interpreter: {how}", scope_note]
    odoo_missing = [m for m in probe.odoo if m != ODOO_PACKAGE]
    if ODOO_PACKAGE in probe.odoo:
        errors.append("the odoo package itself is not importable")
        evidence.append("odoo: not importable by this interpreter (wrong python?)")
    if odoo_missing:
        errors.append(f"Odoo's own libraries missing: {', '.join(odoo_missing)}")
        evidence.extend(f"{m}: needed by Odoo itself" for m in odoo_missing)
    for req, why in sorted(probe.requirements.items()):
        users = req_users.get(req, [])
        errors.append(f"{req} ({why}) for {', '.join(users)}")
        evidence.append(f"{req}: {why}; external_dependencies of {', '.join(users)}")
    addon_programs = [p for p in probe.programs if p in bin_users]
    for prog in addon_programs:
        errors.append(f"program {prog} not on PATH for {', '.join(bin_users[prog])}")
        evidence.append(
            f"{prog}: not on PATH; external_dependencies['bin'] of {', '.join(bin_users[prog])}"
        )
    odoo_programs = [p for p in probe.programs if p not in bin_users]
    summary = (
        f"{len(req_users)} addon requirement(s) and {len(bin_users)} program(s) of {scope},"
        f" plus Odoo's own libraries, checked in {env}"
    )
    if errors:
        pip = " ".join(f"'{r}'" for r in sorted(probe.requirements)) or "..."
        return failed(
            f"missing where Odoo runs: {'; '.join(errors)}",
            f"install them into the interpreter that runs Odoo (e.g. `{python[0]} -m pip install"
            f" {pip}`, or add them to the image's requirements and rebuild); install missing"
            " programs with the system package manager",
            evidence,
        )
    if odoo_programs:
        return warned(
            f"{', '.join(odoo_programs)} not on PATH where Odoo runs: PDF reports (invoices,"
            f" quotations) fail; {summary}",
            "install wkhtmltopdf 0.12.6 with patched Qt (packaging.wkhtmltopdf.org) where Odoo"
            " runs",
            evidence,
        )
    return passed(summary, evidence)
