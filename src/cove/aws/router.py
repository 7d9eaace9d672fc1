"""Which service a request is for, and which protocol it speaks."""

from __future__ import annotations

import re
from functools import cache

from cove.aws.catalog import SERVICES, service_model, services_for_signing_name
from cove.aws.errors import UnknownService
from cove.aws.http import HttpRequest

__all__ = ["protocol_for", "service_for"]

_RUNTIME_PATH = re.compile(r"^/endpoints/[^/]+/(invocations|async-invocations|invocations-response-stream)$")
_METRICS_PATHS = frozenset({"/BatchPutMetrics", "/BatchGetMetrics"})


@cache
def _target_prefixes() -> dict[str, str]:
    prefixes: dict[str, str] = {}
    for name in SERVICES:
        prefix = service_model(name).metadata.get("targetPrefix")
        if prefix:
            prefixes[prefix] = name
    return prefixes


@cache
def _endpoint_prefixes() -> dict[str, str]:
    return {service_model(name).endpoint_prefix: name for name in SERVICES}


@cache
def _query_services() -> tuple[str, ...]:
    return tuple(name for name in SERVICES if service_model(name).protocol in ("query", "ec2"))


def _pick_sagemaker(request: HttpRequest) -> str:
    if _RUNTIME_PATH.match(request.path):
        return "sagemaker-runtime"
    if request.path in _METRICS_PATHS:
        return "sagemaker-metrics"
    return "sagemaker"


def service_for(request: HttpRequest, signing_name: str | None) -> str:
    """Resolve the service: SigV4 credential scope first, then X-Amz-Target, then the host name."""
    if signing_name:
        candidates = services_for_signing_name(signing_name)
        if not candidates:
            raise UnknownService(
                f"Cove does not provide the service '{signing_name}' (from the request's credential scope). "
                f"Services available: {', '.join(sorted(SERVICES))}."
            )
        if len(candidates) == 1:
            return candidates[0]
        if signing_name == "sagemaker":
            return _pick_sagemaker(request)
        return candidates[0]
    target = request.headers.get("x-amz-target", "")
    if target:
        prefix = target.rsplit(".", 1)[0]
        name = _target_prefixes().get(prefix)
        if name:
            return name
        raise UnknownService(f"Cove does not provide a service for X-Amz-Target '{target}'.")
    if "x-www-form-urlencoded" in request.headers.get("content-type", ""):
        # An unsigned query-protocol call (STS, IAM, EC2): the action name says whose it is.
        action = request.form().get("Action", "")
        for name in _query_services():
            if action in service_model(name).operation_names:
                return name
    host = request.host.split(":", 1)[0]
    for label in host.split(".")[:3]:
        name = _endpoint_prefixes().get(label)
        if name and name != "s3":
            return _pick_sagemaker(request) if name == "sagemaker" else name
    # Unsigned requests are mostly anonymous S3 reads and presigned-free public objects.
    return "s3"


def protocol_for(service: str, request: HttpRequest) -> str:
    """The protocol of this request: services such as CloudWatch accept several (botocore 1.44
    sends CBOR, older clients awsJson 1.0 or query), so the request decides."""
    model = service_model(service)
    protocols: list[str] = list(model.metadata.get("protocols") or [model.protocol])
    if len(protocols) == 1:
        return protocols[0]
    headers = request.headers
    if "smithy-rpc-v2-cbor" in protocols and (
        headers.get("smithy-protocol") == "rpc-v2-cbor" or "cbor" in headers.get("content-type", "")
    ):
        return "smithy-rpc-v2-cbor"
    if "json" in protocols and "x-amz-target" in headers:
        return "json"
    if "query" in protocols and (
        "x-www-form-urlencoded" in headers.get("content-type", "") or "Action=" in request.query
    ):
        return "query"
    return protocols[0]
