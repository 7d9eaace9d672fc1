"""aws-chunked request bodies: the decoder, and a signed STREAMING upload with a trailing checksum."""

from __future__ import annotations

import base64
import hashlib
import io
import zlib
from typing import Any

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cove.server import EmbeddedServer
from cove.services.s3.chunked import ChunkedReader
from cove.services.s3.errors import InvalidRequest


def _encode(data: bytes, size: int, trailer: str = "", signed: bool = False) -> bytes:
    out = bytearray()
    for start in range(0, len(data), size):
        piece = data[start : start + size]
        ext = ";chunk-signature=" + "0" * 64 if signed else ""
        out += f"{len(piece):x}{ext}\r\n".encode() + piece + b"\r\n"
    out += (b"0;chunk-signature=" + b"0" * 64 if signed else b"0") + b"\r\n"
    if trailer:
        out += trailer.encode() + b"\r\n"
    out += b"\r\n"
    return bytes(out)


@pytest.mark.parametrize("signed", [False, True])
def test_decoder(signed: bool) -> None:
    data = bytes(range(256)) * 1000
    reader = ChunkedReader(io.BytesIO(_encode(data, 7000, "x-amz-checksum-crc32:AAAAAA==", signed)))
    got = b""
    while chunk := reader.read(4096):
        got += chunk
    assert got == data and reader.trailers == {"x-amz-checksum-crc32": "AAAAAA=="}


def test_decoder_rejects_truncated_body() -> None:
    reader = ChunkedReader(io.BytesIO(b"10\r\nshort"))
    with pytest.raises(InvalidRequest):
        reader.read()


def _put_chunked(server: EmbeddedServer, path: str, body: bytes, trailer_name: str) -> httpx.Response:
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-trailer": trailer_name,
        "x-amz-decoded-content-length": "0",
    }
    request = AWSRequest(method="PUT", url=f"{server.endpoint_url}{path}", data=body, headers=headers)
    account = server.cove.account
    S3SigV4Auth(Credentials(account.access_key_id, account.secret_access_key), "s3", "us-east-1").add_auth(
        request
    )
    return httpx.put(request.url, content=body, headers=dict(request.headers.items()), timeout=30)


@pytest.mark.parametrize("size", [1000, 3 * 1024 * 1024])
def test_streaming_upload_with_trailing_checksum(
    s3: Any, bucket: str, cove_server: EmbeddedServer, size: int
) -> None:
    data = (b"chunked-data-" * (size // 13 + 1))[:size]
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    body = _encode(data, 65536, f"x-amz-checksum-crc32:{crc}")
    resp = _put_chunked(cove_server, f"/{bucket}/chunked", body, "x-amz-checksum-crc32")
    assert resp.status_code == 200, resp.text
    assert resp.headers["x-amz-checksum-crc32"] == crc
    got = s3.get_object(Bucket=bucket, Key="chunked")
    assert got["Body"].read() == data and got["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert "ContentEncoding" not in got
    bad = _encode(data, 65536, "x-amz-checksum-crc32:AAAAAA==")
    resp = _put_chunked(cove_server, f"/{bucket}/bad", bad, "x-amz-checksum-crc32")
    assert resp.status_code == 400 and "BadDigest" in resp.text
