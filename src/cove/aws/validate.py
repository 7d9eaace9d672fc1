"""Input validation driven by botocore's model: required members, types, enums, lengths, ranges
and patterns, reported the way AWS words them (``1 validation error detected: ...``)."""

from __future__ import annotations

import enum
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.model import OperationModel, Shape

from cove.aws.errors import InvalidParameterValue, MissingParameter, ServiceError, ValidationException

__all__ = [
    "ProblemKind",
    "ValidationProblem",
    "compile_java_pattern",
    "translate_java_pattern",
    "validate",
    "validation_error",
]


class ProblemKind(enum.Enum):
    REQUIRED = "required"
    TYPE = "type"
    ENUM = "enum"
    # A value that differs from an enum member only in letter case: EC2 accepts it ("ALLOW" for
    # "allow"), the json services refuse it like any other enum violation.
    ENUM_CASE = "enum-case"
    LENGTH = "length"
    RANGE = "range"
    PATTERN = "pattern"


@dataclass(frozen=True, slots=True)
class ValidationProblem:
    """One violated constraint.

    ``path`` is AWS's member path (``tags.1.member.key``); ``wire_path`` names the parameter as
    it is serialized (``TagSpecification.1.Tag.1.Key`` for ec2, ``x-amz-acl`` for S3 headers).
    """

    path: str
    wire_path: str
    kind: ProblemKind
    constraint: str
    value: Any = None
    sensitive: bool = False

    def message(self) -> str:
        if self.value is None:
            shown = "Value null"
        elif self.sensitive:
            shown = "Value"
        else:
            shown = f"Value '{_render(self.value)}'"
        return f"{shown} at '{self.path}' failed to satisfy constraint: {self.constraint}"


# ---------------------------------------------------------------------------------------------
# Walking the input shape


def validate(operation: OperationModel, params: Mapping[str, Any]) -> list[ValidationProblem]:
    """Every constraint ``params`` violates, in model order; members the model does not know are
    ignored."""
    shape = operation.input_shape
    problems: list[ValidationProblem] = []
    if shape is not None:
        _check_structure(shape, params, "", "", problems)
    return problems


@dataclass(frozen=True, slots=True)
class _Member:
    name: str
    shape: Shape
    path: str
    wire: str
    required: bool


@dataclass(frozen=True, slots=True)
class _Rules:
    """A shape's constraints, read out of botocore's metadata once per shape object."""

    type_name: str
    min: float | None
    max: float | None
    pattern: re.Pattern[str] | None
    pattern_source: str
    enum: frozenset[str]
    enum_text: str
    enum_folded: frozenset[str]
    sensitive: bool
    # A header carrying JSON arrives already decoded, whatever the model's string type says.
    untyped: bool
    members: tuple[_Member, ...]


_RULES_ATTR = "_cove_validation_rules"


def _rules(shape: Shape) -> _Rules:
    # Cached on the (long-lived, model-owned) shape object itself: cheaper than any side table.
    cached: _Rules | None = getattr(shape, _RULES_ATTR, None)
    if cached is not None:
        return cached
    meta = shape.metadata
    source = meta.get("pattern") or ""
    enum_values: list[str] = list(meta.get("enum") or ())
    members: tuple[_Member, ...] = ()
    if shape.type_name == "structure":
        required = set(meta.get("required") or ())
        members = tuple(
            _Member(
                name=name,
                shape=member,
                path=name[:1].lower() + name[1:],
                wire=member.serialization.get("queryName") or member.serialization.get("name") or name,
                required=name in required,
            )
            for name, member in shape.members.items()
        )
    rules = _Rules(
        type_name=shape.type_name,
        min=meta.get("min"),
        max=meta.get("max"),
        pattern=compile_java_pattern(source) if source else None,
        pattern_source=source,
        enum=frozenset(enum_values),
        enum_text="[" + ", ".join(enum_values) + "]",
        enum_folded=frozenset(v.lower() for v in enum_values),
        sensitive=bool(meta.get("sensitive")),
        untyped=bool(shape.serialization.get("jsonvalue")) or bool(meta.get("document")),
        members=members,
    )
    setattr(shape, _RULES_ATTR, rules)
    return rules


def _join(base: str, name: str) -> str:
    return f"{base}.{name}" if base else name


def _check_structure(shape: Shape, value: Any, path: str, wire: str, out: list[ValidationProblem]) -> None:
    rules = _rules(shape)
    if rules.untyped:
        return
    if not isinstance(value, Mapping):
        out.append(_type_problem(rules, path, wire, value))
        return
    for member in rules.members:
        member_value = value.get(member.name)
        member_path = _join(path, member.path)
        member_wire = _join(wire, member.wire)
        if member_value is None:
            if member.required:
                out.append(
                    ValidationProblem(
                        member_path, member_wire, ProblemKind.REQUIRED, "Member must not be null"
                    )
                )
            continue
        _check_value(member.shape, member_value, member_path, member_wire, out)


def _check_value(shape: Shape, value: Any, path: str, wire: str, out: list[ValidationProblem]) -> None:
    type_name = shape.type_name
    if type_name == "structure":
        _check_structure(shape, value, path, wire, out)
    elif type_name == "list":
        _check_list(shape, value, path, wire, out)
    elif type_name == "map":
        _check_map(shape, value, path, wire, out)
    else:
        rules = _rules(shape)
        for kind, constraint in _scalar_violations(rules, value):
            out.append(ValidationProblem(path, wire, kind, constraint, value, rules.sensitive))


def _check_list(shape: Shape, value: Any, path: str, wire: str, out: list[ValidationProblem]) -> None:
    rules = _rules(shape)
    if not isinstance(value, list | tuple):
        out.append(_type_problem(rules, path, wire, value))
        return
    _check_size(rules, value, path, wire, out)
    member = shape.member
    if member.type_name in ("structure", "list", "map"):
        for index, item in enumerate(value, 1):
            if item is not None:
                _check_value(member, item, f"{path}.{index}.member", f"{wire}.{index}", out)
        return
    # AWS folds a scalar list's element failures into one problem on the list itself.
    member_rules = _rules(member)
    constraints = _collect(member_rules, value)
    if constraints:
        out.append(
            ValidationProblem(
                path,
                wire,
                constraints[0][0],
                "Member must satisfy constraint: [" + ", ".join(c for _, c in constraints) + "]",
                value,
                member_rules.sensitive,
            )
        )


def _check_map(shape: Shape, value: Any, path: str, wire: str, out: list[ValidationProblem]) -> None:
    rules = _rules(shape)
    if not isinstance(value, Mapping):
        out.append(_type_problem(rules, path, wire, value))
        return
    _check_size(rules, value, path, wire, out)
    key_rules = _rules(shape.key)
    key_constraints = _collect(key_rules, value.keys())
    if key_constraints:
        out.append(
            ValidationProblem(
                path,
                wire,
                key_constraints[0][0],
                "Map keys must satisfy constraint: [" + ", ".join(c for _, c in key_constraints) + "]",
                value,
                rules.sensitive,
            )
        )
    value_shape = shape.value
    if value_shape.type_name in ("structure", "list", "map"):
        for key, item in value.items():
            if item is not None:
                _check_value(value_shape, item, f"{path}.{key}", f"{wire}.{key}", out)
        return
    value_rules = _rules(value_shape)
    value_constraints = _collect(value_rules, value.values())
    if value_constraints:
        out.append(
            ValidationProblem(
                path,
                wire,
                value_constraints[0][0],
                "Map value must satisfy constraint: [" + ", ".join(c for _, c in value_constraints) + "]",
                value,
                rules.sensitive or value_rules.sensitive,
            )
        )


def _collect(rules: _Rules, values: Any) -> list[tuple[ProblemKind, str]]:
    """The distinct violations of scalar ``values``, in first-seen order."""
    seen: dict[str, ProblemKind] = {}
    for item in values:
        if item is None:
            continue
        for kind, constraint in _scalar_violations(rules, item):
            seen.setdefault(constraint, kind)
    return [(kind, constraint) for constraint, kind in seen.items()]


def _check_size(rules: _Rules, value: Any, path: str, wire: str, out: list[ValidationProblem]) -> None:
    size = len(value)
    if rules.min is not None and size < rules.min:
        out.append(
            ValidationProblem(
                path,
                wire,
                ProblemKind.LENGTH,
                f"Member must have length greater than or equal to {_bound(rules.min)}",
                value,
            )
        )
    if rules.max is not None and size > rules.max:
        out.append(
            ValidationProblem(
                path,
                wire,
                ProblemKind.LENGTH,
                f"Member must have length less than or equal to {_bound(rules.max)}",
                value,
            )
        )


def _type_problem(rules: _Rules, path: str, wire: str, value: Any) -> ValidationProblem:
    return ValidationProblem(
        path, wire, ProblemKind.TYPE, f"Member must be of type {rules.type_name}", value, rules.sensitive
    )


def _scalar_violations(rules: _Rules, value: Any) -> list[tuple[ProblemKind, str]]:
    type_name = rules.type_name
    if rules.untyped:
        return []
    if type_name == "string":
        if not isinstance(value, str):
            return [(ProblemKind.TYPE, "Member must be of type string")]
        found: list[tuple[ProblemKind, str]] = []
        _length(rules, len(value), found)
        if rules.pattern is not None and rules.pattern.fullmatch(value) is None:
            found.append(
                (
                    ProblemKind.PATTERN,
                    f"Member must satisfy regular expression pattern: {rules.pattern_source}",
                )
            )
        if rules.enum and value not in rules.enum:
            kind = ProblemKind.ENUM_CASE if value.lower() in rules.enum_folded else ProblemKind.ENUM
            found.append((kind, f"Member must satisfy enum value set: {rules.enum_text}"))
        return found
    if type_name in ("integer", "long", "short", "byte", "bigInteger"):
        if not isinstance(value, int) or isinstance(value, bool):
            return [(ProblemKind.TYPE, f"Member must be of type {type_name}")]
        return _range(rules, value, integral=True)
    if type_name in ("float", "double", "bigDecimal"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            return [(ProblemKind.TYPE, f"Member must be of type {type_name}")]
        return _range(rules, value, integral=False)
    if type_name == "boolean":
        if not isinstance(value, bool):
            return [(ProblemKind.TYPE, "Member must be of type boolean")]
        return []
    if type_name == "timestamp":
        if not isinstance(value, datetime):
            return [(ProblemKind.TYPE, "Member must be of type timestamp")]
        return []
    if type_name == "blob":
        if isinstance(value, bytes | bytearray | memoryview):
            found = []
            _length(rules, len(value), found)
            return found
        if hasattr(value, "read"):
            # A streaming body: its length is the transport's business.
            return []
        return [(ProblemKind.TYPE, "Member must be of type blob")]
    return []


def _length(rules: _Rules, size: int, found: list[tuple[ProblemKind, str]]) -> None:
    if rules.min is not None and size < rules.min:
        found.append(
            (ProblemKind.LENGTH, f"Member must have length greater than or equal to {_bound(rules.min)}")
        )
    if rules.max is not None and size > rules.max:
        found.append(
            (ProblemKind.LENGTH, f"Member must have length less than or equal to {_bound(rules.max)}")
        )


def _range(rules: _Rules, value: float, *, integral: bool) -> list[tuple[ProblemKind, str]]:
    found: list[tuple[ProblemKind, str]] = []
    if rules.min is not None and value < rules.min:
        bound = _bound(rules.min) if integral else str(float(rules.min))
        found.append((ProblemKind.RANGE, f"Member must have value greater than or equal to {bound}"))
    if rules.max is not None and value > rules.max:
        bound = _bound(rules.max) if integral else str(float(rules.max))
        found.append((ProblemKind.RANGE, f"Member must have value less than or equal to {bound}"))
    return found


def _bound(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _render(value: Any) -> str:
    """Roughly Java's ``toString``, which is what AWS echoes back."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        size = len(value)
        return f"java.nio.HeapByteBuffer[pos=0 lim={size} cap={size}]"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_render(k)}={_render(v)}" for k, v in value.items()) + "}"
    if value is None:
        return "null"
    return str(value)


# ---------------------------------------------------------------------------------------------
# Java regular expressions

_PATTERNS: dict[str, re.Pattern[str] | None] = {}

# Java's POSIX classes are ASCII-only, so these are exact; Unicode categories Python's ``re``
# lacks map to a superset (a lenient check beats rejecting valid input).
_CLASS_BODIES = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": r"\x00-\x7f",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": r"!-/:-@\[-`{-~",
    "Graph": r"\x21-\x7e",
    "Print": r"\x20-\x7e",
    "Blank": r" \t",
    "Cntrl": r"\x00-\x1f\x7f",
    "XDigit": "0-9a-fA-F",
    "Space": r" \t\n\x0b\f\r",
    "Cc": r"\x00-\x1f\x7f-\x9f",
}
_EXACT = frozenset(_CLASS_BODIES)
_WORDY = frozenset(
    {"L", "Lu", "Ll", "Lt", "Lm", "Lo", "LD", "N", "Nd", "Nl", "No", "IsAlphabetic", "IsLetter", "IsDigit"}
)
_SPACY = frozenset({"Z", "Zs", "Zl", "Zp", "IsWhitespace", "javaWhitespace"})
_ANY = r"\s\S"
# Everything but the C0/C1 control characters: exact for Cc, lenient for the rest of C.
_NOT_CONTROL = r"\x20-\x7e\xa0-\U0010ffff"
_FLAG_GROUP = re.compile(r"\(\?([a-zA-Z]+)\)")
_CLASS_ESCAPES = frozenset("wWdDsS")
_QUANTIFIER = re.compile(r"\{\d+(?:,\d*)?\}")


def compile_java_pattern(source: str) -> re.Pattern[str] | None:
    """The compiled Python equivalent of an AWS (Java) pattern, None when it cannot be expressed;
    cached."""
    try:
        return _PATTERNS[source]
    except KeyError:
        pass
    translated = translate_java_pattern(source)
    compiled: re.Pattern[str] | None = None
    if translated is not None:
        try:
            with warnings.catch_warnings():
                # "Possible nested set" and friends: Java reads those characters literally too.
                warnings.simplefilter("ignore", FutureWarning)
                compiled = re.compile(translated)
        except re.error:
            compiled = None
    _PATTERNS[source] = compiled
    return compiled


def translate_java_pattern(source: str) -> str | None:
    """Rewrite the Java-only syntax AWS models use into Python ``re`` syntax, or None."""
    out: list[str] = []
    flags: list[str] = []
    in_class = False
    class_open_at = -1
    i = 0
    n = len(source)
    while i < n:
        char = source[i]
        if char == "\\":
            if i + 1 >= n:
                return None
            nxt = source[i + 1]
            if nxt in "pP":
                parsed = _category(source, i)
                if parsed is None:
                    return None
                name, i = parsed
                out.append(_category_text(name, negated=nxt == "P", in_class=in_class))
                i = _escape_range_dash(source, i, in_class, out)
                continue
            if nxt == "u" and i + 6 <= n:
                code = _hex(source[i + 2 : i + 6])
                if code is None:
                    return None
                i += 6
                if 0xD800 <= code <= 0xDBFF and source.startswith("\\u", i):
                    low = _hex(source[i + 2 : i + 6])
                    if low is not None and 0xDC00 <= low <= 0xDFFF:
                        # Java reads an escaped surrogate pair as one supplementary code point.
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                out.append(f"\\U{code:08x}")
                continue
            if nxt == "x" and source.startswith("{", i + 2):
                end = source.find("}", i + 3)
                code = _hex(source[i + 3 : end]) if end > 0 else None
                if code is None:
                    return None
                out.append(f"\\U{code:08x}")
                i = end + 1
                continue
            if nxt == "Q":
                end = source.find("\\E", i + 2)
                literal = source[i + 2 :] if end < 0 else source[i + 2 : end]
                out.append(re.escape(literal))
                i = n if end < 0 else end + 2
                continue
            if nxt == "z" and not in_class:
                out.append(r"\Z")
                i += 2
                continue
            if nxt == "Z" and not in_class:
                out.append(r"(?=\n?\Z)")
                i += 2
                continue
            if nxt == "h":
                body = r" \t\xa0\u1680\u180e\u2000-\u200a\u202f\u205f\u3000"
                out.append(body if in_class else f"[{body}]")
                i = _escape_range_dash(source, i + 2, in_class, out)
                continue
            if nxt == "v":
                body = r"\n\x0b\f\r\x85\u2028\u2029"
                out.append(body if in_class else f"[{body}]")
                i = _escape_range_dash(source, i + 2, in_class, out)
                continue
            out.append(source[i : i + 2])
            i += 2
            if nxt in _CLASS_ESCAPES:
                i = _escape_range_dash(source, i, in_class, out)
            continue
        if in_class:
            if char == "[" or (char == "&" and source.startswith("&&", i)):
                # Java's nested classes and intersections have no ``re`` equivalent.
                return None
            if char == "]" and i > class_open_at:
                in_class = False
            out.append(char)
            i += 1
            continue
        if char == "[":
            in_class = True
            out.append(char)
            i += 1
            if source.startswith("^", i):
                out.append("^")
                i += 1
            # A leading "]" is a literal in both dialects.
            class_open_at = i
            continue
        if char in "^$":
            out.append(char)
            quantifier = _QUANTIFIER.match(source, i + 1)
            # Java accepts (and ignores) a quantifier on an anchor, which some models carry.
            i = quantifier.end() if quantifier is not None else i + 1
            continue
        if char == "(":
            flag = _FLAG_GROUP.match(source, i)
            if flag is not None:
                # Python only accepts global flags up front; hoisting them can only widen a match.
                flags.extend(f for f in flag.group(1) if f in "imsx")
                i = flag.end()
                continue
        out.append(char)
        i += 1
    if in_class:
        return None
    prefix = f"(?{''.join(sorted(set(flags)))})" if flags else ""
    return prefix + "".join(out)


def _category(source: str, at: int) -> tuple[str, int] | None:
    if source.startswith("{", at + 2):
        end = source.find("}", at + 3)
        if end < 0:
            return None
        name = source[at + 3 : end]
        if name.startswith("Is") and name[2:] in _CLASS_BODIES:
            name = name[2:]
        return name, end + 1
    if at + 2 < len(source):
        return source[at + 2], at + 3
    return None


def _category_text(name: str, *, negated: bool, in_class: bool) -> str:
    if not negated:
        if name in _EXACT:
            body = _CLASS_BODIES[name]
        elif name in _WORDY:
            body = r"\w"
        elif name in _SPACY:
            body = r"\s"
        elif name in ("C", "Cf", "Co", "Cn", "Cs"):
            body = _ANY
        else:
            # Marks, symbols, punctuation...: anything visible will do.
            body = r"\S"
        return body if in_class else f"[{body}]"
    if name in ("C", "Cc", "Cntrl"):
        return _NOT_CONTROL if in_class else f"[{_NOT_CONTROL}]"
    if name in _EXACT and not in_class:
        return f"[^{_CLASS_BODIES[name]}]"
    return _ANY if in_class else f"[{_ANY}]"


def _escape_range_dash(source: str, at: int, in_class: bool, out: list[str]) -> int:
    """Java reads ``[\\w-_]`` as a literal dash where Python sees a bad range."""
    if in_class and source.startswith("-", at) and not source.startswith("-]", at):
        out.append(r"\-")
        return at + 1
    return at


def _hex(digits: str) -> int | None:
    try:
        return int(digits, 16) if digits else None
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# Rendering


# json services whose model violations carry another code than ValidationException.
_SERVICE_VALIDATION_CODES = {"logs": "InvalidParameterException", "cloudwatch": "ValidationError"}


def validation_error(problems: list[ValidationProblem], family: str, service: str = "") -> ServiceError:
    """The error AWS returns for ``problems`` in protocol ``family`` (query, ec2, json,
    rest-json, rest-xml) of ``service``."""
    if not problems:
        raise ValueError("no validation problems to report")
    if family in ("json", "rest-json", "query"):
        count = len(problems)
        noun = "validation error" if count == 1 else "validation errors"
        message = f"{count} {noun} detected: " + "; ".join(p.message() for p in problems)
        if family == "query":
            return ServiceError(message, code="ValidationError", status=400)
        if service in _SERVICE_VALIDATION_CODES:
            return ServiceError(message, code=_SERVICE_VALIDATION_CODES[service], status=400)
        return ValidationException(message, status=400)
    first = problems[0]
    if family == "ec2":
        name = ".".join(part[:1].upper() + part[1:] for part in first.wire_path.split("."))
        if first.kind is ProblemKind.REQUIRED:
            return MissingParameter(f"The request must contain the parameter {name}", status=400)
        shown = "" if first.sensitive else _render(first.value)
        return InvalidParameterValue(
            f"Value ({shown}) for parameter {name} is invalid. {first.constraint}", status=400
        )
    if family == "rest-xml":
        if first.kind is ProblemKind.REQUIRED:
            return ServiceError(
                f"Missing required parameter: {first.wire_path}", code="InvalidRequest", status=400
            )
        shown = "" if first.sensitive else _render(first.value)
        return ServiceError(
            f"Invalid argument {first.wire_path}: {first.constraint}",
            code="InvalidArgument",
            status=400,
            extra={"ArgumentName": first.wire_path, "ArgumentValue": shown},
        )
    raise ValueError(f"unknown protocol family {family!r}")
