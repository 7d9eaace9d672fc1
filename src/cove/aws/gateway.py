"""The request pipeline: route → authenticate → parse → validate → authorize → dispatch → serialize."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from botocore.model import OperationModel, ServiceModel

from cove.aws import sigv2, sigv4
from cove.aws.catalog import service_info, service_model
from cove.aws.codecs import codec_for, error_family, fallback_error
from cove.aws.context import Credential, Principal, RequestContext, SourceContext
from cove.aws.errors import AccessDenied, InternalFailure, NotImplementedOperation, ServiceError
from cove.aws.http import HttpRequest, HttpResponse
from cove.aws.provider import Provider
from cove.aws.router import protocol_for, service_for
from cove.aws.validate import validate, validation_error

__all__ = ["Authorizer", "CredentialResolver", "Gateway"]

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
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        service: str | None = None
        operation: OperationModel | None = None
        family = "query"
        protocol: str | None = None
        principal = ANONYMOUS
        try:
            sig = sigv4.parse_signature(request)
            legacy = sigv2.parse_signature_v2(request) if sig is None else None
            service = "s3" if legacy else service_for(request, sig.scope.service if sig else None)
            protocol = protocol_for(service, request)
            family = error_family(protocol)
            codec = codec_for(protocol)
            model = service_model(service)
            now = self.clock()
            credential = self._authenticate(request, sig or legacy, service, now)
            if credential is not None:
                principal = credential.principal
            operation = codec.operation_for(model, request)
            if operation is None:
                raise _unknown_operation(model, family, request)
            # Validate before looking for a handler: a malformed call is reported as such even for
            # operations Cove does not implement yet.
            params = codec.parse(operation, request)
            problems = validate(operation, params)
            if problems:
                raise validation_error(problems, family)
            provider = self.providers.get(service)
            handler = provider.handler(operation.name) if provider else None
            if provider is None or handler is None:
                raise NotImplementedOperation(
                    f"Cove does not implement {model.metadata.get('serviceId', service)} "
                    f"operation {operation.name} yet."
                )
            ctx = RequestContext(
                request_id=request_id,
                region=sig.scope.region if sig else self.region,
                service=service,
                operation=operation.name,
                principal=principal,
                source=source,
                now=now,
                credential=credential,
            )
            action = f"{service_info(service).iam_prefix}:{operation.name}"
            if operation.name not in provider.self_authorized:
                denial = self.authorizer.authorize(ctx, action, provider.resource_arn(ctx, params))
                if denial is not None:
                    raise _access_denied(denial, family)
            output = handler(ctx, params)
            response = codec.serialize(operation, output, request_id)
        except sigv4.AuthError as exc:
            response = self._error(
                request,
                service,
                protocol,
                operation,
                sigv4.auth_error_to_service_error(exc, family),
                request_id,
            )
        except ServiceError as exc:
            response = self._error(request, service, protocol, operation, exc, request_id)
        except Exception:
            log.exception("internal error", extra={"request_id": request_id})
            response = self._error(
                request,
                service,
                protocol,
                operation,
                InternalFailure("We encountered an internal error. Please try again."),
                request_id,
            )
        log.info(
            "request",
            extra={
                "request_id": request_id,
                "service": service,
                "operation": operation.name if operation else None,
                "status": response.status,
                "principal": principal.arn,
                "ms": round((time.perf_counter() - started) * 1000, 3),
            },
        )
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

    def _error(
        self,
        request: HttpRequest,
        service: str | None,
        protocol: str | None,
        operation: OperationModel | None,
        error: ServiceError,
        request_id: str,
    ) -> HttpResponse:
        if service is None or protocol is None:
            return fallback_error(error, request_id, request)
        return codec_for(protocol).serialize_error(service_model(service), operation, error, request_id)


def _access_denied(message: str, family: str) -> ServiceError:
    if family in ("json", "rest-json"):
        return ServiceError(message, code="AccessDeniedException", status=400 if family == "json" else 403)
    return AccessDenied(message)
