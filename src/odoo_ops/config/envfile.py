"""Reading ``.env`` files (docker compose syntax) and ``${VAR}`` interpolation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from odoo_ops.errors import ConfigError
from odoo_ops.inputs import ENV_FILE_LIMIT, read_input_text

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$\$")


def parse_env_text(text: str, source: str = ".env") -> dict[str, str]:
    """Parse ``KEY=value`` lines: comments, blank lines, quotes, ``export``."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise ConfigError(f"{source}:{number}: not a KEY=value line")
        key, value = match.group(1), match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
            if raw.strip().split("=", 1)[1].strip().startswith('"'):
                value = value.replace("\\n", "\n").replace('\\"', '"')
        else:
            value = re.sub(r"\s+#.*$", "", value)
        values[key] = value
    return values


def read_env_file(path: Path) -> dict[str, str]:
    text = read_input_text(
        path, kind=".env file", limit=ENV_FILE_LIMIT, error=ConfigError, missing_ok=True
    )
    if text is None:
        return {}
    return parse_env_text(text, str(path))


def interpolate(value: str, env: Mapping[str, str], missing: set[str] | None = None) -> str:
    """Replace ``${VAR}``, ``${VAR:-default}`` and ``${VAR-default}``; ``$$`` is ``$``.

    Unknown variables without a default stay as written and are added to
    ``missing``, so the caller can say which setting needs which variable.
    """

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, default = match.group(1), match.group(2), match.group(3)
        current = env.get(name)
        if op == ":-" and not current:
            return default or ""
        if op == "-" and current is None:
            return default or ""
        if current is None:
            if missing is not None:
                missing.add(name)
            return match.group(0)
        return current

    return _VAR.sub(repl, value)


def unresolved_variables(value: str) -> list[str]:
    return [m.group(1) for m in _VAR.finditer(value) if m.group(1)]
