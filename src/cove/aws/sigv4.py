"""AWS Signature Version 4 verification, computed exactly as botocore signs.

The canonical request follows ``botocore.auth.SigV4Auth`` and its S3 / presigned variants: the
path is normalised and URI-encoded a second time except for S3, the payload line comes from
``x-amz-content-sha256`` when present (S3's ``UNSIGNED-PAYLOAD`` / ``STREAMING-*`` values
included) and from the body otherwise, and presigned URLs drop ``X-Amz-Signature`` from the
canonical query string.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote_plus

from cove.aws.errors import ServiceError
from cove.aws.http import HttpRequest, Readable

__all__ = [
    "ALGORITHM",
    "MAX_PRESIGN_EXPIRES",
    "MAX_SKEW",
    "AuthError",
    "AuthErrorKind",
    "CredentialScope",
    "SignatureInfo",
    "auth_error_to_service_error",
    "parse_signature",
    "verify",
]

ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGN_EXPIRES = 604800  # one week, AWS's hard limit for presigned URLs

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_TERMINATOR = "aws4_request"
_SIGV4_TIMESTAMP = "%Y%m%dT%H%M%SZ"
_S3_SERVICES = frozenset({"s3", "s3-object-lambda", "s3-outposts"})
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
_DIGITS8 = re.compile(r"\d{8}")
_QUERY_SAFE = "-_.~"


class AuthErrorKind(enum.Enum):
    MISSING = "missing"
    INCOMPLETE = "incomplete"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    # The body does not hash to the x-amz-content-sha256 the client signed.
    PAYLOAD_MISMATCH = "payload_mismatch"
    EXPIRED = "expired"
    TOKEN_EXPIRED = "token_expired"
    TOKEN_INVALID = "token_invalid"


class AuthError(Exception):
    """Why a request failed authentication; rendered per protocol by
    :func:`auth_error_to_service_error`. The optional fields carry what AWS puts in its messages."""

    def __init__(
        self,
        kind: AuthErrorKind,
        message: str = "",
        *,
        presigned: bool = False,
        request_time: datetime | None = None,
        server_time: datetime | None = None,
        expires: int | None = None,
        access_key_id: str | None = None,
        signature_provided: str | None = None,
        string_to_sign: str | None = None,
        canonical_request: str | None = None,
    ) -> None:
        super().__init__(message or kind.value)
        self.kind = kind
        self.message = message
        self.presigned = presigned
        self.request_time = request_time
        self.server_time = server_time
        self.expires = expires
        self.access_key_id = access_key_id
        self.signature_provided = signature_provided
        self.string_to_sign = string_to_sign
        self.canonical_request = canonical_request

    def __repr__(self) -> str:
        return f"AuthError({self.kind.name}: {self.message})"


@dataclass(frozen=True, slots=True)
class CredentialScope:
    date: str
    region: str
    service: str

    def __str__(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{_TERMINATOR}"


@dataclass(frozen=True, slots=True)
class SignatureInfo:
    """What a request claims about its signature, before any verification."""

    access_key_id: str
    date: datetime
    # The request time exactly as it enters the string to sign (SigV4 basic format).
    amz_date: str
    scope: CredentialScope
    signed_headers: tuple[str, ...]
    signature: str
    session_token: str | None = None
    presigned: bool = False
    expires: int | None = None

    @property
    def is_s3(self) -> bool:
        return self.scope.service in _S3_SERVICES


# ---------------------------------------------------------------------------------------------
# Parsing


def parse_signature(request: HttpRequest) -> SignatureInfo | None:
    """The SigV4 signature the request carries (header or presigned query), None when unsigned.

    Raises :class:`AuthError` (INCOMPLETE) when the signature is present but malformed.
    """
    authorization = request.headers.get("authorization")
    presigned = "X-Amz-Algorithm=" in request.query
    if authorization is None and not presigned:
        return None
    if authorization is not None and presigned:
        raise AuthError(
            AuthErrorKind.INCOMPLETE,
            "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature "
            "query string parameter or the Authorization header should be specified",
        )
    if authorization is not None:
        return _parse_authorization(request, authorization)
    return _parse_presigned(request)


def _parse_authorization(request: HttpRequest, authorization: str) -> SignatureInfo:
    algorithm, _, rest = authorization.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise AuthError(
            AuthErrorKind.INCOMPLETE,
            f"Unsupported authorization type: '{algorithm}'. Only {ALGORITHM} is supported.",
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name] = value.strip()
    missing = [
        f"Authorization header requires '{n}' parameter."
        for n in ("Credential", "Signature", "SignedHeaders")
        if not fields.get(n)
    ]
    amz_date = request.headers.get("x-amz-date")
    http_date = request.headers.get("date")
    if amz_date is None and http_date is None:
        missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
    if missing:
        raise AuthError(AuthErrorKind.INCOMPLETE, " ".join(missing) + f" Authorization={authorization}")
    access_key_id, scope = _parse_credential(fields["Credential"])
    if amz_date is not None:
        date = _parse_amz_date(amz_date)
        stamp = amz_date
    else:
        assert http_date is not None
        date = _parse_http_date(http_date)
        stamp = date.strftime(_SIGV4_TIMESTAMP)
    _check_scope_date(scope, stamp)
    return SignatureInfo(
        access_key_id=access_key_id,
        date=date,
        amz_date=stamp,
        scope=scope,
        signed_headers=_parse_signed_headers(fields["SignedHeaders"]),
        signature=_check_signature(fields["Signature"]),
        session_token=request.headers.get("x-amz-security-token"),
    )


_PRESIGN_PARAMS = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)


def _parse_presigned(request: HttpRequest) -> SignatureInfo:
    params: dict[str, str] = {}
    for key, value in request.query_items():
        if key.startswith("X-Amz-"):
            params[key] = value
    missing = [p for p in _PRESIGN_PARAMS if not params.get(p)]
    if missing:
        raise AuthError(
            AuthErrorKind.INCOMPLETE,
            "Query-string authentication version 4 requires the " + ", ".join(missing) + " parameters",
            presigned=True,
        )
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise AuthError(
            AuthErrorKind.INCOMPLETE,
            f'X-Amz-Algorithm only supports "{ALGORITHM}"',
            presigned=True,
        )
    try:
        expires = int(params["X-Amz-Expires"])
    except ValueError:
        raise AuthError(
            AuthErrorKind.INCOMPLETE, "X-Amz-Expires should be a number", presigned=True
        ) from None
    if expires < 0:
        raise AuthError(AuthErrorKind.INCOMPLETE, "X-Amz-Expires must be non-negative", presigned=True)
    if expires > MAX_PRESIGN_EXPIRES:
        raise AuthError(
            AuthErrorKind.INCOMPLETE,
            f"X-Amz-Expires must be less than a week (in seconds) that is {MAX_PRESIGN_EXPIRES}",
            presigned=True,
        )
    access_key_id, scope = _parse_credential(params["X-Amz-Credential"], presigned=True)
    stamp = params["X-Amz-Date"]
    date = _parse_amz_date(stamp, presigned=True)
    _check_scope_date(scope, stamp, presigned=True)
    return SignatureInfo(
        access_key_id=access_key_id,
        date=date,
        amz_date=stamp,
        scope=scope,
        signed_headers=_parse_signed_headers(params["X-Amz-SignedHeaders"], presigned=True),
        signature=_check_signature(params["X-Amz-Signature"], presigned=True),
        session_token=params.get("X-Amz-Security-Token") or request.headers.get("x-amz-security-token"),
        presigned=True,
        expires=expires,
    )


def _parse_credential(credential: str, *, presigned: bool = False) -> tuple[str, CredentialScope]:
    parts = credential.split("/")
    if len(parts) != 5 or not parts[0] or not all(parts[1:4]):
        raise AuthError(
            AuthErrorKind.INCOMPLETE,
            f"Credential should be of the form '<AccessKeyId>/YYYYMMDD/<region>/<service>/{_TERMINATOR}', "
            f"not '{credential}'.",
            presigned=presigned,
        )
    access_key_id, date, region, service, terminator = parts
    if terminator != _TERMINATOR:
        raise AuthError(
            AuthErrorKind.INCOMPLETE,
            f"Credential should be scoped with a valid terminator: '{_TERMINATOR}', not '{terminator}'.",
            presigned=presigned,
        )
    if not _DIGITS8.fullmatch(date):
        raise AuthError(
            AuthErrorKind.INCOMPLETE,
            f"Credential should be scoped to a valid date (YYYYMMDD), not '{date}'.",
            presigned=presigned,
        )
    return access_key_id, CredentialScope(date, region, service)


def _parse_signed_headers(value: str, *, presigned: bool = False) -> tuple[str, ...]:
    names = tuple(value.split(";"))
    if "host" not in names and ":authority" not in names:
        raise AuthError(
            AuthErrorKind.INCOMPLETE,
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
            presigned=presigned,
        )
    return names


def _check_signature(signature: str, *, presigned: bool = False) -> str:
    if not _HEX64.fullmatch(signature):
        raise AuthError(
            AuthErrorKind.INCOMPLETE,
            "Signature should be a 64-character hexadecimal string.",
            presigned=presigned,
        )
    return signature


def _parse_amz_date(value: str, *, presigned: bool = False) -> datetime:
    # Slicing beats strptime by an order of magnitude and this runs on every request.
    try:
        if len(value) != 16 or value[8] != "T" or value[15] != "Z":
            raise ValueError(value)
        return datetime(
            int(value[0:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[9:11]),
            int(value[11:13]),
            int(value[13:15]),
            tzinfo=UTC,
        )
    except ValueError:
        raise AuthError(
            AuthErrorKind.INCOMPLETE,
            f"Date must be in ISO-8601 'basic format'. Got '{value}'. See "
            "http://en.wikipedia.org/wiki/ISO_8601",
            presigned=presigned,
        ) from None


def _parse_http_date(value: str) -> datetime:
    try:
        date = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        raise AuthError(AuthErrorKind.INCOMPLETE, f"Unable to parse the Date header '{value}'.") from None
    if date.tzinfo is None:
        date = date.replace(tzinfo=UTC)
    return date.astimezone(UTC)


def _check_scope_date(scope: CredentialScope, stamp: str, *, presigned: bool = False) -> None:
    if scope.date != stamp[:8]:
        raise AuthError(
            AuthErrorKind.INCOMPLETE,
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{scope.date}' != '{stamp[:8]}', from '{stamp}'.",
            presigned=presigned,
        )


# ---------------------------------------------------------------------------------------------
# Verification


def verify(request: HttpRequest, info: SignatureInfo, secret_access_key: str, *, now: datetime) -> None:
    """Check ``info`` against the request and the caller's secret; raise :class:`AuthError` if not.

    Who owns ``info.access_key_id`` (and whether its session token is valid) is the caller's
    business: an unknown key is reported by raising UNKNOWN_KEY before calling this.
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    _check_time(info, now)
    s3 = info.is_s3
    payload = _payload_hash(request, info, s3)
    path = request.path or "/"
    if not s3:
        path = quote(_remove_dot_segments(path), safe="/~")
    headers = _canonical_headers(request.headers, info.signed_headers)
    signed = ";".join(info.signed_headers)
    key = _signing_key(secret_access_key, info.scope.date, info.scope.region, info.scope.service)

    raw_query, pairs = _canonical_query(request.query, info.presigned)
    canonical = _join_canonical(request.method, path, raw_query, headers, signed, payload)
    string_to_sign = _string_to_sign(info, canonical)
    if _matches(key, string_to_sign, info.signature):
        return
    # Clients that encode the query differently from botocore (``+`` for spaces, lower-case
    # escapes) sign AWS's decoded-and-re-encoded form, so give that form a chance too.
    normalized_query = _normalized_query(pairs) if pairs else raw_query
    if normalized_query != raw_query:
        alt = _join_canonical(request.method, path, normalized_query, headers, signed, payload)
        if _matches(key, _string_to_sign(info, alt), info.signature):
            return
    raise AuthError(
        AuthErrorKind.BAD_SIGNATURE,
        "The request signature we calculated does not match the signature you provided.",
        presigned=info.presigned,
        access_key_id=info.access_key_id,
        signature_provided=info.signature,
        string_to_sign=string_to_sign,
        canonical_request=canonical,
    )


def _check_time(info: SignatureInfo, now: datetime) -> None:
    if info.presigned:
        assert info.expires is not None
        if info.date - now > MAX_SKEW:
            raise AuthError(
                AuthErrorKind.EXPIRED,
                "Request is not valid yet",
                presigned=True,
                request_time=info.date,
                server_time=now,
                expires=info.expires,
            )
        if now > info.date + timedelta(seconds=info.expires):
            raise AuthError(
                AuthErrorKind.EXPIRED,
                "Request has expired",
                presigned=True,
                request_time=info.date,
                server_time=now,
                expires=info.expires,
            )
        return
    if abs(now - info.date) > MAX_SKEW:
        raise AuthError(
            AuthErrorKind.EXPIRED,
            "The difference between the request time and the current time is too large.",
            request_time=info.date,
            server_time=now,
        )


def _payload_hash(request: HttpRequest, info: SignatureInfo, s3: bool) -> str:
    declared = request.headers.get("x-amz-content-sha256")
    if declared is None:
        if s3 and info.presigned:
            return UNSIGNED_PAYLOAD
        return hashlib.sha256(request.body).hexdigest() if request.body else EMPTY_SHA256
    if _HEX64.fullmatch(declared):
        if request.stream is not None:
            # A streamed body is hashed as it is read; the stream fails at its end on a mismatch.
            request.stream = VerifiedStream(request.stream, declared.lower(), info)
            return declared
        actual = hashlib.sha256(request.body).hexdigest() if request.body else EMPTY_SHA256
        if actual != declared.lower():
            raise AuthError(
                AuthErrorKind.PAYLOAD_MISMATCH,
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                presigned=info.presigned,
                access_key_id=info.access_key_id,
            )
        return declared
    if declared == UNSIGNED_PAYLOAD or (s3 and declared.startswith("STREAMING-")):
        # The literal value is what was signed; the client chose not to sign the body.
        return declared
    raise AuthError(
        AuthErrorKind.INCOMPLETE,
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-... or a valid sha256 value, "
        f"not '{declared}'.",
        presigned=info.presigned,
    )


class VerifiedStream:
    """Wraps a streamed request body and checks it against the signed ``x-amz-content-sha256``
    when the last byte has been read, so a tampered upload fails before it is committed."""

    def __init__(self, inner: Readable, expected: str, info: SignatureInfo) -> None:
        self._inner = inner
        self._expected = expected
        self._info = info
        self._digest = hashlib.sha256()
        self._done = False

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._inner.read(size)
        self._digest.update(chunk)
        if not self._done and (not chunk or size < 0):
            self._done = True
            if self._digest.hexdigest() != self._expected:
                raise AuthError(
                    AuthErrorKind.PAYLOAD_MISMATCH,
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                    presigned=self._info.presigned,
                    access_key_id=self._info.access_key_id,
                )
        return chunk


def _canonical_headers(headers: dict[str, str], names: tuple[str, ...]) -> str:
    # SigV4 "Trimall": strip and collapse runs of whitespace, as botocore does.
    return "\n".join(f"{name}:{' '.join(headers.get(name, '').split())}" for name in names)


def _canonical_query(query: str, presigned: bool) -> tuple[str, list[tuple[str, str]]]:
    """The canonical query string as botocore computes it from the URL: pairs sorted, kept as
    encoded (plus the pairs, for :func:`_normalized_query`)."""
    if not query:
        return "", []
    pairs: list[tuple[str, str]] = []
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if presigned and key == "X-Amz-Signature":
            continue
        pairs.append((key, value))
    pairs.sort()
    return "&".join([f"{k}={v}" for k, v in pairs]), pairs


def _normalized_query(pairs: list[tuple[str, str]]) -> str:
    """AWS's decoded-and-re-encoded canonical query string."""
    encoded = sorted(
        (quote(unquote_plus(k), safe=_QUERY_SAFE), quote(unquote_plus(v), safe=_QUERY_SAFE))
        for k, v in pairs
        if k or v
    )
    return "&".join([f"{k}={v}" for k, v in encoded])


def _remove_dot_segments(path: str) -> str:
    # botocore.utils.remove_dot_segments: RFC 3986 dot removal plus collapsing of "//".
    if "/." not in path and "//" not in path:
        return path
    output: list[str] = []
    for segment in path.split("/"):
        if segment and segment != ".":
            if segment == "..":
                if output:
                    output.pop()
            else:
                output.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and output else ""
    return first + "/".join(output) + last


def _join_canonical(method: str, path: str, query: str, headers: str, signed: str, payload: str) -> str:
    return f"{method.upper()}\n{path}\n{query}\n{headers}\n\n{signed}\n{payload}"


def _string_to_sign(info: SignatureInfo, canonical_request: str) -> str:
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{info.amz_date}\n{info.scope}\n{digest}"


def _matches(key: bytes, string_to_sign: str, signature: str) -> bool:
    expected = hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.lower())


@functools.lru_cache(maxsize=256)
def _signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    k_date = hmac.digest(f"AWS4{secret}".encode(), date.encode("utf-8"), "sha256")
    k_region = hmac.digest(k_date, region.encode("utf-8"), "sha256")
    k_service = hmac.digest(k_region, service.encode("utf-8"), "sha256")
    return hmac.digest(k_service, _TERMINATOR.encode(), "sha256")


# ---------------------------------------------------------------------------------------------
# Rendering

_INVALID_TOKEN = "The security token included in the request is invalid."
_EXPIRED_TOKEN = "The security token included in the request is expired"
_BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)
_FAMILIES = frozenset({"query", "ec2", "json", "rest-json", "rest-xml"})


def auth_error_to_service_error(err: AuthError, family: str) -> ServiceError:
    """The error AWS returns for ``err`` in protocol ``family`` (query, ec2, json, rest-json,
    rest-xml)."""
    if family not in _FAMILIES:
        raise ValueError(f"unknown protocol family {family!r}")
    if family == "rest-xml":
        return _s3_error(err)
    if family == "ec2":
        return _ec2_error(err)
    json = family != "query"
    # awsJson (Coral) services answer every authentication failure with 400, as DynamoDB's and
    # KMS's error tables list them; rest-json and query services use 403.
    status = 400 if family == "json" else 403
    kind = err.kind
    if kind is AuthErrorKind.MISSING:
        if json:
            return ServiceError(
                "Missing Authentication Token", code="MissingAuthenticationTokenException", status=status
            )
        return ServiceError(
            "Request is missing Authentication Token", code="MissingAuthenticationToken", status=403
        )
    if kind is AuthErrorKind.INCOMPLETE:
        code = "IncompleteSignatureException" if json else "IncompleteSignature"
        return ServiceError(err.message, code=code, status=400)
    if kind is AuthErrorKind.UNKNOWN_KEY or kind is AuthErrorKind.TOKEN_INVALID:
        code = "UnrecognizedClientException" if json else "InvalidClientTokenId"
        return ServiceError(_INVALID_TOKEN, code=code, status=status)
    if kind is AuthErrorKind.TOKEN_EXPIRED:
        code = "ExpiredTokenException" if json else "ExpiredToken"
        return ServiceError(_EXPIRED_TOKEN, code=code, status=status)
    if kind is AuthErrorKind.EXPIRED:
        # Observed: STS/IAM answer SignatureDoesNotMatch 403, json services
        # InvalidSignatureException 400, both with the "Signature expired" wording.
        if json:
            return ServiceError(_skew_message(err), code="InvalidSignatureException", status=400)
        return ServiceError(_skew_message(err), code="SignatureDoesNotMatch", status=403)
    code = "InvalidSignatureException" if json else "SignatureDoesNotMatch"
    return ServiceError(_BAD_SIGNATURE, code=code, status=status)


def _ec2_error(err: AuthError) -> ServiceError:
    kind = err.kind
    if kind is AuthErrorKind.MISSING:
        return ServiceError(
            "Request is missing Authentication Token", code="MissingAuthenticationToken", status=401
        )
    if kind is AuthErrorKind.INCOMPLETE:
        return ServiceError(err.message, code="IncompleteSignature", status=400)
    if kind is AuthErrorKind.EXPIRED:
        return ServiceError("Request has expired.", code="RequestExpired", status=400)
    if kind is AuthErrorKind.TOKEN_EXPIRED:
        return ServiceError("Request has expired.", code="RequestExpired", status=400)
    return ServiceError(
        "AWS was not able to validate the provided access credentials", code="AuthFailure", status=401
    )


def _s3_error(err: AuthError) -> ServiceError:
    kind = err.kind
    if kind is AuthErrorKind.MISSING:
        return ServiceError("Access Denied", code="AccessDenied", status=403)
    if kind is AuthErrorKind.INCOMPLETE:
        if err.presigned:
            return ServiceError(err.message, code="AuthorizationQueryParametersError", status=400)
        return ServiceError(
            f"The authorization header is malformed; {err.message}",
            code="AuthorizationHeaderMalformed",
            status=400,
        )
    if kind is AuthErrorKind.UNKNOWN_KEY:
        return ServiceError(
            "The AWS Access Key Id you provided does not exist in our records.",
            code="InvalidAccessKeyId",
            status=403,
            extra={"AWSAccessKeyId": err.access_key_id} if err.access_key_id else None,
        )
    if kind is AuthErrorKind.TOKEN_INVALID:
        return ServiceError(
            "The provided token is malformed or otherwise invalid.", code="InvalidToken", status=400
        )
    if kind is AuthErrorKind.TOKEN_EXPIRED:
        return ServiceError("The provided token has expired.", code="ExpiredToken", status=400)
    if kind is AuthErrorKind.PAYLOAD_MISMATCH:
        return ServiceError(
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
            code="XAmzContentSHA256Mismatch",
            status=400,
        )
    if kind is AuthErrorKind.EXPIRED:
        extra: dict[str, str] = {}
        if err.server_time is not None:
            extra["ServerTime"] = _iso(err.server_time)
        if err.presigned:
            if err.expires is not None and err.request_time is not None:
                extra["X-Amz-Expires"] = str(err.expires)
                extra["Expires"] = _iso(err.request_time + timedelta(seconds=err.expires))
            return ServiceError(
                err.message or "Request has expired", code="AccessDenied", status=403, extra=extra
            )
        if err.request_time is not None:
            extra["RequestTime"] = _stamp(err.request_time)
        extra["MaxAllowedSkewMilliseconds"] = str(int(MAX_SKEW.total_seconds() * 1000))
        return ServiceError(
            "The difference between the request time and the current time is too large.",
            code="RequestTimeTooSkewed",
            status=403,
            extra=extra,
        )
    extra = {}
    if err.access_key_id:
        extra["AWSAccessKeyId"] = err.access_key_id
    if err.string_to_sign is not None:
        extra["StringToSign"] = err.string_to_sign
    if err.signature_provided is not None:
        extra["SignatureProvided"] = err.signature_provided
    if err.canonical_request is not None:
        extra["CanonicalRequest"] = err.canonical_request
    return ServiceError(
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
        code="SignatureDoesNotMatch",
        status=403,
        extra=extra,
    )


def _skew_message(err: AuthError) -> str:
    if err.request_time is None or err.server_time is None:
        return err.message or "Signature expired"
    if err.presigned:
        assert err.expires is not None
        deadline = err.request_time + timedelta(seconds=err.expires)
        if err.request_time > err.server_time:
            return (
                f"Signature not yet current: {_stamp(err.request_time)} is still later than "
                f"{_stamp(err.server_time)}"
            )
        return f"Signature expired: {_stamp(deadline)} is now earlier than {_stamp(err.server_time)}"
    if err.request_time > err.server_time:
        bound = err.server_time + MAX_SKEW
        return (
            f"Signature not yet current: {_stamp(err.request_time)} is still later than {_stamp(bound)} "
            f"({_stamp(err.server_time)} + 15 min.)"
        )
    bound = err.server_time - MAX_SKEW
    return (
        f"Signature expired: {_stamp(err.request_time)} is now earlier than {_stamp(bound)} "
        f"({_stamp(err.server_time)} - 15 min.)"
    )


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_SIGV4_TIMESTAMP)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
