"""A gateway endpoint's listener serves S3 only: requests signed for another service are refused
with S3's AuthorizationHeaderMalformed, as the service behind an S3 endpoint would answer them."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cove.listeners import s3_only, signed_service

CREDENTIALS = Credentials("AKIDEXAMPLE", "secret")


def _scope(service: str | None, *, presigned: bool = False) -> dict[str, Any]:
    request = AWSRequest(method="GET", url="http://s3.us-east-1.amazonaws.com/bucket/key?x=1")
    if service is not None and presigned:
        S3SigV4QueryAuth(CREDENTIALS, service, "us-east-1", expires=60).add_auth(request)
    elif service is not None:
        SigV4Auth(CREDENTIALS, service, "us-east-1").add_auth(request)
    url = urlsplit(request.url)
    return {
        "type": "http",
        "method": "GET",
        "path": url.path,
        "query_string": url.query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in request.headers.items()],
    }


def _call(scope: dict[str, Any]) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def downstream(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"served"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        sent.append(message)

    async def run() -> None:
        await s3_only(downstream)(scope, receive, send)

    asyncio.run(run())
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_the_signed_service_is_read_from_the_header_or_the_presigned_query() -> None:
    assert signed_service(_scope("sts")) == "sts"
    assert signed_service(_scope("s3")) == "s3"
    assert signed_service(_scope("s3", presigned=True)) == "s3"
    assert signed_service(_scope(None)) is None


def test_only_s3_is_served_through_a_gateway_endpoint() -> None:
    assert _call(_scope("s3")) == (200, b"served")
    assert _call(_scope("s3", presigned=True)) == (200, b"served")
    assert _call(_scope(None)) == (200, b"served")  # anonymous: S3 decides
    status, body = _call(_scope("sts"))
    assert status == 400
    assert b"<Code>AuthorizationHeaderMalformed</Code>" in body
    assert b"incorrect service &quot;sts&quot;. This endpoint belongs to &quot;s3&quot;." in body
