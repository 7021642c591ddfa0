"""Fixtures of the file-based check tests (see :mod:`.helpers`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .helpers import FileProject


@pytest.fixture
def fp(tmp_path: Path) -> FileProject:
    """A project with ``[deployments.test]`` (local runner, series 18.0, production)."""
    root = tmp_path / "project"
    root.mkdir()
    return FileProject(
        root,
        {"runner": "local", "series": "18.0", "odoo_conf": "odoo.conf", "connect_timeout": 2},
        environ={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "")},
    )
