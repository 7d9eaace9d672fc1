"""The ``json`` protocol (awsJson 1.0 and 1.1: KMS, SageMaker, Logs, Application Auto Scaling...).

The operation is named by ``X-Amz-Target: {targetPrefix}.{Operation}``; bodies are JSON shaped
like the input/output structures, with base64 blobs and epoch-second timestamps unless a member's
``timestampFormat`` says otherwise. The version (1.0/1.1) only changes the content type, which
is taken from the service model's ``jsonVersion``.
"""

from __future__ import annotations

import json as _json
from typing import Any

from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from cove.aws.errors import ServiceError
from cove.aws.http import HttpRequest, HttpResponse
from cove.aws.protocols import common

__all__ = ["JsonCodec", "content_type", "decode_value", "encode_value", "looks_like", "target_of"]

_CONTENT_PREFIX = "application/x-amz-json-"


def looks_like(request: HttpRequest) -> bool:
    """True when the request is an awsJson call (its content type or an ``X-Amz-Target``)."""
    content_type = request.headers.get("content-type", "").lower()
    return content_type.startswith(_CONTENT_PREFIX) or "x-amz-target" in request.headers


def target_of(request: HttpRequest) -> tuple[str, str] | None:
    """``(targetPrefix, operation)`` from ``X-Amz-Target``, or None when absent or malformed."""
    target = request.headers.get("x-amz-target", "")
    prefix, dot, operation = target.rpartition(".")
    if not dot or not prefix or not operation:
        return None
    return prefix, operation


def content_type(service: ServiceModel) -> str:
    return f"{_CONTENT_PREFIX}{service.metadata.get('jsonVersion', '1.0')}"


def decode_value(shape: Shape, value: Any) -> Any:
    """Turn a JSON-decoded value into boto3's typed value for ``shape`` (None stays None)."""
    if value is None:
        return None
    if isinstance(shape, StructureShape):
        if shape.is_document_type:
            return value
        parsed: dict[str, Any] = {}
        for name, member in shape.members.items():
            raw = value.get(common.serialized_name(member, name))
            if raw is not None:
                parsed[name] = decode_value(member, raw)
        return parsed
    if isinstance(shape, ListShape):
        return [decode_value(shape.member, item) for item in value]
    if isinstance(shape, MapShape):
        return {key: decode_value(shape.value, item) for key, item in value.items()}
    kind = shape.type_name
    if kind == "timestamp":
        return common.parse_timestamp(value)
    if kind == "blob":
        return common.decode_blob(value)
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"expected a number, got {value!r}")
        return common.parse_float(value)
    return common.check_scalar(shape, value)


def encode_value(shape: Shape, value: Any) -> Any:
    """Turn a boto3-shaped value into its JSON form for ``shape`` (members that are None are
    dropped)."""
    if isinstance(shape, StructureShape):
        if shape.is_document_type:
            return value
        encoded: dict[str, Any] = {}
        for name, member in shape.members.items():
            item = value.get(name)
            if item is not None:
                encoded[common.serialized_name(member, name)] = encode_value(member, item)
        return encoded
    if isinstance(shape, ListShape):
        return [None if item is None else encode_value(shape.member, item) for item in value]
    if isinstance(shape, MapShape):
        return {
            str(key): None if item is None else encode_value(shape.value, item) for key, item in value.items()
        }
    kind = shape.type_name
    if kind == "timestamp":
        return common.format_timestamp(value, common.timestamp_format(shape, common.UNIX))
    if kind == "blob":
        return common.encode_blob(value)
    if kind in ("float", "double"):
        number = float(value)
        if number != number or number in (float("inf"), float("-inf")):
            return common.format_float(number)
        return value if isinstance(value, int) and not isinstance(value, bool) else number
    if kind in ("integer", "long", "short", "byte"):
        return int(value)
    if kind == "boolean":
        return bool(value)
    return value


class JsonCodec:
    """Codec for awsJson 1.0 / 1.1."""

    def operation_for(self, service: ServiceModel, request: HttpRequest) -> OperationModel | None:
        target = target_of(request)
        if target is None:
            return None
        prefix, operation = target
        if prefix != service.metadata.get("targetPrefix") or operation not in service.operation_names:
            return None
        return service.operation_model(operation)

    def parse(self, operation: OperationModel, request: HttpRequest) -> dict[str, Any]:
        shape = operation.input_shape
        try:
            body = _json.loads(request.body) if request.body.strip() else {}
            if shape is None or body is None:
                return {}
            if not isinstance(body, dict):
                raise ValueError("the body is not a JSON object")
            parsed = decode_value(shape, body)
        except (ValueError, TypeError, AttributeError) as exc:
            raise common.malformed(f"Could not parse the request body: {exc}") from exc
        assert isinstance(parsed, dict)
        return parsed

    def serialize(self, operation: OperationModel, output: dict[str, Any], request_id: str) -> HttpResponse:
        shape = operation.output_shape
        body = {} if shape is None else encode_value(shape, common.strip_metadata(output))
        return HttpResponse(
            status=200,
            headers=self._headers(operation.service_model, request_id),
            body=_json.dumps(body, separators=(",", ":")).encode("utf-8"),
        )

    def serialize_error(
        self, service: ServiceModel, operation: OperationModel | None, error: ServiceError, request_id: str
    ) -> HttpResponse:
        headers = self._headers(service, request_id)
        if service.is_query_compatible:
            # botocore maps the header's code onto Error.Code for services migrated from query.
            headers["x-amzn-query-error"] = f"{error.code};{'Sender' if error.sender_fault else 'Receiver'}"
        body: dict[str, str] = {**error.extra, "__type": error.code, "message": error.message}
        return HttpResponse(
            status=error.status,
            headers=headers,
            body=_json.dumps(body, separators=(",", ":")).encode("utf-8"),
        )

    def _headers(self, service: ServiceModel, request_id: str) -> dict[str, str]:
        return {"Content-Type": content_type(service), "x-amzn-RequestId": request_id}
