"""Sign-offs of manual go-live items: a TOML file in the project directory.

The file (``golive.signoff.toml`` by default, ``[golive] signoff_file``) is
meant to be committed, so every sign-off is reviewed in git::

    [signoffs.uat-signed]
    by = "Alice Martin"
    at = "2026-11-20T14:03:11+00:00"
    note = "UAT report in the shared drive"

It is rewritten atomically on every change.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

from odoo_ops.errors import ConfigError
from odoo_ops.fileutil import atomic_write_text
from odoo_ops.inputs import CONFIG_LIMIT, parse_guard, read_input_text

HEADER = (
    "# Go-live sign-offs, written by `odoo-ops golive sign`. Review changes in git.\n"
    "# One [signoffs.ITEM] table per signed item: who, when (UTC), an optional note.\n"
)


@dataclass
class Signoff:
    item: str
    by: str
    at: dt.datetime
    note: str | None = None


def parse_time(value: object) -> dt.datetime | None:
    """A TOML/JSON date-time (ISO text, TOML datetime or epoch seconds) in UTC, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    if isinstance(value, str) and value:
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    return None


def read_signoffs(path: Path) -> dict[str, Signoff]:
    """The sign-offs in ``path`` (none when the file does not exist)."""
    text = read_input_text(
        path, kind="sign-offs file", limit=CONFIG_LIMIT, error=ConfigError, missing_ok=True
    )
    if text is None:
        return {}
    try:
        with parse_guard(str(path), "sign-offs file", ConfigError):
            raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: cannot read the sign-offs ({exc})") from None
    out: dict[str, Signoff] = {}
    table = raw.get("signoffs") or {}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [signoffs] must be a table")
    for item, entry in table.items():
        if not isinstance(entry, dict) or not entry.get("by"):
            raise ConfigError(f"{path}: signoffs.{item} needs `by`")
        at = parse_time(entry.get("at"))
        if at is None:
            raise ConfigError(f"{path}: signoffs.{item}.at is not a date and time")
        note = entry.get("note")
        out[str(item)] = Signoff(str(item), str(entry["by"]), at, str(note) if note else None)
    return out


def _toml_string(value: str) -> str:
    # JSON string escapes (\" \\ \n \t \uXXXX) are valid TOML basic-string escapes
    return json.dumps(value, ensure_ascii=False)


def _toml_key(key: str) -> str:
    if key and all(c.isalnum() or c in "-_" for c in key):
        return key
    return _toml_string(key)


def write_signoffs(path: Path, signoffs: dict[str, Signoff]) -> None:
    lines = [HEADER]
    for item in sorted(signoffs):
        s = signoffs[item]
        lines.append(f"\n[signoffs.{_toml_key(item)}]\n")
        lines.append(f"by = {_toml_string(s.by)}\n")
        lines.append(f"at = {_toml_string(s.at.isoformat(timespec='seconds'))}\n")
        if s.note:
            lines.append(f"note = {_toml_string(s.note)}\n")
    atomic_write_text(path, "".join(lines))


def sign(path: Path, item: str, by: str, note: str | None, now: dt.datetime) -> Signoff:
    """Record (or replace) the sign-off of ``item``."""
    signoffs = read_signoffs(path)
    entry = Signoff(item, by.strip(), now, note.strip() if note else None)
    signoffs[item] = entry
    write_signoffs(path, signoffs)
    return entry


def revoke(path: Path, item: str) -> bool:
    """Remove the sign-off of ``item``; False when it was not signed."""
    signoffs = read_signoffs(path)
    if item not in signoffs:
        return False
    del signoffs[item]
    write_signoffs(path, signoffs)
    return True
