"""Addons written on disk, for the ``odoo`` double and the addons engine.

``write_addon(root, "my_addon", version="1.0", depends=["mail"])`` creates
``root/my_addon/__init__.py`` and ``__manifest__.py`` (a Python dict literal,
as Odoo reads it with ``ast.literal_eval``).

The ``odoo`` double honours one extra manifest key that real Odoo ignores::

    "odoo_double": {
        "fail": "install" | "update" | "both",   # a planted failure
        "message": "why it fails",               # last line of the traceback
        "exception": "odoo.tools.convert.ParseError",  # optional class name
        "sleep": 2.5,                            # seconds spent loading it
    }
"""

from __future__ import annotations

import pprint
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def write_addon(
    root: Path,
    name: str,
    *,
    version: str = "1.0",
    depends: Sequence[str] = ("base",),
    auto_install: bool | Sequence[str] = False,
    installable: bool = True,
    application: bool = False,
    license: str = "LGPL-3",  # the manifest key
    author: str = "odoo-ops tests",
    summary: str | None = None,
    odoo_double: Mapping[str, Any] | None = None,
    manifest_name: str = "__manifest__.py",
    **extra: Any,
) -> Path:
    """Write addon ``name`` under ``root``; returns its directory.

    ``extra`` keys go into the manifest as given (``data``, ``excludes``,
    ``external_dependencies``...). ``version=None``-like omission is not
    supported: pass the string you want Odoo to see.
    """
    manifest: dict[str, Any] = {
        "name": name.replace("_", " ").title(),
        "version": version,
        "summary": summary or f"{name} (test addon)",
        "author": author,
        "license": license,
        "depends": list(depends),
        "data": [],
        "installable": installable,
        "application": application,
        "auto_install": auto_install if isinstance(auto_install, bool) else list(auto_install),
    }
    manifest.update(extra)
    if odoo_double is not None:
        manifest["odoo_double"] = dict(odoo_double)
    path = Path(root) / name
    path.mkdir(parents=True, exist_ok=True)
    (path / "__init__.py").write_text("", encoding="utf-8")
    (path / manifest_name).write_text(
        "# -*- coding: utf-8 -*-\n" + pprint.pformat(manifest, sort_dicts=False) + "\n",
        encoding="utf-8",
    )
    return path


class AddonsDir:
    """A directory of addons; ``.add(name, **manifest)`` writes one (see :func:`write_addon`)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def add(self, name: str, **manifest: Any) -> Path:
        """Write addon ``name`` here; returns its directory."""
        return write_addon(self.path, name, **manifest)

    def __str__(self) -> str:
        return str(self.path)

    def __fspath__(self) -> str:
        return str(self.path)
