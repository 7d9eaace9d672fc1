"""ListObjects / ListObjectsV2: prefixes, delimiters, pagination, markers and url encoding."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

KEYS = [
    "a.txt",
    "docs/2024/jan.txt",
    "docs/2024/feb.txt",
    "docs/2025/mar.txt",
    "docs/readme.md",
    "images/cat.png",
    "images/dog.png",
    "z+plus and space.txt",
    "é/unicode.txt",
]


@pytest.fixture
def filled(s3: Any, bucket: str) -> str:
    for key in KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


def test_flat_listing_is_sorted(s3: Any, filled: str) -> None:
    out = s3.list_objects_v2(Bucket=filled)
    assert [c["Key"] for c in out["Contents"]] == sorted(KEYS)
    assert out["KeyCount"] == len(KEYS) and out["IsTruncated"] is False
    first = out["Contents"][0]
    assert first["Size"] == len(first["Key"].encode()) and first["StorageClass"] == "STANDARD"


def test_delimiter_groups_common_prefixes(s3: Any, filled: str) -> None:
    out = s3.list_objects_v2(Bucket=filled, Delimiter="/")
    assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["docs/", "images/", "é/"]
    assert [c["Key"] for c in out["Contents"]] == ["a.txt", "z+plus and space.txt"]
    nested = s3.list_objects_v2(Bucket=filled, Prefix="docs/", Delimiter="/")
    assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["docs/2024/", "docs/2025/"]
    assert [c["Key"] for c in nested["Contents"]] == ["docs/readme.md"]
    assert nested["Prefix"] == "docs/" and nested["Delimiter"] == "/"


def test_v2_pagination_with_delimiter(s3: Any, filled: str) -> None:
    seen: list[str] = []
    pages = 0
    for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=filled, Delimiter="/", PaginationConfig={"PageSize": 2}
    ):
        pages += 1
        assert page["KeyCount"] <= 2
        seen += [c["Key"] for c in page.get("Contents", [])] + [
            p["Prefix"] for p in page.get("CommonPrefixes", [])
        ]
    assert sorted(seen) == sorted(["a.txt", "z+plus and space.txt", "docs/", "images/", "é/"])
    assert len(seen) == len(set(seen)) and pages == 3


def test_v2_pagination_flat_and_start_after(s3: Any, filled: str) -> None:
    first = s3.list_objects_v2(Bucket=filled, MaxKeys=3)
    assert first["IsTruncated"] is True and len(first["Contents"]) == 3
    rest = s3.list_objects_v2(Bucket=filled, ContinuationToken=first["NextContinuationToken"])
    keys = [c["Key"] for c in first["Contents"] + rest["Contents"]]
    assert keys == sorted(KEYS)
    after = s3.list_objects_v2(Bucket=filled, StartAfter="docs/readme.md")
    assert [c["Key"] for c in after["Contents"]] == sorted(k for k in KEYS if k > "docs/readme.md")
    assert after["StartAfter"] == "docs/readme.md"
    assert s3.list_objects_v2(Bucket=filled, MaxKeys=0).get("Contents") is None
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=filled, ContinuationToken="!!not-a-token!!")
    assert exc.value.response["Error"]["Code"] == "InvalidArgument"


def test_v1_markers(s3: Any, filled: str) -> None:
    seen: list[str] = []
    for page in s3.get_paginator("list_objects").paginate(Bucket=filled, PaginationConfig={"PageSize": 4}):
        seen += [c["Key"] for c in page.get("Contents", [])]
    assert seen == sorted(KEYS)
    first = s3.list_objects(Bucket=filled, Delimiter="/", MaxKeys=2)
    assert first["IsTruncated"] is True and first["NextMarker"] == "docs/"
    second = s3.list_objects(Bucket=filled, Delimiter="/", Marker=first["NextMarker"])
    assert [p["Prefix"] for p in second["CommonPrefixes"]] == ["images/", "é/"]
    assert second["Marker"] == "docs/"


def test_url_encoding_round_trips(s3: Any, filled: str) -> None:
    # boto3 asks for EncodingType=url and decodes; keys with '+', spaces and non-ASCII survive.
    out = s3.list_objects_v2(Bucket=filled, Prefix="z+plus")
    assert [c["Key"] for c in out["Contents"]] == ["z+plus and space.txt"] and out["Prefix"] == "z+plus"
    # Asked for explicitly, boto3 leaves the encoded values alone: the server really encodes.
    raw = s3.list_objects_v2(Bucket=filled, Prefix="z+", EncodingType="url")
    assert raw["Contents"][0]["Key"] == "z%2Bplus%20and%20space.txt" and raw["Prefix"] == "z%2B"
