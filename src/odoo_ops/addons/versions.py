"""Addon versions and Odoo series.

Odoo 17/18 (``odoo/modules/module.py``: ``adapt_version``/``check_version``)
accept ``x.y``, ``x.y.z``, ``SERIES.x.y`` and ``SERIES.x.y.z``; a short version
is prefixed with the series, an absent one is ``1.0``. A version that then does
not start with the running series (``17.0.1.0.0`` on 18.0) makes Odoo treat the
addon as not installable.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from odoo_ops.errors import UsageError

DEFAULT_VERSION = "1.0"
_SERIES_RE = re.compile(r"^(\d+)\.0$")
_LEADING_INT = re.compile(r"\d+")


def check_series(series: str) -> str:
    """Return ``series`` in ``NN.0`` form (``"18"`` -> ``"18.0"``) or raise UsageError."""
    text = str(series).strip()
    if text.isdigit():
        text += ".0"
    if not _SERIES_RE.match(text):
        raise UsageError(f"invalid Odoo series {series!r}", hint="use the form 18.0")
    return text


def normalize_version(version: str | None, series: str) -> str:
    """The version Odoo stores for this manifest version under ``series``.

    ``1.0`` -> ``18.0.1.0``; ``18.0.1.2.0`` unchanged; ``None`` -> ``18.0.1.0``.
    A long version of another series (``17.0.1.0.0``) is returned unchanged.
    """
    text = DEFAULT_VERSION if version is None else version.strip()
    if text == series or text.startswith(series + "."):
        return text
    if len(text.split(".")) <= 3:
        return f"{series}.{text}"
    return text


def version_problem(version: str | None, series: str) -> str | None:
    """Why Odoo ``series`` would refuse this manifest version, or ``None`` if it is fine."""
    if version is None:
        return None
    text = version.strip()
    parts = text.split(".")
    if not 2 <= len(parts) <= 5 or not all(p.isdigit() for p in parts):
        return f"invalid version {version!r}: use x.y, x.y.z, {series}.x.y or {series}.x.y.z"
    normalized = normalize_version(text, series)
    if normalized == series:
        return f"version {version} is only the series: use {series}.x.y.z"
    if not normalized.startswith(series + "."):
        other = ".".join(parts[:2])
        return f"version {version} is for series {other}, not {series}"
    return None


def version_in_series(version: str | None, series: str) -> bool:
    """True when Odoo ``series`` accepts the version (bare ``x.y.z`` is fine)."""
    return version_problem(version, series) is None


def parse_version(version: str | None) -> tuple[int, ...]:
    """A tuple of ints for comparisons; tolerant (``"1.0b"`` -> ``(1, 0)``, junk -> ``()``)."""
    if not version:
        return ()
    out: list[int] = []
    for part in version.strip().split("."):
        match = _LEADING_INT.match(part)
        out.append(int(match.group()) if match else 0)
    return tuple(out)


def detect_series(versions: Iterable[str | None]) -> str | None:
    """The most common series among long versions (``18.0.1.0.0``), or ``None``.

    Short versions (``1.0``) say nothing about the series and are ignored.
    """
    counts: Counter[str] = Counter()
    for version in versions:
        if not version:
            continue
        parts = version.strip().split(".")
        if len(parts) >= 4 and parts[0].isdigit() and parts[1] == "0":
            counts[f"{parts[0]}.0"] += 1
    if not counts:
        return None
    best = max(counts.items(), key=lambda kv: (kv[1], int(kv[0].split(".")[0])))
    return best[0]
