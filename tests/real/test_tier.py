"""How the tier finds its server: skip with one reason without the tarball, fail on CI."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.real import conftest as real
from tests.real import odoo18_env


def test_without_the_tarball_the_tier_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.delenv(odoo18_env.ENV_VAR, raising=False)
    monkeypatch.setattr(odoo18_env, "DEFAULT_TARBALL", tmp_path / "absent.tar.zst")
    assert real._locate_odoo18() == (
        f"real Odoo 18 tarball not available ({tmp_path / 'absent.tar.zst'})")


def test_a_configured_directory_must_be_a_finished_build(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    monkeypatch.setenv(odoo18_env.ENV_VAR, str(tmp_path))
    assert "is not a built Odoo 18 (no READY)" in str(real._locate_odoo18())
    (tmp_path / "READY").write_text("key\n")
    assert real._locate_odoo18() == real.Odoo18(tmp_path)


def test_the_build_is_keyed_on_the_tarball_and_reused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, odoo18: real.Odoo18,
) -> None:
    """A second ensure() of the same tarball returns the same ready directory at once."""
    cache = odoo18.home.parent
    again = odoo18_env.ensure(odoo18_env.DEFAULT_TARBALL, cache)
    assert again == odoo18.home
    assert (again / "READY").read_text().strip() == again.name.removeprefix("odoo18-")
    assert not list(cache.glob("odoo18-*.building-*"))
