"""Every SigV4 rejection path, seen by real clients through a live server."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from cove.server import EmbeddedServer
from tests.conftest import ClientFactory, make_client


def _error(fn: Any, *args: Any, **kw: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as exc:
        fn(*args, **kw)
    r = exc.value.response
    return r["Error"]["Code"], r["Error"].get("Message", ""), r["ResponseMetadata"]["HTTPStatusCode"]


def _signed_sts_post(server: EmbeddedServer, body: str, *, secret: str | None = None) -> AWSRequest:
    account = server.cove.account
    creds = Credentials(account.access_key_id, secret or account.secret_access_key)
    request = AWSRequest(
        method="POST",
        url=server.endpoint_url + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(creds, "sts", "us-east-1").add_auth(request)
    return request


def test_valid_signature_is_accepted(cove_server: EmbeddedServer) -> None:
    req = _signed_sts_post(cove_server, "Action=GetCallerIdentity&Version=2011-06-15")
    resp = httpx.post(req.url, content=req.body, headers=dict(req.headers.items()))
    assert resp.status_code == 200 and cove_server.cove.account.account_id in resp.text


def test_wrong_secret(cove_server: EmbeddedServer) -> None:
    account = cove_server.cove.account
    sts = make_client(
        cove_server, "sts", aws_access_key_id=account.access_key_id, aws_secret_access_key="x" * 40
    )
    code, message, status = _error(sts.get_caller_identity)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert message.startswith(
        "The request signature we calculated does not match the signature you provided."
    )


@pytest.mark.parametrize(
    ("service", "call", "expected"),
    [
        ("sts", lambda c: c.get_caller_identity(), ("InvalidClientTokenId", 403)),
        ("iam", lambda c: c.list_roles(), ("InvalidClientTokenId", 403)),
        ("kms", lambda c: c.list_keys(), ("UnrecognizedClientException", 400)),
        ("sagemaker", lambda c: c.list_training_jobs(), ("UnrecognizedClientException", 400)),
        ("s3", lambda c: c.list_buckets(), ("InvalidAccessKeyId", 403)),
        ("ec2", lambda c: c.describe_vpcs(), ("AuthFailure", 401)),
    ],
)
def test_unknown_access_key(
    cove_server: EmbeddedServer, service: str, call: Any, expected: tuple[str, int]
) -> None:
    c = make_client(
        cove_server, service, aws_access_key_id="AKIANOTAREALKEY00000", aws_secret_access_key="y" * 40
    )
    code, _message, status = _error(call, c)
    assert (code, status) == expected


def test_tampered_body(cove_server: EmbeddedServer) -> None:
    req = _signed_sts_post(cove_server, "Action=GetCallerIdentity&Version=2011-06-15")
    tampered = b"Action=GetSessionToken&Version=2011-06-15"
    headers = {k: v for k, v in req.headers.items() if k.lower() != "content-length"}
    resp = httpx.post(req.url, content=tampered, headers=headers)
    assert resp.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in resp.text


def test_tampered_header(cove_server: EmbeddedServer) -> None:
    req = _signed_sts_post(cove_server, "Action=GetCallerIdentity&Version=2011-06-15")
    headers = dict(req.headers.items())
    # Another second than the signed one (a request signed at :00 would otherwise be left as it was).
    signed = headers["X-Amz-Date"]
    headers["X-Amz-Date"] = signed[:-3] + ("01Z" if signed.endswith("00Z") else "00Z")
    resp = httpx.post(req.url, content=req.body, headers=headers)
    assert resp.status_code == 403 and "SignatureDoesNotMatch" in resp.text


def test_clock_skew(
    cove_server: EmbeddedServer, client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    past = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=20)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda *a, **k: past)
    code, message, status = _error(client("sts").get_caller_identity)
    assert (code, status) == ("SignatureDoesNotMatch", 403)
    assert message.startswith("Signature expired:") and "15 min." in message
    code, message, _ = _error(client("kms").list_keys)
    assert code == "InvalidSignatureException" and message.startswith("Signature expired:")
    code, _, status = _error(client("s3").list_buckets)
    assert (code, status) == ("RequestTimeTooSkewed", 403)


def test_missing_authentication(cove_server: EmbeddedServer) -> None:
    resp = httpx.post(
        cove_server.endpoint_url + "/",
        content=b"Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert resp.status_code == 403
    assert "<Code>MissingAuthenticationToken</Code>" in resp.text


def test_malformed_authorization_header(cove_server: EmbeddedServer) -> None:
    resp = httpx.post(
        cove_server.endpoint_url + "/",
        content=b"Action=GetCallerIdentity&Version=2011-06-15",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": "AWS4-HMAC-SHA256 Credential=oops",
        },
    )
    assert resp.status_code in (400, 403)
    assert "IncompleteSignature" in resp.text or "<Code>" in resp.text


def test_presigned_urls(client: ClientFactory) -> None:
    s3 = client("s3")
    good = s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=300)
    # Authentication passes; the bucket does not exist.
    resp = httpx.get(good)
    assert resp.status_code == 404 and "<Code>NoSuchBucket</Code>" in resp.text
    tampered = good.replace("Key", "Key").replace("/b/k", "/b/other")
    assert httpx.get(tampered).status_code == 403
    expiring = s3.generate_presigned_url("get_object", Params={"Bucket": "b", "Key": "k"}, ExpiresIn=1)
    time.sleep(2.1)
    resp = httpx.get(expiring)
    assert resp.status_code == 403
    assert "<Code>AccessDenied</Code>" in resp.text and "Request has expired" in resp.text
