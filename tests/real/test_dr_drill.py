"""``odoo-ops dr drill`` with the real Odoo 18: the backup pushed to a file remote is
fetched, restored neutralized into a scratch database and served by the real server."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.real.conftest import RealProject
from tests.real.test_backup import create_backup
from tests.support.pg import SHARED_DIR

#: What the reference run of the shared dump's database records about its admin user.
ADMIN_REFERENCE = SHARED_DIR / "reference" / "odoo-18" / "http" / "xmlrpc_checks.txt"


def _admin_password() -> str | None:
    """The admin password of the shared dump, when the reference records it."""
    try:
        text = ADMIN_REFERENCE.read_text()
    except OSError:
        return None
    match = re.search(r"^authenticate admin/(\S+) uid: \d+$", text, re.MULTILINE)
    return match.group(1) if match else None


def test_drill_from_a_remote_with_real_odoo(real_project: RealProject, tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    nas.mkdir()
    password = _admin_password()
    # the login step needs the dump's admin password; without it the drill runs
    # without logging in (and says so in its notes)
    login = f'login = "admin"\npassword = "{password}"\n' if password else ""
    real_project.configure(
        f'[[backup.remotes]]\nname = "nas"\nurl = "file://{nas}"\n'
        f"[dr]\nrto_minutes = 15\nrpo_minutes = 60\n{login}"
    )
    name = create_backup(real_project)
    pushed = real_project.cli("backup", "push", name, "--remote", "nas")
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    drill = real_project.cli("dr", "drill", "--from", "nas", "--format", "json", timeout=600)
    assert drill.returncode == 0, drill.stdout + drill.stderr
    result = json.loads(drill.stdout)
    assert result["ok"] and result["problems"] == [], result
    assert result["checks"]["tables_compared"] > 5 and result["checks"]["modules_compared"] > 20
    assert 0 < result["rto_seconds"] < 900 and 0 <= result["rpo_seconds"] < 3600
    if password:
        assert result["checks"]["login"] == "admin" and "login" in result["phases"]
    else:
        assert any("no [dr] login" in n for n in result["notes"]), result["notes"]
    print(f"real Odoo 18 drill: RTO {result['rto_seconds']} s, RPO {result['rpo_seconds']} s,"
          f" phases {result['phases']}")
    # torn down: only the live database's filestore remains
    assert [p.name for p in (real_project.data_dir / "filestore").iterdir()] == [
        real_project.database
    ]
