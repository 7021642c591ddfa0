"""Publishing ``odoo-ops serve`` through the site's reverse proxy, behind basic auth.

``serve`` keeps listening on 127.0.0.1; the proxy publishes it under a path
(``/odoo-ops/`` by default) of the Odoo site, asks for a user and password
(an htpasswd file: ``htpasswd -c -B FILE USER`` for nginx; a bcrypt hash from
``caddy hash-password`` for Caddy), strips the prefix and the credentials
before passing the request on, and adds TLS (the site's own). ``serve`` is
started with ``--root-path`` set to the same prefix so its links carry it.
"""

from __future__ import annotations

import re

DEFAULT_PREFIX = "/odoo-ops"
_PREFIX = re.compile(r"(/[A-Za-z0-9._~-]+)+")


def _check(prefix: str, port: int) -> str:
    prefix = prefix.rstrip("/")
    if not _PREFIX.fullmatch(prefix):
        raise ValueError(f"{prefix!r} is not a path like /odoo-ops")
    if not 0 < port < 65536:
        raise ValueError(f"{port} is not a port")
    return prefix


def _plain_path(path: str) -> str:
    if any(c in path for c in ' ;{}"\'\n#'):
        raise ValueError(f"{path!r}: use a path without spaces or quotes")
    return path


def nginx_location(
    prefix: str, port: int, htpasswd_file: str, token_include: str | None = None
) -> str:
    """An nginx ``location`` for the site's ``server`` block.

    With ``token_include`` (a file made by :func:`nginx_token_include`, the
    ``serve --token-file`` token of a loopback ``serve``), nginx passes the
    token instead of the visitor's credentials.
    """
    prefix = _check(prefix, port)
    _plain_path(htpasswd_file)
    authorization = (
        f"    include {_plain_path(token_include)};\n"
        if token_include
        else '    proxy_set_header Authorization "";\n'
    )
    return (
        f"# odoo-ops status pages (odoo-ops serve --root-path {prefix}), behind basic auth\n"
        f"location = {prefix} {{\n"
        f"    return 301 {prefix}/;\n"
        "}\n"
        f"location ^~ {prefix}/ {{\n"
        '    auth_basic "odoo-ops";\n'
        f"    auth_basic_user_file {htpasswd_file};\n"
        f"{authorization}"
        "    proxy_set_header Cookie \"\";\n"
        f"    proxy_pass http://127.0.0.1:{port}/;\n"
        "    proxy_redirect off;\n"
        "}\n"
    )


def caddy_route(
    prefix: str, port: int, user: str, bcrypt_hash: str, token_import: str | None = None
) -> str:
    """A Caddy ``handle_path`` block for the site's ``route``.

    With ``token_import`` (a file made by :func:`caddy_token_import`), Caddy
    passes the token of ``serve --token-file`` instead of the credentials.

    ``basicauth`` is the directive's name in Caddy 2.6 (Debian 12); later
    versions call it ``basic_auth`` and still accept this one.
    """
    prefix = _check(prefix, port)
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", user):
        raise ValueError(f"{user!r} is not a plain user name")
    if not re.fullmatch(r"\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}", bcrypt_hash):
        raise ValueError("the password hash must be bcrypt (caddy hash-password)")
    authorization = (
        f"\t\timport {_plain_path(token_import)}\n"
        if token_import
        else "\t\theader_up -Authorization\n"
    )
    return (
        f"# odoo-ops status pages (odoo-ops serve --root-path {prefix}), behind basic auth\n"
        f"redir {prefix} {prefix}/\n"
        f"handle_path {prefix}/* {{\n"
        "\tbasicauth {\n"
        f"\t\t{user} {bcrypt_hash}\n"
        "\t}\n"
        f"\treverse_proxy 127.0.0.1:{port} {{\n"
        f"{authorization}"
        "\t\theader_up -Cookie\n"
        "\t}\n"
        "}\n"
    )


_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{16,512}")


def _check_token(token: str) -> str:
    if not _TOKEN.fullmatch(token):
        raise ValueError("the token must be 16-512 URL-safe characters")
    return token


def nginx_token_include(token: str) -> str:
    """The file ``nginx_location(token_include=...)`` includes (a secret: mode 0600)."""
    return f'proxy_set_header Authorization "Bearer {_check_token(token)}";\n'


def caddy_token_import(token: str) -> str:
    """The file ``caddy_route(token_import=...)`` imports (a secret: mode 0600)."""
    return f'header_up Authorization "Bearer {_check_token(token)}"\n'
