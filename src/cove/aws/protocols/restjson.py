"""The rest-json protocol (Lambda, API Gateway, SageMaker Runtime, ...): REST locations plus a
JSON body; the inverse of botocore's ``RestJSONSerializer`` / ``RestJSONParser``."""

from __future__ import annotations

import json
from typing import Any

from botocore.model import OperationModel, ServiceModel, Shape

from cove.aws.errors import ServiceError
from cove.aws.http import HttpResponse
from cove.aws.protocols.common import (
    UNIX,
    decode_blob,
    encode_blob,
    format_timestamp,
    parse_float,
    parse_timestamp,
    timestamp_format,
)
from cove.aws.protocols.rest import RestCodec

__all__ = ["RestJsonCodec", "from_json", "to_json"]


def _wire_name(member: Shape, name: str) -> str:
    return str(member.serialization.get("name", name))


def from_json(shape: Shape, value: Any) -> Any:
    """A JSON value as botocore's ``JSONSerializer`` writes it, back to boto3's Python value."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type:
            return value
        parsed: dict[str, Any] = {}
        for name, member in shape.members.items():
            raw = value.get(_wire_name(member, name))
            if raw is not None:
                parsed[name] = from_json(member, raw)
        return parsed
    if kind == "list":
        return [from_json(shape.member, item) for item in value]
    if kind == "map":
        return {key: from_json(shape.value, item) for key, item in value.items()}
    if kind == "blob":
        return decode_blob(value)
    if kind == "timestamp":
        return parse_timestamp(value)
    if kind in ("float", "double"):
        return parse_float(value)
    if kind in ("integer", "long", "short", "byte") and isinstance(value, str):
        return int(value)
    return value


def to_json(shape: Shape, value: Any) -> Any:
    """A Python value as botocore's ``BaseJSONParser`` reads it."""
    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type:
            return value
        body: dict[str, Any] = {}
        for name, item in value.items():
            member = shape.members.get(name)
            if member is None or item is None:
                continue
            body[_wire_name(member, name)] = to_json(member, item)
        return body
    if kind == "list":
        return [to_json(shape.member, item) for item in value]
    if kind == "map":
        return {str(key): to_json(shape.value, item) for key, item in value.items()}
    if kind == "blob":
        return encode_blob(value)
    if kind == "timestamp":
        return format_timestamp(value, timestamp_format(shape, UNIX))
    if kind in ("float", "double"):
        number = float(value)
        if number != number:
            return "NaN"
        if number in (float("inf"), float("-inf")):
            return "Infinity" if number > 0 else "-Infinity"
        return value
    return value


def _dumps(document: Any) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class RestJsonCodec(RestCodec):
    content_type = "application/json"

    def parse_body(self, shape: Shape, body: bytes) -> dict[str, Any]:
        document = json.loads(body)
        parsed: dict[str, Any] = {}
        for name, member in shape.members.items():
            if "location" in member.serialization:
                continue
            raw = document.get(_wire_name(member, name))
            if raw is not None:
                parsed[name] = from_json(member, raw)
        return parsed

    def parse_document(self, shape: Shape, body: bytes, member_name: str) -> Any:
        return from_json(shape, json.loads(body))

    def serialize_body(self, operation: OperationModel, shape: Shape, values: dict[str, Any]) -> bytes:
        # Like AWS, answer "{}" whenever the output has body members, none when it has none.
        if not any("location" not in member.serialization for member in shape.members.values()):
            return b""
        return _dumps(to_json(shape, values))

    def serialize_document(
        self, operation: OperationModel, shape: Shape, value: Any, member_name: str
    ) -> bytes:
        return _dumps(to_json(shape, value))

    def serialize_error(
        self, service: ServiceModel, operation: OperationModel | None, error: ServiceError, request_id: str
    ) -> HttpResponse:
        # botocore takes Code from x-amzn-ErrorType first, then "code"/"__type" in the body, and
        # Message from "message" or "Message"; a modeled error shape decides which spelling its
        # own members use, so modeled fields are filled too.
        message_key = "message"
        try:
            error_shape = service.shape_for_error_code(error.code)
        except Exception:  # botocore raises various lookup errors for unknown codes
            error_shape = None
        if error_shape is not None:
            for name, member in error_shape.members.items():
                if _wire_name(member, name).lower() == "message":
                    message_key = _wire_name(member, name)
        body: dict[str, Any] = {"__type": error.code, message_key: error.message}
        for key, value in error.extra.items():
            body[key] = value
        return HttpResponse(
            status=error.status,
            headers={
                "x-amzn-RequestId": request_id,
                "x-amzn-ErrorType": error.code,
                "Content-Type": self.content_type,
            },
            body=_dumps(body),
        )
