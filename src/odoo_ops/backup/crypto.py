"""Encryption with age (https://age-encryption.org), through Debian's ``age`` tool.

Backups are encrypted *to recipients* (public keys, ``[backup]
age_recipients`` in odoo-ops.toml: ``age1…`` keys, ``ssh-ed25519 …`` /
``ssh-rsa …`` keys, or a recipients file path). Decryption needs the
matching identity file (``[backup] age_identity_file``). odoo-ops never
reads an identity itself: it only passes the file's path to ``age -d -i``,
so secret keys never reach its output, logs or manifests.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from odoo_ops.errors import ConfigError, TargetError

_RECIPIENT_RE = re.compile(r"^(age1[0-9a-z]{20,}|ssh-(ed25519|rsa) [A-Za-z0-9+/=]+( .*)?)$")
SECRET_KEY_PREFIX = "AGE-SECRET-KEY-"


def age_tool() -> str:
    path = shutil.which("age")
    if path is None:
        raise TargetError("age not found on PATH", hint="install it (Debian: apt-get install age)")
    return path


def check_recipients(recipients: Sequence[str], root: Path | None = None) -> list[str]:
    """The recipient arguments for ``age`` (``-r KEY`` / ``-R FILE``)."""
    if not recipients:
        raise ConfigError(
            "--encrypt needs recipients",
            hint='set [backup] age_recipients = ["age1..."] in odoo-ops.toml',
        )
    args: list[str] = []
    for value in recipients:
        value = value.strip()
        if value.upper().startswith(SECRET_KEY_PREFIX):
            raise ConfigError(
                "[backup] age_recipients holds a secret key (AGE-SECRET-KEY-…)",
                hint="put the public key (age1…) there; keep the identity in age_identity_file",
            )
        if _RECIPIENT_RE.match(value):
            args += ["-r", value]
            continue
        path = Path(value).expanduser()
        if not path.is_absolute() and root is not None:
            path = root / path
        if path.is_file():
            args += ["-R", str(path)]
            continue
        raise ConfigError(
            f"[backup] age_recipients: {value[:12]}… is neither an age/ssh public key nor a file"
        )
    return args


def encrypt_argv(recipients: Sequence[str], root: Path | None = None) -> list[str]:
    return [age_tool(), *check_recipients(recipients, root)]


def decrypt_argv(identity_file: str | None, root: Path | None = None) -> list[str]:
    if not identity_file:
        raise ConfigError(
            "this backup is encrypted: decrypting it needs an age identity",
            hint="set [backup] age_identity_file in odoo-ops.toml",
        )
    path = Path(identity_file).expanduser()
    if not path.is_absolute() and root is not None:
        path = root / path
    if not path.is_file():
        raise ConfigError(f"age identity file not found: {path}")
    return [age_tool(), "-d", "-i", str(path)]


def recipient_fingerprints(recipients: Sequence[str]) -> list[str]:
    """Short stable ids of the recipients, for the manifest (public keys only)."""
    return [hashlib.sha256(r.strip().encode()).hexdigest()[:16] for r in recipients]
