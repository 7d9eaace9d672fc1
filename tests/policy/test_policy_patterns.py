"""Wildcards, ARN field matching, policy-variable expansion and date parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cove.policy.conditions import parse_date, split_operator
from cove.policy.patterns import arn_matches, expand, glob_matches, raw_glob


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        ("arn:aws:s3:::b/*", "arn:aws:s3:::b/a/b:c", True),
        ("arn:aws:s3:::b/?", "arn:aws:s3:::b/ab", False),
        ("arn:aws:iam::*:role/*", "arn:aws:iam::111122223333:role/x", True),
        ("arn:aws:iam::*:role/*", "arn:aws:iam::111122223333:user/x", False),
        ("arn:aws:*:*:111122223333:*", "arn:aws:sqs:us-east-1:111122223333:q", True),
        ("arn:*:111122223333:*", "arn:aws:sqs:us-east-1:111122223333:q", False),
        ("arn:aws:s3:::b", "not-an-arn", False),
        ("*", "anything", True),
    ],
)
def test_arn_matches(pattern: str, value: str, expected: bool) -> None:
    assert arn_matches(raw_glob(pattern), value) is expected


def test_glob_is_whole_string_and_escapes_regex() -> None:
    assert glob_matches("a.b*", "a.bcd")
    assert not glob_matches("a.b*", "axbcd")
    assert not glob_matches("ab", "abc")
    assert glob_matches("S3:GET*", "s3:getobject", ignore_case=True)
    assert not glob_matches("S3:GET*", "s3:getobject")


def test_expand_substitutes_literals() -> None:
    missing: list[str] = []
    values = {"aws:username": "a*b"}
    found = expand("home/${aws:username}/${*}", values.get, missing)
    assert found is not None
    assert found.plain == "home/a*b/*"
    assert glob_matches(found.glob, "home/a*b/*")
    assert not glob_matches(found.glob, "home/aXb/*")
    assert not glob_matches(found.glob, "home/a*b/x")
    assert missing == []


def test_expand_default_and_missing() -> None:
    missing: list[str] = []
    empty: dict[str, str] = {}
    found = expand("team/${aws:PrincipalTag/team, 'shared'}", empty.get, missing)
    assert found is not None and found.plain == "team/shared"
    assert expand("x/${aws:userid}", empty.get, missing) is None
    assert missing == ["aws:userid"]


def test_expand_disabled_keeps_text() -> None:
    found = expand("home/${aws:username}", None, [])
    assert found is not None and found.plain == "home/${aws:username}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2020-01-01T00:00:00Z", datetime(2020, 1, 1, tzinfo=UTC)),
        ("2020-01-01", datetime(2020, 1, 1, tzinfo=UTC)),
        ("2020-01-01T02:00:00+02:00", datetime(2020, 1, 1, tzinfo=UTC)),
        ("1577836800", datetime(2020, 1, 1, tzinfo=UTC)),
        ("yesterday", None),
    ],
)
def test_parse_date(text: str, expected: datetime | None) -> None:
    assert parse_date(text) == expected


def test_split_operator() -> None:
    assert split_operator("forallvalues:stringequalsifexists") == ("StringEquals", "ForAllValues", True)
    assert split_operator("IpAddress") == ("IpAddress", None, False)
    assert split_operator("ForAnyValue:Null") is None
    assert split_operator("Bogus") is None
