"""``modules uninstall|reinstall`` and ``maintenance on|off`` with the real Odoo 18."""

from __future__ import annotations

from tests.real.conftest import RealProject
from tests.real.test_modules import add_shop


def field_rows(project: RealProject) -> list[tuple[object, ...]]:
    return project.sql("SELECT count(*) FROM ir_model_fields"
                       " WHERE model = 'res.partner' AND name = 'x_ops_code'")


def test_uninstall_and_reinstall_a_module_for_real(real_project: RealProject) -> None:
    p = real_project
    add_shop(p, "18.0.1.0.0")
    assert p.cli("modules", "install", "ops_shop").returncode == 0
    p.sql("UPDATE res_partner SET x_ops_code = 'kept?' WHERE id = 1")

    refused = p.cli("modules", "uninstall", "ops_shop")
    assert refused.returncode != 0 and "--force" in refused.stdout + refused.stderr
    assert p.modules()["ops_shop"][0] == "installed"

    gone = p.cli("modules", "uninstall", "ops_shop", "--force", "--no-backup")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert p.modules()["ops_shop"][0] == "uninstalled"
    assert field_rows(p) == [(0,)]  # the real uninstall dropped the field and its column
    assert p.sql("SELECT count(*) FROM information_schema.columns WHERE table_name ="
                 " 'res_partner' AND column_name = 'x_ops_code'") == [(0,)]

    assert p.cli("modules", "install", "ops_shop").returncode == 0
    again = p.cli("modules", "reinstall", "ops_shop", "--force", "--no-backup")
    assert again.returncode == 0, again.stdout + again.stderr
    assert p.modules()["ops_shop"] == ("installed", "18.0.1.0.0")
    assert field_rows(p) == [(1,)]


def test_maintenance_stops_and_starts_the_real_server(real_project: RealProject) -> None:
    p = real_project
    p.use_service_commands()
    p.service_start()
    on = p.cli("maintenance", "on", "--reason", "real test")
    assert on.returncode == 0, on.stdout + on.stderr
    assert p.health() is None and p.service_pids() == []  # stopped through stop_command
    assert p.sql("SELECT count(*) FROM ir_config_parameter"
                 " WHERE key = 'odoo_ops.maintenance'") == [(1,)]
    status = p.cli("maintenance", "status")
    assert "on" in status.stdout, status.stdout

    off = p.cli("maintenance", "off")
    assert off.returncode == 0, off.stdout + off.stderr
    assert p.sql("SELECT count(*) FROM ir_config_parameter"
                 " WHERE key = 'odoo_ops.maintenance'") == [(0,)]
    p.wait_health()  # started by `off` through start_command
    assert len(p.service_pids()) == 1
    # off again: the server runs, the status command says so, nothing is started twice
    assert p.cli("maintenance", "off").returncode == 0
    assert len(p.service_pids()) == 1
