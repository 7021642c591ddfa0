"""Where a file-based finding points, shared by the file-based checks.

``file:line`` of an odoo.conf option (:func:`conf_text`) or of a compose key
(:func:`compose_where`), paths shown relative to the project
(:func:`display`), sizes in words, and a bounded walk of the project's files.
Checks import these; this module imports no check (it used to live in
``checks/conf.py``, which made ``conf`` and ``secrets`` import each other).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from odoo_ops.adapters.odoo_conf import OPTIONS, SECRET_OPTIONS, OdooConf
from odoo_ops.errors import OpsError
from odoo_ops.inputs import (
    COMPOSE_LIMIT,
    ODOO_CONF_LIMIT,
    parse_guard,
    read_input_lenient,
    read_input_text,
)

if TYPE_CHECKING:
    from odoo_ops.checks.context import CheckContext

MIB = 1024 * 1024
GIB = 1024 * MIB

#: An ``option = value`` line of an ini file, as configparser reads it.
KEY_LINE = re.compile(r"^([^\s=:;#\[][^=:]*?)\s*[=:]")
#: A ``[section]`` line.
SECTION_LINE = re.compile(r"^\s*\[([^\]]+)\]")
#: A comment that marks a setting as meant (``# odoo-ops: intentional``).
INTENTIONAL = re.compile(r"odoo-ops\s*:\s*(intentional|ignore)", re.I)


def display(ctx: CheckContext, path: Path | str) -> str:
    """``path`` relative to the project root when it lies under it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(ctx.project.root.resolve()))
    except (ValueError, OSError):
        return str(p)


@dataclass
class ConfText:
    """Where each option stands in the odoo.conf file, and its text as written."""

    path: Path
    shown: str
    lines: dict[str, int] = field(default_factory=dict)
    written: dict[str, str] = field(default_factory=dict)
    comments_before: dict[str, list[str]] = field(default_factory=dict)

    def at(self, option: str) -> str:
        """``file:line`` of ``option`` (``file`` alone when it is not written)."""
        line = self.lines.get(option)
        return f"{self.shown}:{line}" if line else self.shown

    def show(self, option: str, value: Any = None, *, secret: bool = False) -> str:
        """An evidence line ``file:line: option = value`` (value masked for secrets)."""
        if option not in self.lines:
            default = OPTIONS.get(option, ("", None))[1]
            return f"{self.shown}: {option} not set (Odoo's default: {default!r})"
        text = "***" if secret or option in SECRET_OPTIONS else self.written.get(option, value)
        return f"{self.at(option)}: {option} = {text}"


def scan_conf_text(path: Path, shown: str) -> ConfText:
    """Line numbers of the ``[options]`` keys (configparser rules, no values parsed)."""
    out = ConfText(path=path, shown=shown)
    text = read_input_lenient(path, kind="odoo.conf", limit=ODOO_CONF_LIMIT)
    if text is None:
        return out
    section = None
    comments: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        m = SECTION_LINE.match(line)
        if m:
            section = m.group(1).strip()
            comments = []
            continue
        if stripped.startswith(("#", ";")):
            comments.append(stripped)
            continue
        if not stripped:
            comments = []
            continue
        if section != "options" or line[:1].isspace():
            continue
        km = KEY_LINE.match(line)
        if km:
            key = km.group(1).strip().lower()
            out.lines[key] = number
            out.written[key] = line[km.end() :].strip()
            out.comments_before[key] = comments
        comments = []
    return out


def conf_text(ctx: CheckContext, conf: OdooConf | None = None) -> ConfText:
    if "conf_text" not in ctx.cache:
        conf = conf or ctx.conf()
        path = conf.path or ctx.target.odoo_conf_path or Path("odoo.conf")
        ctx.cache["conf_text"] = scan_conf_text(path, display(ctx, path))
    result: ConfText = ctx.cache["conf_text"]
    return result


def yaml_key_lines(path: Path) -> dict[tuple[str, ...], int]:
    """1-based line of each mapping key of a YAML file, by key path (first 5 levels)."""
    import yaml

    try:
        text = read_input_text(path, kind="compose file", limit=COMPOSE_LIMIT)
        with parse_guard(str(path), "compose file"):
            root = yaml.compose(text)
    except (OpsError, yaml.YAMLError):
        return {}
    out: dict[tuple[str, ...], int] = {}
    stack: list[tuple[Any, tuple[str, ...]]] = [(root, ())]
    while stack:
        node, prefix = stack.pop()
        if isinstance(node, yaml.MappingNode) and len(prefix) < 5:
            for key, value in node.value:
                name = (*prefix, str(key.value))
                out.setdefault(name, key.start_mark.line + 1)
                stack.append((value, name))
        elif isinstance(node, yaml.SequenceNode) and len(prefix) < 5:
            for i, item in enumerate(node.value):
                out.setdefault((*prefix, f"[{i}]"), item.start_mark.line + 1)
                stack.append((item, (*prefix, f"[{i}]")))
    return out


def compose_where(ctx: CheckContext, *keys: str) -> str:
    """``docker-compose.yml:LINE`` of a key path (the file alone when not found)."""
    compose = ctx.target.compose_or_none()
    if compose is None:
        return "compose file"
    cache_key = f"yaml_lines:{compose.path}"
    if cache_key not in ctx.cache:
        ctx.cache[cache_key] = yaml_key_lines(compose.path)
    lines: dict[tuple[str, ...], int] = ctx.cache[cache_key]
    shown = display(ctx, compose.path)
    for n in range(len(keys), 0, -1):
        line = lines.get(tuple(keys[:n]))
        if line:
            return f"{shown}:{line}"
    return shown


def parse_memory(value: Any) -> int | None:
    """Docker's memory notation (``512m``, ``2g``, ``1gb``, bytes) in bytes."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*", str(value).lower())
    if not m:
        return None
    factor = {"": 1, "k": 1024, "m": MIB, "g": GIB, "t": 1024 * GIB}[m.group(2)]
    return int(float(m.group(1)) * factor)


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


_SKIP_DIRS = {
    ".git", "node_modules", "__pycache__", ".venv", "venv", "backups", "filestore",
    ".odoo-ops", "addons", "odoo", "data",
}  # fmt: skip


def walk_files(root: Path, max_depth: int = 3, skip: set[str] | None = None) -> list[Path]:
    """Files under ``root`` (sorted, at most ``max_depth`` levels, skipping heavy folders)."""
    skip = _SKIP_DIRS if skip is None else skip
    out: list[Path] = []
    root_depth = len(root.parts)
    for dirpath, dirnames, filenames in os.walk(root):
        depth = len(Path(dirpath).parts) - root_depth
        dirnames[:] = sorted(
            d for d in dirnames if d not in skip and not d.startswith(".") and depth < max_depth
        )
        out.extend(Path(dirpath) / f for f in sorted(filenames))
        if len(out) > 5000:
            break
    return out
