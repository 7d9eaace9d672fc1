"""A server that does nothing: it answers every request with the same pre-built STS and IAM
responses. Run by bench/api.py under the same uvicorn settings as Cove, it measures what boto3
and the HTTP stack cost on their own, the floor under any server's figure.

    python bench/canned.py PORT
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import uvicorn

Scope = MutableMapping[str, Any]

_CALLER = (
    b'<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>'
    b"<Arn>arn:aws:iam::123456789012:root</Arn><UserId>123456789012</UserId><Account>123456789012</Account>"
    b"</GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata>"
    b"</GetCallerIdentityResponse>"
)
_ROLE = (
    b'<GetRoleResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><GetRoleResult><Role><Path>/</Path>'
    b"<RoleName>bench-role</RoleName><RoleId>AROAAAAAAAAAAAAAAAAAA</RoleId>"
    b"<Arn>arn:aws:iam::123456789012:role/bench-role</Arn><CreateDate>2026-01-01T00:00:00Z</CreateDate>"
    b"<AssumeRolePolicyDocument>%7B%7D</AssumeRolePolicyDocument><MaxSessionDuration>3600</MaxSessionDuration>"
    b"</Role></GetRoleResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetRoleResponse>"
)


async def app(
    scope: Scope, receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
) -> None:
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    payload = _ROLE if b"GetRole" in body else (_CALLER if b"GetCallerIdentity" in body else b"{}")
    if b"CreateRole" in body:
        payload = _ROLE.replace(b"GetRole", b"CreateRole")
    headers = [(b"content-type", b"text/xml"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


if __name__ == "__main__":
    uvicorn.run(
        app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", loop="uvloop", http="httptools"
    )
