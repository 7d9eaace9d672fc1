"""Group commit of object writes: PUTs in flight together are placed and committed as one batch,
each acknowledged only once durable, and one write's failure does not fail the others."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cove.server import EmbeddedServer, free_port
from cove.services.s3.provider import S3Provider
from cove.settings import Settings
from cove.storage import StagedBlob
from tests.conftest import make_client


class Gate:
    """Holds the committer in its first ``place`` until released, counting what it was handed."""

    def __init__(self, provider: S3Provider) -> None:
        self.provider = provider
        self.batches: list[int] = []
        self.submitted = 0
        self.release = threading.Event()
        self._place = provider.blobs.place
        self._submit = provider.committer.submit

    def place(self, staged: Sequence[StagedBlob], **options: Any) -> list[BaseException | None]:
        self.batches.append(len(staged))
        self.release.wait(30)
        return self._place(staged, **options)

    def submit(self, *args: Any) -> Future[Any]:
        self.submitted += 1
        return self._submit(*args)

    def wait_for(self, count: int) -> None:
        deadline = time.monotonic() + 30
        while self.submitted < count:
            assert time.monotonic() < deadline, f"only {self.submitted} of {count} writes arrived"
            time.sleep(0.01)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    with EmbeddedServer(Settings(state_dir=tmp_path / "state", port=free_port())) as srv:
        yield srv


@pytest.fixture
def gate(server: EmbeddedServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gate]:
    provider = server.cove.providers["s3"]
    assert isinstance(provider, S3Provider)
    gate = Gate(provider)
    monkeypatch.setattr(provider.blobs, "place", gate.place)
    monkeypatch.setattr(provider.committer, "submit", gate.submit)
    yield gate
    gate.release.set()


def _blob_files(server: EmbeddedServer) -> set[str]:
    return {p.name for p in (server.cove.settings.state_dir / "blobs" / "blobs").rglob("*") if p.is_file()}


def _in_parallel(calls: list[Callable[[], Any]]) -> list[Future[Any]]:
    pool = ThreadPoolExecutor(len(calls))
    futures = [pool.submit(call) for call in calls]
    pool.shutdown(wait=False)
    return futures


def _put(s3: Any, bucket: str, key: str, body: bytes, **extra: str) -> Callable[[], Any]:
    return lambda: s3.put_object(Bucket=bucket, Key=key, Body=body, **extra)


def test_writes_in_flight_together_commit_as_one_batch(server: EmbeddedServer, gate: Gate) -> None:
    s3 = make_client(server, "s3")
    s3.create_bucket(Bucket="group")
    (first,) = _in_parallel([lambda: s3.put_object(Bucket="group", Key="first", Body=b"first")])
    gate.wait_for(1)
    bodies = {f"k{i}": f"body {i}".encode() * (i + 1) for i in range(10)}
    rest = _in_parallel([_put(s3, "group", k, b) for k, b in bodies.items()])
    gate.wait_for(11)
    time.sleep(0.2)
    # Nothing is acknowledged before it is durable.
    assert not first.done() and not any(f.done() for f in rest)
    gate.release.set()
    assert first.result(timeout=30)["ETag"]
    for future in rest:
        assert future.result(timeout=30)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert gate.batches == [1, 10]
    for key, body in bodies.items():
        assert s3.get_object(Bucket="group", Key=key)["Body"].read() == body
    assert len(_blob_files(server)) == 11


def test_a_failed_write_in_a_batch_fails_alone(server: EmbeddedServer, gate: Gate) -> None:
    s3 = make_client(server, "s3")
    s3.create_bucket(Bucket="race")
    (blocker,) = _in_parallel([lambda: s3.put_object(Bucket="race", Key="blocker", Body=b"b")])
    gate.wait_for(1)
    # Six creations of one key, each passing the early check (nothing there yet), in one batch:
    # the first to commit wins, the others find the object there when they commit.
    racers = _in_parallel(
        [_put(s3, "race", "only-once", f"racer {i}".encode(), IfNoneMatch="*") for i in range(6)]
    )
    gate.wait_for(7)
    gate.release.set()
    blocker.result(timeout=30)
    won: list[int] = []
    for i, future in enumerate(racers):
        try:
            future.result(timeout=30)
            won.append(i)
        except ClientError as exc:
            assert exc.response["Error"]["Code"] == "PreconditionFailed"
            assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert len(won) == 1
    assert s3.get_object(Bucket="race", Key="only-once")["Body"].read() == f"racer {won[0]}".encode()
    assert gate.batches == [1, 6]
    # The losers' blobs went with their failures: one file per object.
    assert len(_blob_files(server)) == 2


def test_a_replaced_object_loses_its_blob_after_the_commit(server: EmbeddedServer) -> None:
    s3 = make_client(server, "s3")
    s3.create_bucket(Bucket="again")
    s3.put_object(Bucket="again", Key="k", Body=b"old")
    before = _blob_files(server)
    s3.put_object(Bucket="again", Key="k", Body=b"new")
    after = _blob_files(server)
    assert len(after) == 1 and after != before
    assert s3.get_object(Bucket="again", Key="k")["Body"].read() == b"new"


def test_sse_kms_writes_in_memory_and_streamed(server: EmbeddedServer) -> None:
    s3 = make_client(server, "s3")
    s3.create_bucket(Bucket="kms-writes")
    small, large = b"small" * 100, bytes(range(256)) * 8192  # 2 MiB: streamed to its handler
    for key, body in (("small", small), ("large", large)):
        out = s3.put_object(Bucket="kms-writes", Key=key, Body=body, ServerSideEncryption="aws:kms")
        assert out["ServerSideEncryption"] == "aws:kms"
        got = s3.get_object(Bucket="kms-writes", Key=key)
        assert got["ServerSideEncryption"] == "aws:kms"
        assert got["Body"].read() == body
