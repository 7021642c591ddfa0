"""Keeping secrets out of output, logs and artifacts: the one redaction.

Passwords, DSN passwords, ``admin_passwd``, tokens, webhook URLs and age
identities must never be printed: they appear as ``***``. Everything that
leaves the process (command output, error messages, log lines, reports,
crash logs, snapshots) goes through :func:`redact_text` or a
:class:`Redactor`, which mask secrets in two ways:

- **by position**, whatever the value: the password of a URL (any scheme:
  ``postgresql://u:PW@h``, ``https://x-access-token:TOKEN@github.com``), a
  token-like URL user, secret query parameters (``?token=…``), the value of a
  secret key in ``key=value`` text (``password='…'`` of a keyword DSN in any
  quoting, ``sslpassword=…``, ``PGPASSWORD=…``), ``--password VALUE`` and
  ``Authorization: Bearer …``;
- **by value**, for the secret values the configuration is known to hold
  (``.env`` and environment values of secret names, odoo.conf
  ``admin_passwd``/``db_password``, DSN passwords): masked where they stand
  as a whole token, never inside a longer word. A value too short or too
  common to be masked safely (``odoo``, ``admin``, anything under
  :data:`MIN_MASKED_LENGTH` characters) is not masked by value at all —
  masking it would turn ``odoo.conf`` into ``***.conf`` — it is reported as
  weak by the ``secrets-weak`` / ``conf-admin-passwd`` checks instead, and
  still masked wherever it stands in a secret position.

:func:`is_secret_name` is the one rule for "does a setting/variable of this
name hold a secret", used by the checks, snapshots and the redaction itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import quote, quote_plus

MASK = "***"

#: Known secret values shorter than this are not masked by value (they are weak anyway).
MIN_MASKED_LENGTH = 8

#: Passwords found in default configs, tutorials and the first page of every
#: leaked-password list: reported as weak, never masked by value (they are words).
COMMON_PASSWORDS = frozenset({
    "admin", "administrator", "odoo", "odoo123", "odoo16", "odoo17", "odoo18", "odoo19",
    "openerp", "password", "password1", "password123", "passw0rd", "pass", "postgres",
    "postgresql", "root", "toor", "test", "test123", "demo", "default", "secret", "master",
    "welcome", "letmein", "qwerty", "azerty", "123456", "1234567", "12345678", "123456789",
    "1234567890", "admin123", "admin1234", "iloveyou", "changeit", "user", "guest",
})  # fmt: skip

# -- the one "is this a secret name" rule --------------------------------------------

#: Words that make a name hold a secret (``POSTGRES_PASSWORD``, ``api_key``, ``GITHUB_TOKEN``).
SECRET_NAME = re.compile(
    r"passw(?:or)?d|passphrase|(?<![a-z])pass(?![a-z])|(?<=[_.-])pwd(?![a-z])|^pwd(?=[_.-])|"
    r"secret|token|api[_-]?key|apikey|private[_-]?key|access[_-]?key|auth[_-]?key|"
    r"credentials?|webhook|identity",
    re.I,
)
#: ... unless they only describe one (``PASSWORD_FILE`` points at a docker secret).
NOT_SECRET_NAME = re.compile(
    r"(_file|_path|_length|_len|_min|_max|_timeout|_ttl|_expiry|_expiration|_enabled|_policy|"
    r"_rounds|_reset|_hash|_hint|_url|_endpoint|_type|_mode|_user(name)?|_validity|_lifetime|"
    r"_age|_count|_size|_limit|_days|_hours|_minutes|_seconds|_header|_name|_env|_var)$",
    re.I,
)
#: Names that hold secrets although no secret word is in them, or despite a suffix above.
_ALWAYS_SECRET = frozenset({
    "admin_passwd", "db_password", "smtp_password", "urls", "notify", "webhook_url",
})  # fmt: skip
#: Query parameters of URLs that carry credentials besides the secret names.
_SECRET_QUERY = frozenset({
    "key", "sig", "signature", "auth", "x-amz-signature", "x-amz-credential",
    "x-amz-security-token", "x-goog-signature", "x-goog-credential", "sas", "sv-sig",
})  # fmt: skip


def is_secret_name(name: str) -> bool:
    """True when a setting or variable named ``name`` holds a secret value.

    Dotted names (``notifications.urls``, ``x_connector.api_token``) are judged
    by their last part; ``-`` counts as ``_`` (``--db-password``).
    """
    low = name.strip().lower().replace("-", "_").rsplit(".", 1)[-1]
    if not low:
        return False
    if low in _ALWAYS_SECRET:
        return True
    return bool(SECRET_NAME.search(low)) and not NOT_SECRET_NAME.search(low)


#: The historical name of :func:`is_secret_name`.
is_secret_key = is_secret_name


def maskable(value: str) -> bool:
    """True when ``value`` can be masked wherever it stands as a token.

    Short or common values (``odoo``, ``admin``) are words as well as
    passwords: masking them by value would hide file names and commands.
    """
    text = value.strip()
    return len(text) >= MIN_MASKED_LENGTH and text.lower() not in COMMON_PASSWORDS


# -- masking by position ----------------------------------------------------------------

#: ``scheme://authority``: the authority (userinfo@host) ends at / ? # and spaces.
_URL = re.compile(r"(?<![\w+.-])([a-z][a-z0-9+.-]*://)([^\s/?#\"<>`]*)", re.I)
_TOKEN_USER = re.compile(r"^(gh[pousr]_|github_pat_|glpat-|xox[abposr]-|sk_live_|AKIA)")
_QUERY_PARAM = re.compile(r"([?&;#])([A-Za-z_][\w.\-\[\]]*)=([^&#\s\"'<>`]*)")
_VALUE = r"""'(?:\\.|''|[^'\\])*'?|"(?:\\.|[^"\\])*"?|(?:\\.|[^\s\\])+"""
_KEY_VALUE = re.compile(r"(?<![\w.\-])([A-Za-z_][\w.\-]*)(\s*=\s*)(" + _VALUE + ")")
_OPTION_VALUE = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)(\s+|=)(" + _VALUE + ")")
_AUTH_HEADER = re.compile(r"(?i)\b((?:authorization|proxy-authorization)\s*[:=]\s*)(\S+\s+)?(\S+)")
_BEARER = re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9._~+/=-]{8,})")
_REFERENCE = re.compile(r"""^['"]?(\$\{[^}]*\}|%\(env:\w+\)s|<[^>]*>|\*\*\*)['"]?$""")


def _is_placeholder(value: str) -> bool:
    v = value.strip()
    # a reference or a placeholder is shown; any other value (even "False") is masked
    return v in ("", "''", '""') or v.startswith(MASK) or bool(_REFERENCE.match(v))


def _mask_quoted(value: str) -> str:
    """``value`` masked, keeping its quotes (``'a b'`` → ``'***'``).

    An unquoted value runs to the next space (as in libpq); a single ``"`` at
    its end closes the string the text is quoted in (JSON, TOML) and is kept.
    """
    if len(value) >= 2 and value[0] in "'\"" and value[-1] == value[0]:
        return value[0] + MASK + value[0]
    if value.endswith('"') and value.count('"') == 1 and value[0] not in "'\"":
        return MASK + '"'
    return MASK


def _url_sub(m: re.Match[str]) -> str:
    scheme, authority = m.group(1), m.group(2)
    if "@" not in authority:
        return m.group(0)
    userinfo, host = authority.rsplit("@", 1)
    if ":" in userinfo:
        user, password = userinfo.split(":", 1)
        if password and password != MASK:
            userinfo = f"{user}:{MASK}"
    elif len(userinfo) >= 20 or _TOKEN_USER.match(userinfo):
        userinfo = MASK  # a token given as the user (https://TOKEN@github.com/...)
    return f"{scheme}{userinfo}@{host}"


def _query_sub(m: re.Match[str]) -> str:
    lead, name, value = m.group(1), m.group(2), m.group(3)
    if value and not value.startswith(MASK) and (
        is_secret_name(name) or name.lower() in _SECRET_QUERY
    ):
        return f"{lead}{name}={MASK}"
    return m.group(0)


def _key_value_sub(m: re.Match[str]) -> str:
    key, sep, value = m.group(1), m.group(2), m.group(3)
    if not is_secret_name(key) or _is_placeholder(value):
        return m.group(0)
    return f"{key}{sep}{_mask_quoted(value)}"


def _option_sub(m: re.Match[str]) -> str:
    option, sep, value = m.group(1), m.group(2), m.group(3)
    name = option.lstrip("-")
    if (
        not is_secret_name(name)
        or name.lower().startswith(("no-", "no_"))
        or value.startswith("-")
        or _is_placeholder(value)
    ):
        return m.group(0)
    return f"{option}{sep}{_mask_quoted(value)}"


def _auth_sub(m: re.Match[str]) -> str:
    if m.group(3).startswith(MASK):
        return m.group(0)
    return f"{m.group(1)}{m.group(2) or ''}{MASK}"


def redact_text(text: str) -> str:
    """``text`` with every secret in a secret *position* masked (see the module doc)."""
    if not text:
        return text
    if "://" in text:
        text = _URL.sub(_url_sub, text)
    if "=" in text:
        text = _QUERY_PARAM.sub(_query_sub, text)
        text = _KEY_VALUE.sub(_key_value_sub, text)
    if "-" in text:
        text = _OPTION_VALUE.sub(_option_sub, text)
    low = text.lower()
    if "authorization" in low:
        text = _AUTH_HEADER.sub(_auth_sub, text)
    if "bearer" in low:
        text = _BEARER.sub(lambda m: m.group(1) + MASK, text)
    return text


def redact_url(url: str) -> str:
    """Mask the password (and secret query parameters) of a URL or DSN, keep the rest.

    Works on URLs of any scheme and on keyword DSNs (``host=db password='x y'``).
    """
    # one URL: its userinfo may hold characters that end a URL in free text (# or space)
    whole = re.match(r"([a-z][a-z0-9+.-]*://)([^/?]*)(.*)$", url, re.I | re.S)
    if whole and "@" in whole.group(2):
        userinfo, host = whole.group(2).rsplit("@", 1)
        if ":" in userinfo or len(userinfo) >= 20 or _TOKEN_USER.match(userinfo):
            user = userinfo.split(":", 1)[0] if ":" in userinfo else ""
            userinfo = f"{user}:{MASK}" if ":" in userinfo else MASK
            url = f"{whole.group(1)}{userinfo}@{host}{whole.group(3)}"
    return redact_text(url)


def redact_value(key: str, value: object) -> object:
    """Redact ``value`` when ``key`` names a secret; mask secret positions otherwise."""
    if value is None or value == "" or value is False:
        return value
    if is_secret_name(key):
        if isinstance(value, list):
            return [MASK for _ in value]
        return MASK
    if isinstance(value, str):
        return redact_url(value)
    return value


def redact_mapping(data: object, prefix: str = "") -> object:
    """Deep copy of ``data`` with every secret value masked (by name and by position)."""
    if isinstance(data, dict):
        out = {}
        for k, v in data.items():
            path = f"{prefix}.{k}" if prefix else str(k)
            if isinstance(v, dict | list) and not is_secret_name(str(k)):
                out[k] = redact_mapping(v, path)
            else:
                out[k] = redact_value(path, v)
        return out
    if isinstance(data, list):
        return [redact_mapping(v, prefix) for v in data]
    if isinstance(data, str):
        return redact_url(data)
    return data


# -- masking by value --------------------------------------------------------------------


def _whole_token(value: str) -> str:
    """A pattern matching ``value`` only where no word character continues it."""
    head = r"(?<!\w)" if re.match(r"\w", value[0]) else ""
    tail = r"(?!\w)" if re.match(r"\w", value[-1]) else ""
    return head + re.escape(value) + tail


class Redactor:
    """Mask secret positions and every known secret value (as a whole token) in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for s in secrets:
            self.add(s)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Redactor:
        """A redactor knowing the values of ``env``'s variables with secret names."""
        return cls(value for key, value in env.items() if is_secret_name(key))

    def add(self, secret: str | None) -> None:
        """Remember ``secret``; short or common values are left to the position rules."""
        if not secret or not maskable(secret):
            return
        forms = {secret, secret.strip(), quote(secret, safe=""), quote_plus(secret, safe="")}
        new = {f for f in forms if maskable(f)} - self._secrets
        if new:
            self._secrets |= new
            self._pattern = None

    def _compiled(self) -> re.Pattern[str] | None:
        if self._pattern is None and self._secrets:
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(_whole_token(s) for s in ordered))
        return self._pattern

    def __call__(self, text: str) -> str:
        text = redact_text(text)
        pattern = self._compiled()
        if pattern is not None and text:
            text = pattern.sub(MASK, text)
        return text

    def __contains__(self, secret: str) -> bool:
        return secret in self._secrets

    def __len__(self) -> int:
        return len(self._secrets)
