"""A generated project to put a go-live board on."""

from __future__ import annotations

from pathlib import Path

import pytest

from odoo_ops.adapters import Target
from odoo_ops.adapters.project import resolve_project
from odoo_ops.generate import InitOptions, apply_plan, plan_project


@pytest.fixture
def golive_project(tmp_path: Path) -> Path:
    opts = InitOptions(
        directory=tmp_path / "erp", domain="erp.example.com", database="odoo_prod",
        cpus=2, ram_mb=8192, hash_rounds=1000,
    )  # fmt: skip
    apply_plan(plan_project(opts))
    return opts.directory


def target_of(directory: Path) -> Target:
    return Target(resolve_project(directory, environ={}))
