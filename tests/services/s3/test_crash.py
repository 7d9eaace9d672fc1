"""Crash safety: a failure between the blob write and the metadata commit loses nothing committed,
and orphan blobs are swept when the server starts."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cove.server import EmbeddedServer, free_port
from cove.services.s3 import objects
from cove.settings import Settings
from cove.storage import Encryption
from tests.conftest import make_client


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    with EmbeddedServer(Settings(state_dir=tmp_path / "state", port=free_port())) as srv:
        yield srv


def _blob_files(server: EmbeddedServer) -> set[str]:
    root = server.cove.settings.state_dir / "blobs" / "blobs"
    return {p.name for p in root.rglob("*") if p.is_file()}


def test_failure_before_commit_keeps_the_old_object(
    server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    s3 = make_client(server, "s3")
    s3.create_bucket(Bucket="crash")
    s3.put_object(Bucket="crash", Key="k", Body=b"old data")
    before = _blob_files(server)

    def crash(*args: Any, **kwargs: Any) -> list[str]:
        raise RuntimeError("power cut between blob write and commit")

    monkeypatch.setattr(objects, "replace_object", crash)
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket="crash", Key="k", Body=b"new data " * 200_000)  # streamed
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    monkeypatch.undo()
    assert s3.get_object(Bucket="crash", Key="k")["Body"].read() == b"old data"
    assert _blob_files(server) == before  # the uncommitted blob went with the failure


def test_orphans_are_swept_at_start(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path / "state", port=free_port())
    with EmbeddedServer(settings) as srv:
        s3 = make_client(srv, "s3")
        s3.create_bucket(Bucket="sweep")
        s3.put_object(Bucket="sweep", Key="kept", Body=b"committed")
        provider: Any = srv.cove.providers["s3"]
        orphan = provider.blobs.write([b"never committed"], encryption=Encryption("AES256"))
        kept = _blob_files(srv) - {orphan.blob_id}
        old = time.time() - 7200
        os.utime(provider.blobs.path(orphan.blob_id), (old, old))
        for blob_id in kept:
            os.utime(provider.blobs.path(blob_id), (old, old))
    with EmbeddedServer(settings.with_(port=free_port())) as srv:
        assert _blob_files(srv) == kept
        assert make_client(srv, "s3").get_object(Bucket="sweep", Key="kept")["Body"].read() == b"committed"


def test_tampered_stream_commits_nothing(server: EmbeddedServer) -> None:
    import hashlib

    import httpx
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    s3 = make_client(server, "s3")
    s3.create_bucket(Bucket="tamper")
    data = b"a" * (2 * 1024 * 1024)
    request = AWSRequest(method="PUT", url=f"{server.endpoint_url}/tamper/obj", data=data)
    request.headers["x-amz-content-sha256"] = hashlib.sha256(data).hexdigest()
    account = server.cove.account
    S3SigV4Auth(Credentials(account.access_key_id, account.secret_access_key), "s3", "us-east-1").add_auth(
        request
    )
    before = _blob_files(server)
    resp = httpx.put(request.url, content=b"b" * len(data), headers=dict(request.headers.items()), timeout=30)
    assert resp.status_code == 400 and "XAmzContentSHA256Mismatch" in resp.text
    with pytest.raises(ClientError):
        s3.head_object(Bucket="tamper", Key="obj")
    assert _blob_files(server) == before
