"""The ``odoo`` test double (tests/support/bin/odoo) against the real Odoo 18.

The double stays for the failures a real server cannot produce on demand; these
tests keep it honest: the same command on copies of the same real database, the
same exit code, the same log lines odoo-ops reads, the same database afterwards.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.real.conftest import RealProject

DOUBLE = Path(__file__).resolve().parents[1] / "support" / "bin" / "odoo"
LINE = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} \d+ (ERROR|CRITICAL) (\S+) ([\w.]+): (.*)$")


def run_double(project: RealProject, *args: str,
               subcommand: str | None = None) -> subprocess.CompletedProcess[str]:
    head = [subcommand] if subcommand else []
    return subprocess.run([sys.executable, str(DOUBLE), *head, "-c", str(project.conf), *args],
                          capture_output=True, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL)


def failure_lines(log: Path) -> list[tuple[str, str, str, str]]:
    """(level, db, logger, first line of message) of the ERROR/CRITICAL lines."""
    out = []
    for line in log.read_text(errors="replace").splitlines():
        found = LINE.match(line)
        if found:
            out.append((found[1], found[2], found[3], found[4].strip()))
    return out


def test_a_failed_upgrade_looks_the_same_from_the_double(
    real_project: RealProject, tmp_path: Path,
) -> None:
    p = real_project
    p.add_addon("ops_fail", "18.0.1.0.0")
    real_log, double_log = tmp_path / "real.log", tmp_path / "double.log"
    assert p.odoo_run("-i", "ops_fail", "--stop-after-init", "--no-http").returncode == 0
    before = p.modules()
    # a view on a missing field for the real server; the planted failure for the double
    view = ('<odoo><record id="v" model="ir.ui.view"><field name="model">res.partner</field>'
            '<field name="arch" type="xml"><form><field name="x_missing"/></form></field>'
            "</record></odoo>")
    p.add_addon("ops_fail", "18.0.1.0.1", data={"views.xml": view})
    manifest = p.addons / "ops_fail" / "__manifest__.py"
    manifest.write_text(manifest.read_text().rstrip()[:-1]
                        + ', "odoo_double": {"fail": "update"}}\n')
    real = p.odoo_run("-u", "ops_fail", "--stop-after-init", "--no-http",
                      f"--logfile={real_log}")
    assert p.modules() == before  # real Odoo rolled the module back
    double = run_double(p, "-u", "ops_fail", "--stop-after-init", "--no-http",
                        f"--logfile={double_log}")
    assert p.modules() == before
    assert (double.returncode, real.returncode) == (255, 255), (real.stderr, double.stderr)
    real_lines = [line for line in failure_lines(real_log) if line[2] != "odoo.tools.convert"]
    double_lines = [line for line in failure_lines(double_log)
                    if line[2] != "odoo.tools.convert"]
    assert [line[:3] for line in double_lines] == [line[:3] for line in real_lines]
    assert double_lines[-1][3] == real_lines[-1][3] == (
        f"Failed to initialize database `{p.database}`.")


def test_neutralize_of_the_double_matches_the_real_one(real_project: RealProject) -> None:
    p = real_project
    real = p.odoo_run(subcommand="neutralize")
    assert real.returncode == 0, real.stderr
    queries = {
        "mail servers": "SELECT name, smtp_host, active FROM ir_mail_server ORDER BY name",
        "active crons": "SELECT c.id FROM ir_cron c WHERE c.active ORDER BY c.id",
        "neutralized": "SELECT value FROM ir_config_parameter"
                       " WHERE key = 'database.is_neutralized'",
    }
    after_real = {k: p.sql(q) for k, q in queries.items()}
    # undo what the real neutralize did, then let the double do it
    p.sql("DELETE FROM ir_mail_server")
    p.sql("DELETE FROM ir_config_parameter WHERE key = 'database.is_neutralized'")
    p.sql("UPDATE ir_cron SET active = true")
    double = run_double(p, subcommand="neutralize")
    assert double.returncode == 0, double.stderr
    after_double = {k: p.sql(q) for k, q in queries.items()}
    assert after_double == after_real
