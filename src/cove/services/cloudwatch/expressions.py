"""Metric math for GetMetricData: arithmetic over other queries' time series and the common
aggregate functions.

Supported: numbers, query ids, ``+ - * / ^``, parentheses, ``[a, b]`` arrays, ``METRICS()`` and
``METRICS("text")`` (the MetricStat queries, optionally those whose label contains the text),
``SUM AVG MIN MAX`` (of an array: one series, per timestamp; of one series: a scalar),
``ABS CEIL FLOOR``. Series combine on the timestamps they share, as AWS does; a division by zero
leaves that timestamp out. Anything else (Metrics Insights queries, SEARCH, other functions) is
a ValidationError naming the expression.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cove.services.cloudwatch.errors import ValidationError

__all__ = ["Evaluator", "Series", "Value"]

Series = dict[int, float]
Value = float | Series | list[Series]

_TOKEN = re.compile(
    r"\s*(?:(\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|\.\d+)|([A-Za-z_][A-Za-z0-9_]*)|(\"[^\"]*\")|(.))"
)
_BINARY: dict[str, Callable[[float, float], float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "^": operator.pow,
}
_UNARY: dict[str, Callable[[float], float]] = {"ABS": abs, "CEIL": math.ceil, "FLOOR": math.floor}
_AGGREGATES: dict[str, Callable[[list[float]], float]] = {
    "SUM": math.fsum,
    "AVG": lambda values: math.fsum(values) / len(values),
    "MIN": min,
    "MAX": max,
}


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # number, name, string, op, end
    text: str


def _tokens(expression: str) -> list[_Token]:
    tokens = []
    for found in _TOKEN.finditer(expression):
        number, name, string, other = found.groups()
        if number is not None:
            tokens.append(_Token("number", number))
        elif name is not None:
            tokens.append(_Token("name", name))
        elif string is not None:
            tokens.append(_Token("string", string[1:-1]))
        elif other is not None and not other.isspace():
            tokens.append(_Token("op", other))
    tokens.append(_Token("end", ""))
    return tokens


def _apply(op: Callable[[float, float], float], left: Value, right: Value) -> Value:
    if isinstance(left, list) or isinstance(right, list):
        lefts = left if isinstance(left, list) else None
        rights = right if isinstance(right, list) else None
        if lefts is not None and rights is not None:
            raise ValueError("arithmetic between two arrays of time series is not supported")
        if lefts is not None:
            return [_series_op(op, item, right) for item in lefts]  # type: ignore[arg-type]
        assert rights is not None
        return [_series_op(op, left, item) for item in rights]  # type: ignore[arg-type]
    if isinstance(left, float) and isinstance(right, float):
        return op(left, right)
    return _series_op(op, left, right)


def _safe(op: Callable[[float, float], float], a: float, b: float) -> float | None:
    try:
        result = op(a, b)
    except (ZeroDivisionError, OverflowError, ValueError):
        return None
    return result if isinstance(result, float | int) and math.isfinite(result) else None


def _series_op(op: Callable[[float, float], float], left: float | Series, right: float | Series) -> Series:
    out: Series = {}
    if isinstance(left, dict) and isinstance(right, dict):
        pairs = ((t, left[t], right[t]) for t in left.keys() & right.keys())
    elif isinstance(left, dict):
        pairs = ((t, v, float(right)) for t, v in left.items())  # type: ignore[arg-type]
    else:
        assert isinstance(right, dict)
        pairs = ((t, float(left), v) for t, v in right.items())
    for stamp, a, b in pairs:
        result = _safe(op, a, b)
        if result is not None:
            out[stamp] = float(result)
    return out


class _Parser:
    def __init__(
        self, expression: str, resolve: Callable[[str], Series], metrics: Callable[[str], list[Series]]
    ):
        self.tokens = _tokens(expression)
        self.at = 0
        self.resolve = resolve
        self.metrics = metrics

    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self, text: str | None = None) -> _Token:
        token = self.tokens[self.at]
        if text is not None and token.text != text:
            shown = token.text or "end of expression"
            raise ValueError(f"expected '{text}' but found '{shown}'")
        self.at += 1
        return token

    def parse(self) -> Value:
        value = self.expression()
        if self.peek().kind != "end":
            raise ValueError(f"unexpected '{self.peek().text}'")
        return value

    def expression(self) -> Value:
        value = self.term()
        while self.peek().text in ("+", "-") and self.peek().kind == "op":
            op = _BINARY[self.take().text]
            value = _apply(op, value, self.term())
        return value

    def term(self) -> Value:
        value = self.unary()
        while self.peek().text in ("*", "/") and self.peek().kind == "op":
            op = _BINARY[self.take().text]
            value = _apply(op, value, self.unary())
        return value

    def unary(self) -> Value:
        if self.peek().kind == "op" and self.peek().text == "-":
            self.take()
            return _apply(operator.mul, -1.0, self.unary())
        value = self.atom()
        if self.peek().kind == "op" and self.peek().text == "^":
            self.take()
            value = _apply(operator.pow, value, self.unary())
        return value

    def atom(self) -> Value:
        token = self.take()
        if token.kind == "number":
            return float(token.text)
        if token.kind == "op" and token.text == "(":
            value = self.expression()
            self.take(")")
            return value
        if token.kind == "op" and token.text == "[":
            items = self.arguments("]")
            series: list[Series] = []
            for item in items:
                if isinstance(item, dict):
                    series.append(item)
                elif isinstance(item, list):
                    series.extend(item)
                else:
                    raise ValueError("an array may only hold time series")
            return series
        if token.kind == "name":
            if self.peek().text == "(" and self.peek().kind == "op":
                self.take()
                return self.call(token.text.upper())
            return self.resolve(token.text)
        raise ValueError(f"unexpected '{token.text or 'end of expression'}'")

    def arguments(self, closing: str) -> list[Value]:
        items: list[Value] = []
        if self.peek().text == closing:
            self.take()
            return items
        while True:
            items.append(self.expression())
            if self.take().text == closing:
                return items
            if self.tokens[self.at - 1].text != ",":
                raise ValueError(f"expected ',' or '{closing}'")

    def call(self, name: str) -> Value:
        if name == "METRICS":
            text = ""
            if self.peek().kind == "string":
                text = self.take().text
            self.take(")")
            return self.metrics(text)
        args = self.arguments(")")
        if len(args) != 1:
            raise ValueError(f"{name} takes exactly one argument")
        arg = args[0]
        if name in _UNARY:
            fn = _UNARY[name]
            if isinstance(arg, float):
                return float(fn(arg))
            if isinstance(arg, dict):
                return {t: float(fn(v)) for t, v in arg.items()}
            return [{t: float(fn(v)) for t, v in item.items()} for item in arg]
        if name in _AGGREGATES:
            aggregate = _AGGREGATES[name]
            if isinstance(arg, list):
                stamps: set[int] = set().union(*(item.keys() for item in arg)) if arg else set()
                return {t: aggregate([item[t] for item in arg if t in item]) for t in stamps}
            if isinstance(arg, dict):
                return aggregate(list(arg.values())) if arg else math.nan
            return arg
        raise ValueError(f"Unknown function {name}")


class Evaluator:
    """Evaluates each expression query once, following references between queries."""

    def __init__(
        self, expressions: Mapping[str, str], stats: Mapping[str, Series], labels: Mapping[str, str]
    ) -> None:
        self.expressions = dict(expressions)
        self.results: dict[str, Value] = dict(stats)
        self.stat_ids = list(stats)
        self.labels = labels
        self.visiting: set[str] = set()

    def value(self, query_id: str) -> Value:
        if query_id in self.results:
            return self.results[query_id]
        if query_id in self.visiting:
            raise ValidationError(f"Circular dependency detected in expression {query_id}.")
        expression = self.expressions[query_id]
        self.visiting.add(query_id)
        try:
            result = _Parser(expression, self._series_for(query_id), self._metrics).parse()
        except (ValueError, ArithmeticError) as exc:
            raise ValidationError(f"Error in expression {query_id}: {exc}") from None
        finally:
            self.visiting.discard(query_id)
        self.results[query_id] = result
        return result

    def _series_for(self, owner: str) -> Callable[[str], Series]:
        def resolve(name: str) -> Series:
            if name not in self.results and name not in self.expressions:
                raise ValueError(f"Unrecognized metric id {name}")
            value = self.value(name)
            if not isinstance(value, dict):
                raise ValueError(f"{name} is not a single time series")
            return value

        return resolve

    def _metrics(self, text: str) -> list[Series]:
        out: list[Series] = []
        for query_id in self.stat_ids:
            if text in self.labels.get(query_id, ""):
                series = self.results[query_id]
                assert isinstance(series, dict)
                out.append(series)
        return out
