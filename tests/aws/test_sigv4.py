from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from cove.aws.http import HttpRequest
from cove.aws.sigv4 import (
    AuthError,
    AuthErrorKind,
    auth_error_to_service_error,
    parse_signature,
    verify,
)

AKID = "AKIDEXAMPLE000000001"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SIGNED_AT = datetime(2026, 1, 1, 0, 10, 0, tzinfo=UTC)
ENDPOINT = "http://localhost:4566"


@pytest.fixture(autouse=True)
def _frozen_signing_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda *a, **k: SIGNED_AT.replace(tzinfo=None))
    yield


def to_http(aws_request: AWSRequest) -> HttpRequest:
    """What Cove's edge would receive for a botocore request: raw path and query, lower-case
    headers, and the Host header the HTTP client adds."""
    prepared = aws_request.prepare()
    parts = urlsplit(prepared.url)
    headers = {name.lower(): value for name, value in prepared.headers.items()}
    headers.setdefault("host", parts.netloc)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    return HttpRequest(
        method=prepared.method,
        path=parts.path,
        query=parts.query,
        headers=headers,
        body=body,
        scheme=parts.scheme,
    )


def sign(
    method: str,
    url: str,
    *,
    service: str,
    region: str = "us-east-1",
    data: Any = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    token: str | None = None,
    secret: str = SECRET,
) -> HttpRequest:
    request = AWSRequest(method=method, url=url, data=data, headers=headers or {}, params=params or {})
    credentials = Credentials(AKID, secret, token)
    signer_cls = S3SigV4Auth if service == "s3" else SigV4Auth
    signer_cls(credentials, service, region).add_auth(request)
    return to_http(request)


def presign(
    method: str,
    url: str,
    *,
    service: str,
    expires: int = 3600,
    token: str | None = None,
    region: str = "us-east-1",
) -> HttpRequest:
    request = AWSRequest(method=method, url=url)
    credentials = Credentials(AKID, SECRET, token)
    signer_cls = S3SigV4QueryAuth if service == "s3" else SigV4QueryAuth
    signer_cls(credentials, service, region, expires=expires).add_auth(request)
    return to_http(request)


def check(request: HttpRequest, *, secret: str = SECRET, now: datetime = SIGNED_AT) -> None:
    info = parse_signature(request)
    assert info is not None
    verify(request, info, secret, now=now)


def rejection(request: HttpRequest, *, secret: str = SECRET, now: datetime = SIGNED_AT) -> AuthError:
    with pytest.raises(AuthError) as caught:
        check(request, secret=secret, now=now)
    return caught.value


def sts_call(token: str | None = None) -> HttpRequest:
    return sign(
        "POST",
        ENDPOINT + "/",
        service="sts",
        data={"Action": "GetCallerIdentity", "Version": "2011-06-15"},
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        token=token,
    )


def kms_call() -> HttpRequest:
    return sign(
        "POST",
        ENDPOINT + "/",
        service="kms",
        data=b'{"KeyId": "alias/x", "Plaintext": "aGk="}',
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "TrentService.Encrypt"},
    )


# --- accepted requests ------------------------------------------------------------------------


def test_parse_header_signature() -> None:
    request = sts_call(token="session-token")
    info = parse_signature(request)
    assert info is not None
    assert info.access_key_id == AKID
    assert info.date == SIGNED_AT
    assert info.amz_date == "20260101T001000Z"
    assert (info.scope.date, info.scope.region, info.scope.service) == ("20260101", "us-east-1", "sts")
    assert "host" in info.signed_headers and "x-amz-date" in info.signed_headers
    assert info.session_token == "session-token"
    assert not info.presigned and info.expires is None
    verify(request, info, SECRET, now=SIGNED_AT)


def test_unsigned_request_has_no_signature() -> None:
    assert parse_signature(HttpRequest("GET", "/", "Action=ListUsers", {"host": "localhost"})) is None


@pytest.mark.parametrize(
    "request_factory",
    [
        sts_call,
        kms_call,
        # Empty-body GETs, query protocol and rest-json.
        lambda: sign("GET", ENDPOINT + "/?Action=ListUsers&Version=2010-05-08", service="iam"),
        lambda: sign("GET", ENDPOINT + "/2015-03-31/functions", service="lambda"),
        lambda: sign("GET", ENDPOINT + "/", service="s3"),
        lambda: sign("GET", ENDPOINT + "/bucket?list-type=2&prefix=a%2Fb", service="s3"),
        lambda: sign("PUT", ENDPOINT + "/bucket/key", service="s3", data=b"hello world"),
        # S3 sub-resource without a value.
        lambda: sign("POST", ENDPOINT + "/bucket/key?uploads", service="s3"),
        # Non-default port and a session token header.
        lambda: sign("GET", "http://127.0.0.1:8080/", service="sts", token="tok"),
    ],
)
def test_botocore_signed_requests_verify(request_factory: Any) -> None:
    check(request_factory())


@pytest.mark.parametrize("service", ["lambda", "sagemaker", "s3"])
def test_paths_with_spaces_and_unicode(service: str) -> None:
    # botocore's serializers percent-encode labels before signing; the raw path is what arrives.
    path = "/bucket/my%20key/%C3%BC%E2%82%AC/a%2Bb"
    check(sign("GET", ENDPOINT + path, service=service))
    check(sign("PUT", ENDPOINT + path, service=service, data=b"x"))


def test_s3_paths_are_not_normalized_but_others_are() -> None:
    # S3 signs "//" and ".." literally; other services sign the dot-free, collapsed path.
    check(sign("GET", ENDPOINT + "/bucket//a/../b", service="s3"))
    request = sign("GET", ENDPOINT + "/a/./b//c", service="lambda")
    check(request)
    # The normalized path is what was signed, so sending it is equivalent for non-S3...
    request.path = "/a/b/c"
    check(request)
    # ...but not for S3.
    s3_request = sign("GET", ENDPOINT + "/bucket//a", service="s3")
    s3_request.path = "/bucket/a"
    assert rejection(s3_request).kind is AuthErrorKind.BAD_SIGNATURE


def test_s3_unsigned_payload_accepts_any_body() -> None:
    request = sign(
        "PUT",
        ENDPOINT + "/bucket/key",
        service="s3",
        data=b"original",
        headers={"X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD"},
    )
    # botocore's S3 signer replaces the header with the real hash unless payload signing is off.
    request = _resign_with_header(request, "x-amz-content-sha256", "UNSIGNED-PAYLOAD", service="s3")
    assert request.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    check(request)
    request.body = b"anything else"
    check(request)


def test_s3_streaming_payload_value_is_signed_literally() -> None:
    value = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    request = _resign_with_header(
        sign("PUT", ENDPOINT + "/bucket/key", service="s3"), "x-amz-content-sha256", value, service="s3"
    )
    check(request)
    request.headers["x-amz-content-sha256"] = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
    assert rejection(request).kind is AuthErrorKind.BAD_SIGNATURE


def _resign_with_header(request: HttpRequest, name: str, value: str, *, service: str) -> HttpRequest:
    """Sign with plain SigV4 (which keeps a given X-Amz-Content-SHA256 as the payload line)."""
    url = f"{request.scheme}://{request.host}{request.path}" + (f"?{request.query}" if request.query else "")
    headers = {k: v for k, v in request.headers.items() if k not in ("authorization", "x-amz-date", name)}
    headers[name] = value
    aws_request = AWSRequest(method=request.method, url=url, data=request.body, headers=headers)
    SigV4Auth(Credentials(AKID, SECRET), service, "us-east-1").add_auth(aws_request)
    return to_http(aws_request)


def test_non_s3_declared_payload_hash_is_checked_against_body() -> None:
    request = _resign_with_header(
        kms_call(), "x-amz-content-sha256", botocore.auth.sha256(kms_call().body).hexdigest(), service="kms"
    )
    check(request)
    request.body = b'{"KeyId": "alias/other"}'
    assert rejection(request).kind is AuthErrorKind.PAYLOAD_MISMATCH


def test_date_header_instead_of_x_amz_date() -> None:
    request = sign(
        "GET",
        ENDPOINT + "/?Action=ListUsers&Version=2010-05-08",
        service="iam",
        headers={"Date": "Thu, 01 Jan 2026 00:00:00 GMT"},
    )
    assert "x-amz-date" not in request.headers
    info = parse_signature(request)
    assert info is not None and info.date == SIGNED_AT
    check(request)


def test_plus_encoded_query_verifies_via_aws_normal_form() -> None:
    # botocore signs params as %20 but AWSRequest.prepare() puts "+" on the wire.
    request = sign(
        "GET", ENDPOINT + "/", service="iam", params={"Action": "ListUsers", "PathPrefix": "/a b/"}
    )
    assert "+" in request.query
    check(request)


def test_presigned_urls_verify() -> None:
    s3_request = presign("GET", ENDPOINT + "/bucket/my%20key/%C3%BC", service="s3", token="tok")
    info = parse_signature(s3_request)
    assert info is not None
    assert info.presigned and info.expires == 3600 and info.session_token == "tok"
    verify(s3_request, info, SECRET, now=SIGNED_AT + timedelta(minutes=59))
    check(presign("GET", ENDPOINT + "/?Action=GetCallerIdentity&Version=2011-06-15", service="sts"))
    check(presign("PUT", ENDPOINT + "/bucket/key", service="s3"))


# --- rejections -------------------------------------------------------------------------------


def test_wrong_secret() -> None:
    assert rejection(sts_call(), secret="not-the-secret").kind is AuthErrorKind.BAD_SIGNATURE
    presigned = presign("GET", ENDPOINT + "/bucket/key", service="s3")
    assert rejection(presigned, secret="not-the-secret").kind is AuthErrorKind.BAD_SIGNATURE


def test_tampered_body_non_s3() -> None:
    request = kms_call()
    request.body = request.body.replace(b"alias/x", b"alias/y")
    assert rejection(request).kind is AuthErrorKind.BAD_SIGNATURE
    form = sts_call()
    form.body = b"Action=GetSessionToken&Version=2011-06-15"
    assert rejection(form).kind is AuthErrorKind.BAD_SIGNATURE


def test_tampered_body_s3() -> None:
    request = sign("PUT", ENDPOINT + "/bucket/key", service="s3", data=b"hello world")
    request.body = b"hello there"
    error = rejection(request)
    assert error.kind is AuthErrorKind.PAYLOAD_MISMATCH
    assert auth_error_to_service_error(error, "rest-xml").code == "XAmzContentSHA256Mismatch"


def test_tampered_header() -> None:
    request = kms_call()
    request.headers["x-amz-target"] = "TrentService.Decrypt"
    error = rejection(request)
    assert error.kind is AuthErrorKind.BAD_SIGNATURE
    assert error.canonical_request is not None and "TrentService.Decrypt" in error.canonical_request


def test_tampered_query_path_and_method() -> None:
    request = sign("GET", ENDPOINT + "/?Action=ListUsers&Version=2010-05-08", service="iam")
    request.query = "Action=DeleteUser&Version=2010-05-08"
    assert rejection(request).kind is AuthErrorKind.BAD_SIGNATURE
    s3_request = presign("GET", ENDPOINT + "/bucket/key", service="s3")
    s3_request.query = s3_request.query.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200")
    assert rejection(s3_request).kind is AuthErrorKind.BAD_SIGNATURE
    s3_request = sign("GET", ENDPOINT + "/bucket/key", service="s3")
    s3_request.path = "/bucket/other"
    assert rejection(s3_request).kind is AuthErrorKind.BAD_SIGNATURE
    s3_request = sign("GET", ENDPOINT + "/bucket/key", service="s3")
    s3_request.method = "DELETE"
    assert rejection(s3_request).kind is AuthErrorKind.BAD_SIGNATURE


@pytest.mark.parametrize("offset", [timedelta(minutes=16), -timedelta(minutes=16)])
def test_clock_skew(offset: timedelta) -> None:
    error = rejection(sts_call(), now=SIGNED_AT + offset)
    assert error.kind is AuthErrorKind.EXPIRED
    assert not error.presigned


def test_clock_skew_within_window() -> None:
    check(sts_call(), now=SIGNED_AT + timedelta(minutes=14))
    check(sts_call(), now=SIGNED_AT - timedelta(minutes=14))


def test_presigned_expiry() -> None:
    request = presign("GET", ENDPOINT + "/bucket/key", service="s3", expires=60)
    check(request, now=SIGNED_AT + timedelta(seconds=60))
    error = rejection(request, now=SIGNED_AT + timedelta(seconds=61))
    assert error.kind is AuthErrorKind.EXPIRED and error.presigned
    mapped = auth_error_to_service_error(error, "rest-xml")
    assert (mapped.code, mapped.message, mapped.status) == ("AccessDenied", "Request has expired", 403)
    assert mapped.extra["X-Amz-Expires"] == "60"
    assert mapped.extra["Expires"] == "2026-01-01T00:11:00Z"
    # Long-lived presigned URLs are not subject to the 15 minute window.
    check(
        presign("GET", ENDPOINT + "/bucket/key", service="s3", expires=86400),
        now=SIGNED_AT + timedelta(hours=23),
    )


def test_presigned_expires_above_a_week() -> None:
    request = presign("GET", ENDPOINT + "/bucket/key", service="s3", expires=604801)
    with pytest.raises(AuthError) as caught:
        parse_signature(request)
    assert caught.value.kind is AuthErrorKind.INCOMPLETE
    assert auth_error_to_service_error(caught.value, "rest-xml").code == "AuthorizationQueryParametersError"


def _with_authorization(value: str, **headers: str) -> HttpRequest:
    base = {"host": "localhost", "x-amz-date": "20260101T001000Z", "authorization": value}
    base.update(headers)
    return HttpRequest("POST", "/", "", base)


GOOD_SIG = SIG = "a" * 64
GOOD_CRED = f"Credential={AKID}/20260101/us-east-1/sts/aws4_request"


@pytest.mark.parametrize(
    "authorization",
    [
        f"AWS4-HMAC-SHA256 {GOOD_CRED}, SignedHeaders=host;x-amz-date",  # no Signature
        f"AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature={GOOD_SIG}",  # no Credential
        f"AWS4-HMAC-SHA256 {GOOD_CRED}, Signature={GOOD_SIG}",  # no SignedHeaders
        f"AWS4-HMAC-SHA256 Credential={AKID}/20260101/us-east-1/sts, SignedHeaders=host, Signature={SIG}",
        f"AWS4-HMAC-SHA256 Credential=AKID/20260101/eu-west-1/sts/aws5, SignedHeaders=host, Signature={SIG}",
        f"AWS4-HMAC-SHA256 Credential={AKID}/2026011/us-east-1/sts/aws4_request, SignedHeaders=host, "
        f"Signature={GOOD_SIG}",
        f"AWS4-HMAC-SHA256 {GOOD_CRED}, SignedHeaders=x-amz-date, Signature={GOOD_SIG}",  # host unsigned
        f"AWS4-HMAC-SHA256 {GOOD_CRED}, SignedHeaders=host, Signature=xyz",
        f"AWS {AKID}:c2lnbmF0dXJl",  # SigV2
        "AWS4-HMAC-SHA256",
        "garbage",
    ],
)
def test_malformed_authorization(authorization: str) -> None:
    with pytest.raises(AuthError) as caught:
        parse_signature(_with_authorization(authorization))
    assert caught.value.kind is AuthErrorKind.INCOMPLETE
    mapped = auth_error_to_service_error(caught.value, "query")
    assert (mapped.code, mapped.status) == ("IncompleteSignature", 400)
    assert mapped.message


def test_malformed_dates() -> None:
    authorization = f"AWS4-HMAC-SHA256 {GOOD_CRED}, SignedHeaders=host;x-amz-date, Signature={GOOD_SIG}"
    for headers in ({"x-amz-date": "2026-01-01T00:10:00Z"}, {"x-amz-date": "20260102T001000Z"}):
        with pytest.raises(AuthError) as caught:
            parse_signature(_with_authorization(authorization, **headers))
        assert caught.value.kind is AuthErrorKind.INCOMPLETE
    request = _with_authorization(authorization)
    del request.headers["x-amz-date"]
    with pytest.raises(AuthError) as caught:
        parse_signature(request)
    assert "X-Amz-Date" in caught.value.message


def test_scope_date_must_match_request_day() -> None:
    request = sts_call()
    request.headers["x-amz-date"] = "20260102T001000Z"
    with pytest.raises(AuthError) as caught:
        parse_signature(request)
    assert caught.value.kind is AuthErrorKind.INCOMPLETE
    assert "'20260101' != '20260102'" in caught.value.message


def test_header_and_query_auth_together_is_rejected() -> None:
    request = presign("GET", ENDPOINT + "/bucket/key", service="s3")
    request.headers["authorization"] = (
        f"AWS4-HMAC-SHA256 {GOOD_CRED}, SignedHeaders=host, Signature={GOOD_SIG}"
    )
    with pytest.raises(AuthError) as caught:
        parse_signature(request)
    assert caught.value.kind is AuthErrorKind.INCOMPLETE


def test_presigned_missing_parameters() -> None:
    request = presign("GET", ENDPOINT + "/bucket/key", service="s3")
    request.query = "&".join(p for p in request.query.split("&") if not p.startswith("X-Amz-SignedHeaders="))
    with pytest.raises(AuthError) as caught:
        parse_signature(request)
    assert caught.value.kind is AuthErrorKind.INCOMPLETE and "X-Amz-SignedHeaders" in caught.value.message


# --- error mapping ----------------------------------------------------------------------------

BAD_SIGNATURE_MESSAGE = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)
INVALID_TOKEN = "The security token included in the request is invalid."


@pytest.mark.parametrize(
    ("kind", "family", "code", "status", "message"),
    [
        (
            AuthErrorKind.MISSING,
            "query",
            "MissingAuthenticationToken",
            403,
            "Request is missing Authentication Token",
        ),
        (AuthErrorKind.UNKNOWN_KEY, "query", "InvalidClientTokenId", 403, INVALID_TOKEN),
        (AuthErrorKind.TOKEN_INVALID, "query", "InvalidClientTokenId", 403, INVALID_TOKEN),
        (AuthErrorKind.BAD_SIGNATURE, "query", "SignatureDoesNotMatch", 403, BAD_SIGNATURE_MESSAGE),
        (
            AuthErrorKind.TOKEN_EXPIRED,
            "query",
            "ExpiredToken",
            403,
            "The security token included in the request is expired",
        ),
        (
            AuthErrorKind.MISSING,
            "json",
            "MissingAuthenticationTokenException",
            400,
            "Missing Authentication Token",
        ),
        (AuthErrorKind.UNKNOWN_KEY, "json", "UnrecognizedClientException", 400, INVALID_TOKEN),
        (AuthErrorKind.UNKNOWN_KEY, "rest-json", "UnrecognizedClientException", 403, INVALID_TOKEN),
        (AuthErrorKind.BAD_SIGNATURE, "json", "InvalidSignatureException", 400, BAD_SIGNATURE_MESSAGE),
        (
            AuthErrorKind.PAYLOAD_MISMATCH,
            "rest-json",
            "InvalidSignatureException",
            403,
            BAD_SIGNATURE_MESSAGE,
        ),
        (
            AuthErrorKind.TOKEN_EXPIRED,
            "rest-json",
            "ExpiredTokenException",
            403,
            "The security token included in the request is expired",
        ),
        (
            AuthErrorKind.UNKNOWN_KEY,
            "ec2",
            "AuthFailure",
            401,
            "AWS was not able to validate the provided access credentials",
        ),
        (
            AuthErrorKind.BAD_SIGNATURE,
            "ec2",
            "AuthFailure",
            401,
            "AWS was not able to validate the provided access credentials",
        ),
        (AuthErrorKind.EXPIRED, "ec2", "RequestExpired", 400, "Request has expired."),
        (
            AuthErrorKind.UNKNOWN_KEY,
            "rest-xml",
            "InvalidAccessKeyId",
            403,
            "The AWS Access Key Id you provided does not exist in our records.",
        ),
        (AuthErrorKind.MISSING, "rest-xml", "AccessDenied", 403, "Access Denied"),
        (AuthErrorKind.TOKEN_EXPIRED, "rest-xml", "ExpiredToken", 400, "The provided token has expired."),
        (
            AuthErrorKind.TOKEN_INVALID,
            "rest-xml",
            "InvalidToken",
            400,
            "The provided token is malformed or otherwise invalid.",
        ),
    ],
)
def test_error_mapping(kind: AuthErrorKind, family: str, code: str, status: int, message: str) -> None:
    error = auth_error_to_service_error(AuthError(kind, "detail", access_key_id=AKID), family)
    assert (error.code, error.status, error.message) == (code, status, message)
    assert error.sender_fault


def test_skew_messages_per_family() -> None:
    request_time = datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC)
    late = AuthError(
        AuthErrorKind.EXPIRED, request_time=request_time, server_time=request_time + timedelta(minutes=25)
    )
    expected = (
        "Signature expired: 20260101T000000Z is now earlier than 20260101T001000Z "
        "(20260101T002500Z - 15 min.)"
    )
    query = auth_error_to_service_error(late, "query")
    assert (query.code, query.message) == ("SignatureDoesNotMatch", expected)
    sagemaker = auth_error_to_service_error(late, "json")
    assert (sagemaker.code, sagemaker.message) == ("InvalidSignatureException", expected)
    s3 = auth_error_to_service_error(late, "rest-xml")
    assert (s3.code, s3.status) == ("RequestTimeTooSkewed", 403)
    assert s3.message == "The difference between the request time and the current time is too large."
    assert s3.extra == {
        "ServerTime": "2026-01-01T00:25:00Z",
        "RequestTime": "20260101T000000Z",
        "MaxAllowedSkewMilliseconds": "900000",
    }
    early = AuthError(
        AuthErrorKind.EXPIRED, request_time=request_time, server_time=request_time - timedelta(minutes=20)
    )
    assert auth_error_to_service_error(early, "query").message == (
        "Signature not yet current: 20260101T000000Z is still later than 20251231T235500Z "
        "(20251231T234000Z + 15 min.)"
    )


def test_real_skew_error_renders_with_request_times() -> None:
    error = rejection(sts_call(), now=SIGNED_AT + timedelta(minutes=20))
    message = auth_error_to_service_error(error, "query").message
    assert message == (
        "Signature expired: 20260101T001000Z is now earlier than 20260101T001500Z "
        "(20260101T003000Z - 15 min.)"
    )


def test_s3_signature_mismatch_carries_debug_members() -> None:
    request = sign("GET", ENDPOINT + "/bucket/key", service="s3")
    error = auth_error_to_service_error(rejection(request, secret="wrong"), "rest-xml")
    assert error.code == "SignatureDoesNotMatch"
    assert error.extra["AWSAccessKeyId"] == AKID
    assert error.extra["StringToSign"].startswith("AWS4-HMAC-SHA256\n20260101T001000Z\n")
    assert error.extra["CanonicalRequest"].startswith("GET\n/bucket/key\n")


def test_malformed_s3_header_maps_to_authorization_header_malformed() -> None:
    with pytest.raises(AuthError) as caught:
        parse_signature(_with_authorization("AWS4-HMAC-SHA256 Credential=x"))
    error = auth_error_to_service_error(caught.value, "rest-xml")
    assert (error.code, error.status) == ("AuthorizationHeaderMalformed", 400)


def test_unknown_family_is_rejected() -> None:
    with pytest.raises(ValueError):
        auth_error_to_service_error(AuthError(AuthErrorKind.MISSING), "smithy-rpc-v3")


def test_verification_is_fast() -> None:
    request = kms_call()
    info = parse_signature(request)
    assert info is not None
    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        verify(request, parse_signature(request) or info, SECRET, now=SIGNED_AT)
    per_request = (time.perf_counter() - started) / rounds
    # Generous bound: the whole request budget is 2 ms at p50.
    assert per_request < 0.0005


def test_header_whitespace_is_trimmed_like_botocore() -> None:
    request = sign("PUT", ENDPOINT + "/bucket/key", service="s3", headers={"X-Amz-Meta-Note": "a   b\t c"})
    assert request.headers["x-amz-meta-note"] == "a   b\t c"
    check(request)
    request.headers["x-amz-meta-note"] = "a b c"
    check(request)
    request.headers["x-amz-meta-note"] = "a b d"
    assert rejection(request).kind is AuthErrorKind.BAD_SIGNATURE
