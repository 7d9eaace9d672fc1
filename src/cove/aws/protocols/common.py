"""Value conversions shared by every protocol codec.

Timestamps, blobs, booleans and floats travel differently in each protocol; these helpers hold the
one place where Cove decides how. Parsers are lenient (they accept anything botocore may send),
formatters are exact (they produce what botocore's parsers read back unchanged).

Timestamp formats are botocore's names, compared case-insensitively: ``"iso8601"``,
``"unixTimestamp"`` and ``"rfc822"``.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import math
import re
from datetime import UTC, date, datetime, time
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from xml.sax.saxutils import escape

from botocore.model import Shape

from cove.aws.errors import ServiceError

__all__ = [
    "ISO8601",
    "RFC822",
    "UNIX",
    "check_scalar",
    "decode_blob",
    "encode_blob",
    "format_bool",
    "format_float",
    "format_timestamp",
    "malformed",
    "parse_bool",
    "parse_float",
    "parse_timestamp",
    "serialized_name",
    "strip_metadata",
    "timestamp_format",
    "to_bytes",
    "to_datetime",
    "xml_text",
]

ISO8601 = "iso8601"
UNIX = "unixtimestamp"
RFC822 = "rfc822"


def to_datetime(value: Any) -> datetime:
    """An aware UTC datetime for anything an output dict may hold as a timestamp: a datetime
    (naive ones are taken as UTC), a date, epoch seconds (int/float/numeric string) or an
    ISO 8601 / RFC 822 string."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), tzinfo=UTC)
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, str):
        return parse_timestamp(value)
    raise ValueError(f"not a timestamp: {value!r}")


def parse_timestamp(text: str | int | float) -> datetime:
    """Parse a timestamp as a client sends it (epoch seconds, ISO 8601 or RFC 822) to aware UTC."""
    if isinstance(text, int | float):
        return datetime.fromtimestamp(text, UTC)
    raw = text.strip()
    try:
        return datetime.fromtimestamp(float(raw), UTC)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(raw)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"invalid timestamp: {text!r}") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def format_timestamp(value: Any, fmt: str) -> str | int | float:
    """Render ``value`` (see :func:`to_datetime`) in ``fmt``.

    iso8601 is ``2024-01-02T03:04:05.678Z`` (always milliseconds, as AWS writes it); unixTimestamp
    is an int when there is no sub-second part, else a float with millisecond precision; rfc822 is
    ``Tue, 02 Jan 2024 03:04:05 GMT``.
    """
    moment = to_datetime(value)
    kind = fmt.lower()
    if kind == ISO8601:
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"
    if kind == UNIX:
        seconds = calendar.timegm(moment.utctimetuple())
        millis = moment.microsecond // 1000
        if millis == 0:
            return seconds
        return seconds + millis / 1000
    if kind == RFC822:
        return format_datetime(moment.replace(microsecond=0), usegmt=True)
    raise ValueError(f"unknown timestamp format: {fmt!r}")


def timestamp_format(shape: Shape, default: str) -> str:
    """The shape's ``timestampFormat`` trait, else the protocol's ``default``."""
    return str(shape.serialization.get("timestampFormat", default))


def to_bytes(value: Any) -> bytes:
    """Blob values may be given as bytes, bytearray, memoryview or str (utf-8)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8")
    raise ValueError(f"not a blob: {type(value).__name__}")


def encode_blob(value: Any) -> str:
    """Base64 text of a blob (see :func:`to_bytes`)."""
    return base64.b64encode(to_bytes(value)).decode("ascii")


def decode_blob(text: str | bytes) -> bytes:
    """Bytes of a base64 blob; tolerates missing padding."""
    raw = text.encode("ascii") if isinstance(text, str) else text
    raw = raw.strip()
    try:
        return base64.b64decode(raw + b"=" * (-len(raw) % 4))
    except binascii.Error as exc:
        raise ValueError("invalid base64 blob") from exc


def format_bool(value: Any) -> str:
    return "true" if value else "false"


def parse_bool(text: str) -> bool:
    """Query-style booleans: ``true``/``false`` (any case); anything else is an error."""
    lowered = text.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ValueError(f"invalid boolean: {text!r}")


def format_float(value: Any) -> str:
    """Text form of a float/double: ``repr`` digits, and AWS's spellings for non-finite values."""
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    if number.is_integer() and abs(number) < 1e16:
        return str(int(number)) if isinstance(value, int) else repr(number)
    return repr(number)


def parse_float(value: str | int | float) -> float:
    """Parse a float that may be spelled ``NaN``/``Infinity``/``-Infinity``."""
    if isinstance(value, str):
        special = {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf}
        lowered = value.strip().lower()
        if lowered in special:
            return special[lowered]
    return float(value)


def serialized_name(shape: Shape, default: str) -> str:
    """The member's wire name (its ``locationName``) or ``default``."""
    return str(shape.serialization.get("name", default))


def strip_metadata(output: dict[str, Any]) -> dict[str, Any]:
    """``output`` without boto3's ``ResponseMetadata`` (handlers may echo a parsed response)."""
    if "ResponseMetadata" not in output:
        return output
    return {key: value for key, value in output.items() if key != "ResponseMetadata"}


def malformed(message: str) -> ServiceError:
    """The client error for a body that does not decode against the input shape (AWS's
    ``SerializationException``)."""
    return ServiceError(message, code="SerializationException", status=400)


_INTEGERS = ("integer", "long", "short", "byte")


def check_scalar(shape: Shape, value: Any) -> Any:
    """``value`` when its JSON/CBOR type fits the string/number/boolean ``shape``, else ValueError
    (a client other than botocore may send ``"5"`` for an integer)."""
    kind = shape.type_name
    if kind in _INTEGERS:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
            raise ValueError(f"expected an integer, got {value!r}")
        return int(value)
    if kind == "boolean" and not isinstance(value, bool):
        raise ValueError(f"expected a boolean, got {value!r}")
    if kind == "string" and not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value


# Characters XML 1.0 cannot carry at all (even escaped): C0 controls other than tab, LF and CR,
# lone surrogates, and U+FFFE/U+FFFF.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_text(value: str) -> str:
    """``value`` escaped for XML text, with characters XML cannot represent replaced by U+FFFD so
    that an error quoting a client's bad input still parses."""
    return escape(_NOT_XML.sub("\ufffd", value))
