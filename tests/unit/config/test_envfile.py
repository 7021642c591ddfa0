from __future__ import annotations

import pytest

from odoo_ops.config.envfile import interpolate, parse_env_text
from odoo_ops.errors import ConfigError


def test_parse_env_text() -> None:
    text = """
# comment
export A=1
B = "two words"
C='single # not a comment'
D=value # trailing comment
E=
"""
    assert parse_env_text(text) == {
        "A": "1",
        "B": "two words",
        "C": "single # not a comment",
        "D": "value",
        "E": "",
    }


def test_bad_line_names_file_and_line() -> None:
    with pytest.raises(ConfigError, match=r"\.env:2: not a KEY=value line"):
        parse_env_text("A=1\nthis is not\n")


def test_interpolate() -> None:
    missing: set[str] = set()
    out = interpolate("a=${A} b=${B:-bee} c=${C} $$", {"A": "x"}, missing)
    assert out == "a=x b=bee c=${C} $"
    assert missing == {"C"}
