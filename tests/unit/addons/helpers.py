"""Helpers for the addons engine tests: addon folders written in ``tmp_path``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support.addons import write_addon


def addon(root: Path, name: str, depends: Sequence[str] = ("base",), **manifest: Any) -> Path:
    """Write a valid addon ``root/name`` (version 18.0.1.0.0 unless given)."""
    manifest.setdefault("version", "18.0.1.0.0")
    return write_addon(root, name, depends=depends, **manifest)


def raw_addon(
    root: Path, name: str, text: str | bytes, manifest_name: str = "__manifest__.py"
) -> Path:
    """Write addon ``root/name`` whose manifest is exactly ``text``."""
    path = Path(root) / name
    path.mkdir(parents=True, exist_ok=True)
    (path / "__init__.py").write_text("", encoding="utf-8")
    target = path / manifest_name
    if isinstance(text, bytes):
        target.write_bytes(text)
    else:
        target.write_text(text, encoding="utf-8")
    return path


def graph_tree(root: Path, graph: Mapping[str, Sequence[str]], **manifest: Any) -> Path:
    """One addon per key of ``graph`` (its value: the dependencies) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, deps in graph.items():
        addon(root, name, depends=list(deps), **manifest)
    return root
