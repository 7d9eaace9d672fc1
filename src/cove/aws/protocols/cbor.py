"""The ``smithy-rpc-v2-cbor`` protocol (CloudWatch in current botocore).

Requests are ``POST /service/{targetPrefix}/operation/{Operation}`` with a CBOR body and the
``smithy-protocol: rpc-v2-cbor`` header. Timestamps travel as CBOR tag 1 (epoch seconds), blobs
as byte strings; responses name members by their model names, as botocore's ``RpcV2CBORParser``
reads them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import cbor2
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape

from cove.aws.errors import ServiceError
from cove.aws.http import HttpRequest, HttpResponse
from cove.aws.protocols import common

__all__ = ["CborCodec", "looks_like", "route_of"]

_PROTOCOL = "rpc-v2-cbor"
_CONTENT_TYPE = "application/cbor"


def looks_like(request: HttpRequest) -> bool:
    """True when the request is an RPC v2 CBOR call (its ``smithy-protocol`` header)."""
    return request.headers.get("smithy-protocol", "").lower() == _PROTOCOL


def route_of(request: HttpRequest) -> tuple[str, str] | None:
    """``(service, operation)`` from a ``/service/{service}/operation/{operation}`` path."""
    parts = request.path.split("?", 1)[0].strip("/").split("/")
    if len(parts) < 4 or parts[-4] != "service" or parts[-2] != "operation":
        return None
    return unquote(parts[-3]), unquote(parts[-1])


def _decode(shape: Shape, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, cbor2.CBORTag):
        value = value.value
    if isinstance(shape, StructureShape):
        if shape.is_document_type:
            return value
        parsed: dict[str, Any] = {}
        for name, member in shape.members.items():
            raw = value.get(common.serialized_name(member, name), value.get(name))
            if raw is not None:
                parsed[name] = _decode(member, raw)
        return parsed
    if isinstance(shape, ListShape):
        return [_decode(shape.member, item) for item in value]
    if isinstance(shape, MapShape):
        return {key: _decode(shape.value, item) for key, item in value.items()}
    kind = shape.type_name
    if kind == "timestamp":
        return common.to_datetime(value)
    if kind == "blob":
        return common.to_bytes(value)
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"expected a number, got {value!r}")
        return common.parse_float(value)
    return common.check_scalar(shape, value)


def _encode(shape: Shape, value: Any) -> Any:
    if isinstance(shape, StructureShape):
        if shape.is_document_type:
            return value
        # botocore's RpcV2 parser looks members up by model name, not locationName.
        return {
            name: _encode(member, value[name])
            for name, member in shape.members.items()
            if value.get(name) is not None
        }
    if isinstance(shape, ListShape):
        return [None if item is None else _encode(shape.member, item) for item in value]
    if isinstance(shape, MapShape):
        return {str(key): _encode(shape.value, item) for key, item in value.items() if item is not None}
    kind = shape.type_name
    if kind == "timestamp":
        return cbor2.CBORTag(1, common.format_timestamp(value, common.UNIX))
    if kind == "blob":
        return common.to_bytes(value)
    if kind in ("float", "double"):
        return float(value)
    if kind in ("integer", "long", "short", "byte"):
        return int(value)
    if kind == "boolean":
        return bool(value)
    return value


class CborCodec:
    """Codec for smithy-rpc-v2-cbor."""

    def operation_for(self, service: ServiceModel, request: HttpRequest) -> OperationModel | None:
        route = route_of(request)
        if route is None:
            return None
        service_name, operation = route
        if service_name != service.metadata.get("targetPrefix") or operation not in service.operation_names:
            return None
        return service.operation_model(operation)

    def parse(self, operation: OperationModel, request: HttpRequest) -> dict[str, Any]:
        shape = operation.input_shape
        if shape is None or not request.body:
            return {}
        try:
            body = cbor2.loads(request.body)
            if body is None:
                return {}
            if not isinstance(body, dict):
                raise ValueError("the body is not a CBOR map")
            parsed = _decode(shape, body)
        except (cbor2.CBORDecodeError, ValueError, TypeError, AttributeError) as exc:
            raise common.malformed(f"Could not parse the request body: {exc}") from exc
        assert isinstance(parsed, dict)
        return parsed

    def serialize(self, operation: OperationModel, output: dict[str, Any], request_id: str) -> HttpResponse:
        shape = operation.output_shape
        body = {} if shape is None else _encode(shape, common.strip_metadata(output))
        return HttpResponse(status=200, headers=self._headers(request_id), body=cbor2.dumps(body))

    def serialize_error(
        self, service: ServiceModel, operation: OperationModel | None, error: ServiceError, request_id: str
    ) -> HttpResponse:
        headers = self._headers(request_id)
        if service.is_query_compatible:
            headers["x-amzn-query-error"] = f"{error.code};{'Sender' if error.sender_fault else 'Receiver'}"
        body: dict[str, str] = {**error.extra, "__type": error.code, "message": error.message}
        return HttpResponse(status=error.status, headers=headers, body=cbor2.dumps(body))

    def _headers(self, request_id: str) -> dict[str, str]:
        return {"Content-Type": _CONTENT_TYPE, "smithy-protocol": _PROTOCOL, "x-amzn-RequestId": request_id}
