"""Random configurations never crash the loader: they load or fail with one ConfigError line."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from odoo_ops.config.loader import parse_config
from odoo_ops.errors import ConfigError

scalars = st.one_of(
    st.none().map(lambda _: ""),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["local", "compose", "ssh", "18.0", "17", "http://x", "${X}", "${Y:-z}"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
known_keys = st.sampled_from(
    [
        "series",
        "runner",
        "dsn",
        "database",
        "odoo_command",
        "base_url",
        "ssh_host",
        "connect_timeout",
        "addons_paths",
        "env_file",
        "production",
        "x",
    ]
)
deployment = st.dictionaries(known_keys, values, max_size=6)
documents = st.fixed_dictionaries(
    {},
    optional={
        "default_deployment": st.text(max_size=8),
        "deployments": st.dictionaries(st.text(min_size=1, max_size=6), deployment, max_size=3)
        | values,
        "thresholds": st.dictionaries(
            st.sampled_from(["min_installed_modules", "max_log_errors", "disk_max_percent"]),
            values,
            max_size=3,
        ),
        "services": st.lists(
            st.dictionaries(st.sampled_from(["name", "url", "required"]), values, max_size=3),
            max_size=2,
        )
        | values,
        "module_sets": values,
        "backup": values,
    },
)


@settings(max_examples=150, deadline=None)
@given(documents)
def test_random_documents_load_or_fail_cleanly(tmp_path_factory: object, doc: dict) -> None:
    try:
        loaded = parse_config(doc, Path("/nonexistent"), "odoo-ops.toml", {"X": "1"})
    except ConfigError as exc:
        assert "\n" not in str(exc)
        assert str(exc).startswith("odoo-ops.toml")
    else:
        assert loaded.config is not None
