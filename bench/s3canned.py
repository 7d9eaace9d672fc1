"""An S3 server that stores nothing: every GET answers the same pre-built bytes, every PUT is read and
dropped. Run by bench/s3.py under the same uvicorn settings as Cove, it measures what boto3, the
transfer manager and the HTTP stack cost on their own: the ceiling over any S3 server's figures on
this machine.

    python bench/s3canned.py PORT SIZE   # SIZE: the byte length HEAD and GET report for large keys
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]

MIB = 1 << 20
SMALL = 16 * 1024
_ETAG = b'"0123456789abcdef0123456789abcdef"'
_PIECE = bytes(range(256)) * (MIB // 256)
_COMMON = [(b"etag", _ETAG), (b"last-modified", b"Thu, 01 Jan 2026 00:00:00 GMT")]


def _xml(name: str, inner: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><{name} xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        f"{inner}</{name}>"
    ).encode()


def _size(path: str, large: int) -> int:
    return SMALL if "/small" in path else large


def make_app(large: int) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        method, path, query = scope["method"], scope["path"], scope["query_string"]
        if method in ("GET", "HEAD") and path.count("/") >= 2:
            await _object(scope, send, _size(path, large))
            return
        body = b""
        if method == "POST" and query.startswith(b"uploads"):
            body = _xml(
                "InitiateMultipartUploadResult", "<Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId>"
            )
        elif method == "POST":
            body = _xml("CompleteMultipartUploadResult", f"<ETag>{_ETAG.decode()}</ETag>")
        headers = [*_COMMON, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


async def _object(scope: Scope, send: Send, size: int) -> None:
    start, end, status = 0, size, 200
    headers = [*_COMMON, (b"content-type", b"binary/octet-stream")]
    for name, value in scope["headers"]:
        if name == b"range":
            first, _, last = value.decode().removeprefix("bytes=").partition("-")
            start, end, status = int(first), min(size, int(last) + 1) if last else size, 206
            headers.append((b"content-range", f"bytes {start}-{end - 1}/{size}".encode()))
    headers.append((b"content-length", str(end - start).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    if scope["method"] == "HEAD":
        await send({"type": "http.response.body", "body": b""})
        return
    left = end - start
    while left > MIB:
        await send({"type": "http.response.body", "body": _PIECE, "more_body": True})
        left -= MIB
    await send({"type": "http.response.body", "body": _PIECE[:left]})


if __name__ == "__main__":
    uvicorn.run(
        make_app(int(sys.argv[2])),
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_level="warning",
        loop="uvloop",
        http="httptools",
    )
