"""Sending notifications (alerts, recoveries, deploy results) through apprise.

Channels are apprise URLs from ``[notifications] urls`` in odoo-ops.toml
(``mmost://``, ``slack://``, ``mailto://``, ``json://`` for a generic
webhook, …). A notification that cannot be delivered is returned as a
:class:`Delivery` with the error — it never raises and never hides what the
caller was reporting. URLs are secrets (they carry tokens): they are never
part of a message; a delivery names its channel only by scheme and host.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

log = logging.getLogger(__name__)


@dataclass
class Delivery:
    channel: str  # scheme://host, without credentials or path
    ok: bool
    error: str | None = None


def channel_name(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return "invalid-url"
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" if host else f"{parts.scheme}://"


def notify(
    urls: Sequence[str], title: str, body: str, *, level: str = "info", timeout: float = 10.0
) -> list[Delivery]:
    """Send ``title``/``body`` to every URL; one :class:`Delivery` per URL."""
    if not urls:
        return []
    try:
        import apprise
    except ImportError as exc:  # pragma: no cover - apprise is a dependency
        return [Delivery(channel_name(u), False, f"apprise not available: {exc}") for u in urls]
    notify_type = {
        "info": apprise.NotifyType.INFO,
        "success": apprise.NotifyType.SUCCESS,
        "warning": apprise.NotifyType.WARNING,
        "failure": apprise.NotifyType.FAILURE,
    }.get(level, apprise.NotifyType.INFO)
    results = []
    for url in urls:
        channel = channel_name(url)
        asset = apprise.AppriseAsset(async_mode=False)
        app = apprise.Apprise(asset=asset)
        try:
            added = app.add(url)
        except Exception as exc:  # apprise raises on some malformed URLs
            results.append(Delivery(channel, False, f"invalid notification URL ({exc})"))
            continue
        if not added:
            results.append(Delivery(channel, False, "invalid or unsupported notification URL"))
            continue
        for server in app:
            try:
                server.socket_connect_timeout = min(timeout, 10.0)
                server.socket_read_timeout = timeout
            except AttributeError:
                pass
        try:
            ok = bool(app.notify(title=title, body=body, notify_type=notify_type))
        except Exception as exc:
            ok = False
            log.warning("notification to %s failed: %s", channel, exc)
            results.append(Delivery(channel, False, str(exc)))
            continue
        if not ok:
            log.warning("notification to %s was not delivered", channel)
        results.append(Delivery(channel, ok, None if ok else "not delivered"))
    return results
