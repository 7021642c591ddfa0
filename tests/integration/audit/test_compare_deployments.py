"""``check --compare A B`` over two real databases that differ in one module version
and one odoo.conf setting (and a database name)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import psycopg
import pytest

from odoo_ops.audit.compare import compare_conf, compare_images
from odoo_ops.cli.main import main

pytestmark = pytest.mark.pg


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(args)
    except SystemExit as exc:
        code = exc.code
    captured = capsys.readouterr()
    return int(code or 0), captured.out, captured.err


@pytest.fixture
def two(odoo_db: Any, tmp_path: Path) -> tuple[Path, Any, Any]:
    staging, production = odoo_db(18), odoo_db(18)
    root = tmp_path / "proj"
    root.mkdir()
    (root / "odoo-ops.toml").write_text(
        'default_deployment = "production"\n'
        f'[deployments.staging]\ndsn = "{staging.dsn}"\n'
        f'[deployments.production]\ndsn = "{production.dsn}"\n'
    )
    return root, staging, production


def test_identical_then_one_module_and_one_setting_differ(
    two: tuple[Path, Any, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    root, staging, production = two
    code, out, err = run(["-C", str(root), "check", "--compare", "staging", "production"], capsys)
    assert code == 0, out + err
    assert "staging -> production: identical (modules)" in out
    assert "image ids not compared" in out

    with psycopg.connect(staging.dsn, autocommit=True) as conn:
        old = conn.execute(
            "SELECT latest_version FROM ir_module_module WHERE name = 'mail'"
        ).fetchone()[0]
        conn.execute("UPDATE ir_module_module SET latest_version = '18.0.9.9'"
                     " WHERE name = 'mail'")  # fmt: skip
    staging.write_odoo_conf(root / "staging.conf", workers=4, admin_passwd="s3cr3t-staging")
    production.write_odoo_conf(root / "production.conf", workers=2, admin_passwd="s3cr3t-prod")
    toml = root / "odoo-ops.toml"
    text = toml.read_text()
    text = text.replace("[deployments.production]\n",
                        '[deployments.production]\nodoo_conf = "production.conf"\n')  # fmt: skip
    text = text.replace("[deployments.staging]\n",
                        '[deployments.staging]\nodoo_conf = "staging.conf"\n')  # fmt: skip
    toml.write_text(text)

    code, out, err = run(["-C", str(root), "check", "--compare", "staging", "production",
                          "--format", "json"], capsys)  # fmt: skip
    assert code == 1, err
    doc = json.loads(out)
    assert doc["identical"] is False and doc["compared"] == ["modules", "odoo.conf"]
    diffs = {(d["kind"], d["name"]): d for d in doc["differences"]}
    assert diffs[("module", "mail")] == {
        "kind": "module", "name": "mail", "a": "18.0.9.9", "b": old, "change": "upgrade (-u)"
    }
    workers = diffs[("odoo.conf", "workers")]
    assert workers["a"] == "4" and workers["b"] == "2" and workers["change"] == "change"
    assert diffs[("odoo.conf", "db_name")]["change"] == "change"
    # a secret differs: said, never shown
    assert diffs[("odoo.conf", "admin_passwd")]["a"] == "(a secret)"
    assert "s3cr3t" not in out + err
    assert {k for k, _ in diffs} == {"module", "odoo.conf"}
    assert len([k for k in diffs if k[0] == "module"]) == 1

    code, out, err = run(["-C", str(root), "check", "--compare", "staging", "production",
                          "--format", "markdown"], capsys)  # fmt: skip
    assert code == 1 and "| module | mail | 18.0.9.9 |" in out, out


def test_compare_refuses_bad_input(
    two: tuple[Path, Any, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    root, _, _ = two
    for args, message in [
        (["--compare", "staging", "staging"], "two different deployments"),
        (["--compare", "staging", "nosuch"], "no deployment named 'nosuch'"),
        (["--compare", "staging", "production", "--full"], "--compare takes no --full"),
        (["--compare", "staging", "production", "--format", "junit"], "table, markdown or json"),
    ]:
        code, _, err = run(["-C", str(root), "check", *args], capsys)
        assert code == 2 and message in err, (args, err)


def test_conf_and_image_differences() -> None:
    diffs = compare_conf({"workers": "2", "db_password": "x"}, {"workers": "2", "proxy_mode": "1"})
    assert [(d.name, d.a, d.b, d.change) for d in diffs] == [
        ("db_password", "(a secret)", None, "set"),  # promoting A sets it on B
        ("proxy_mode", None, "1", "unset"),
    ]
    a = {"odoo-core": "sha256:" + "a" * 64, "odoo-web": "sha256:" + "c" * 64}
    b = {"odoo-core": "sha256:" + "b" * 64, "odoo-web": "sha256:" + "c" * 64,
         "odoo-x": "sha256:" + "d" * 64, "odoo-y": None}
    assert [(d.name, d.change) for d in compare_images(a, b)] == [
        ("odoo-core", "new image"), ("odoo-x", "not on A")
    ]
