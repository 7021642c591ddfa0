"""What ``odoo-ops init`` writes for ``odoo-ops serve`` (the status pages).

``serve`` runs on 127.0.0.1:8090 from a systemd unit with ``--token-file``;
the site's proxy publishes it under ``/odoo-ops/`` behind basic auth and
passes the token on (an nginx ``include`` / Caddy ``import`` of a 0600 file),
so the token never appears in the site configuration. The proxy blocks come
from :mod:`odoo_ops.serve.proxy`, the same as ``serve --print-proxy``.

Secrets (the token, the htpasswd line) are read back from the project on a
re-run and kept, like the ``.env`` values: a re-run never replaces them. The
basic-auth password is random, shown once when its htpasswd line is made,
and stored only as a bcrypt hash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import bcrypt

from odoo_ops.generate.passwords import master_password, random_secret
from odoo_ops.serve.proxy import DEFAULT_PREFIX, caddy_token_import, nginx_token_include

SERVE_DIR = ".odoo-ops/serve"
TOKEN_FILE = f"{SERVE_DIR}/token"
HTPASSWD_FILE = f"{SERVE_DIR}/htpasswd"
NGINX_TOKEN_FILE = f"{SERVE_DIR}/nginx-token.conf"
CADDY_TOKEN_FILE = f"{SERVE_DIR}/caddy-token"
SERVE_PORT = 8090
SERVE_USER = "ops"
PREFIX = DEFAULT_PREFIX
#: Cost of the bcrypt hash. The proxy checks it on every request, and the
#: password is random (~120 bits), so a high cost would only slow the pages.
BCRYPT_ROUNDS = 10

_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,512}")
_HTPASSWD = re.compile(r"([A-Za-z0-9._-]{1,64}):(\$2[aby]\$\d\d\$[./A-Za-z0-9]{53})")


@dataclass
class ServeSecrets:
    """The token and the basic-auth user of ``serve``, kept or new."""

    token: str
    user: str
    bcrypt_hash: str
    password: str | None = None  # set only when a new htpasswd line is made
    new_token: bool = False

    @property
    def htpasswd(self) -> str:
        return f"{self.user}:{self.bcrypt_hash}\n"

    @property
    def nginx_token(self) -> str:
        return nginx_token_include(self.token)

    @property
    def caddy_token(self) -> str:
        return caddy_token_import(self.token)


def existing_token(text: str | None) -> str | None:
    """The token of a token file init wrote (None when missing or unusable)."""
    token = (text or "").strip()
    return token if _TOKEN.fullmatch(token) else None


def existing_htpasswd(text: str | None) -> tuple[str, str] | None:
    """``(user, bcrypt hash)`` of the first line of an htpasswd file (None when unusable)."""
    for line in (text or "").splitlines():
        match = _HTPASSWD.fullmatch(line.strip())
        if match:
            return match.group(1), match.group(2)
    return None


def bcrypt_hash(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    """The ``$2b$`` bcrypt hash nginx (libxcrypt) and Caddy both check."""
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=rounds)).decode("ascii")


def serve_secrets(token_text: str | None, htpasswd_text: str | None) -> ServeSecrets:
    """Keep the token and htpasswd line found on disk; make new ones for what is missing."""
    token = existing_token(token_text)
    new_token = token is None
    if token is None:
        token = random_secret(32)
    found = existing_htpasswd(htpasswd_text)
    if found is not None:
        return ServeSecrets(token, found[0], found[1], new_token=new_token)
    password = master_password()
    return ServeSecrets(token, SERVE_USER, bcrypt_hash(password), password, new_token)


def serve_args(project_dir: str, port: int = SERVE_PORT) -> str:
    """The arguments of the ``serve`` unit (after ``odoo-ops -q``)."""
    return (
        f"serve --bind 127.0.0.1:{port} --token-file {project_dir}/{TOKEN_FILE}"
        f" --root-path {PREFIX}"
    )
