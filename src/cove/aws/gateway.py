"""The request pipeline: route → authenticate → parse → validate → authorize → dispatch → serialize."""

from __future__ import annotations

import gzip
import hashlib
import logging
import time
import uuid
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from botocore.model import OperationModel, ServiceModel

from cove.aws import sigv2, sigv4
from cove.aws.catalog import service_info, service_model
from cove.aws.codecs import codec_for, error_family, fallback_error
from cove.aws.context import Credential, Principal, RequestContext, SourceContext
from cove.aws.errors import AccessDenied, InternalFailure, NotImplementedOperation, ServiceError
from cove.aws.http import HttpRequest, HttpResponse
from cove.aws.protocols.base import Codec
from cove.aws.provider import Output, Provider
from cove.aws.router import protocol_for, service_for
from cove.aws.validate import ProblemKind, validate, validation_error

__all__ = ["Authorizer", "Call", "CredentialResolver", "Gateway"]

log = logging.getLogger("cove.gateway")

ANONYMOUS = Principal(kind="anonymous", account_id="", arn="*", user_id="anonymous")


class CredentialResolver(Protocol):
    def resolve(self, access_key_id: str) -> Credential | None: ...


class Authorizer(Protocol):
    def authorize(self, ctx: RequestContext, action: str, resource: str) -> str | None:
        """None when allowed; otherwise AWS's AccessDenied message."""
        ...


def _unknown_operation(service: ServiceModel, family: str, request: HttpRequest) -> ServiceError:
    name = request.headers.get("x-amz-target", "").rsplit(".", 1)[-1] or request.form().get("Action", "")
    what = f"'{name}'" if name else f"{request.method} {request.path}"
    sid = service.metadata.get("serviceId", service.service_name)
    if family in ("query", "ec2"):
        return ServiceError(f"The action {what} is not valid for {sid}.", code="InvalidAction")
    if family == "rest-xml":
        return ServiceError(f"{sid} has no operation for {what}.", code="MethodNotAllowed", status=405)
    return ServiceError(f"{sid} has no operation {what}.", code="UnknownOperationException")


# Operations that only read: the edge runs them on the event loop instead of paying a thread hop.
_READS = ("Get", "List", "Describe", "Head")


@dataclass(slots=True)
class _Trace:
    """What is known of a request so far, for its error response and its log line."""

    request: HttpRequest
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.perf_counter)
    service: str | None = None
    protocol: str | None = None
    family: str = "query"
    operation: OperationModel | None = None
    principal: Principal = ANONYMOUS

    def log(self, response: HttpResponse) -> None:
        if log.isEnabledFor(logging.INFO):
            log.info(
                "request",
                extra={
                    "request_id": self.request_id,
                    "service": self.service,
                    "operation": self.operation.name if self.operation else None,
                    "status": response.status,
                    "principal": self.principal.arn,
                    "ms": round((time.perf_counter() - self.started) * 1000, 3),
                },
            )


@dataclass(slots=True)
class Call:
    """A request that passed every check and awaits its handler."""

    trace: _Trace
    ctx: RequestContext
    codec: Codec
    operation: OperationModel
    params: dict[str, Any]
    handler: Callable[[RequestContext, dict[str, Any]], Output]
    inline: bool


class Gateway:
    def __init__(
        self,
        *,
        providers: Mapping[str, Provider],
        credentials: CredentialResolver,
        authorizer: Authorizer,
        region: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.providers = dict(providers)
        self.credentials = credentials
        self.authorizer = authorizer
        self.region = region
        self.clock = clock

    def handle(self, request: HttpRequest, source: SourceContext) -> HttpResponse:
        """The whole pipeline in the calling thread."""
        call = self.prepare(request, source)
        return call if isinstance(call, HttpResponse) else self.run(call)

    def prepare(self, request: HttpRequest, source: SourceContext) -> Call | HttpResponse:
        """Everything up to the handler: route, authenticate, parse, validate, authorize. Cheap and
        non-blocking, so the ASGI edge runs it on the event loop; the error response if any step fails."""
        trace = _Trace(request)
        try:
            sig = sigv4.parse_signature(request)
            legacy = sigv2.parse_signature_v2(request) if sig is None else None
            trace.service = service = (
                "s3" if legacy else service_for(request, sig.scope.service if sig else None)
            )
            if request.stream is not None and service != "s3":
                request.drain()  # only S3 uploads are streamed to their handler
            trace.protocol = protocol = protocol_for(service, request)
            trace.family = family = error_family(protocol)
            codec = codec_for(protocol)
            model = service_model(service)
            now = self.clock()
            credential = self._authenticate(request, sig or legacy, service, now)
            if credential is not None:
                trace.principal = credential.principal
            if service != "s3":
                _inflate(request)
            trace.operation = operation = codec.operation_for(model, request)
            if operation is None:
                raise _unknown_operation(model, family, request)
            if request.stream is not None and not operation.has_streaming_input:
                request.drain()
            # Validate before looking for a handler: a malformed call is reported as such even for
            # operations Cove does not implement yet.
            params = codec.parse(operation, request)
            problems = validate(operation, params)
            if family == "ec2":
                problems = [p for p in problems if p.kind is not ProblemKind.ENUM_CASE]
            if problems:
                raise validation_error(problems, family, service)
            provider = self.providers.get(service)
            handler = provider.handler(operation.name) if provider else None
            if provider is None or handler is None:
                raise NotImplementedOperation(
                    f"Cove does not implement {model.metadata.get('serviceId', service)} "
                    f"operation {operation.name} yet."
                )
            ctx = RequestContext(
                request_id=trace.request_id,
                region=sig.scope.region if sig else self.region,
                service=service,
                operation=operation.name,
                principal=trace.principal,
                source=source,
                now=now,
                credential=credential,
            )
            if operation.name not in provider.self_authorized:
                action = f"{service_info(service).iam_prefix}:{operation.name}"
                denial = self.authorizer.authorize(ctx, action, provider.resource_arn(ctx, params))
                if denial is not None:
                    raise _access_denied(denial, family, model)
            inline = (
                operation.name.startswith(_READS) and operation.name not in provider.blocking
            ) or operation.name in provider.deferring
            return Call(trace, ctx, codec, operation, params, handler, inline)
        except Exception as exc:
            return self._fail(trace, exc)

    def run(self, call: Call) -> HttpResponse:
        """The handler and the response; may block on the database, so the edge may run it in a
        thread. A deferred output is waited for here."""
        started = self.start(call)
        if isinstance(started, Future):
            try:
                return self.respond(call, started.result())
            except Exception as exc:
                return self.fail(call, exc)
        return started

    def start(self, call: Call) -> HttpResponse | Future[dict[str, Any]]:
        """The handler: the response, or the Future of a handler's deferred output for the edge to
        wait for without holding a thread (then ``respond`` or ``fail``)."""
        try:
            output = call.handler(call.ctx, call.params)
        except Exception as exc:
            return self.fail(call, exc)
        return output if isinstance(output, Future) else self.respond(call, output)

    def respond(self, call: Call, output: dict[str, Any]) -> HttpResponse:
        try:
            response = call.codec.serialize(call.operation, output, call.trace.request_id)
        except Exception as exc:
            return self.fail(call, exc)
        call.trace.log(response)
        return response

    def fail(self, call: Call, exc: Exception) -> HttpResponse:
        return self._fail(call.trace, exc)

    def _fail(self, trace: _Trace, exc: Exception) -> HttpResponse:
        if isinstance(exc, sigv4.AuthError):
            error = sigv4.auth_error_to_service_error(exc, trace.family)
        elif isinstance(exc, ServiceError):
            error = exc
        else:
            log.exception("internal error", extra={"request_id": trace.request_id})
            error = InternalFailure("We encountered an internal error. Please try again.")
        if trace.service is None or trace.protocol is None:
            response = fallback_error(error, trace.request_id, trace.request)
        else:
            model = service_model(trace.service)
            response = codec_for(trace.protocol).serialize_error(
                model, trace.operation, error, trace.request_id
            )
        trace.log(response)
        return response

    def _authenticate(
        self,
        request: HttpRequest,
        sig: sigv4.SignatureInfo | sigv2.SignatureV2Info | None,
        service: str,
        now: datetime,
    ) -> Credential | None:
        if sig is None:
            if service == "s3":
                return None  # anonymous S3 access, decided later by bucket policies
            raise sigv4.AuthError(sigv4.AuthErrorKind.MISSING, "Request is missing Authentication Token")
        credential = self.credentials.resolve(sig.access_key_id)
        if credential is None or not credential.active:
            raise sigv4.AuthError(
                sigv4.AuthErrorKind.UNKNOWN_KEY,
                "The security token included in the request is invalid.",
                access_key_id=sig.access_key_id,
            )
        if isinstance(sig, sigv2.SignatureV2Info):
            sigv2.verify_v2(request, sig, credential.secret_access_key, now=now)
        else:
            sigv4.verify(request, sig, credential.secret_access_key, now=now)
        if credential.session_token_sha256 is not None:
            token = sig.session_token or ""
            if hashlib.sha256(token.encode()).hexdigest() != credential.session_token_sha256:
                raise sigv4.AuthError(
                    sigv4.AuthErrorKind.TOKEN_INVALID,
                    "The security token included in the request is invalid.",
                )
            if credential.expires is not None and credential.expires <= now:
                raise sigv4.AuthError(
                    sigv4.AuthErrorKind.TOKEN_EXPIRED, "The security token included in the request is expired"
                )
        elif sig.session_token:
            raise sigv4.AuthError(
                sigv4.AuthErrorKind.TOKEN_INVALID, "The security token included in the request is invalid."
            )
        return credential


def _inflate(request: HttpRequest) -> None:
    """Undo a client's request compression (botocore gzips large CloudWatch PutMetricData bodies,
    after signing them compressed): codecs read the plain body. S3 keeps Content-Encoding as
    object metadata instead, so it never comes here."""
    codings = [c.strip().lower() for c in request.headers.get("content-encoding", "").split(",") if c.strip()]
    if not codings or codings[-1] != "gzip":
        return
    try:
        request.body = gzip.decompress(request.body)
    except (OSError, EOFError, zlib.error) as exc:
        raise ServiceError(
            f"Could not decompress the request body (Content-Encoding: gzip): {exc}",
            code="SerializationException",
        ) from None
    rest = codings[:-1]
    if rest:
        request.headers["content-encoding"] = ", ".join(rest)
    else:
        del request.headers["content-encoding"]


def _access_denied(message: str, family: str, model: ServiceModel) -> ServiceError:
    if model.is_query_compatible:
        # Services moved from query to JSON/CBOR (CloudWatch) keep their query error codes.
        return AccessDenied(message)
    if family in ("json", "rest-json"):
        return ServiceError(message, code="AccessDeniedException", status=400 if family == "json" else 403)
    return AccessDenied(message)
