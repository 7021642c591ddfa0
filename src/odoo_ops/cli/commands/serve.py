"""``odoo-ops serve``: a read-only status web page over the deployments' records."""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import stat
from pathlib import Path

import click

from odoo_ops.cli.common import App, deployment_options, pass_app
from odoo_ops.errors import OpsError, UsageError

DEFAULT_BIND = "127.0.0.1:8090"
#: A token shorter than this is refused (it would be guessed).
MIN_TOKEN_LENGTH = 16


def parse_bind(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[V6]:PORT`` for IPv6) as ``(host, port)``."""
    host, sep, port_text = value.rpartition(":")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"--bind {value!r} is not HOST:PORT", hint="e.g. --bind 127.0.0.1:8090")
    return host.strip("[]"), int(port_text)


def proxy_config(kind: str, prefix: str, port: int, htpasswd: str | None) -> str:
    """The proxy configuration publishing ``serve`` under ``prefix`` (see serve/proxy.py)."""
    from odoo_ops.inputs import read_input_text
    from odoo_ops.serve.proxy import caddy_route, nginx_location

    if not htpasswd:
        raise UsageError("--print-proxy needs --htpasswd FILE",
                         hint="make it with: htpasswd -c -B FILE USER")  # fmt: skip
    text = read_input_text(htpasswd, kind="htpasswd file", limit=64 * 1024, error=UsageError)
    users = [line.split(":", 1) for line in text.splitlines() if ":" in line]
    if not users:
        raise UsageError(f"{htpasswd}: no USER:HASH line", hint="htpasswd -c -B FILE USER")
    try:
        if kind == "nginx":
            return nginx_location(prefix, port, str(Path(htpasswd).resolve()))
        user, hashed = users[0]
        return caddy_route(prefix, port, user, hashed.strip())
    except ValueError as exc:
        raise UsageError(f"--print-proxy {kind}: {exc}",
                         hint="bcrypt hashes: htpasswd -B, or caddy hash-password") from None


def check_root_path(value: str) -> str:
    """``/odoo-ops`` style: empty, or ``/`` and plain path words, no trailing slash."""
    value = value.rstrip("/")
    if value and not re.fullmatch(r"(/[A-Za-z0-9._~-]+)+", value):
        raise UsageError(f"--root-path {value!r} is not a path like /odoo-ops")
    return value


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_token(path: str) -> str:
    """The token of ``--token-file``: a regular file readable by its owner only."""
    from odoo_ops.inputs import read_input_bytes

    data = read_input_bytes(path, kind="token file", limit=4096, error=UsageError)
    mode = os.stat(path).st_mode
    if stat.S_IMODE(mode) & 0o077:
        raise UsageError(
            f"token file {path} can be read by others (mode {stat.S_IMODE(mode):o})",
            hint=f"chmod 600 {path}",
        )
    token = data.decode("utf-8", errors="replace").strip()
    if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
        raise UsageError(
            f"token file {path} must hold one token of at least {MIN_TOKEN_LENGTH} characters",
            hint="e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(32))' > FILE",
        )
    return token


@click.command("serve")
@deployment_options
@click.option(
    "--bind",
    default=DEFAULT_BIND,
    show_default=True,
    metavar="HOST:PORT",
    help="Address to listen on; any but loopback needs --token-file.",
)
@click.option(
    "--token-file",
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Require the token in FILE (mode 0600): Bearer header or ?token=.",
)
@click.option(
    "--all-deployments/--one-deployment",
    default=True,
    show_default=True,
    help="Serve every deployment of odoo-ops.toml, or only the selected one.",
)
@click.option(
    "--root-path",
    default="",
    metavar="PATH",
    help="Path prefix the pages are published under by a reverse proxy (e.g. /odoo-ops).",
)
@click.option(
    "--print-proxy",
    type=click.Choice(["nginx", "caddy"]),
    help="Print the nginx location / Caddy block publishing the pages under --root-path"
    " (default /odoo-ops) behind the basic auth of --htpasswd, and exit.",
)
@click.option(
    "--htpasswd",
    metavar="FILE",
    help="With --print-proxy: the htpasswd file (htpasswd -c -B FILE USER) of the users.",
)
@click.option(
    "--pending-upgrades",
    is_flag=True,
    help="Ask each database for pending module upgrades (at most once a minute).",
)
@pass_app
def command(app: App, bind: str, token_file: str | None, all_deployments: bool,
            root_path: str, print_proxy: str | None, htpasswd: str | None,
            pending_upgrades: bool) -> int:  # fmt: skip
    """A read-only status web page: overview, health, deploys, backups, checks, go-live.

    Served from the records odoo-ops keeps (no request reaches the deployments
    unless --pending-upgrades); charts are drawn on the server, nothing is
    loaded from elsewhere, secrets are masked as in the CLI's output.
    /api/status answers the status as JSON, /metrics in the Prometheus format.
    Listens on 127.0.0.1:8090 by default; another address requires
    --token-file.
    """
    from odoo_ops.cli.commands.status import targets_of

    host, port = parse_bind(bind)
    root_path = check_root_path(root_path)
    if print_proxy:
        app.out(proxy_config(print_proxy, root_path or "/odoo-ops", port, htpasswd))
        return 0
    token = read_token(token_file) if token_file else None
    if token is None and not is_loopback(host):
        raise UsageError(
            f"--bind {bind}: serving beyond this machine requires --token-file",
            hint="write a token (mode 0600) and pass --token-file FILE, or bind 127.0.0.1",
        )
    try:
        import uvicorn
    except ImportError:  # pragma: no cover - a dependency of odoo-ops
        raise OpsError("uvicorn is not installed", hint="pip install uvicorn") from None
    from odoo_ops.serve import ServeState, create_app

    targets = targets_of(app, all_deployments)
    state = ServeState(targets, App.redact_any, token=token, ask_database=pending_upgrades,
                       root_path=root_path)  # fmt: skip
    application = create_app(state)
    listening = listen(host, port)  # refused now (port in use), not after reading the records
    try:
        app.info("reading the records ...")
        for target in targets:  # parse every record once, so that the first page is quick
            state.status(target)
        shown = f"[{host}]" if ":" in host else host
        app.info(f"serving {', '.join(t.name for t in targets)} on http://{shown}:{port}/"
                 + (" (token required)" if token else ""))  # fmt: skip
        config = uvicorn.Config(application, log_level="warning", access_log=False,
                                server_header=False, lifespan="off")  # fmt: skip
        uvicorn.Server(config).run(sockets=[listening])
    finally:
        listening.close()
    return 0


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a one-line error (in use, no such address)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise UsageError(f"--bind {host}:{port}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise OpsError(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            hint="is another program using the port? pick another --bind",
        ) from None
    sock.set_inheritable(True)
    return sock
