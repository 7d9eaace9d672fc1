"""Encryption at rest: blob files hold no plaintext; SSE-KMS follows the KMS key's state."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import select

from cove.server import EmbeddedServer
from cove.services.s3.tables import S3Object
from cove.storage import BlobInfo
from tests.conftest import ClientFactory

MARKER = b"PLAINTEXT-MARKER-0123456789-" * 64


def _blob_paths(server: EmbeddedServer, bucket: str, key: str) -> list[Path]:
    store = server.cove.providers["s3"].blobs  # type: ignore[attr-defined]
    with server.cove.db.read() as s:
        row = s.scalars(select(S3Object).where(S3Object.bucket == bucket, S3Object.key == key)).one()
        infos = [BlobInfo.from_dict(b) for b in row.blobs]
    paths: list[Path] = [store.path(i.blob_id) for i in infos]
    return paths


@pytest.mark.parametrize("sse", [{}, {"ServerSideEncryption": "AES256"}, {"ServerSideEncryption": "aws:kms"}])
def test_no_plaintext_on_disk(s3: Any, bucket: str, cove_server: EmbeddedServer, sse: dict[str, str]) -> None:
    put = s3.put_object(Bucket=bucket, Key="secret", Body=MARKER, **sse)
    assert put["ServerSideEncryption"] == sse.get("ServerSideEncryption", "AES256")
    paths = _blob_paths(cove_server, bucket, "secret")
    assert paths and all(p.is_file() for p in paths)
    for path in paths:
        raw = path.read_bytes()
        assert len(raw) > len(MARKER)
        assert b"PLAINTEXT-MARKER" not in raw
    assert s3.get_object(Bucket=bucket, Key="secret")["Body"].read() == MARKER


def test_kms_key_state_governs_reads(
    s3: Any, client: ClientFactory, bucket: str, cove_server: EmbeddedServer
) -> None:
    kms = client("kms")
    key = kms.create_key(Description="s3 test")["KeyMetadata"]
    put = s3.put_object(
        Bucket=bucket, Key="k", Body=MARKER, ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"]
    )
    assert put["SSEKMSKeyId"] == key["Arn"]
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key["Arn"]
    for path in _blob_paths(cove_server, bucket, "k"):
        assert b"PLAINTEXT-MARKER" not in path.read_bytes()
    kms.disable_key(KeyId=key["KeyId"])
    try:
        with pytest.raises(ClientError) as exc:
            s3.get_object(Bucket=bucket, Key="k")
        assert exc.value.response["Error"]["Code"] == "KMS.DisabledException"
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        with pytest.raises(ClientError) as exc:
            s3.put_object(
                Bucket=bucket, Key="k2", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["KeyId"]
            )
        assert exc.value.response["Error"]["Code"] == "KMS.DisabledException"
    finally:
        kms.enable_key(KeyId=key["KeyId"])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == MARKER


def test_unknown_kms_key_and_bad_sse_arguments(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.put_object(
            Bucket=bucket,
            Key="k",
            Body=b"x",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId="alias/does-not-exist",
        )
    assert exc.value.response["Error"]["Code"] == "KMS.NotFoundException"
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", SSEKMSKeyId="alias/aws/s3")
    assert exc.value.response["Error"]["Code"] == "InvalidArgument"


def test_copy_reencrypts_under_destination(s3: Any, bucket: str, cove_server: EmbeddedServer) -> None:
    s3.put_object(Bucket=bucket, Key="plain", Body=MARKER)
    out = s3.copy_object(
        Bucket=bucket, Key="kms", CopySource=f"{bucket}/plain", ServerSideEncryption="aws:kms"
    )
    assert out["ServerSideEncryption"] == "aws:kms" and out["SSEKMSKeyId"].startswith("arn:aws:kms:")
    assert _blob_paths(cove_server, bucket, "kms") != _blob_paths(cove_server, bucket, "plain")
    assert s3.get_object(Bucket=bucket, Key="kms")["Body"].read() == MARKER
