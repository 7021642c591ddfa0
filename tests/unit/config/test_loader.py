"""odoo-ops.toml loading: the issue's sample, interpolation, errors with dotted paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from odoo_ops.config.loader import load_config, parse_config
from odoo_ops.errors import ConfigError

ISSUE_SAMPLE = """
default_deployment = "production"
[deployments.production]
series = "18.0"
runner = "compose"                      # local | compose | ssh
compose_file = "docker-compose.yml"
odoo_service = "odoo"
db_service = "db"
odoo_conf = "config/odoo/odoo.conf"
database = "odoo_prod"
dsn = "postgresql://odoo:${POSTGRES_PASSWORD}@127.0.0.1:5432/odoo_prod"   # optional
base_url = "https://erp.example.com"
env_file = ".env"
backup_dir = "backups"
[deployments.staging]
runner = "local"
odoo_command = ["/opt/odoo/venv/bin/python", "/opt/odoo/odoo-bin"]
odoo_conf = "/etc/odoo/odoo.conf"
database = "odoo_staging"
base_url = "http://127.0.0.1:8069"
[deployments.remote]
runner = "ssh"
ssh_host = "deploy@erp.example.com"
remote_dir = "/opt/odoo-ce"
remote_runner = "compose"
[module_sets.finance]
modules = ["ipai_rate_policy", "ipai_ppm"]
[thresholds]
min_installed_modules = 100
[[services]]
name = "ocr"
url = "https://ocr.example.com/health"
required = true                          # hard fail; false = warning only
"""


def write(tmp_path: Path, text: str, env: str | None = None) -> Path:
    path = tmp_path / "odoo-ops.toml"
    path.write_text(text)
    if env is not None:
        (tmp_path / ".env").write_text(env)
    return path


def test_issue_sample_loads_with_env_file(tmp_path: Path) -> None:
    path = write(tmp_path, ISSUE_SAMPLE, env="POSTGRES_PASSWORD=s3cret-Value\n")
    loaded = load_config(path, environ={})
    config = loaded.config
    assert config.default_deployment == "production"
    assert set(config.deployments) == {"production", "staging", "remote"}
    prod = config.deployments["production"]
    assert prod.runner == "compose"
    assert prod.dsn == "postgresql://odoo:s3cret-Value@127.0.0.1:5432/odoo_prod"
    assert config.deployments["staging"].odoo_command[0] == "/opt/odoo/venv/bin/python"
    assert config.deployments["remote"].remote_runner == "compose"
    assert config.module_sets["finance"].modules == ["ipai_rate_policy", "ipai_ppm"]
    assert config.thresholds.min_installed_modules == 100
    assert config.services[0].required is True
    assert loaded.warnings == []


def test_environment_wins_over_env_file(tmp_path: Path) -> None:
    path = write(tmp_path, ISSUE_SAMPLE, env="POSTGRES_PASSWORD=from-file\n")
    loaded = load_config(path, environ={"POSTGRES_PASSWORD": "from-env"})
    assert "from-env" in (loaded.config.deployments["production"].dsn or "")


def test_unset_variable_is_a_warning_and_recorded(tmp_path: Path) -> None:
    path = write(tmp_path, ISSUE_SAMPLE)
    loaded = load_config(path, environ={})
    assert loaded.unresolved == {"deployments.production.dsn": ["POSTGRES_PASSWORD"]}
    assert any("POSTGRES_PASSWORD" in w for w in loaded.warnings)
    assert "${POSTGRES_PASSWORD}" in (loaded.config.deployments["production"].dsn or "")


def test_default_value_syntax(tmp_path: Path) -> None:
    text = '[deployments.a]\ndatabase = "${DB:-fallback}"\nbase_url = "${URL-http://x}"\n'
    loaded = load_config(write(tmp_path, text), environ={"DB": ""})
    dep = loaded.config.deployments["a"]
    assert dep.database == "fallback"
    assert dep.base_url == "http://x"


def test_unknown_keys_warn_with_path(tmp_path: Path) -> None:
    text = (
        '[deployments.a]\nrunner = "local"\nfavourite_colour = "blue"\n[thresholds]\nmax_pain = 1\n'
    )
    loaded = load_config(write(tmp_path, text), environ={})
    joined = "\n".join(loaded.warnings)
    assert "deployments.a.favourite_colour" in joined
    assert "thresholds.max_pain" in joined


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[deployments.production]\nrunner = "kubernetes"\n',
            "deployments.production.runner: must be one of 'local', 'compose' or 'ssh'",
        ),
        ('[deployments.p]\nseries = "eighteen"\n', "deployments.p.series: must look like 18.0"),
        ('[deployments.p]\nodoo_command = "odoo"\n', "deployments.p.odoo_command"),
        ('[deployments.p]\nrunner = "ssh"\n', "runner 'ssh' needs ssh_host"),
        ("[thresholds]\nmin_installed_modules = -1\n", "thresholds.min_installed_modules"),
        ('[[services]]\nname = "x"\nurl = "ftp://x"\n', "services[0].url: must be an http"),
        ('default_deployment = "nope"\n[deployments.a]\n', "default_deployment 'nope'"),
        ('[deployments.a]\nbase_url = "erp.example.com"\n', "deployments.a.base_url"),
    ],
)
def test_wrong_values_fail_with_dotted_path(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text), environ={})
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_broken_toml_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "[deployments.a\nrunner = "), environ={})
    assert "invalid TOML" in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_series_accepts_bare_major() -> None:
    loaded = parse_config({"deployments": {"a": {"series": 17}}}, Path("."), "x", {})
    assert loaded.config.deployments["a"].series == "17.0"
