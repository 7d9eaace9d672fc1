"""S3's legacy signature (HMAC-SHA1, "AWS AKID:sig" headers and AWSAccessKeyId/Signature/Expires
query strings). boto3 still presigns S3 URLs this way for us-east-1 with a custom endpoint, so a
server that refused it would break ``generate_presigned_url`` for most users."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

from cove.aws.http import HttpRequest
from cove.aws.sigv4 import AuthError, AuthErrorKind

__all__ = ["SignatureV2Info", "parse_signature_v2", "verify_v2"]

# Sub-resources that are part of the signed resource (the S3 developer guide's list).
_SUBRESOURCES = frozenset(
    [
        "accelerate",
        "acl",
        "analytics",
        "cors",
        "defaultObjectAcl",
        "delete",
        "inventory",
        "lifecycle",
        "location",
        "logging",
        "metrics",
        "notification",
        "object-lock",
        "partNumber",
        "policy",
        "replication",
        "requestPayment",
        "response-cache-control",
        "response-content-disposition",
        "response-content-encoding",
        "response-content-language",
        "response-content-type",
        "response-expires",
        "restore",
        "select",
        "select-type",
        "storageClass",
        "tagging",
        "torrent",
        "uploadId",
        "uploads",
        "versionId",
        "versioning",
        "versions",
        "website",
    ]
)
MAX_SKEW_S = 15 * 60


@dataclass(frozen=True, slots=True)
class SignatureV2Info:
    access_key_id: str
    signature: str
    presigned: bool
    expires: int | None = None  # epoch seconds, presigned only
    session_token: str | None = None


def parse_signature_v2(request: HttpRequest) -> SignatureV2Info | None:
    auth = request.headers.get("authorization", "")
    if auth.startswith("AWS ") and ":" in auth:
        key_id, _, signature = auth[4:].strip().rpartition(":")
        return SignatureV2Info(key_id, signature, False, None, request.headers.get("x-amz-security-token"))
    params = dict(request.query_items())
    if "AWSAccessKeyId" in params and "Signature" in params:
        try:
            expires = int(params.get("Expires", ""))
        except ValueError:
            raise AuthError(
                AuthErrorKind.INCOMPLETE,
                "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
                presigned=True,
            ) from None
        return SignatureV2Info(
            params["AWSAccessKeyId"], params["Signature"], True, expires, params.get("x-amz-security-token")
        )
    return None


def _string_to_sign(request: HttpRequest, info: SignatureV2Info) -> str:
    query = request.query_items()
    values = dict(request.headers)
    amz = {k: v.strip() for k, v in request.headers.items() if k.startswith("x-amz-")}
    if info.presigned:
        for k, v in query:
            lk = k.lower()
            if lk.startswith("x-amz-"):
                amz[lk] = v
            elif lk in ("content-md5", "content-type"):
                values[lk] = v
        date = str(info.expires)
    else:
        # x-amz-date replaces Date in the signature when present.
        date = "" if "x-amz-date" in amz else values.get("date", "")
    lines = [request.method.upper(), values.get("content-md5", ""), values.get("content-type", ""), date]
    lines += [f"{k}:{amz[k]}" for k in sorted(amz)]
    resource = request.path
    signed = sorted((k, v) for k, v in query if k in _SUBRESOURCES)
    if signed:
        resource += "?" + "&".join(f"{k}={unquote(v)}" if v else k for k, v in signed)
    return "\n".join([*lines, resource])


def verify_v2(request: HttpRequest, info: SignatureV2Info, secret_access_key: str, *, now: datetime) -> None:
    if info.presigned:
        if info.expires is not None and now.timestamp() > info.expires:
            raise AuthError(
                AuthErrorKind.EXPIRED,
                "Request has expired",
                presigned=True,
                expires=info.expires,
                server_time=now,
            )
    else:
        stamp = request.headers.get("x-amz-date") or request.headers.get("date")
        try:
            when = parsedate_to_datetime(stamp) if stamp else None
        except (TypeError, ValueError):
            when = None
        if when is None:
            raise AuthError(
                AuthErrorKind.INCOMPLETE, "AWS authentication requires a valid Date or x-amz-date header"
            )
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if abs((now - when).total_seconds()) > MAX_SKEW_S:
            raise AuthError(
                AuthErrorKind.EXPIRED,
                "The difference between the request time and the current time is too large.",
                request_time=when,
                server_time=now,
            )
    string_to_sign = _string_to_sign(request, info)
    digest = hmac.new(secret_access_key.encode(), string_to_sign.encode(), hashlib.sha1).digest()
    expected = base64.b64encode(digest).decode()
    if not hmac.compare_digest(expected, info.signature):
        raise AuthError(
            AuthErrorKind.BAD_SIGNATURE,
            "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
            presigned=info.presigned,
            access_key_id=info.access_key_id,
            signature_provided=info.signature,
            string_to_sign=string_to_sign,
        )
