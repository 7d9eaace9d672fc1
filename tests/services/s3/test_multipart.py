"""Multipart uploads: parts, completion rules, listing, abort, part copy, and boto3's transfer manager."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

MIB = 1024 * 1024


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    return exc.value.response["Error"]["Code"], exc.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_multipart_lifecycle(s3: Any, bucket: str) -> None:
    up = s3.create_multipart_upload(
        Bucket=bucket, Key="mp", ContentType="application/x-mp", Metadata={"m": "1"}
    )
    upload_id = up["UploadId"]
    assert up["ServerSideEncryption"] == "AES256"
    part1 = os.urandom(5 * MIB)
    part2 = b"tail-bytes"
    e1 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=part1)["ETag"]
    e2 = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=2, Body=part2)["ETag"]
    assert e1 == f'"{hashlib.md5(part1).hexdigest()}"'
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in listed["Parts"]] == [
        (1, 5 * MIB, e1),
        (2, 10, e2),
    ]
    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("mp", upload_id)]
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]},
        )
    assert _error(exc) == ("InvalidPartOrder", 400)
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="mp",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"0000"'}, {"PartNumber": 2, "ETag": e2}]},
        )
    assert _error(exc) == ("InvalidPart", 400)
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    joined = hashlib.md5(hashlib.md5(part1).digest() + hashlib.md5(part2).digest()).hexdigest()
    assert done["ETag"] == f'"{joined}-2"'
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == part1 + part2 and got["ContentType"] == "application/x-mp"
    assert got["Metadata"] == {"m": "1"} and got["ETag"] == done["ETag"]
    across = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={5 * MIB - 3}-{5 * MIB + 2}")
    assert across["Body"].read() == part1[-3:] + part2[:3]
    second = s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert second["Body"].read() == part2 and second["PartsCount"] == 2
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)
    assert _error(exc) == ("NoSuchUpload", 404)


def test_entity_too_small_and_abort(s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    etags = [
        s3.upload_part(Bucket=bucket, Key="small", UploadId=upload_id, PartNumber=n, Body=b"x" * 100)["ETag"]
        for n in (1, 2)
    ]
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="small",
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [{"PartNumber": n, "ETag": e} for n, e in zip((1, 2), etags, strict=True)]
            },
        )
    assert _error(exc) == ("EntityTooSmall", 400)
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="small", UploadId=upload_id, PartNumber=10001, Body=b"x")
    assert _error(exc)[1] == 400
    assert (
        s3.abort_multipart_upload(Bucket=bucket, Key="small", UploadId=upload_id)["ResponseMetadata"][
            "HTTPStatusCode"
        ]
        == 204
    )
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="small", UploadId=upload_id, PartNumber=3, Body=b"x")
    assert _error(exc) == ("NoSuchUpload", 404)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="small")


def test_upload_part_copy(s3: Any, bucket: str) -> None:
    source = os.urandom(6 * MIB)
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="assembled")["UploadId"]
    first = s3.upload_part_copy(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "source"},
        CopySourceRange=f"bytes=0-{5 * MIB - 1}",
    )["CopyPartResult"]["ETag"]
    second = s3.upload_part(Bucket=bucket, Key="assembled", UploadId=upload_id, PartNumber=2, Body=b"end")[
        "ETag"
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="assembled",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": first}, {"PartNumber": 2, "ETag": second}]},
    )
    assert s3.get_object(Bucket=bucket, Key="assembled")["Body"].read() == source[: 5 * MIB] + b"end"


def test_transfer_manager_64_mib(s3: Any, bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "upload.bin"
    block = os.urandom(MIB)
    with src.open("wb") as fh:
        for index in range(64):
            fh.write(block[index:] + block[:index])
    config = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=4)
    s3.upload_file(str(src), bucket, "big.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == 64 * MIB and head["ETag"].endswith('-8"')
    dst = tmp_path / "download.bin"
    s3.download_file(bucket, "big.bin", str(dst), Config=config)
    digest = hashlib.sha256
    assert digest(dst.read_bytes()).hexdigest() == digest(src.read_bytes()).hexdigest()
