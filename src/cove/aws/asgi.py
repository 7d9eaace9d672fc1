"""The ASGI edge of the gateway: bytes in, bytes out, with a trusted source context per listener."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread

from cove.aws.context import SourceContext
from cove.aws.gateway import Gateway
from cove.aws.http import HttpRequest, HttpResponse

__all__ = ["GatewayApp", "Receive", "Scope", "Send", "loopback_source"]

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


class GatewayApp:
    def __init__(self, gateway: Gateway, source: SourceFactory = loopback_source) -> None:
        self.gateway = gateway
        self.source = source

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = to_request(scope, await read_body(receive))
        call = self.gateway.prepare(request, self.source(scope))
        if isinstance(call, HttpResponse):
            response = call
        elif call.inline:
            response = self.gateway.run(call)
        else:
            # Writes may wait on database locks or fsync: keep the event loop free for other clients.
            response = await anyio.to_thread.run_sync(self.gateway.run, call)
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
        if "content-length" not in response.headers:
            headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        body = b"" if scope["method"] == "HEAD" else response.body
        await send({"type": "http.response.body", "body": body})
