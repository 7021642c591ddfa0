"""Reading a Caddyfile: which upstream a request path is proxied to.

Only what the topology checks need: the sites' ``reverse_proxy`` directives,
the path matchers they sit under (inline ``/path*``, named ``@name path …`` /
``path_regexp``, ``handle``/``handle_path``/``route`` blocks) and their
upstreams (``host:port``, ``http://host:port``, ``to`` in the block). Caddy
proxies websockets without any extra directive: the route that takes
``/websocket`` is found as Caddy orders a site (:func:`route_for`). Named
matchers on something else than the path (a file, a header …) are taken as
not matching -- the ordinary request --, except a ``header`` on ``Upgrade`` or
``Connection``, which a websocket request carries. Snippets and ``import`` are not followed;
the global options block is skipped. Never executed, only tokenised.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field

# -- tokens and blocks ---------------------------------------------------------


@dataclass
class Directive:
    """One line of a Caddyfile (its tokens) and the block that follows it, if any."""

    tokens: list[str]
    line: int
    block: list[Directive] = field(default_factory=list)


def _tokens(text: str) -> list[tuple[str, int]]:
    """Tokens with their line numbers; ``"\\n"`` marks a line end. Comments start
    at a ``#`` that begins a token; quotes and backquotes group."""
    out: list[tuple[str, int]] = []
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            out.append(("\n", line))
            line += 1
            i += 1
        elif c in " \t\r":
            i += 1
        elif c == "\\" and i + 1 < n and text[i + 1] == "\n":  # line continuation
            i += 2
            line += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c in '"`':
            j = i + 1
            buf = []
            while j < n and text[j] != c:
                if c == '"' and text[j] == "\\" and j + 1 < n:
                    j += 1
                if text[j] == "\n":
                    line += 1
                buf.append(text[j])
                j += 1
            out.append(("".join(buf), line))
            i = j + 1
        else:
            j = i
            while j < n and text[j] not in " \t\r\n":
                j += 1
            out.append((text[i:j], line))
            i = j
    return out


def parse_caddyfile(text: str) -> list[Directive]:
    """The top-level entries (sites, the global options block, snippets) of a
    Caddyfile, each with its nested block."""
    toks = _tokens(text)
    pos = 0

    def block() -> list[Directive]:
        nonlocal pos
        items: list[Directive] = []
        current: list[str] = []
        start = 0
        while pos < len(toks):
            tok, line = toks[pos]
            pos += 1
            if tok == "\n":
                if current:
                    items.append(Directive(current, start))
                    current = []
            elif tok == "{" and (pos >= len(toks) or toks[pos][0] == "\n"):
                inner = block()
                items.append(Directive(current, start or line, inner))
                current = []
            elif tok == "}" and not current:
                return items
            else:
                if not current:
                    start = line
                current.append(tok)
        if current:
            items.append(Directive(current, start))
        return items

    return block()


# -- routes --------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """A ``reverse_proxy``: the path patterns every enclosing matcher requires
    (one list per matcher; empty: matches everything) and its upstreams."""

    matchers: tuple[tuple[str, ...], ...]
    upstreams: tuple[str, ...]
    line: int
    site: str

    @property
    def catch_all(self) -> bool:
        return not self.matchers


def _path_match(pattern: str, path: str) -> bool:
    if pattern == NEVER:
        return False
    if pattern.startswith("re:"):
        try:
            return re.search(pattern[3:], path) is not None
        except re.error:
            return False
    if pattern == "*":
        return True
    return fnmatch.fnmatchcase(path.lower(), pattern.lower())


def _matcher_of(token: str | None, named: dict[str, tuple[str, ...]]) -> tuple[str, ...] | None:
    """The path patterns of a matcher token (None: the token is not a matcher;
    ``("*",)`` for a matcher that does not look at the path)."""
    if token is None:
        return None
    if token.startswith("@"):
        return named.get(token, ("*",))
    if token == "*":
        return ("*",)
    if token.startswith("/"):
        return (token,)
    return None


#: Named-matcher conditions that do not depend on the request's path or site:
#: taken as true (a request to the site).
_ALWAYS = {"host", "protocol"}
#: ``header Upgrade websocket`` / ``header Connection *Upgrade*``: a websocket
#: request carries them (the question this reader answers is about /websocket).
_WS_HEADERS = {"upgrade", "connection"}
#: A pattern that matches no path: a named matcher with a condition on the
#: request other than its path (a file that exists -- the maintenance switch --,
#: a header, the method, the client's address, ``not`` …) is taken as false,
#: the ordinary request.
NEVER = "!never"


def _named_matchers(items: list[Directive]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for d in items:
        if not d.tokens or not d.tokens[0].startswith("@"):
            continue
        lines = [d.tokens[1:]] + [c.tokens for c in d.block]
        paths: list[str] = []
        conditional = False
        for words in lines:
            if not words:
                continue
            if words[0] == "path":
                paths += words[1:]
            elif words[0] == "path_regexp":
                rx = words[-1] if len(words) > 1 else ""
                paths.append("re:" + rx)
            elif words[0] == "header" and len(words) > 1 and words[1].lower() in _WS_HEADERS:
                continue  # what a websocket request carries: true for the request asked
            elif words[0] not in _ALWAYS:
                conditional = True
        out[d.tokens[0]] = (NEVER,) if conditional else tuple(paths) if paths else ("*",)
    return out


def _upstreams(d: Directive, start: int) -> list[str]:
    ups = list(d.tokens[start:])
    for child in d.block:
        if child.tokens and child.tokens[0] == "to":
            ups += child.tokens[1:]
    return ups


#: Caddy's order of the directives that end a request (or hold others), as it
#: sorts a site's (or a ``handle`` block's) directives; ``route`` keeps the
#: written order inside it.
_ORDER = ("redir", "handle", "handle_path", "route", "abort", "error", "respond",
          "reverse_proxy", "php_fastcgi", "file_server")  # fmt: skip
_HANDLES = ("handle", "handle_path")  # one group: the first that matches, alone
_ENDS = ("redir", "abort", "error", "respond", "php_fastcgi", "file_server")


def _sort_key(d: Directive, named: dict[str, tuple[str, ...]]) -> tuple[int, int, int]:
    """Caddy's sort: by directive order; the same directive with a path matcher
    first (the longer path first), a named matcher next, none last."""
    arg = d.tokens[1] if len(d.tokens) > 1 else None
    rank = _ORDER.index(d.tokens[0])
    if arg is not None and arg.startswith("/"):
        return rank, 0, -len(arg)
    if arg is not None and arg.startswith("@"):
        return rank, 1, 0
    return rank, 2, 0


def _evaluate(
    items: list[Directive],
    path: str,
    *,
    ordered: bool,
    matchers: tuple[tuple[str, ...], ...],
    site: str,
) -> tuple[bool, Route | None]:
    """(ended, route) of a request for ``path`` through ``items``: ``ended`` when
    a directive answered it (``route`` set when that was a reverse_proxy)."""
    named = _named_matchers(items)
    entries = [d for d in items if d.tokens and d.tokens[0] in _ORDER]
    if not ordered:
        entries.sort(key=lambda d: _sort_key(d, named))
    handled = False
    for d in entries:
        name = d.tokens[0]
        arg = d.tokens[1] if len(d.tokens) > 1 else None
        m = _matcher_of(arg, named)
        if m is not None and not any(_path_match(p, path) for p in m):
            continue
        inner = matchers + ((m,) if m and m != ("*",) else ())
        if name == "reverse_proxy":
            ups = _upstreams(d, 2 if m is not None else 1)
            return True, Route(inner, tuple(ups), d.line, site)
        if name in _ENDS:
            return True, None
        if name in _HANDLES:
            if handled:
                continue
            handled = True
        ended, route = _evaluate(d.block, path, ordered=name == "route", matchers=inner, site=site)
        if ended:
            return ended, route
    return False, None


def route_for(text: str, path: str) -> list[Route]:
    """The ``reverse_proxy`` each site of a Caddyfile sends ``path`` to, found as
    Caddy orders a site: directives sorted by Caddy's directive order (a path
    matcher before a named one before none, the longer path first), the first
    matching ``handle``/``handle_path`` alone, ``route`` blocks in written
    order; a site that answers ``path`` otherwise (``respond``, ``redir``,
    ``file_server`` …) or not at all gives nothing."""
    out: list[Route] = []
    for entry in parse_caddyfile(text):
        if not entry.tokens or entry.tokens[0].startswith("("):
            continue  # the global options block, a snippet
        if not entry.block:
            continue
        site = " ".join(entry.tokens)
        _ended, route = _evaluate(entry.block, path, ordered=False, matchers=(), site=site)
        if route is not None:
            out.append(route)
    return out


def host_port(upstream: str) -> tuple[str, str]:
    """``(host, port)`` of an upstream address (``http://a:1``, ``a:1``, ``a``)."""
    scheme = ""
    if "://" in upstream:
        scheme, _, upstream = upstream.partition("://")
    upstream = upstream.split("/", 1)[0]
    if upstream.startswith("["):  # [::1]:8072
        host, _, rest = upstream[1:].partition("]")
        return host, rest.lstrip(":") or ("443" if scheme == "https" else "80")
    host, _, port = upstream.partition(":")
    return host, port or ("443" if scheme == "https" else "80")
