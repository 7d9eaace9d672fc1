"""Wildcard matching for actions, ARNs and ``*Like`` conditions, and policy-variable expansion.

Patterns are kept in an escaped glob form: ``*`` and ``?`` are wildcards, and a backslash makes the
next character literal. Raw policy text never uses backslash escapes (IAM has none), so raw
backslashes are escaped on the way in; the literal characters come from policy variables
(``${*}``, ``${?}``, ``${$}`` and substituted values), which must never act as wildcards.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "Expanded",
    "arn_matches",
    "expand",
    "glob_matches",
    "literal_glob",
    "raw_glob",
]

# ``${key}`` or ``${key, 'default'}``; keys never contain ``}``.
_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"^\s*([^,]+?)\s*,\s*'([^']*)'\s*$")
_SPECIAL = {"*": "*", "?": "?", "$": "$"}

Lookup = Callable[[str], str | None]


@dataclass(frozen=True)
class Expanded:
    """A policy string after variable substitution: ``plain`` for equality, ``glob`` for wildcards."""

    plain: str
    glob: str


def raw_glob(text: str) -> str:
    return text.replace("\\", "\\\\")


def literal_glob(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def expand(text: str, lookup: Lookup | None, missing: list[str]) -> Expanded | None:
    """Substitute ``${...}`` variables; ``None`` (and the key appended to ``missing``) if one is absent.

    With ``lookup=None`` (policy Version 2008-10-17) variables are literal text.
    """
    if lookup is None or "${" not in text:
        return Expanded(text, raw_glob(text))
    plain: list[str] = []
    glob: list[str] = []
    position = 0
    unresolved = False
    for found in _VARIABLE.finditer(text):
        before = text[position : found.start()]
        plain.append(before)
        glob.append(raw_glob(before))
        position = found.end()
        body = found.group(1)
        value = _resolve(body, lookup, missing)
        if value is None:
            unresolved = True
            continue
        plain.append(value)
        glob.append(literal_glob(value))
    if unresolved:
        return None
    tail = text[position:]
    plain.append(tail)
    glob.append(raw_glob(tail))
    return Expanded("".join(plain), "".join(glob))


def _resolve(body: str, lookup: Lookup, missing: list[str]) -> str | None:
    if body in _SPECIAL:
        return _SPECIAL[body]
    default: str | None = None
    with_default = _DEFAULT.match(body)
    key = body.strip()
    if with_default:
        key, default = with_default.group(1), with_default.group(2)
    value = lookup(key)
    if value is not None:
        return value
    if default is not None:
        return default
    missing.append(key)
    return None


@functools.lru_cache(maxsize=4096)
def _compile(glob: str, ignore_case: bool) -> re.Pattern[str]:
    parts: list[str] = []
    escaped = False
    for char in glob:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "*":
            parts.append(".*")
        elif char == "?":
            parts.append(".")
        else:
            parts.append(re.escape(char))
    if escaped:
        parts.append(re.escape("\\"))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_matches(glob: str, value: str, *, ignore_case: bool = False) -> bool:
    """Whole-string match; ``*`` spans any characters including ``/`` and ``:``."""
    return _compile(glob, ignore_case).fullmatch(value) is not None


def _split_glob(glob: str) -> list[str]:
    """Split an escaped glob on unescaped colons, at most five times (an ARN has six fields)."""
    fields: list[str] = []
    current: list[str] = []
    escaped = False
    for char in glob:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == ":" and len(fields) < 5:
            fields.append("".join(current))
            current = []
        else:
            current.append(char)
    fields.append("".join(current))
    return fields


def arn_matches(glob: str, arn: str) -> bool:
    """ARN matching field by field: a wildcard never crosses a colon between the six ARN fields.

    The resource field (the sixth) may itself contain colons and slashes, which ``*`` spans. A
    pattern with fewer fields matches only if its last field is a wildcard covering the rest.
    """
    if glob == "*":
        return True
    wanted = _split_glob(glob)
    actual = arn.split(":", 5)
    if len(actual) < 6:
        return False
    if len(wanted) == 6:
        return all(glob_matches(w, a) for w, a in zip(wanted, actual, strict=True))
    head, last = wanted[:-1], wanted[-1]
    if not all(glob_matches(w, a) for w, a in zip(head, actual, strict=False)):
        return False
    return glob_matches(last, ":".join(actual[len(head) :]))
