"""The comparison language shared by JSON and space-delimited filter patterns.

``{ $.level = "error" && ($.latency > 100 || $.retry IS TRUE) }`` and the conditions inside
``[ip, user, status = 4*, bytes > 1000]`` parse into the same expression tree: a comparison
names a value (a JSON selector or a field name), the tree is evaluated against a lookup that
answers ``(found, value)`` for that name.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cove.services.logs.errors import InvalidParameterException

__all__ = ["Expr", "Lookup", "invalid_pattern", "parse_expression", "tokenize"]

Lookup = Callable[[str], tuple[bool, Any]]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<str>"(?:[^"\\]|\\.)*")
      | (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\))
      | (?P<word>[^\s()=!<>&|"]+)
    )""",
    re.VERBOSE,
)
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def invalid_pattern() -> InvalidParameterException:
    return InvalidParameterException("Invalid filter pattern")


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # str | op | word
    text: str


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        found = _TOKEN.match(text, pos)
        if found is None or found.end() == pos:
            raise invalid_pattern()
        kind = found.lastgroup or "word"
        out.append(Token(kind, found.group(kind)))
        pos = found.end()
    return out


class Expr:
    def evaluate(self, lookup: Lookup) -> bool:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class _Both(Expr):
    left: Expr
    right: Expr

    def evaluate(self, lookup: Lookup) -> bool:
        return self.left.evaluate(lookup) and self.right.evaluate(lookup)


@dataclass(frozen=True, slots=True)
class _Either(Expr):
    left: Expr
    right: Expr

    def evaluate(self, lookup: Lookup) -> bool:
        return self.left.evaluate(lookup) or self.right.evaluate(lookup)


@dataclass(frozen=True, slots=True)
class _Compare(Expr):
    name: str
    op: str
    number: float | None  # the literal as a number, when it is one
    text: re.Pattern[str] | None  # the literal as a string with * wildcards

    def evaluate(self, lookup: Lookup) -> bool:
        found, value = lookup(self.name)
        if not found:
            return False
        if self.op in ("=", "!="):
            equal = self._equal(value)
            return equal if self.op == "=" else not equal
        number = _as_number(value)
        if number is None or self.number is None:
            return False
        return {"<": number < self.number, ">": number > self.number, "<=": number <= self.number}.get(
            self.op, number >= self.number
        )

    def _equal(self, value: Any) -> bool:
        if self.number is not None:
            number = _as_number(value)
            if number is not None:
                return number == self.number
        if self.text is None:
            return False
        if isinstance(value, str):
            shown = value
        elif value is None or isinstance(value, bool):
            shown = {None: "null", True: "true", False: "false"}[value]
        elif isinstance(value, int | float):
            shown = str(value)
        else:
            return False
        return self.text.fullmatch(shown) is not None


@dataclass(frozen=True, slots=True)
class _Is(Expr):
    name: str
    what: str  # TRUE | FALSE | NULL | NOT EXISTS | EXISTS

    def evaluate(self, lookup: Lookup) -> bool:
        found, value = lookup(self.name)
        if self.what == "NOT EXISTS":
            return not found
        if not found:
            return False
        return {"TRUE": value is True, "FALSE": value is False, "NULL": value is None}.get(self.what, True)


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value)
    return None


def _glob(text: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in text.split("*")), re.DOTALL)


def parse_expression(tokens: list[Token], is_name: Callable[[str], bool]) -> Expr:
    """A whole token list as one expression; ``is_name`` says which words may be compared."""
    parser = _Parser(tokens, is_name)
    expr = parser.either()
    if parser.pos != len(tokens):
        raise invalid_pattern()
    return expr


class _Parser:
    def __init__(self, tokens: list[Token], is_name: Callable[[str], bool]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.is_name = is_name

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise invalid_pattern()
        self.pos += 1
        return token

    def either(self) -> Expr:
        expr = self.both()
        while (token := self.peek()) is not None and token.text == "||":
            self.pos += 1
            expr = _Either(expr, self.both())
        return expr

    def both(self) -> Expr:
        expr = self.unit()
        while (token := self.peek()) is not None and token.text == "&&":
            self.pos += 1
            expr = _Both(expr, self.unit())
        return expr

    def unit(self) -> Expr:
        token = self.take()
        if token.text == "(":
            expr = self.either()
            if self.take().text != ")":
                raise invalid_pattern()
            return expr
        if token.kind != "word" or not self.is_name(token.text):
            raise invalid_pattern()
        name = token.text
        op = self.take()
        if op.kind == "word" and op.text.upper() in ("IS", "NOT"):
            return self._is(name, op.text.upper())
        if op.kind != "op" or op.text not in ("=", "!=", "<", ">", "<=", ">="):
            raise invalid_pattern()
        literal = self.take()
        if literal.kind == "op":
            raise invalid_pattern()
        raw = literal.text[1:-1].replace('\\"', '"') if literal.kind == "str" else literal.text
        number = float(raw) if literal.kind == "word" and _NUMBER.fullmatch(raw) else None
        if op.text not in ("=", "!=") and number is None:
            raise invalid_pattern()
        return _Compare(name, op.text, number, _glob(raw))

    def _is(self, name: str, first: str) -> Expr:
        word = self.take().text.upper()
        if first == "NOT":
            if word != "EXISTS":
                raise invalid_pattern()
            return _Is(name, "NOT EXISTS")
        if word not in ("TRUE", "FALSE", "NULL"):
            raise invalid_pattern()
        return _Is(name, word)
