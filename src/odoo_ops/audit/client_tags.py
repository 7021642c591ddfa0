"""Which client-action tags the web client can run.

A client action (``ir_act_client.tag``) works only when some JavaScript loaded
in the browser registered a handler under that tag::

    registry.category("actions").add("my_tag", MyComponent);
    registry
        .category('actions')
        .add(`my_tag`, ...);
    const actionRegistry = registry.category("actions");
    actionRegistry.add("my_tag", ...);
    core.action_registry.add('my_tag', ...);   // legacy (16)

Otherwise the web client raises ``KeyNotFoundError``. :func:`scan_tags` reads
``static/src/**/*.js`` of each addon (text only, nothing is run);
:func:`web_client_tags` lists the tags Odoo's ``web`` addon registers itself
per series (read from ``addons/web/static/src/webclient/actions/`` of
odoo/odoo 16.0-19.0), for deployments whose Odoo code is not on the host.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

_Q = r"""(['"`])"""
_DIRECT = re.compile(
    r"category\s*\(\s*" + _Q + r"actions\1\s*\)\s*\.\s*add\s*\(\s*" + r"""(['"`])(.+?)\2""",
    re.S,
)
_ALIAS = re.compile(
    r"(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*(?:[\w$.]+\s*\.\s*)?category\s*\(\s*"
    + _Q + r"actions\2\s*\)",
    re.S,
)
_LEGACY = re.compile(r"""action_registry\s*\.\s*add\s*\(\s*(['"`])(.+?)\1""", re.S)

_COMMON = frozenset(
    {"display_notification", "reload", "home", "reload_context", "soft_reload",
     "report.client_action"}
)  # fmt: skip
_WEB_TAGS: dict[str, frozenset[str]] = {
    "16.0": _COMMON | {"invalid_action"},
    "17.0": _COMMON | {"invalid_action"},
    "18.0": _COMMON | {"install_kiosk_pwa"},
    "19.0": _COMMON | {"install_kiosk_pwa", "display_exception"},
}


def web_client_tags(series: str | None) -> frozenset[str]:
    """Tags Odoo's own web client registers in ``series`` (all series when unknown)."""
    if series in _WEB_TAGS:
        return _WEB_TAGS[series]
    out: frozenset[str] = frozenset()
    for tags in _WEB_TAGS.values():
        out |= tags
    return out


def tags_in_source(text: str) -> set[str]:
    """Client-action tags registered by one JavaScript source text."""
    if "actions" not in text and "action_registry" not in text:
        return set()
    tags = {m.group(3) for m in _DIRECT.finditer(text)}
    for alias in {m.group(1) for m in _ALIAS.finditer(text)}:
        pattern = re.compile(
            r"(?<![\w$.])" + re.escape(alias) + r"""\s*\.\s*add\s*\(\s*(['"`])(.+?)\1""", re.S
        )
        tags.update(m.group(2) for m in pattern.finditer(text))
    tags.update(m.group(2) for m in _LEGACY.finditer(text))
    return {t for t in tags if "${" not in t}


def scan_addon_tags(addon_dir: Path) -> set[str]:
    """Tags registered by the JavaScript under ``ADDON/static/src``."""
    root = Path(addon_dir) / "static" / "src"
    tags: set[str] = set()
    if not root.is_dir():
        return tags
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fname in filenames:
            if not fname.endswith(".js"):
                continue
            try:
                text = (Path(dirpath) / fname).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            tags |= tags_in_source(text)
    return tags


def scan_tags(addons: Iterable[tuple[str, Path]]) -> dict[str, set[str]]:
    """``{tag: {addon, ...}}`` for the ``(name, path)`` addons given."""
    out: dict[str, set[str]] = {}
    for name, path in addons:
        for tag in scan_addon_tags(path):
            out.setdefault(tag, set()).add(name)
    return out
