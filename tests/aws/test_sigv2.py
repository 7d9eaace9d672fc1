"""S3's legacy HMAC-SHA1 signatures, signed by botocore's own signers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cove.aws.http import HttpRequest
from cove.aws.sigv2 import parse_signature_v2, verify_v2
from cove.aws.sigv4 import AuthError, AuthErrorKind

CREDS = Credentials("AKIAEXAMPLE000000000", "secret/key+example")


def _to_http(request: AWSRequest) -> HttpRequest:
    split = urlsplit(request.url)
    body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
    return HttpRequest(
        method=request.method,
        path=split.path,
        query=split.query,
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
    )


def _header_signed(url: str, method: str = "GET", **headers: str) -> HttpRequest:
    request = AWSRequest(method=method, url=url, headers=headers)
    HmacV1Auth(CREDS).add_auth(request)
    return _to_http(request)


def _presigned(url: str, expires: int = 60) -> HttpRequest:
    request = AWSRequest(method="GET", url=url)
    HmacV1QueryAuth(CREDS, expires=expires).add_auth(request)
    return _to_http(request)


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost:4600/bucket/key",
        "http://localhost:4600/bucket/dir/a%20b.txt?versionId=3",
        "http://localhost:4600/bucket?uploads",
        "http://localhost:4600/bucket/k?response-content-type=text%2Fplain&other=ignored",
    ],
)
def test_botocore_signatures_verify(url: str) -> None:
    now = datetime.now(UTC)
    for request in (
        _header_signed(url, **{"x-amz-meta-a": "1", "Content-Type": "text/plain"}),
        _presigned(url),
    ):
        info = parse_signature_v2(request)
        assert info is not None and info.access_key_id == CREDS.access_key
        verify_v2(request, info, CREDS.secret_key, now=now)


def test_wrong_secret_and_tampering_fail() -> None:
    now = datetime.now(UTC)
    request = _presigned("http://localhost:4600/bucket/key")
    info = parse_signature_v2(request)
    assert info is not None
    with pytest.raises(AuthError) as exc:
        verify_v2(request, info, "other", now=now)
    assert exc.value.kind is AuthErrorKind.BAD_SIGNATURE
    request.path = "/bucket/other"
    with pytest.raises(AuthError):
        verify_v2(request, info, CREDS.secret_key, now=now)


def test_expiry_and_skew() -> None:
    presigned = _presigned("http://localhost:4600/bucket/key", expires=10)
    info = parse_signature_v2(presigned)
    assert info is not None
    with pytest.raises(AuthError) as exc:
        verify_v2(presigned, info, CREDS.secret_key, now=datetime.now(UTC) + timedelta(seconds=30))
    assert exc.value.kind is AuthErrorKind.EXPIRED
    signed = _header_signed("http://localhost:4600/bucket/key")
    info = parse_signature_v2(signed)
    assert info is not None
    with pytest.raises(AuthError) as exc:
        verify_v2(signed, info, CREDS.secret_key, now=datetime.now(UTC) + timedelta(minutes=16))
    assert exc.value.kind is AuthErrorKind.EXPIRED


def test_unsigned_request_has_no_v2_signature() -> None:
    assert parse_signature_v2(HttpRequest("GET", "/bucket/key", "", {})) is None
