"""The ASGI edge of the gateway: bytes in, bytes out, with a trusted source context per listener."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import anyio.from_thread
import anyio.to_thread

from cove.aws.context import SourceContext
from cove.aws.gateway import Gateway
from cove.aws.http import HttpRequest, HttpResponse

__all__ = ["STREAM_THRESHOLD", "GatewayApp", "Receive", "ReceiveStream", "Scope", "Send", "loopback_source"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
SourceFactory = Callable[[Scope], SourceContext]


def loopback_source(scope: Scope) -> SourceContext:
    """The host listener is "the internet": the client's address is its aws:SourceIp."""
    client = scope.get("client") or ("127.0.0.1", 0)
    return SourceContext(source_ip=client[0], secure_transport=scope.get("scheme") == "https")


async def read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        if chunk:
            chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def to_request(scope: Scope, body: bytes) -> HttpRequest:
    headers: dict[str, str] = {}
    for raw_name, raw_value in scope["headers"]:
        name = raw_name.decode("latin-1").lower()
        value = raw_value.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else scope["path"]
    return HttpRequest(
        method=scope["method"],
        path=path,
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=body,
        scheme=scope.get("scheme", "http"),
    )


# Bodies larger than this are streamed to the handler instead of read into memory first.
STREAM_THRESHOLD = 1 << 20
# A streamed body crosses between the event loop and the handler's thread in pieces of at least
# this much (uvicorn hands it over 64 KiB at a time): each crossing costs a thread handoff.
_PULL_BYTES = 1 << 20
# A streamed response is read (and decrypted) in batches of about this much, the next batch while
# the event loop sends the last one.
_BATCH_BYTES = 2 << 20

# Threads for handlers that may block (writes wait on database locks and fsync) and for reading
# streamed response bodies, so the event loop never waits on either. A plain executor costs half of
# anyio's to_thread per call; anyio stays where the thread must call back into the loop (uploads).
_WORKERS = ThreadPoolExecutor(max_workers=40, thread_name_prefix="cove-worker")


class ReceiveStream:
    """A request body read on demand from the ASGI ``receive`` channel, from a worker thread."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._buffer = bytearray()
        self._done = False

    def _pull(self) -> None:
        body, self._done = anyio.from_thread.run(self._next_bytes)
        self._buffer += body

    @property
    def finished(self) -> bool:
        return self._done and not self._buffer

    async def _next_bytes(self) -> tuple[bytes, bool]:
        """At least _PULL_BYTES of body (less at its end), and whether that was the end."""
        pieces: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ConnectionError("the client went away before sending the whole body")
            piece = message.get("body", b"")
            pieces.append(piece)
            size += len(piece)
            if not message.get("more_body", False):
                return b"".join(pieces), True
            if size >= _PULL_BYTES:
                return b"".join(pieces), False

    def read(self, size: int = -1, /) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) < size):
            self._pull()
        if size < 0 or size >= len(self._buffer):
            data = bytes(self._buffer)
            self._buffer.clear()
            return data
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


def _streamed(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value or b"0") > STREAM_THRESHOLD
        if name == b"transfer-encoding" and b"chunked" in value.lower():
            return True
    return False


class GatewayApp:
    def __init__(self, gateway: Gateway, source: SourceFactory = loopback_source) -> None:
        self.gateway = gateway
        self.source = source

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if _streamed(scope):
            # The handler pulls the body as it goes; everything runs in a worker thread.
            request = to_request(scope, b"")
            stream = request.stream = ReceiveStream(receive)
            prepared = await anyio.to_thread.run_sync(self.gateway.prepare, request, self.source(scope))
            if isinstance(prepared, HttpResponse):
                streamed = prepared
            else:
                streamed = await anyio.to_thread.run_sync(self.gateway.run, prepared)
            if not stream.finished:
                # The request failed before its body was read: the rest of it is still on the wire,
                # so this connection cannot carry another request.
                streamed.headers["connection"] = "close"
            await self._send(scope, streamed, send)
            return
        request = to_request(scope, await read_body(receive))
        call = self.gateway.prepare(request, self.source(scope))
        if isinstance(call, HttpResponse):
            response = call
        elif call.inline:
            started = self.gateway.start(call)
            if isinstance(started, Future):
                # A deferred output (a write waiting for its group commit): await it on the loop.
                try:
                    response = self.gateway.respond(call, await asyncio.wrap_future(started))
                except Exception as exc:
                    response = self.gateway.fail(call, exc)
            else:
                response = started
        else:
            # Writes may wait on database locks or fsync: keep the event loop free for other clients.
            response = await asyncio.get_running_loop().run_in_executor(_WORKERS, self.gateway.run, call)
        await self._send(scope, response, send)

    async def _send(self, scope: Scope, response: HttpResponse, send: Send) -> None:
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
        if response.stream is None and not any(k.lower() == "content-length" for k in response.headers):
            headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        if response.stream is None or scope["method"] == "HEAD":
            body = b"" if scope["method"] == "HEAD" else response.body
            await send({"type": "http.response.body", "body": body})
            return
        await _stream(response.stream, send)


def _take(chunks: Iterator[bytes]) -> list[bytes]:
    """The next chunks, about _BATCH_BYTES of them; empty at the end."""
    batch: list[bytes] = []
    size = 0
    for chunk in chunks:
        batch.append(chunk)
        size += len(chunk)
        if size >= _BATCH_BYTES:
            break
    return batch


async def _stream(chunks: Iterator[bytes], send: Send) -> None:
    """Send a streamed body. Reading (and decrypting) blocks, so it runs in a worker thread, one
    batch ahead of the sending: the socket is never idle while the next batch is read."""
    ahead: Future[list[bytes]] | None = _WORKERS.submit(_take, chunks)
    try:
        while ahead is not None:
            batch = await asyncio.wrap_future(ahead)
            ahead = _WORKERS.submit(_take, chunks) if batch else None
            for chunk in batch:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
    finally:
        close = getattr(chunks, "close", None)
        if callable(close):
            if ahead is None:
                close()
            else:
                # Cancelled or failed with a read in flight: the iterator (and the file it reads)
                # is closed when that read is over, never under it.
                ahead.add_done_callback(lambda _: close())
    await send({"type": "http.response.body", "body": b""})
