"""``odoo-ops dr drill`` with the real Odoo 18: the backup pushed to a file remote is
fetched, restored neutralized into a scratch database and served by the real server."""

from __future__ import annotations

import json
from pathlib import Path

from tests.real.conftest import RealProject
from tests.real.test_backup import create_backup


def test_drill_from_a_remote_with_real_odoo(real_project: RealProject, tmp_path: Path) -> None:
    nas = tmp_path / "nas"
    nas.mkdir()
    real_project.configure(
        f'[[backup.remotes]]\nname = "nas"\nurl = "file://{nas}"\n'
        "[dr]\nrto_minutes = 15\nrpo_minutes = 60\n"
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
    print(f"real Odoo 18 drill: RTO {result['rto_seconds']} s, RPO {result['rpo_seconds']} s,"
          f" phases {result['phases']}")
    # torn down: only the live database's filestore remains
    assert [p.name for p in (real_project.data_dir / "filestore").iterdir()] == [
        real_project.database
    ]
