"""Which addons are Odoo's own, and where an addon comes from.

The lists of Odoo Community addons per series are the ones manifestoo-core
ships (``manifestoo_core/core_addons/addons-SERIES-c.txt``). They are read as
data files: importing ``manifestoo_core`` costs more than reading them.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from odoo_ops.addons.manifest import Addon
from odoo_ops.addons.versions import check_series
from odoo_ops.errors import UsageError

OCA_AUTHOR = "Odoo Community Association (OCA)"
OCA_WEBSITES = ("https://github.com/oca/", "http://github.com/oca/", "github.com/oca/")


def _core_list_path(series: str, edition: str) -> Path | None:
    spec = importlib.util.find_spec("manifestoo_core")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "core_addons" / f"addons-{series}-{edition}.txt"
        if candidate.is_file():
            return candidate
    return None


@cache
def _read_list(series: str, edition: str) -> frozenset[str]:
    path = _core_list_path(series, edition)
    if path is None:
        raise UsageError(
            f"no list of Odoo core addons for series {series}",
            hint="upgrade manifestoo-core or use a supported series",
        )
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.add(line)
    return frozenset(names)


def core_addons(series: str) -> frozenset[str]:
    """The Odoo Community addons of ``series`` (e.g. ``"18.0"``)."""
    return _read_list(check_series(series), "c")


def is_core(name: str, series: str) -> bool:
    """True when ``name`` is an Odoo Community addon of ``series``."""
    return name in core_addons(series)


def is_oca(addon: Addon) -> bool:
    """True when the manifest says the addon is the OCA's (author or website)."""
    if addon.author and OCA_AUTHOR.lower() in addon.author.lower():
        return True
    website = (addon.website or "").strip().lower()
    return any(website.startswith(prefix) for prefix in OCA_WEBSITES)


def origin(addon: Addon | str, series: str) -> str:
    """``"core"``, ``"oca"`` or ``"custom"``."""
    name = addon if isinstance(addon, str) else addon.name
    if is_core(name, series):
        return "core"
    if not isinstance(addon, str) and is_oca(addon):
        return "oca"
    return "custom"
