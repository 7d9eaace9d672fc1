"""Filter patterns, compiled once per request into a predicate over event messages.

Four forms, as CloudWatch Logs accepts them:

- terms: ``ERROR Exception`` (every term), ``"exact phrase"``, ``?ERROR ?WARN`` (any of the ``?``
  terms), ``ERROR -Exiting`` (none of the ``-`` terms); case-sensitive substring matches;
- JSON: ``{ $.level = "error" && $.latency > 100 }`` over messages that are JSON (see
  :mod:`cove.services.logs.conditions` for the comparison language);
- space-delimited: ``[version, account, eni, src, dst, srcport, dstport = 22, ..., action = REJECT, status]``
  over whitespace-separated fields (``"…"`` and ``[…]`` each make one field; ``...`` stands for
  any number of fields);
- regular expressions: ``%[0-9]{3}%``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cove.services.logs.conditions import Expr, invalid_pattern, parse_expression, tokenize
from cove.services.logs.errors import InvalidParameterException

__all__ = ["Matcher", "compile_pattern"]

Matcher = Callable[[str], bool]

_BARE_EXTRA = frozenset("_.-/:@#+=,'")
_SELECTOR = re.compile(r"\$(?:\.[^\s.\[\]]+|\[\d+\])*")
_SELECTOR_STEP = re.compile(r"\.([^\s.\[\]]+)|\[(\d+)\]")
_FIELD_NAME = re.compile(r"[A-Za-z_][\w-]*")
_LOG_FIELD = re.compile(r'"([^"]*)"|\[([^\]]*)\]|(\S+)')


def compile_pattern(text: str | None) -> Matcher | None:
    """The predicate for ``text``; None when the pattern matches every event."""
    pattern = (text or "").strip()
    if pattern in ("", '""'):
        return None
    if pattern.startswith("{"):
        return _json_pattern(pattern)
    if pattern.startswith("["):
        return _delimited_pattern(pattern)
    if len(pattern) >= 2 and pattern.startswith("%") and pattern.endswith("%"):
        try:
            regex = re.compile(pattern[1:-1])
        except re.error:
            raise invalid_pattern() from None
        return lambda message: regex.search(message) is not None
    return _terms_pattern(pattern)


# Terms


@dataclass(frozen=True, slots=True)
class _Terms:
    required: tuple[str, ...]
    optional: tuple[str, ...]
    excluded: tuple[str, ...]

    def __call__(self, message: str) -> bool:
        return (
            all(t in message for t in self.required)
            and not any(t in message for t in self.excluded)
            and (not self.optional or any(t in message for t in self.optional))
        )


def _terms_pattern(pattern: str) -> Matcher:
    required: list[str] = []
    optional: list[str] = []
    excluded: list[str] = []
    pos = 0
    while pos < len(pattern):
        if pattern[pos].isspace():
            pos += 1
            continue
        kind = pattern[pos] if pattern[pos] in "?-" else ""
        pos += len(kind)
        if pos >= len(pattern) or pattern[pos].isspace():
            raise invalid_pattern()
        if pattern[pos] == '"':
            term, pos = _quoted(pattern, pos)
        else:
            end = pos
            while end < len(pattern) and not pattern[end].isspace():
                end += 1
            term, pos = pattern[pos:end], end
            if any(not (ch.isalnum() or ch in _BARE_EXTRA) for ch in term):
                raise InvalidParameterException(f"Invalid character(s) in term '{term}'")
        {"?": optional, "-": excluded, "": required}[kind].append(term)
    return _Terms(tuple(required), tuple(optional), tuple(excluded))


def _quoted(pattern: str, pos: int) -> tuple[str, int]:
    """The phrase of the double-quoted term starting at ``pos``, and the position after it."""
    out: list[str] = []
    index = pos + 1
    while index < len(pattern):
        ch = pattern[index]
        if ch == "\\" and index + 1 < len(pattern):
            out.append(pattern[index + 1])
            index += 2
            continue
        if ch == '"':
            return "".join(out), index + 1
        out.append(ch)
        index += 1
    raise invalid_pattern()


# JSON


def _json_pattern(pattern: str) -> Matcher:
    if not pattern.endswith("}"):
        raise invalid_pattern()
    expr = parse_expression(tokenize(pattern[1:-1]), lambda word: _SELECTOR.fullmatch(word) is not None)

    def match(message: str) -> bool:
        try:
            document = json.loads(message)
        except ValueError:
            return False
        if not isinstance(document, dict | list):
            return False
        return expr.evaluate(lambda selector: _select(document, selector))

    return match


def _select(document: Any, selector: str) -> tuple[bool, Any]:
    value = document
    for step in _SELECTOR_STEP.finditer(selector, 1):
        key, index = step.group(1), step.group(2)
        if key is not None:
            if not isinstance(value, dict) or key not in value:
                return False, None
            value = value[key]
        else:
            position = int(index)
            if not isinstance(value, list) or position >= len(value):
                return False, None
            value = value[position]
    return True, value


# Space-delimited


@dataclass(frozen=True, slots=True)
class _Field:
    name: str | None  # None for ``...``
    condition: Expr | None


def _delimited_pattern(pattern: str) -> Matcher:
    if not pattern.endswith("]"):
        raise invalid_pattern()
    fields = [_field(spec.strip()) for spec in _split_commas(pattern[1:-1])]

    def match(message: str) -> bool:
        values = [next(g for g in m.groups() if g is not None) for m in _LOG_FIELD.finditer(message)]
        return _align(fields, values, 0, 0, {})

    return match


def _split_commas(body: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in body:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _field(spec: str) -> _Field:
    if spec == "...":
        return _Field(None, None)
    if _FIELD_NAME.fullmatch(spec):
        return _Field(spec, None)
    tokens = tokenize(spec)
    if not tokens or tokens[0].kind != "word" or not _FIELD_NAME.fullmatch(tokens[0].text):
        raise invalid_pattern()
    return _Field(
        tokens[0].text, parse_expression(tokens, lambda word: _FIELD_NAME.fullmatch(word) is not None)
    )


def _align(fields: list[_Field], values: list[str], i: int, j: int, bound: dict[str, str]) -> bool:
    """Whether ``fields[i:]`` can take ``values[j:]`` with every condition true (``...`` backtracks)."""
    if i == len(fields):
        return j == len(values)
    field = fields[i]
    if field.name is None:
        return any(_align(fields, values, i + 1, k, bound) for k in range(j, len(values) + 1))
    if j >= len(values):
        return False
    here = {**bound, field.name: values[j]}
    if field.condition is not None and not field.condition.evaluate(
        lambda name: (name in here, here.get(name))
    ):
        return False
    return _align(fields, values, i + 1, j + 1, here)
