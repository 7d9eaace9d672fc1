"""Where a channel's keys land on disk, and how ShardedByS3Key deals them (pure rules, no S3)."""

from __future__ import annotations

import pytest

from cove.runtime.s3paths import illegal_key, join_key, local_name, parse_s3_uri, safe_relative, shard


@pytest.mark.parametrize(
    ("prefix", "key", "expected"),
    [
        ("data/", "data/x.csv", "x.csv"),
        ("data/", "data/sub/x.csv", "sub/x.csv"),
        ("data", "data/sub/x.csv", "sub/x.csv"),  # next key character is '/': a folder
        ("data/train", "data/train-data.csv", "train-data.csv"),  # partial name keeps the basename
        ("data/train", "data/train/a.csv", "a.csv"),
        ("data/tr", "data/train/a.csv", "train/a.csv"),
        ("job/input/code", "job/input/code/train.py", "train.py"),  # the v3 SDK's code channel
        ("data/x.csv", "data/x.csv", "x.csv"),  # the prefix names the object itself
        ("x.csv", "x.csv", "x.csv"),
        ("", "a/b.csv", "a/b.csv"),  # the whole bucket
        ("tr", "train/a.csv", "train/a.csv"),
    ],
)
def test_placement(prefix: str, key: str, expected: str) -> None:
    assert local_name(prefix, key) == expected


def test_placement_refuses_a_key_outside_the_prefix() -> None:
    with pytest.raises(ValueError):
        local_name("data/", "other/x")


def test_uri_parsing_and_joining() -> None:
    loc = parse_s3_uri("s3://bucket/a/b/")
    assert (loc.bucket, loc.key, loc.uri) == ("bucket", "a/b/", "s3://bucket/a/b/")
    assert parse_s3_uri("s3://bucket").key == ""
    with pytest.raises(ValueError):
        parse_s3_uri("https://bucket/a")
    assert (
        join_key("out/", "a/b") == "out/a/b" and join_key("out", "a") == "out/a" and join_key("", "a") == "a"
    )


def test_illegal_keys_and_escapes() -> None:
    assert illegal_key("shared//train/x") and not illegal_key("shared/train/x")
    assert safe_relative("../../etc/passwd") == "etc/passwd"
    with pytest.raises(ValueError):
        safe_relative("")


@pytest.mark.parametrize(("count", "hosts"), [(10, 3), (2, 3), (0, 2), (7, 1)])
def test_sharding_covers_every_key_once(count: int, hosts: int) -> None:
    keys = [f"k/{i:03d}" for i in range(count)][::-1]
    shares = [shard(keys, i, hosts) for i in range(hosts)]
    dealt = [k for share in shares for k in share]
    assert sorted(dealt) == sorted(keys) and len(dealt) == len(set(dealt))
    sizes = [len(s) for s in shares]
    assert max(sizes) - min(sizes) <= 1
    with pytest.raises(ValueError):
        shard(keys, hosts, hosts)
