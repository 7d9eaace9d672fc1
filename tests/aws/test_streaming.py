"""Large bodies stream through the gateway in both directions, with their signed hash checked."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from cove.aws.context import RequestContext
from cove.aws.provider import Provider, operation
from cove.server import EmbeddedServer, free_port
from cove.settings import Settings
from tests.conftest import make_client

SIZE = 5 * 1024 * 1024 + 123


class RecordingS3(Provider):
    """A stand-in S3 that keeps only digests, to show the body never had to be whole in memory."""

    service = "s3"

    def __init__(self) -> None:
        self.objects: dict[str, tuple[int, str]] = {}
        self.chunk_sizes: list[int] = []
        self.streamed = False

    @operation("PutObject")
    def put_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        body = params["Body"]
        self.streamed = not isinstance(body, bytes)
        digest, size = hashlib.sha256(), 0
        while True:
            chunk = body.read(256 * 1024)
            if not chunk:
                break
            self.chunk_sizes.append(len(chunk))
            digest.update(chunk)
            size += len(chunk)
        self.objects[params["Key"]] = (size, digest.hexdigest())
        return {"ETag": '"x"'}

    @operation("GetObject")
    def get_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        size, _ = self.objects[params["Key"]]

        def chunks() -> Iterator[bytes]:
            left = size
            while left:
                n = min(left, 1 << 20)
                yield b"z" * n
                left -= n

        return {"Body": chunks(), "ContentLength": size}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedServer, RecordingS3]]:
    srv = EmbeddedServer(Settings(state_dir=tmp_path_factory.mktemp("stream"), port=free_port()))
    s3 = RecordingS3()
    srv.cove.gateway.providers["s3"] = s3
    with srv:
        yield srv, s3


def test_upload_is_streamed_and_download_too(
    server: tuple[EmbeddedServer, RecordingS3], tmp_path: Path
) -> None:
    srv, fake = server
    s3 = make_client(srv, "s3")
    data = bytes(range(256)) * (SIZE // 256) + b"x" * (SIZE % 256)
    s3.put_object(Bucket="b", Key="big", Body=data)
    assert fake.streamed
    assert fake.objects["big"] == (len(data), hashlib.sha256(data).hexdigest())
    assert max(fake.chunk_sizes) <= 256 * 1024 and len(fake.chunk_sizes) > 10
    body = s3.get_object(Bucket="b", Key="big")["Body"].read()
    assert len(body) == len(data) and set(body) == {ord("z")}


def test_tampered_streamed_body_is_rejected(server: tuple[EmbeddedServer, RecordingS3]) -> None:
    srv, fake = server
    account = srv.cove.account
    data = b"a" * SIZE
    request = AWSRequest(method="PUT", url=f"{srv.endpoint_url}/b/tampered", data=data)
    request.headers["x-amz-content-sha256"] = hashlib.sha256(data).hexdigest()
    S3SigV4Auth(Credentials(account.access_key_id, account.secret_access_key), "s3", "us-east-1").add_auth(
        request
    )
    headers = dict(request.headers.items())
    resp = httpx.put(request.url, content=b"b" * SIZE, headers=headers, timeout=30)
    assert resp.status_code == 400 and "XAmzContentSHA256Mismatch" in resp.text
    assert (
        "tampered" not in fake.objects
        or fake.objects["tampered"][1] != hashlib.sha256(b"b" * SIZE).hexdigest()
    )


def test_large_rpc_bodies_are_read_whole(server: tuple[EmbeddedServer, RecordingS3]) -> None:
    srv, _ = server
    iam = make_client(srv, "iam")
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName="r", AssumeRolePolicyDocument="{" + " " * (2 << 20) + "}")
    # Authenticated and parsed in full: the server's own validation answers.
    assert exc.value.response["Error"]["Code"] in ("ValidationError", "MalformedPolicyDocument")
