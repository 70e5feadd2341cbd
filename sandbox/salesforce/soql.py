"""A small, honest SOQL tokenizer and parser for the subset the bridge uses.

Supported::

    SELECT field, Relationship.Field, (SELECT ... FROM ChildRelationship [WHERE ...]) , ...
    FROM Object
    [WHERE condition]        -- =, !=, <>, <, <=, >, >=, LIKE, IN (...), NOT IN (...), NOT, AND, OR, ( )
    [ORDER BY path [ASC|DESC] [NULLS FIRST|LAST], ...]
    [LIMIT n] [OFFSET n]

String literals take SOQL's backslash escapes (``\\'``, ``\\\\``, ``\\n``...), so a value escaped by
simple-salesforce's ``format_soql`` is one literal, never code. As in Salesforce, ``AND`` and ``OR``
cannot be mixed at one level without parentheses, and dateTime literals are unquoted.
The parser knows nothing about objects or fields: :mod:`sandbox.salesforce.engine` checks those.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal as TypingLiteral

from sandbox.salesforce.schema import parse_datetime

KEYWORDS = frozenset(
    [
        "SELECT",
        "FROM",
        "WHERE",
        "AND",
        "OR",
        "NOT",
        "IN",
        "LIKE",
        "ORDER",
        "BY",
        "ASC",
        "DESC",
        "NULLS",
        "FIRST",
        "LAST",
        "LIMIT",
        "OFFSET",
        "TRUE",
        "FALSE",
        "NULL",
    ]
)
ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f"}
LIKE_ESCAPES = {"%", "_"}  # kept escaped inside the literal: LIKE treats them as plain characters
TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>-?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
    """,
    re.VERBOSE,
)

TokenKind = TypingLiteral["string", "datetime", "date", "number", "ident", "keyword", "op", "punct", "end"]
Value = str | int | float | bool | datetime | date | None


class SoqlError(Exception):
    """A query Salesforce would refuse; ``code`` is its errorCode (``MALFORMED_QUERY``...)."""

    def __init__(self, message: str, *, code: str = "MALFORMED_QUERY", column: int | None = None) -> None:
        where = f"ERROR at Row:1:Column:{column}\n" if column is not None else ""
        super().__init__(where + message)
        self.code = code
        self.message = where + message


@dataclass(frozen=True)
class Token:
    kind: TokenKind
    text: str
    column: int
    value: Value = None


@dataclass(frozen=True)
class Constant:
    """A literal value; ``kind`` is string, number, boolean, null, datetime or date."""

    kind: str
    value: Value


@dataclass(frozen=True)
class FieldRef:
    path: str
    column: int


@dataclass(frozen=True)
class Comparison:
    path: FieldRef
    op: str  # = != < <= > >= LIKE IN NOT IN
    value: Constant | tuple[Constant, ...]


@dataclass(frozen=True)
class Negation:
    condition: Condition


@dataclass(frozen=True)
class Junction:
    op: str  # AND | OR
    parts: tuple[Condition, ...]


Condition = Comparison | Negation | Junction


@dataclass(frozen=True)
class Ordering:
    path: FieldRef
    descending: bool
    nulls_last: bool


@dataclass(frozen=True)
class Query:
    fields: tuple[FieldRef | Query, ...]
    sobject: str
    sobject_column: int
    where: Condition | None
    order: tuple[Ordering, ...]
    limit: int | None
    offset: int | None


# -- tokenizer ---------------------------------------------------------------------------------------------


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens; raises :class:`SoqlError` on anything SOQL would not accept."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = TOKEN.match(text, pos)
        if match is None:
            raise SoqlError(f"unexpected token: '{text[pos]}'", column=pos + 1)
        kind = match.lastgroup or ""
        if kind == "string":
            value, pos = _string(text, pos + 1)
            tokens.append(Token("string", text[match.start() : pos], match.start() + 1, value))
            continue
        if kind != "space":
            tokens.append(_token(kind, match.group(), match.start() + 1))
        pos = match.end()
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def _token(kind: str, text: str, column: int) -> Token:
    if kind == "ident" and text.upper() in KEYWORDS:
        return Token("keyword", text.upper(), column)
    if kind == "datetime":
        return Token("datetime", text, column, parse_datetime(text))
    if kind == "date":
        return Token("date", text, column, date.fromisoformat(text))
    if kind == "number":
        return Token("number", text, column, float(text) if "." in text else int(text))
    return Token(kind, text, column)  # type: ignore[arg-type]


def _string(text: str, pos: int) -> tuple[str, int]:
    """Read a quoted literal starting after its opening quote; return (value, position after it)."""
    out: list[str] = []
    start = pos
    while pos < len(text):
        char = text[pos]
        if char == "'":
            return "".join(out), pos + 1
        if char == "\\":
            escaped = text[pos + 1 : pos + 2]
            if escaped in ESCAPES:
                out.append(ESCAPES[escaped])
            elif escaped in LIKE_ESCAPES:
                out.append("\\" + escaped)
            else:
                raise SoqlError(f"Invalid string literal '{text[start - 1 : pos + 2]}'. Illegal escape sequence")
            pos += 2
            continue
        out.append(char)
        pos += 1
    raise SoqlError("unexpected token: unterminated string literal", column=start)


# -- parser ------------------------------------------------------------------------------------------------


def parse(text: str) -> Query:
    """Parse a whole SOQL statement."""
    parser = _Parser(tokenize(text))
    query = parser.query()
    parser.expect_end()
    return query


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    # -- token helpers

    @property
    def current(self) -> Token:
        return self.tokens[self.pos]

    def take(self) -> Token:
        token = self.current
        self.pos += 1
        return token

    def accept(self, kind: str, text: str | None = None) -> Token | None:
        token = self.current
        if token.kind == kind and (text is None or token.text == text):
            return self.take()
        return None

    def expect(self, kind: str, text: str | None = None) -> Token:
        token = self.accept(kind, text)
        if token is None:
            raise self.unexpected()
        return token

    def unexpected(self) -> SoqlError:
        token = self.current
        shown = token.text or "<EOF>"
        return SoqlError(f"unexpected token: '{shown}'", column=token.column)

    def expect_end(self) -> None:
        if self.current.kind != "end":
            raise self.unexpected()

    # -- grammar

    def query(self) -> Query:
        self.expect("keyword", "SELECT")
        fields = self.select_list()
        self.expect("keyword", "FROM")
        sobject = self.expect("ident")
        where = self.condition() if self.accept("keyword", "WHERE") else None
        order = self.order_by() if self.accept("keyword", "ORDER") else ()
        limit = self.integer() if self.accept("keyword", "LIMIT") else None
        offset = self.integer() if self.accept("keyword", "OFFSET") else None
        return Query(tuple(fields), sobject.text, sobject.column, where, order, limit, offset)

    def select_list(self) -> list[FieldRef | Query]:
        items: list[FieldRef | Query] = []
        while True:
            if self.accept("punct", "("):
                items.append(self.query())
                self.expect("punct", ")")
            else:
                token = self.expect("ident")
                items.append(FieldRef(token.text, token.column))
            if not self.accept("punct", ","):
                return items

    def condition(self) -> Condition:
        parts = [self.unary()]
        op: str | None = None
        while self.current.kind == "keyword" and self.current.text in ("AND", "OR"):
            if op is not None and self.current.text != op:
                raise self.unexpected()  # SOQL needs parentheses to mix AND and OR
            op = self.take().text
            parts.append(self.unary())
        return Junction(op, tuple(parts)) if op else parts[0]

    def unary(self) -> Condition:
        if self.accept("keyword", "NOT"):
            return Negation(self.unary())
        if self.accept("punct", "("):
            inner = self.condition()
            self.expect("punct", ")")
            return inner
        return self.comparison()

    def comparison(self) -> Comparison:
        token = self.expect("ident")
        path = FieldRef(token.text, token.column)
        if self.accept("keyword", "NOT"):
            self.expect("keyword", "IN")
            return Comparison(path, "NOT IN", self.value_list())
        if self.accept("keyword", "IN"):
            return Comparison(path, "IN", self.value_list())
        if self.accept("keyword", "LIKE"):
            return Comparison(path, "LIKE", self.value())
        op = self.expect("op").text
        return Comparison(path, "!=" if op == "<>" else op, self.value())

    def value_list(self) -> tuple[Constant, ...]:
        self.expect("punct", "(")
        values = [self.value()]
        while self.accept("punct", ","):
            values.append(self.value())
        self.expect("punct", ")")
        return tuple(values)

    def value(self) -> Constant:
        token = self.current
        if token.kind in ("string", "number", "datetime", "date"):
            self.take()
            return Constant(token.kind, token.value)
        if token.kind == "keyword" and token.text in ("TRUE", "FALSE"):
            self.take()
            return Constant("boolean", token.text == "TRUE")
        if token.kind == "keyword" and token.text == "NULL":
            self.take()
            return Constant("null", None)
        raise self.unexpected()

    def order_by(self) -> tuple[Ordering, ...]:
        self.expect("keyword", "BY")
        orders = [self.ordering()]
        while self.accept("punct", ","):
            orders.append(self.ordering())
        return tuple(orders)

    def ordering(self) -> Ordering:
        token = self.expect("ident")
        descending = self.accept("keyword", "DESC") is not None
        if not descending:
            self.accept("keyword", "ASC")
        nulls_last = False  # "By default, null values are sorted first" (SOQL reference, ORDER BY)
        if self.accept("keyword", "NULLS"):
            nulls_last = self.expect("keyword").text == "LAST"
            if self.tokens[self.pos - 1].text not in ("FIRST", "LAST"):
                self.pos -= 1
                raise self.unexpected()
        return Ordering(FieldRef(token.text, token.column), descending, nulls_last)

    def integer(self) -> int:
        token = self.expect("number")
        if not isinstance(token.value, int) or token.value < 0:
            raise SoqlError(f"unexpected token: '{token.text}'", column=token.column)
        return token.value
