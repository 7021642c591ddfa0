"""A streaming guard for the plain SQL of an Odoo zip, before psql reads it.

``backup import-odoo`` loads a ``dump.sql`` that came from somewhere else
(a customer, an Odoo.sh download, the internet) with ``psql``. psql runs
more than SQL: a backslash outside quotes is a meta-command (``\\!`` runs a
shell command, ``\\connect`` switches databases, ``\\copy``/``\\o`` touch
files). :class:`SqlGuard` reads the script line by line, *before* a line is
passed on, and tokenizes it the way psql's lexer does — single-quoted
strings (``E''``, ``''`` doubling), double-quoted identifiers, dollar quotes
(``$$``, ``$tag$``), ``--`` and nested ``/* */`` comments, statements ended
by ``;`` outside parentheses, and ``COPY … FROM stdin`` data up to ``\\.``.

Refused (:class:`SqlRefused`, naming the line):

- any backslash outside quotes, comments and COPY data, except the
  ``\\restrict KEY`` / ``\\unrestrict KEY`` lines newer pg_dump writes (they
  are dropped: the loader puts psql in restricted mode with its own key);
- ``COPY`` other than ``FROM stdin``; ``SET``/``RESET`` of the role or the
  session authorization, of ``client_encoding`` (but to an ASCII-safe
  encoding) and ``standard_conforming_strings`` (but ``on``);
  ``CREATE``/``ALTER``/``DROP`` of roles, users, groups, databases,
  tablespaces, subscriptions, servers; ``ALTER SYSTEM``; role ``GRANT``\\ s;
  ``DO``, ``LOAD``, ``CALL``, transaction control and every other statement
  pg_dump does not write; ``SELECT`` but the ``set_config('search_path'…)``,
  ``setval`` and ``lo_*`` calls pg_dump writes;
- whatever psql could read differently from this lexer: NUL bytes, text
  that is not UTF-8, an odd run of backslashes before a quote (E-string
  versus standard string), a ``$tag$`` glued to an identifier, ``;``
  inside parentheses, SQL-standard function bodies (``BEGIN ATOMIC``),
  psql variables (``:NAME``), a statement that goes on past the line
  where the one before it ended.

Between two lines psql re-reads the session's ``client_encoding`` and
``standard_conforming_strings``, which SQL run by the script (a trigger, a
CHECK constraint) could change; :meth:`SqlGuard.feed` therefore returns
:data:`RESET_LINE` to put after every line that ran a statement, so psql
always lexes the next line of the dump as this guard does.

The guard is one layer: the loader also runs psql as an unprivileged role
made for the load (see :mod:`odoo_ops.backup.odoo_zip`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from odoo_ops.errors import OpsError

#: Injected after every line that ran a statement (pure ASCII, no backslash).
RESET_LINE = b"SET client_encoding = 'UTF8'; SET standard_conforming_strings = on;\n"

#: The longest SQL line read (COPY data lines are streamed, any length).
MAX_SQL_LINE = 16 * 1024 * 1024

_EXCERPT = 60
_MAX_TOKENS = 8192
_WS = " \t\n\r\f\v"
_IDENT_CHARS = r"A-Za-z0-9_\u0080-\U0010ffff"
_RUN = re.compile(f"[{_IDENT_CHARS}]+")
_DOLQ = re.compile(r"\$([A-Za-z\u0080-\U0010ffff_][A-Za-z\u0080-\U0010ffff_0-9]*)?\$")
_DOLQ_FAILED = re.compile(r"\$[A-Za-z\u0080-\U0010ffff_][A-Za-z\u0080-\U0010ffff_0-9]*")
_PSQL_VAR = re.compile(f"""(['"]?)([{_IDENT_CHARS}]+)\\1""")
_RESTRICT = re.compile(rb"\\(un)?restrict[ \t]+[A-Za-z0-9]+[ \t]*\r?\n?")
_COMMENT_END = re.compile(r"[\r\n]")
_BLOCK = re.compile(r"/\*|\*+/")
_SQ_STOP = re.compile(r"[\\']")

_ALLOWED_FIRST = frozenset(
    {"set", "reset", "select", "create", "alter", "comment", "copy", "grant", "revoke",
     "insert", "drop", "refresh", "security"}
)
_CREATE_MODIFIERS = frozenset(
    {"or", "replace", "temp", "temporary", "unlogged", "global", "local", "unique",
     "default", "trusted", "procedural", "constraint", "recursive", "materialized"}
)
_FORBIDDEN_OBJECTS = frozenset(
    {"role", "user", "group", "database", "tablespace", "subscription", "server", "system"}
)
_SESSION_SETTINGS = frozenset({"role", "session_authorization", "authorization"})
_SAFE_ENCODINGS = frozenset(
    {"utf8", "unicode", "sqlascii"}
    | {f"latin{n}" for n in range(1, 11)}
    | {f"win{n}" for n in (866, 874, 1250, 1251, 1252, 1253, 1254, 1255, 1256, 1257, 1258)}
)
_SELECT_CALLS = frozenset({"set_config", "setval", "lo_create", "lo_open", "lowrite", "lo_close"})


class SqlRefused(OpsError):
    """A line of the dump the guard does not pass to psql."""

    def __init__(self, line: int, what: str, text: str) -> None:
        self.line = line
        self.what = what
        self.excerpt = excerpt(text)
        super().__init__(
            f"dump.sql line {line}: {what} is refused ({self.excerpt})",
            hint="the zip's SQL is loaded as data only; nothing was imported",
        )


def excerpt(text: str) -> str:
    """At most ~60 printable characters of ``text``, quoted."""
    clean = "".join(ch if ch.isprintable() else "?" for ch in text.strip(_WS))
    if len(clean) > _EXCERPT:
        clean = clean[:_EXCERPT] + "…"
    return repr(clean)


@dataclass
class _Token:
    kind: str  # word, qident, string, dollar, op
    text: str
    depth: int


@dataclass
class _Statement:
    line: int = 0
    text: str = ""
    tokens: list[_Token] = field(default_factory=list)
    truncated: bool = False
    function_word: bool = False
    begin_word: bool = False

    def add(self, token: _Token, line_no: int, line: str) -> None:
        if not self.tokens and not self.truncated:
            self.line, self.text = line_no, line
        if len(self.tokens) < _MAX_TOKENS:
            self.tokens.append(token)
        else:
            self.truncated = True

    @property
    def empty(self) -> bool:
        return not self.tokens and not self.truncated


def _candidate(run: str, word: str) -> bool:
    """Could psql's lexer see the identifier ``word`` in this run of identifier chars?"""
    low = run.lower()
    if run[0].isdigit() or run[0] == "$":
        return low.endswith(word)
    return low == word


@dataclass
class FeedResult:
    """What to write to psql for one chunk of input."""

    data: bytes
    reset_after: bool = False


class SqlGuard:
    """Feed the dump chunk by chunk (``readline(limit)`` pieces); see the module doc."""

    def __init__(self) -> None:
        self.line_no = 0
        self.statements = 0
        self.tables = 0
        self.copies = 0
        self._mode = "sql"  # sql, squote, dquote, dollar, block
        self._tag = ""
        self._block_depth = 0
        self._paren = 0
        self._stmt = _Statement()
        self._partial = b""
        self._in_copy = False
        self._copy_line_start = True
        self._copy_line = 0
        self._ended_on_line = 0
        self._line = ""

    # -- input -------------------------------------------------------------

    def feed(self, chunk: bytes) -> FeedResult | None:
        """Check ``chunk``; return what psql may read (None: not a whole line yet)."""
        if b"\0" in chunk:
            raise SqlRefused(self.line_no + 1, "a NUL byte", "")
        if self._in_copy:
            return self._feed_copy(chunk)
        if not chunk.endswith(b"\n"):
            if len(self._partial) + len(chunk) > MAX_SQL_LINE:
                raise SqlRefused(self.line_no + 1, "a SQL line longer than 16 MiB", "")
            self._partial += chunk
            return None
        raw = self._partial + chunk
        self._partial = b""
        return self._feed_sql_line(raw)

    def finish(self) -> FeedResult | None:
        """The end of the input: checks what is still open; returns any last partial line."""
        tail = None
        if self._partial:
            raw, self._partial = self._partial, b""
            tail = self._feed_sql_line(raw)
        if self._in_copy:
            return tail  # psql ends COPY data at the end of its input too
        if self._mode != "sql":
            what = {"squote": "a quoted string", "dquote": "a quoted identifier",
                    "dollar": "a dollar-quoted string", "block": "a /* comment"}[self._mode]
            raise SqlRefused(self.line_no, f"{what} that is never closed", self._line)
        if not self._stmt.empty:
            # psql sends an unterminated last statement at the end of its input
            self._end_statement(self.line_no, self._line, final=True)
        if self.statements == 0:
            raise OpsError("dump.sql is empty: it holds no SQL statement",
                           hint="nothing was imported")
        if self.tables == 0:
            raise OpsError("dump.sql creates no table: it is not an Odoo database dump",
                           hint="nothing was imported")
        return tail

    # -- COPY data -----------------------------------------------------------

    def _feed_copy(self, chunk: bytes) -> FeedResult:
        at_start = self._copy_line_start
        complete = chunk.endswith(b"\n")
        if at_start:
            self.line_no += 1
        self._copy_line_start = complete
        if at_start and chunk in (b"\\.\n", b"\\.\r\n"):
            self._in_copy = False
            return FeedResult(chunk, reset_after=True)
        return FeedResult(chunk)

    # -- SQL -------------------------------------------------------------------

    def _feed_sql_line(self, raw: bytes) -> FeedResult:
        self.line_no += 1
        line_no = self.line_no
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SqlRefused(line_no, "text that is not UTF-8",
                             raw.decode("utf-8", "replace")) from None
        self._line = line
        if (self._mode == "sql" and self._stmt.empty and self._paren == 0
                and _RESTRICT.fullmatch(raw)):
            # pg_dump's own \restrict/\unrestrict: psql already runs restricted, with our key
            return FeedResult(b"\n" if raw.endswith(b"\n") else b"")
        self._ended_on_line = 0
        self._scan(line, line_no)
        ran = self._ended_on_line > 0
        if ran and not self._in_copy and (self._mode != "sql" or not self._stmt.empty
                                          or self._paren):
            raise SqlRefused(line_no, "a statement that goes on past the line where the "
                             "one before it ends", line)
        return FeedResult(raw, reset_after=ran and not self._in_copy)

    def _scan(self, line: str, line_no: int) -> None:
        i, n = 0, len(line)
        while i < n:
            mode = self._mode
            if mode == "squote":
                i = self._scan_squote(line, i, line_no)
            elif mode == "dquote":
                close = line.find('"', i)
                if close < 0:
                    return
                if line.startswith('""', close):
                    i = close + 2
                else:
                    self._mode, i = "sql", close + 1
            elif mode == "dollar":
                i = self._scan_dollar(line, i)
            elif mode == "block":
                match = _BLOCK.search(line, i)
                if match is None:
                    return
                self._block_depth += 1 if match.group() == "/*" else -1
                if self._block_depth == 0:
                    self._mode = "sql"
                i = match.end()
            else:
                i = self._scan_sql(line, i, line_no)
                if self._in_copy:
                    rest = line[i:]
                    if rest.strip(_WS):
                        raise SqlRefused(line_no, "text after COPY … FROM stdin; on its line",
                                         rest)
                    return

    def _scan_squote(self, line: str, i: int, line_no: int) -> int:
        match = _SQ_STOP.search(line, i)
        if match is None:
            return len(line)
        j = match.start()
        if line[j] == "\\":
            k = j
            while k < len(line) and line[k] == "\\":
                k += 1
            if k < len(line) and line[k] == "'" and (k - j) % 2 == 1:
                raise SqlRefused(line_no, "a backslash before a quote in a string "
                                 "(read differently with and without E'')", line)
            return k
        if line.startswith("''", j):
            return j + 2
        self._mode = "sql"
        return j + 1

    def _scan_dollar(self, line: str, i: int) -> int:
        while True:
            j = line.find("$", i)
            if j < 0:
                return len(line)
            match = _DOLQ.match(line, j)
            if match is not None:
                if (match.group(1) or "") == self._tag:
                    self._mode = "sql"
                    return match.end()
                i = match.end() - 1
                continue
            failed = _DOLQ_FAILED.match(line, j)
            i = failed.end() if failed else j + 1

    def _scan_sql(self, line: str, i: int, line_no: int) -> int:
        """Scan from ``i`` in plain SQL until the line ends or another mode starts."""
        stmt = self._stmt
        n = len(line)
        while i < n:
            ch = line[i]
            nxt = line[i + 1] if i + 1 < n else ""
            if ch in _WS:
                i += 1
            elif ch == "-" and nxt == "-":
                end = _COMMENT_END.search(line, i)
                i = end.start() if end else n
            elif ch == "/" and nxt == "*":
                self._mode, self._block_depth = "block", 1
                return i + 2
            elif ch == "'":
                stmt.add(_Token("string", self._string_text(line, i), self._paren), line_no, line)
                self._mode = "squote"
                return i + 1
            elif ch == '"':
                close = line.find('"', i + 1)
                stmt.add(_Token("qident", line[i + 1: close if close > 0 else n], self._paren),
                         line_no, line)
                self._mode = "dquote"
                return i + 1
            elif ch == "\\":
                raise SqlRefused(line_no, "a psql meta-command (backslash command)", line[i:])
            elif ch == "$" and (match := _DOLQ.match(line, i)) is not None:
                self._open_dollar(match, line, i, line_no)
                return match.end()
            elif ch == "$" or _RUN.match(line, i):
                i = self._scan_run(line, i, line_no)
            elif ch == ":" and nxt == ":":
                stmt.add(_Token("op", "::", self._paren), line_no, line)
                i += 2
            elif ch == ":" and (var := _PSQL_VAR.match(line, i + 1)) is not None and (
                re.fullmatch(r"[A-Z_][A-Z0-9_]*", var.group(2)) and var.group(2) != "_"
            ):
                raise SqlRefused(line_no, "a psql variable", line[i:])
            elif ch == "(":
                self._paren += 1
                stmt.add(_Token("op", "(", self._paren), line_no, line)
                i += 1
            elif ch == ")":
                stmt.add(_Token("op", ")", self._paren), line_no, line)
                if self._paren > 0:
                    self._paren -= 1
                i += 1
            elif ch == ";":
                if self._paren > 0:
                    raise SqlRefused(line_no, "';' inside parentheses", line[i:])
                i += 1
                self._end_statement(line_no, line)
                if self._in_copy:
                    return i
            else:
                stmt.add(_Token("op", ch, self._paren), line_no, line)
                i += 1
        return i

    @staticmethod
    def _string_text(line: str, i: int) -> str:
        """The text of a one-line string literal starting at ``i`` (for SET/SELECT checks)."""
        match = re.match(r"'((?:[^'\\]|'')*)'", line[i:])
        return match.group(1).replace("''", "'") if match else "\0multiline"

    def _open_dollar(self, match: re.Match[str], line: str, i: int, line_no: int) -> None:
        before = line[i - 1] if i > 0 else " "
        if _RUN.fullmatch(before) or before == "$":
            raise SqlRefused(line_no, "a $tag$ glued to an identifier or number", line[i:])
        tag = match.group(1) or ""
        if not tag.isascii():
            raise SqlRefused(line_no, "a dollar-quote tag that is not ASCII", line[i:])
        self._stmt.add(_Token("dollar", "", self._paren), line_no, line)
        self._mode, self._tag = "dollar", tag

    def _scan_run(self, line: str, i: int, line_no: int) -> int:
        start = i
        n = len(line)
        while i < n:
            match = _RUN.match(line, i)
            if match is not None:
                i = match.end()
            if i < n and line[i] == "$":
                if _DOLQ.match(line, i) is not None:
                    raise SqlRefused(line_no, "a $tag$ glued to an identifier or number",
                                     line[start:])
                i += 1
                continue
            break
        run = line[start:i]
        stmt = self._stmt
        stmt.add(_Token("word", run, self._paren), line_no, line)
        if _candidate(run, "function") or _candidate(run, "procedure"):
            stmt.function_word = True
        if self._paren == 0 and _candidate(run, "begin"):
            stmt.begin_word = True
        return i

    # -- statements ----------------------------------------------------------

    def _end_statement(self, line_no: int, line: str, *, final: bool = False) -> None:
        stmt = self._stmt
        self._stmt = _Statement()
        self._paren = 0
        if stmt.empty:
            return  # a lone ';'
        self.statements += 1
        self._ended_on_line += 1
        if stmt.function_word and stmt.begin_word:
            raise SqlRefused(stmt.line, "a SQL-standard function body (BEGIN ATOMIC)",
                             stmt.text)
        what = _refusal(stmt)
        if what:
            raise SqlRefused(stmt.line, what, stmt.text)
        words = [t.text.lower() for t in stmt.tokens[:3] if t.kind == "word"]
        if words[:2] == ["create", "table"] or words[:3] == ["create", "unlogged", "table"]:
            self.tables += 1
        if words[:1] == ["copy"] and not final:
            self.copies += 1
            self._in_copy = True
            self._copy_line_start = True


def _word(token: _Token | None) -> str:
    if token is None or token.kind not in ("word", "qident"):
        return ""
    return token.text.lower()


def _refusal(stmt: _Statement) -> str | None:
    """Why ``stmt`` is refused, or None."""
    tokens = stmt.tokens
    first = tokens[0]
    keyword = first.text.lower() if first.kind == "word" else ""
    if keyword not in _ALLOWED_FIRST:
        if first.kind != "word":
            return "a statement that does not start with a keyword"
        return f"the statement {first.text[:20].upper()}"
    top = [t for t in tokens if t.depth == 0 and not (t.kind == "op" and t.text in "()")]
    if keyword == "copy":
        return _copy_refusal(tokens)
    if keyword in ("create", "alter", "drop"):
        rest = [_word(t) for t in top[1:6]]
        while rest and rest[0] in _CREATE_MODIFIERS and keyword == "create":
            rest.pop(0)
        obj = rest[0] if rest else ""
        if obj in _FORBIDDEN_OBJECTS or obj == "owned" or rest[:2] in (
            ["foreign", "data"], ["event", "trigger"]
        ):
            return f"{keyword.upper()} {obj.upper()}"
        return None
    if keyword in ("set", "reset"):
        return _set_refusal(keyword, top)
    if keyword == "select":
        return _select_refusal(tokens)
    if keyword in ("grant", "revoke") and not any(_word(t) == "on" for t in top):
        return f"{keyword.upper()} of a role"
    return None


def _copy_refusal(tokens: list[_Token]) -> str | None:
    i = 1
    if _word(tokens[i] if i < len(tokens) else None) == "binary":
        i += 1
    while i < len(tokens):
        token = tokens[i]
        if token.depth == 0 and token.kind == "word" and token.text.lower() in ("from", "to"):
            if token.text.lower() == "to":
                return "COPY … TO"
            source = tokens[i + 1] if i + 1 < len(tokens) else None
            if source is not None and source.kind == "word" and source.text.lower() == "stdin":
                return None
            return "COPY FROM a file or program"
        if token.kind not in ("word", "qident", "op"):
            return "COPY of a query"
        if token.depth == 0 and token.kind == "op" and token.text not in (".",):
            return "COPY of a query"
        i += 1
    return "COPY that is not FROM stdin"


def _set_refusal(keyword: str, top: list[_Token]) -> str | None:
    words = top[1:]
    while words and _word(words[0]) in ("local", "session"):
        if _word(words[0]) == "session" and _word(words[1] if len(words) > 1 else None) in (
            "authorization", "characteristics"
        ):
            words = words[1:]
            break
        words = words[1:]
    name = _word(words[0] if words else None)
    if name in _SESSION_SETTINGS or (keyword == "reset" and name in ("all", "session")):
        return f"{keyword.upper()} {name.upper()}"
    value_tokens = [t for t in words[1:] if not (t.kind == "op" and t.text == "=")
                    and _word(t) != "to"]
    value = value_tokens[0].text.lower() if value_tokens else ""
    if name in ("client_encoding", "names") and (
        keyword == "reset" or re.sub(r"[^a-z0-9]", "", value) not in _SAFE_ENCODINGS
    ):
        return f"{keyword.upper()} client_encoding"
    if name == "standard_conforming_strings" and (keyword == "reset" or value not in (
        "on", "true", "1", "yes"
    )):
        return f"{keyword.upper()} standard_conforming_strings"
    return None


def _select_refusal(tokens: list[_Token]) -> str | None:
    refusal = "a SELECT other than pg_dump's set_config/setval/lo_* calls"
    rest = tokens[1:]
    if len(rest) >= 2 and _word(rest[0]) == "pg_catalog" and rest[1].text == ".":
        rest = rest[2:]
    if len(rest) < 3 or rest[0].kind != "word" or rest[0].text.lower() not in _SELECT_CALLS:
        return refusal
    if rest[1].text != "(" or rest[-1].text != ")":
        return refusal
    args = rest[2:-1]
    for token in args:
        if token.kind == "string":
            continue
        if token.kind == "op" and token.text in (",", "-"):
            continue
        if token.kind == "word" and (token.text.isdigit() or token.text.lower() in (
            "true", "false", "null"
        )):
            continue
        return refusal
    if rest[0].text.lower() == "set_config" and (
        not args or args[0].kind != "string" or args[0].text != "search_path"
    ):
        return "set_config of anything but search_path"
    return None
