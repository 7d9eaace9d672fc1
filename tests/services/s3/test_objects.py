"""Object operations through boto3: data, metadata, digests, ranges, conditionals, copy, delete, tags."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from cove.services.s3 import checksums


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_put_get_head_with_metadata(s3: Any, bucket: str) -> None:
    body = b"hello, cove"
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/file.txt",
        Body=body,
        ContentType="text/plain",
        CacheControl="max-age=60",
        ContentDisposition="attachment",
        Metadata={"Owner": "ml-team"},
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert put["ServerSideEncryption"] == "AES256"
    got = s3.get_object(Bucket=bucket, Key="dir/file.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain" and got["CacheControl"] == "max-age=60"
    assert got["ContentDisposition"] == "attachment"
    assert got["Metadata"] == {"owner": "ml-team"}
    assert got["ContentLength"] == len(body) and got["ETag"] == put["ETag"]
    assert got["ServerSideEncryption"] == "AES256" and got["AcceptRanges"] == "bytes"
    head = s3.head_object(Bucket=bucket, Key="dir/file.txt")
    assert head["ContentLength"] == len(body) and head["ETag"] == put["ETag"]
    assert head["LastModified"] == got["LastModified"]
    override = s3.get_object(Bucket=bucket, Key="dir/file.txt", ResponseContentType="application/json")
    assert override["ContentType"] == "application/json"
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    empty = s3.get_object(Bucket=bucket, Key="empty")
    assert empty["Body"].read() == b"" and empty["ContentType"] == "binary/octet-stream"


def test_missing_key_and_bucket(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="nope")
    assert _error(exc) == ("NoSuchKey", 404) and exc.value.response["Error"]["Key"] == "nope"
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="nope")
    assert _error(exc) == ("404", 404)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket="no-such-bucket-here-1", Key="k", Body=b"x")
    assert _error(exc) == ("NoSuchBucket", 404)


def test_large_object_streams_both_ways(s3: Any, bucket: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)
    put = s3.put_object(Bucket=bucket, Key="big", Body=data)
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == data
    part = s3.get_object(Bucket=bucket, Key="big", Range="bytes=1048570-2097160")
    assert part["Body"].read() == data[1048570:2097161]


def test_content_md5(s3: Any, bucket: str) -> None:
    body = b"digest me"
    good = base64.b64encode(hashlib.md5(body).digest()).decode()
    s3.put_object(Bucket=bucket, Key="k", Body=body, ContentMD5=good)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k2", Body=body, ContentMD5=wrong)
    assert _error(exc) == ("BadDigest", 400)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="k2")
    streamed = os.urandom(2 * 1024 * 1024)  # over the streaming threshold: checked while stored
    digest = base64.b64encode(hashlib.md5(streamed).digest()).decode()
    s3.put_object(Bucket=bucket, Key="s", Body=streamed, ContentMD5=digest)
    assert s3.get_object(Bucket=bucket, Key="s")["Body"].read() == streamed
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="s2", Body=streamed, ContentMD5=wrong)
    assert _error(exc) == ("BadDigest", 400)


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_checksums_verified_and_returned(s3: Any, bucket: str, algorithm: str) -> None:
    body = b"checksummed payload" * 100
    reference = {
        "CRC32": zlib.crc32(body).to_bytes(4, "big"),
        "SHA1": hashlib.sha1(body).digest(),
        "SHA256": hashlib.sha256(body).digest(),
    }
    if algorithm == "CRC32C":
        hasher = checksums.hashers_for(["CRC32C"])["CRC32C"]
        hasher.update(body)
        reference["CRC32C"] = hasher.digest()
    value = base64.b64encode(reference[algorithm]).decode()
    member = checksums.MEMBERS[algorithm]
    put = s3.put_object(Bucket=bucket, Key="c", Body=body, **{member: value})
    assert put[member] == value
    got = s3.get_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert got["Body"].read() == body and got[member] == value
    bad = base64.b64encode(bytes(len(reference[algorithm]))).decode()
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="c2", Body=body, **{member: bad})
    assert _error(exc) == ("BadDigest", 400)


def test_crc32c_known_vector() -> None:
    hasher = checksums.hashers_for(["CRC32C"])["CRC32C"]
    hasher.update(b"123456789")
    assert hasher.digest().hex() == "e3069283"
    crc64 = checksums.hashers_for(["CRC64NVME"])["CRC64NVME"]
    crc64.update(b"123456789")
    assert crc64.digest().hex() == "ae8b14860a799888"


def test_ranges(s3: Any, bucket: str) -> None:
    data = bytes(range(100))
    s3.put_object(Bucket=bucket, Key="r", Body=data)
    cases = {"bytes=0-9": (0, 10), "bytes=90-": (90, 100), "bytes=-5": (95, 100), "bytes=95-200": (95, 100)}
    for header, (lo, hi) in cases.items():
        got = s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert got["Body"].read() == data[lo:hi]
        assert got["ContentRange"] == f"bytes {lo}-{hi - 1}/100" and got["ContentLength"] == hi - lo
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=100-")
    assert _error(exc) == ("InvalidRange", 416)
    assert exc.value.response["Error"]["ActualObjectSize"] == "100"
    whole = s3.get_object(Bucket=bucket, Key="r", Range="bytes=9-3")  # invalid syntax: ignored
    assert whole["ResponseMetadata"]["HTTPStatusCode"] == 200 and whole["Body"].read() == data


def test_conditionals(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="c", Body=b"v1")["ETag"]
    modified = s3.head_object(Bucket=bucket, Key="c")["LastModified"]
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == b"v1"
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"0000"')
    assert _error(exc) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert _error(exc) == ("304", 304)
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert _error(exc) == ("304", 304)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=modified + timedelta(seconds=5))
    assert _error(exc) == ("304", 304)
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=modified - timedelta(days=1))["Body"].read()
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=modified - timedelta(days=1))
    assert _error(exc) == ("PreconditionFailed", 412)
    # If-Match holding wins over If-Unmodified-Since failing (RFC 9110).
    assert s3.get_object(
        Bucket=bucket, Key="c", IfMatch=etag, IfUnmodifiedSince=datetime(2000, 1, 1, tzinfo=UTC)
    )
    # Conditional writes.
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="c", Body=b"v2", IfNoneMatch="*")
    assert _error(exc) == ("PreconditionFailed", 412)
    s3.put_object(Bucket=bucket, Key="fresh", Body=b"v", IfNoneMatch="*")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="c", Body=b"v2", IfMatch='"bad"')
    assert _error(exc) == ("PreconditionFailed", 412)
    s3.put_object(Bucket=bucket, Key="c", Body=b"v2", IfMatch=etag)
    assert s3.get_object(Bucket=bucket, Key="c")["Body"].read() == b"v2"


def test_delete_object_and_objects(s3: Any, bucket: str) -> None:
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    assert s3.delete_object(Bucket=bucket, Key="a")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.delete_object(Bucket=bucket, Key="a")["ResponseMetadata"]["HTTPStatusCode"] == 204
    out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b"}, {"Key": "missing"}]})
    assert sorted(d["Key"] for d in out["Deleted"]) == ["b", "missing"] and "Errors" not in out
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "c"}], "Quiet": True})
    assert "Deleted" not in quiet
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)


def test_copy_object(s3: Any, bucket: str, new_bucket: Any) -> None:
    other = new_bucket()
    s3.put_object(Bucket=bucket, Key="src", Body=b"copy me", ContentType="text/x", Metadata={"a": "1"})
    copied = s3.copy_object(Bucket=other, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert copied["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"copy me").hexdigest()}"'
    got = s3.get_object(Bucket=other, Key="dst")
    assert (
        got["Body"].read() == b"copy me" and got["Metadata"] == {"a": "1"} and got["ContentType"] == "text/x"
    )
    s3.copy_object(
        Bucket=other,
        Key="dst2",
        CopySource=f"{bucket}/src",
        MetadataDirective="REPLACE",
        Metadata={"b": "2"},
        ContentType="text/y",
        ServerSideEncryption="aws:kms",
    )
    head = s3.head_object(Bucket=other, Key="dst2")
    assert head["Metadata"] == {"b": "2"} and head["ContentType"] == "text/y"
    assert head["ServerSideEncryption"] == "aws:kms"
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="src", CopySource=f"{bucket}/src")
    assert _error(exc) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="x", CopySource=f"{bucket}/src", CopySourceIfMatch='"nope"')
    assert _error(exc) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="x", CopySource=f"{bucket}/missing")
    assert _error(exc) == ("NoSuchKey", 404)


def test_object_tagging(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="env=prod&team=ml%20ops")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [
        {"Key": "env", "Value": "prod"},
        {"Key": "team", "Value": "ml ops"},
    ]
    assert s3.get_object(Bucket=bucket, Key="t")["TagCount"] == 2
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "k", "Value": "v"}]
    assert s3.delete_object_tagging(Bucket=bucket, Key="t")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    with pytest.raises(ClientError) as exc:
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    assert _error(exc) == ("NoSuchKey", 404)


def test_presigned_get_and_put(s3: Any, bucket: str) -> None:
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=300)
    resp = httpx.put(put_url, content=b"presigned body")
    assert resp.status_code == 200, resp.text
    assert resp.headers["etag"] == f'"{hashlib.md5(b"presigned body").hexdigest()}"'
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "p"}, ExpiresIn=300)
    got = httpx.get(get_url)
    assert got.status_code == 200 and got.content == b"presigned body"
    ranged = httpx.get(get_url, headers={"Range": "bytes=0-8"})
    assert ranged.status_code == 206 and ranged.content == b"presigned"
    assert httpx.get(get_url.replace("/p?", "/other?")).status_code == 403


def test_anonymous_requests_are_denied_without_a_policy(s3: Any, bucket: str, cove_server: Any) -> None:
    s3.put_object(Bucket=bucket, Key="private", Body=b"secret")
    resp = httpx.get(f"{cove_server.endpoint_url}/{bucket}/private")
    assert resp.status_code == 403 and "<Code>AccessDenied</Code>" in resp.text
