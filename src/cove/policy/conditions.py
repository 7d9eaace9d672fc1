"""Condition operators and the rules for evaluating one Condition clause against a request."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from cove.policy.context import RequestContext
from cove.policy.document import ConditionClause
from cove.policy.patterns import Expanded, arn_matches, expand, glob_matches

__all__ = [
    "CONDITION_OPERATORS",
    "FOR_ALL_VALUES",
    "FOR_ANY_VALUE",
    "evaluate_clause",
    "parse_date",
    "split_operator",
]

FOR_ANY_VALUE = "ForAnyValue"
FOR_ALL_VALUES = "ForAllValues"
_IF_EXISTS = "IfExists"

Compare = Callable[[str, Expanded], bool]


@dataclass(frozen=True)
class _Operator:
    name: str
    compare: Compare
    # Negated operators match when the request value matches none of the policy values.
    negated: bool = False
    # Policy variables are substituted only for String, Arn and Bool operators.
    variables: bool = False


def _string_equals(value: str, wanted: Expanded) -> bool:
    return value == wanted.plain


def _string_equals_ignore_case(value: str, wanted: Expanded) -> bool:
    return value.casefold() == wanted.plain.casefold()


def _string_like(value: str, wanted: Expanded) -> bool:
    return glob_matches(wanted.glob, value)


def _number(text: str) -> Decimal | None:
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        return None
    return None if number.is_nan() else number


def _numeric(test: Callable[[Decimal, Decimal], bool]) -> Compare:
    def compare(value: str, wanted: Expanded) -> bool:
        left, right = _number(value), _number(wanted.plain)
        return left is not None and right is not None and test(left, right)

    return compare


_EPOCH = re.compile(r"-?\d+(\.\d+)?")


def parse_date(text: str) -> datetime | None:
    """ISO 8601 (date, or date and time; no zone means UTC) or epoch seconds."""
    text = text.strip()
    try:
        if _EPOCH.fullmatch(text):
            return datetime.fromtimestamp(float(text), UTC)
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError, OSError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _date(test: Callable[[datetime, datetime], bool]) -> Compare:
    def compare(value: str, wanted: Expanded) -> bool:
        left, right = parse_date(value), parse_date(wanted.plain)
        return left is not None and right is not None and test(left, right)

    return compare


def _bool(value: str, wanted: Expanded) -> bool:
    return value.lower() == wanted.plain.lower()


def _decode(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def _binary_equals(value: str, wanted: Expanded) -> bool:
    left, right = _decode(value), _decode(wanted.plain)
    if left is None or right is None:
        return value == wanted.plain
    return left == right


def _ip_address(value: str, wanted: Expanded) -> bool:
    try:
        address = ipaddress.ip_address(value.strip())
        network = ipaddress.ip_network(wanted.plain.strip(), strict=False)
    except ValueError:
        return False
    return address.version == network.version and address in network


def _arn_like(value: str, wanted: Expanded) -> bool:
    return arn_matches(wanted.glob, value)


def _never(value: str, wanted: Expanded) -> bool:
    return False


def _table() -> dict[str, _Operator]:
    def op(name: str, compare: Compare, *, negated: bool = False, variables: bool = False) -> _Operator:
        return _Operator(name, compare, negated, variables)

    operators = [
        op("StringEquals", _string_equals, variables=True),
        op("StringNotEquals", _string_equals, negated=True, variables=True),
        op("StringEqualsIgnoreCase", _string_equals_ignore_case, variables=True),
        op("StringNotEqualsIgnoreCase", _string_equals_ignore_case, negated=True, variables=True),
        op("StringLike", _string_like, variables=True),
        op("StringNotLike", _string_like, negated=True, variables=True),
        op("NumericEquals", _numeric(lambda a, b: a == b)),
        op("NumericNotEquals", _numeric(lambda a, b: a == b), negated=True),
        op("NumericLessThan", _numeric(lambda a, b: a < b)),
        op("NumericLessThanEquals", _numeric(lambda a, b: a <= b)),
        op("NumericGreaterThan", _numeric(lambda a, b: a > b)),
        op("NumericGreaterThanEquals", _numeric(lambda a, b: a >= b)),
        op("DateEquals", _date(lambda a, b: a == b)),
        op("DateNotEquals", _date(lambda a, b: a == b), negated=True),
        op("DateLessThan", _date(lambda a, b: a < b)),
        op("DateLessThanEquals", _date(lambda a, b: a <= b)),
        op("DateGreaterThan", _date(lambda a, b: a > b)),
        op("DateGreaterThanEquals", _date(lambda a, b: a >= b)),
        op("Bool", _bool, variables=True),
        op("BinaryEquals", _binary_equals),
        op("IpAddress", _ip_address),
        op("NotIpAddress", _ip_address, negated=True),
        op("ArnEquals", _arn_like, variables=True),
        op("ArnLike", _arn_like, variables=True),
        op("ArnNotEquals", _arn_like, negated=True, variables=True),
        op("ArnNotLike", _arn_like, negated=True, variables=True),
        # Null is decided by presence alone (see evaluate_clause).
        op("Null", _never),
    ]
    return {operator.name: operator for operator in operators}


_OPERATORS = _table()
CONDITION_OPERATORS: frozenset[str] = frozenset(_OPERATORS)
_BY_FOLDED = {name.lower(): name for name in _OPERATORS}
_QUALIFIERS = {FOR_ANY_VALUE.lower(): FOR_ANY_VALUE, FOR_ALL_VALUES.lower(): FOR_ALL_VALUES}


def split_operator(operator: str) -> tuple[str, str | None, bool] | None:
    """``ForAnyValue:StringLikeIfExists`` → ``("StringLike", "ForAnyValue", True)``; None if unknown."""
    qualifier: str | None = None
    name = operator.strip()
    if ":" in name:
        prefix, _, name = name.partition(":")
        qualifier = _QUALIFIERS.get(prefix.lower())
        if qualifier is None:
            return None
    if_exists = False
    canonical = _BY_FOLDED.get(name.lower())
    if canonical is None and name.lower().endswith(_IF_EXISTS.lower()):
        canonical = _BY_FOLDED.get(name[: -len(_IF_EXISTS)].lower())
        if_exists = True
    if canonical is None or (canonical == "Null" and (if_exists or qualifier)):
        return None
    return canonical, qualifier, if_exists


def evaluate_clause(
    clause: ConditionClause, ctx: RequestContext, *, variables: bool, missing: list[str]
) -> bool:
    """Decide one ``operator: {key: values}`` clause; keys the request lacks go to ``missing``."""
    operator = _OPERATORS[clause.base]
    request = ctx.values(clause.key)
    if operator.name == "Null":
        absent = not request
        return any(value.lower() == ("true" if absent else "false") for value in clause.values)
    if not request:
        if request is None:
            missing.append(clause.key)
        if clause.if_exists or clause.qualifier == FOR_ALL_VALUES:
            return True
        if clause.qualifier == FOR_ANY_VALUE:
            return False
        # A missing key matches nothing, so a negated operator ("matches none") holds.
        return operator.negated
    lookup = ctx.single_value if variables and operator.variables else None
    wanted = [found for value in clause.values if (found := expand(value, lookup, missing)) is not None]

    def holds(value: str) -> bool:
        matched = any(operator.compare(value, item) for item in wanted)
        return not matched if operator.negated else matched

    if clause.qualifier == FOR_ALL_VALUES:
        return all(holds(value) for value in request)
    if clause.qualifier == FOR_ANY_VALUE:
        return any(holds(value) for value in request)
    if operator.negated:
        return all(holds(value) for value in request)
    return any(holds(value) for value in request)
