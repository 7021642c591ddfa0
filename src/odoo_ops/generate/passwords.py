"""Random secrets and the ``admin_passwd`` hash Odoo verifies.

Odoo checks the master password with passlib's ``CryptContext(["pbkdf2_sha512",
"plaintext"])``. A ``pbkdf2_sha512`` hash in passlib's modular-crypt format is

    $pbkdf2-sha512$ROUNDS$SALT$CHECKSUM

where SALT (16 random bytes) and CHECKSUM (the 64-byte PBKDF2-HMAC-SHA512
derived key) use passlib's "adapted base64" (``ab64``): standard base64 with
``+`` written as ``.`` and no ``=`` padding. This module builds it with
:mod:`hashlib` alone, so odoo-ops does not need passlib at run time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

# Odoo 17+ hashes the master password with 600,000 rounds; fewer rounds would
# make Odoo re-hash it on the first successful login.
PBKDF2_ROUNDS = 600_000
SALT_BYTES = 16

_HASH_RE = re.compile(r"^\$pbkdf2-sha512\$(\d+)\$([A-Za-z0-9./]+)\$([A-Za-z0-9./]+)$")


def ab64_encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=").replace("+", ".")


def ab64_decode(text: str) -> bytes:
    text = text.replace(".", "+")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def pbkdf2_sha512_hash(
    password: str, *, rounds: int = PBKDF2_ROUNDS, salt: bytes | None = None
) -> str:
    """The passlib ``pbkdf2_sha512`` hash of ``password``."""
    if rounds < 1:
        raise ValueError("rounds must be positive")
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, rounds)
    return f"$pbkdf2-sha512${rounds}${ab64_encode(salt)}${ab64_encode(digest)}"


def is_pbkdf2_sha512_hash(value: str | None) -> bool:
    return bool(value and _HASH_RE.match(value.strip()))


def verify_pbkdf2_sha512(password: str, hashed: str) -> bool:
    """True when ``password`` matches ``hashed`` (constant-time compare)."""
    match = _HASH_RE.match(hashed.strip())
    if not match:
        return False
    rounds, salt, checksum = int(match.group(1)), ab64_decode(match.group(2)), match.group(3)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, rounds)
    return hmac.compare_digest(ab64_encode(digest), checksum)


def random_secret(nbytes: int = 32) -> str:
    """A URL- and shell-safe random secret (``nbytes`` of entropy)."""
    return secrets.token_urlsafe(nbytes)


def master_password() -> str:
    """A master password people can copy: 5 groups of 5 characters, ~120 bits."""
    alphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    groups = ["".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(5)]
    return "-".join(groups)
