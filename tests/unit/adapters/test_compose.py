from __future__ import annotations

import json
from pathlib import Path

import pytest

from odoo_ops.adapters.compose import load_compose, parse_compose_ps
from odoo_ops.errors import ConfigError

ROWS = [
    {"Service": "odoo", "Name": "erp-odoo-1", "State": "running", "Health": "healthy"},
    {"Service": "db", "Name": "erp-db-1", "State": "exited", "Health": ""},
]


def test_ps_json_array_format() -> None:
    states = parse_compose_ps(json.dumps(ROWS))
    assert [(s.service, s.state, s.health) for s in states] == [
        ("odoo", "running", "healthy"),
        ("db", "exited", ""),
    ]


def test_ps_json_lines_format() -> None:
    text = "\n".join(json.dumps(r) for r in ROWS) + "\n"
    assert parse_compose_ps(text) == parse_compose_ps(json.dumps(ROWS))


def test_ps_empty_and_garbage() -> None:
    assert parse_compose_ps("") == []
    with pytest.raises(ValueError):
        parse_compose_ps("{not json")


def test_mounts_and_host_paths(tmp_path: Path) -> None:
    (tmp_path / "addons").mkdir()
    (tmp_path / "docker-compose.yml").write_text(
        """
services:
  web:
    image: odoo:17.0
    volumes:
      - ./addons:/mnt/extra-addons
      - odoo-data:/var/lib/odoo
      - type: bind
        source: ./conf
        target: /etc/odoo
        read_only: true
  pg:
    image: postgres:16
"""
    )
    compose = load_compose(tmp_path / "docker-compose.yml")
    odoo = compose.odoo_service()
    assert odoo is not None and odoo.name == "web"
    assert odoo.image_tag == "17.0"
    assert compose.db_service() is not None and compose.db_service().name == "pg"  # type: ignore[union-attr]
    assert odoo.host_path("/mnt/extra-addons/custom") == tmp_path / "addons" / "custom"
    assert odoo.host_path("/etc/odoo/odoo.conf") == tmp_path / "conf" / "odoo.conf"
    assert odoo.host_path("/var/lib/odoo") is None  # named volume
    assert odoo.host_path("/usr/lib/python3/dist-packages/odoo/addons") is None


@pytest.mark.parametrize("text", ["services: [", "just: text\n", "services:\n  odoo: 3\n"])
def test_bad_compose_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError):
        load_compose(path)
