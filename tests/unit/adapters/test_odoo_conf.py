from __future__ import annotations

from pathlib import Path

import pytest

from odoo_ops.adapters.odoo_conf import parse_odoo_conf, read_odoo_conf
from odoo_ops.errors import ConfigError

CONF = """[options]
addons_path = /mnt/extra-addons, /usr/lib/python3/dist-packages/odoo/addons
db_password = %(env:PGPASSWORD)s
admin_passwd = %(env:NOT_SET)s
workers = 4
list_db = False
proxy_mode = True
limit_memory_hard = 2684354560
db_port = False
data_dir = %(root)s/data
root = /srv/odoo
max_cron_threads = two
"""


def test_types_and_interpolation() -> None:
    conf = parse_odoo_conf(CONF, env={"PGPASSWORD": "pw-123456"})
    assert conf.get("workers") == 4
    assert conf.get("list_db") is False
    assert conf.get("proxy_mode") is True
    assert conf.get("limit_memory_hard") == 2684354560
    assert conf.addons_path == ["/mnt/extra-addons", "/usr/lib/python3/dist-packages/odoo/addons"]
    assert conf.get("db_password") == "pw-123456"
    assert conf.get("db_port") is None  # False means unset, as in Odoo
    assert conf.get("data_dir") == "/srv/odoo/data"
    # defaults when absent
    assert conf.get("limit_time_real") == 120
    assert conf.get("http_port") == 8069


def test_unresolved_and_problems_are_reported() -> None:
    conf = parse_odoo_conf(CONF, env={})
    assert conf.unresolved["admin_passwd"] == ["NOT_SET"]
    assert conf.get("admin_passwd") is None
    assert any(p.startswith("max_cron_threads:") for p in conf.problems)
    assert conf.get("max_cron_threads") == 2  # falls back to Odoo's default


@pytest.mark.parametrize(
    "text",
    ["this is garbage\n", "[options\nworkers=2\n", "[server]\nworkers = 2\n", "\x00\x01"],
)
def test_garbage_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_odoo_conf(text)
    assert "\n" not in str(info.value)


def test_read_missing_and_binary(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        read_odoo_conf(tmp_path / "odoo.conf")
    bad = tmp_path / "bin.conf"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError):
        read_odoo_conf(bad)


def test_hashed_admin_passwd() -> None:
    conf = parse_odoo_conf("[options]\nadmin_passwd = $pbkdf2-sha512$600000$abc$def\n")
    assert conf.admin_passwd_hashed
