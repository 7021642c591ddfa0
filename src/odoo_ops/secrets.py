"""Keeping secrets out of output, logs and artifacts.

Passwords, DSN passwords, ``admin_passwd``, tokens, webhook URLs and age
identities must never be printed: they appear as ``***``. Two tools:

- :func:`is_secret_key` tells whether a setting's name holds a secret;
- :class:`Redactor` remembers secret values seen while loading the
  configuration and replaces them in any text before it leaves the process.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

MASK = "***"

_SECRET_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "private_key",
    "identity",
    "webhook",
    "credential",
)

_SECRET_KEYS = {"dsn", "admin_passwd", "db_password", "smtp_password", "urls", "notify"}


def is_secret_key(key: str) -> bool:
    """True when a setting named ``key`` holds a secret value."""
    low = key.lower().rsplit(".", 1)[-1]
    if low in _SECRET_KEYS:
        return True
    return any(word in low for word in _SECRET_WORDS)


def redact_url(url: str) -> str:
    """Mask the password (and query token) of a URL or DSN, keep the rest."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{MASK}@{host}" if ":" in userinfo else f"{user}@{host}"
    query = parts.query
    if query:
        query = re.sub(
            r"(?i)((?:password|passwd|token|key|secret)=)[^&]*", lambda m: m.group(1) + MASK, query
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_value(key: str, value: object) -> object:
    """Redact ``value`` when ``key`` names a secret; keep structure otherwise."""
    if value is None or value == "" or value is False:
        return value
    if key.lower().rsplit(".", 1)[-1] == "dsn" and isinstance(value, str):
        return redact_url(value)
    if is_secret_key(key):
        if isinstance(value, list):
            return [MASK for _ in value]
        return MASK
    return value


def redact_mapping(data: object, prefix: str = "") -> object:
    """Deep copy of ``data`` with every secret value masked."""
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict | list) and not is_secret_key(str(k)):
                out[k] = redact_mapping(v, path)
            else:
                out[k] = redact_value(path, v)
        return out
    if isinstance(data, list):
        return [redact_mapping(v, prefix) for v in data]
    return data


class Redactor:
    """Replace every known secret value in text with ``***``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        for s in secrets:
            self.add(s)

    def add(self, secret: str | None) -> None:
        # very short values would mask ordinary words; they are weak anyway
        if secret and len(secret) >= 4:
            self._secrets.add(secret)

    def __call__(self, text: str) -> str:
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, MASK)
        return text

    def __contains__(self, secret: str) -> bool:
        return secret in self._secrets
