"""Deferred outputs: a handler in ``Provider.deferring`` runs on the event loop and returns a Future;
the edge keeps serving other requests while it waits and answers when the Future is done."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cove.aws.context import RequestContext
from cove.aws.errors import ServiceError
from cove.aws.provider import Provider, operation
from cove.server import EmbeddedServer, free_port
from cove.settings import Settings
from tests.conftest import make_client


class DeferringS3(Provider):
    """PutObject answers only when the test releases it; HeadObject answers at once."""

    service = "s3"
    self_authorized = frozenset({"PutObject", "HeadObject"})
    deferring = frozenset({"PutObject"})

    def __init__(self) -> None:
        self.pending: list[tuple[Future[dict[str, Any]], str]] = []
        self.threads: list[str] = []
        self.arrived = threading.Semaphore(0)

    @operation("PutObject")
    def put_object(self, ctx: RequestContext, params: dict[str, Any]) -> Future[dict[str, Any]]:
        self.threads.append(threading.current_thread().name)
        future: Future[dict[str, Any]] = Future()
        self.pending.append((future, params["Key"]))
        self.arrived.release()
        return future

    @operation("HeadObject")
    def head_object(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"ContentLength": 0, "ETag": '"head"'}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedServer, DeferringS3]]:
    srv = EmbeddedServer(Settings(state_dir=tmp_path_factory.mktemp("deferred"), port=free_port()))
    fake = DeferringS3()
    srv.cove.gateway.providers["s3"] = fake
    with srv:
        yield srv, fake


def test_a_deferred_write_runs_on_the_loop_and_answers_when_done(
    server: tuple[EmbeddedServer, DeferringS3],
) -> None:
    srv, fake = server
    s3 = make_client(srv, "s3")
    with ThreadPoolExecutor(2) as pool:
        put = pool.submit(s3.put_object, Bucket="b", Key="later", Body=b"x")
        assert fake.arrived.acquire(timeout=10)
        # The handler ran on the event loop (the server's thread), not in a worker.
        assert fake.threads[-1] == "cove-server"
        # Waiting for it holds nothing up: another request is served meanwhile.
        assert s3.head_object(Bucket="b", Key="other")["ETag"] == '"head"'
        assert not put.done()
        future, key = fake.pending.pop()
        assert key == "later"
        future.set_result({"ETag": '"done"'})
        assert put.result(timeout=10)["ETag"] == '"done"'


def test_a_deferred_failure_is_the_response(server: tuple[EmbeddedServer, DeferringS3]) -> None:
    srv, fake = server
    s3 = make_client(srv, "s3")
    with ThreadPoolExecutor(1) as pool:
        put = pool.submit(s3.put_object, Bucket="b", Key="fails", Body=b"x")
        assert fake.arrived.acquire(timeout=10)
        future, _ = fake.pending.pop()
        future.set_exception(ServiceError("Not today", code="PreconditionFailed", status=412))
        with pytest.raises(ClientError) as exc:
            put.result(timeout=10)
    assert exc.value.response["Error"]["Code"] == "PreconditionFailed"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    # An unexpected error is an internal failure, as from any handler (which the client retries).
    with ThreadPoolExecutor(1) as pool:
        put = pool.submit(s3.put_object, Bucket="b", Key="breaks", Body=b"x")
        while not put.done():
            if fake.arrived.acquire(timeout=0.1):
                future, _ = fake.pending.pop()
                future.set_exception(OSError(5, "disk on fire"))
        with pytest.raises(ClientError) as exc:
            put.result()
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_a_streamed_body_waits_in_its_worker_thread(server: tuple[EmbeddedServer, DeferringS3]) -> None:
    srv, fake = server
    s3 = make_client(srv, "s3")
    with ThreadPoolExecutor(1) as pool:
        put = pool.submit(s3.put_object, Bucket="b", Key="big", Body=b"y" * (2 << 20))
        assert fake.arrived.acquire(timeout=10)
        assert fake.threads[-1] != "cove-server"
        future, _ = fake.pending.pop()
        future.set_result({"ETag": '"big"'})
        assert put.result(timeout=10)["ETag"] == '"big"'
