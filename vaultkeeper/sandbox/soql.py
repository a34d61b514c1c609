"""A small SOQL parser: SELECT fields/COUNT() FROM obj [WHERE …] [ORDER BY …] [LIMIT] [OFFSET]."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:\\.|[^'\\])*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),])
""", re.VERBOSE)
_KEYWORDS = {"select", "from", "where", "and", "or", "not", "in", "like", "order", "by",
             "asc", "desc", "nulls", "first", "last", "limit", "offset", "true", "false", "null",
             "count", "includes", "excludes"}


class SoqlError(ValueError):
    """A query Salesforce would reject; ``code`` is the Salesforce ``errorCode``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Tok:
    """One lexical token with its column (1-based) for error messages."""

    kind: str
    text: str
    col: int

    @property
    def word(self) -> str:
        """Lower-cased text (keywords and names are case-insensitive in SOQL)."""
        return self.text.lower()


@dataclass(frozen=True)
class Literal:
    """A typed literal: kind is string, number, boolean, null, date or datetime."""

    kind: str
    value: Any  # str, float, bool, None, "YYYY-MM-DD", or epoch ms for datetimes


@dataclass
class Query:
    """A parsed query."""

    text: str
    sobject: str
    fields: list[str] = field(default_factory=list)
    count: bool = False  # SELECT COUNT()
    count_field: str | None = None  # SELECT COUNT(Id) → an AggregateResult
    where: Any = None  # ("and"|"or", a, b) | ("not", x) | ("cmp", f, op, Literal)
    #                   | ("in", f, [Literal], negate) | ("like", f, pattern)
    # (field, descending, nulls_last — None when the query does not say)
    order: list[tuple[str, bool, bool | None]] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0


def _tokens(text: str) -> list[Tok]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise _malformed(text, pos + 1, f"unexpected token: {text[pos:].split()[0]!r}")
        kind = m.lastgroup or ""
        if kind != "ws":
            out.append(Tok(kind, m.group(), pos + 1))
        pos = m.end()
    return out


def _malformed(text: str, col: int, message: str) -> SoqlError:
    # Salesforce quotes the query and points at the column; clients show this verbatim.
    return SoqlError("MALFORMED_QUERY",
                     f"\n{text}\n{' ' * (col - 1)}^\nERROR at Row:1:Column:{col}\n{message}")


def parse_datetime(text: str) -> int:
    """SOQL datetime literal → epoch milliseconds."""
    norm = text.replace("Z", "+00:00")
    if re.search(r"[+-]\d{4}$", norm):
        norm = norm[:-2] + ":" + norm[-2:]
    return int(dt.datetime.fromisoformat(norm).timestamp() * 1000)


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.pos = 0

    def peek(self) -> Tok | None:
        return self.toks[self.pos] if self.pos < len(self.toks) else None

    def next(self, expected: str = "") -> Tok:
        tok = self.peek()
        if tok is None:
            hint = f", expecting {expected}" if expected else ""
            raise _malformed(self.text, len(self.text) + 1, f"unexpected end of query{hint}")
        self.pos += 1
        return tok

    def accept(self, *words: str) -> bool:
        tok = self.peek()
        if tok is not None and tok.word in words and tok.kind in ("ident", "op", "punct"):
            self.pos += 1
            return True
        return False

    def expect(self, word: str) -> None:
        tok = self.next(f"'{word.upper()}'")
        if tok.word != word:
            raise _malformed(self.text, tok.col, f"unexpected token: '{tok.text}'")

    def name(self) -> str:
        tok = self.next("a field name")
        if tok.kind != "ident" or tok.word in _KEYWORDS - {"count", "first", "last"}:
            raise _malformed(self.text, tok.col, f"unexpected token: '{tok.text}'")
        return tok.text

    def parse(self) -> Query:
        self.expect("select")
        q = Query(self.text, "")
        first = self.peek()
        if first is not None and first.word == "count" and \
                self.pos + 1 < len(self.toks) and self.toks[self.pos + 1].text == "(":
            self.pos += 2
            if self.accept(")"):
                q.count = True
            else:
                q.count_field = self.name()
                self.expect(")")
        else:
            q.fields.append(self.name())
            while self.accept(","):
                q.fields.append(self.name())
        self.expect("from")
        q.sobject = self.name()
        if self.accept("where"):
            q.where = self.or_expr()
        if self.accept("order"):
            self.expect("by")
            while True:
                name = self.name()
                desc = False
                if self.accept("desc"):
                    desc = True
                else:
                    self.accept("asc")
                nulls_last: bool | None = None
                if self.accept("nulls"):
                    nulls_last = self.next("FIRST or LAST").word == "last"
                q.order.append((name, desc, nulls_last))
                if not self.accept(","):
                    break
        if self.accept("limit"):
            q.limit = self.integer()
        if self.accept("offset"):
            q.offset = self.integer()
        tok = self.peek()
        if tok is not None:
            raise _malformed(self.text, tok.col, f"unexpected token: '{tok.text}'")
        return q

    def integer(self) -> int:
        tok = self.next("a number")
        if tok.kind != "number" or not tok.text.isdigit():
            raise _malformed(self.text, tok.col, f"unexpected token: '{tok.text}'")
        return int(tok.text)

    def or_expr(self) -> Any:
        node = self.and_expr()
        while self.accept("or"):
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self) -> Any:
        node = self.not_expr()
        while self.accept("and"):
            node = ("and", node, self.not_expr())
        return node

    def not_expr(self) -> Any:
        if self.accept("not"):
            return ("not", self.not_expr())
        if self.accept("("):
            node = self.or_expr()
            self.expect(")")
            return node
        name = self.name()
        negate = self.accept("not")
        if self.accept("in"):
            self.expect("(")
            values = [self.literal()]
            while self.accept(","):
                values.append(self.literal())
            self.expect(")")
            return ("in", name, values, negate)
        if negate:
            tok = self.next("IN")
            raise _malformed(self.text, tok.col, f"unexpected token: '{tok.text}'")
        if self.accept("like"):
            lit = self.literal()
            if lit.kind != "string":
                raise SoqlError("INVALID_FIELD", f"value of filter criterion for field "
                                f"'{name}' must be a quoted string for LIKE")
            return ("like", name, lit.value)
        tok = self.next("an operator")
        if tok.kind != "op":
            raise _malformed(self.text, tok.col, f"unexpected token: '{tok.text}'")
        op = "!=" if tok.text == "<>" else tok.text
        return ("cmp", name, op, self.literal())

    def literal(self) -> Literal:
        tok = self.next("a value")
        if tok.kind == "string":
            body = tok.text[1:-1]
            return Literal("string", re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(
                m.group(1), m.group(1)), body))
        if tok.kind == "number":
            return Literal("number", float(tok.text))
        if tok.kind == "date":
            return Literal("date", tok.text)
        if tok.kind == "datetime":
            return Literal("datetime", parse_datetime(tok.text))
        if tok.word in ("true", "false"):
            return Literal("boolean", tok.word == "true")
        if tok.word == "null":
            return Literal("null", None)
        raise _malformed(self.text, tok.col, f"unexpected token: '{tok.text}'")


def parse(text: str) -> Query:
    """Parse one SOQL statement; raises ``SoqlError`` (MALFORMED_QUERY) on bad syntax."""
    if not text or not text.strip():
        raise SoqlError("MALFORMED_QUERY", "A query string has to be specified")
    return _Parser(text.strip()).parse()


def like_regex(pattern: str) -> re.Pattern[str]:
    """SOQL LIKE (``%``, ``_``; case-insensitive) as a compiled regex."""
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("^" + "".join(out) + "$", re.IGNORECASE | re.DOTALL)
