"""Results as JSON: one serialisation that actions (records they keep, such
as a deploy's snapshot diff or a load test's result) and renderers (``--format
json``) both use, so neither imports the other."""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def to_jsonable(value: Any) -> Any:
    """Turn dataclasses, enums, paths, dates and sets into JSON-able values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted(to_jsonable(v) for v in value)
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return value


def render_json(value: Any) -> str:
    """``value`` as indented JSON text (non-ASCII kept as is)."""
    return json.dumps(to_jsonable(value), indent=2, sort_keys=False, ensure_ascii=False)


def render_json_lines(data: Mapping[str, Any]) -> str:
    """JSON of plain data laid out one top-level key per line and one list item
    per line: as easy to read and diff as indented JSON, and fast for thousands
    of items (the C encoder does not indent; an indented document would go
    through the pure-Python encoder). Any JSON parser reads it."""
    compact = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode

    def item(value: Any) -> str:
        if isinstance(value, list) and value and all(isinstance(v, dict | list) for v in value):
            return "[\n" + ",\n".join("    " + compact(v) for v in value) + "\n  ]"
        return compact(value)

    lines = [f"  {compact(key)}: {item(value)}" for key, value in data.items()]
    return "{\n" + ",\n".join(lines) + "\n}\n"
