"""Shared value conversions used by every codec."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from botocore.model import Shape

from cove.aws.protocols import common

MOMENT = datetime(2024, 2, 29, 23, 59, 58, 678000, tzinfo=UTC)


@pytest.mark.parametrize(
    "value",
    [
        MOMENT,
        MOMENT.replace(tzinfo=None),
        MOMENT.astimezone(timezone(timedelta(hours=5, minutes=30))),
        MOMENT.timestamp(),
        "2024-02-29T23:59:58.678Z",
        "2024-02-29T23:59:58.678000+00:00",
        "1709251198.678",
    ],
)
def test_to_datetime_accepts_every_spelling(value: object) -> None:
    parsed = common.to_datetime(value)
    assert parsed == MOMENT
    assert parsed.tzinfo is UTC


def test_to_datetime_edges() -> None:
    assert common.to_datetime(date(2024, 1, 2)) == datetime(2024, 1, 2, tzinfo=UTC)
    assert common.parse_timestamp("Thu, 29 Feb 2024 23:59:58 GMT") == MOMENT.replace(microsecond=0)
    with pytest.raises(ValueError):
        common.to_datetime(True)
    with pytest.raises(ValueError):
        common.parse_timestamp("yesterday")


def test_format_timestamp() -> None:
    assert common.format_timestamp(MOMENT, "iso8601") == "2024-02-29T23:59:58.678Z"
    assert common.format_timestamp(MOMENT.replace(microsecond=0), "iso8601") == "2024-02-29T23:59:58.000Z"
    assert common.format_timestamp(MOMENT, "unixTimestamp") == 1709251198.678
    assert common.format_timestamp(MOMENT.replace(microsecond=0), "unixTimestamp") == 1709251198
    assert common.format_timestamp(MOMENT, "rfc822") == "Thu, 29 Feb 2024 23:59:58 GMT"
    with pytest.raises(ValueError):
        common.format_timestamp(MOMENT, "julian")


def test_timestamp_format_trait() -> None:
    plain = Shape("T", {"type": "timestamp"})
    traited = Shape("T", {"type": "timestamp", "timestampFormat": "iso8601"})
    assert common.timestamp_format(plain, common.UNIX) == common.UNIX
    assert common.timestamp_format(traited, common.UNIX) == "iso8601"


def test_blobs() -> None:
    assert common.encode_blob(b"\x00\xff") == "AP8="
    assert common.encode_blob("é") == "w6k="
    assert common.decode_blob("AP8") == b"\x00\xff"
    assert common.to_bytes(bytearray(b"ab")) == b"ab"
    with pytest.raises(ValueError):
        common.decode_blob("not base64!!")
    with pytest.raises(ValueError):
        common.to_bytes(3)


def test_scalars() -> None:
    assert common.parse_bool("TRUE") is True
    assert common.parse_bool("false") is False
    with pytest.raises(ValueError):
        common.parse_bool("yes")
    assert common.format_float(float("-inf")) == "-Infinity"
    assert common.format_float(3) == "3"
    assert math.isnan(common.parse_float("NaN"))
    assert common.parse_float("Infinity") == math.inf
    integer = Shape("I", {"type": "integer"})
    assert common.check_scalar(integer, 3.0) == 3
    for bad in (True, "3", 3.5):
        with pytest.raises(ValueError):
            common.check_scalar(integer, bad)


def test_strip_metadata_and_malformed() -> None:
    assert common.strip_metadata({"A": 1, "ResponseMetadata": {}}) == {"A": 1}
    error = common.malformed("bad")
    assert (error.code, error.status) == ("SerializationException", 400)
