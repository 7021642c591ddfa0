"""Reading a Caddyfile: which upstream a request path is proxied to.

Only what the topology checks need: the sites' ``reverse_proxy`` directives,
the path matchers they sit under (inline ``/path*``, named ``@name path …`` /
``path_regexp``, ``handle``/``handle_path``/``route`` blocks) and their
upstreams (``host:port``, ``http://host:port``, ``to`` in the block). Caddy
proxies websockets without any extra directive, so the route that takes
``/websocket`` is the one whose matcher is the most specific that matches it,
else the catch-all one. Snippets and ``import`` are not followed; the global
options block is skipped. Never executed, only tokenised.
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

    def matches(self, path: str) -> bool:
        return all(any(_path_match(p, path) for p in m) for m in self.matchers)

    def specificity(self, path: str) -> int:
        """The length of the longest pattern that matches ``path`` (0: catch-all)."""
        best = 0
        for m in self.matchers:
            for p in m:
                if _path_match(p, path):
                    best = max(best, len(p.strip("*^$")))
        return best


def _path_match(pattern: str, path: str) -> bool:
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


def _named_matchers(items: list[Directive]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for d in items:
        if not d.tokens or not d.tokens[0].startswith("@"):
            continue
        lines = [d.tokens[1:]] + [c.tokens for c in d.block]
        paths: list[str] = []
        for words in lines:
            if not words:
                continue
            if words[0] == "path":
                paths += words[1:]
            elif words[0] == "path_regexp":
                rx = words[-1] if len(words) > 1 else ""
                paths.append("re:" + rx)
        # a matcher on the host, a header, the method …: not about the path
        out[d.tokens[0]] = tuple(paths) if paths else ("*",)
    return out


def _upstreams(d: Directive, start: int) -> list[str]:
    ups = list(d.tokens[start:])
    for child in d.block:
        if child.tokens and child.tokens[0] == "to":
            ups += child.tokens[1:]
    return ups


def caddy_routes(text: str) -> list[Route]:
    """Every ``reverse_proxy`` of every site of a Caddyfile."""
    routes: list[Route] = []
    for entry in parse_caddyfile(text):
        if not entry.tokens and entry.block:
            continue  # the global options block
        if entry.tokens and entry.tokens[0].startswith("("):
            continue  # a snippet: only used through import, not followed
        if not entry.block and entry.tokens and entry.tokens[0] != "{":
            continue
        site = " ".join(entry.tokens)
        _walk(entry.block, (), site, routes)
    return routes


def _walk(
    items: list[Directive],
    matchers: tuple[tuple[str, ...], ...],
    site: str,
    routes: list[Route],
) -> None:
    named = _named_matchers(items)
    for d in items:
        if not d.tokens:
            continue
        name = d.tokens[0]
        arg = d.tokens[1] if len(d.tokens) > 1 else None
        m = _matcher_of(arg, named)
        inner = matchers + ((m,) if m and m != ("*",) else ())
        if name == "reverse_proxy":
            ups = _upstreams(d, 2 if m is not None else 1)
            routes.append(Route(inner, tuple(ups), d.line, site))
        elif name in ("handle", "handle_path", "route") and d.block:
            _walk(d.block, inner, site, routes)


def upstream_for(routes: list[Route], path: str) -> list[Route]:
    """The routes that take ``path``: those with the most specific path matcher
    that matches it (Caddy sorts ``handle`` blocks that way), else the
    catch-all ones."""
    hits = [r for r in routes if r.matches(path)]
    if not hits:
        return []
    best = max(r.specificity(path) for r in hits)
    return [r for r in hits if r.specificity(path) == best]


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
