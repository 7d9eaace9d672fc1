"""Round-trip harness shared by the protocol codec tests.

* :func:`sample_value` fills any botocore shape with typed sample values (nested structures,
  lists, maps, timestamps, blobs, enums, documents, unions) that satisfy the model's
  min/max constraints, so botocore's validating serializer accepts them.
* :func:`botocore_request` lets botocore serialize input parameters into a real
  :class:`HttpRequest` (through ``AWSRequest.prepare()``, as the SDK sends it).
* :func:`botocore_parse` reads a codec's :class:`HttpResponse` back with botocore's parser.
* :func:`input_round_trip` / :func:`output_round_trip` chain these around a codec.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import botocore.session
from botocore.awsrequest import HeadersDict, create_request_object, prepare_request_dict
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from cove.aws.http import HttpRequest, HttpResponse
from cove.aws.protocols.base import Codec

__all__ = [
    "ENDPOINT",
    "SAMPLE_BLOB",
    "SYNTHETIC_SHAPES",
    "botocore_parse",
    "botocore_request",
    "input_round_trip",
    "operations",
    "output_round_trip",
    "prune_empty",
    "sample_input",
    "sample_output",
    "sample_value",
    "service_model",
    "strip_metadata",
    "synthetic_payload",
    "synthetic_service",
]

ENDPOINT = "https://cove.test"
SAMPLE_BLOB = b"\x00\x01binary\xff\xfe"
_MAX_DEPTH = 5
_session = botocore.session.get_session()
_models: dict[str, ServiceModel] = {}


def service_model(name: str) -> ServiceModel:
    if name not in _models:
        _models[name] = _session.get_service_model(name)
    return _models[name]


def operations(service: str, *, limit: int | None = None) -> list[str]:
    """The service's operation names (an even spread of ``limit`` of them when given), skipping
    event-stream operations, which rpc protocols do not carry as plain bodies."""
    model = service_model(service)
    names = [
        name
        for name in sorted(model.operation_names)
        if not model.operation_model(name).has_event_stream_output
        and not model.operation_model(name).has_event_stream_input
    ]
    if limit is None or limit >= len(names):
        return names
    step = len(names) / limit
    return [names[int(index * step)] for index in range(limit)]


def _sized(text: str, shape: Shape) -> str:
    low = int(shape.metadata.get("min", 0))
    high = shape.metadata.get("max")
    if len(text) < low:
        text = text + "x" * (low - len(text))
    if high is not None and len(text) > int(high):
        text = text[: int(high)]
    return text


def _number(shape: Shape, preferred: int) -> int:
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    value = preferred
    if low is not None and value < low:
        value = int(low)
    if high is not None and value > high:
        value = int(high)
    return value


def _timestamp(shape: Shape) -> datetime:
    # rfc822 carries whole seconds only; every other format keeps milliseconds.
    if str(shape.serialization.get("timestampFormat", "")).lower() == "rfc822":
        return datetime(2024, 2, 29, 23, 59, 58, tzinfo=UTC)
    return datetime(2024, 2, 29, 23, 59, 58, 678000, tzinfo=UTC)


def sample_value(shape: Shape, name: str = "value", depth: int = 0) -> Any:
    """A typed sample for ``shape``; ``name`` seeds strings so values differ between members."""
    if isinstance(shape, StructureShape):
        return _sample_structure(shape, depth, seed=name[-1:] if name[-1:].isdigit() else "")
    if isinstance(shape, ListShape):
        count = _number(shape, 2 if depth < _MAX_DEPTH else 1)
        return [sample_value(shape.member, f"{name}{index}", depth + 1) for index in range(count)]
    if isinstance(shape, MapShape):
        count = _number(shape, 2 if depth < _MAX_DEPTH else 1)
        keys = [sample_value(shape.key, f"k{index}", depth + 1) for index in range(count)]
        if shape.key.enum:
            keys = list(dict.fromkeys(shape.key.enum[:count]))
        elif len(set(keys)) < len(keys):
            keys = keys[:1]
        return {key: sample_value(shape.value, f"{name}{key}", depth + 1) for key in keys}
    kind = shape.type_name
    if kind == "string":
        if shape.enum:
            return shape.enum[len(name) % len(shape.enum)]
        if shape.serialization.get("hostLabel"):
            return "label"
        return _sized(f"{name}-é&<x>'\"", shape)
    if kind in ("integer", "short", "byte"):
        return _number(shape, 7 + len(name) % 5)
    if kind == "long":
        return _number(shape, 2**40 + len(name))
    if kind in ("float", "double"):
        return 1.5
    if kind == "boolean":
        return len(name) % 2 == 0
    if kind == "timestamp":
        return _timestamp(shape)
    if kind == "blob":
        return SAMPLE_BLOB
    raise ValueError(f"no sample for shape type {kind}")


def _sample_structure(shape: StructureShape, depth: int, seed: str = "") -> dict[str, Any]:
    if shape.is_document_type:
        return {"doc": ["a", 1, True], "nested": {"n": 2.5}}
    members = shape.members
    if shape.is_tagged_union:
        first = next(iter(members))
        return {first: sample_value(members[first], first + seed, depth + 1)}
    required = set(shape.required_members)
    value: dict[str, Any] = {}
    for member_name, member in members.items():
        if member.serialization.get("eventstream") or member.serialization.get("streaming"):
            continue
        deep = depth >= _MAX_DEPTH and member.type_name in ("structure", "list", "map")
        if deep and member_name not in required:
            continue
        value[member_name] = sample_value(member, member_name + seed, depth + 1)
    return value


def sample_input(operation: OperationModel) -> dict[str, Any]:
    shape = operation.input_shape
    return {} if shape is None else _sample_structure(shape, 0)


def sample_output(operation: OperationModel) -> dict[str, Any]:
    shape = operation.output_shape
    return {} if shape is None else _sample_structure(shape, 0)


def botocore_request(
    protocol: str, operation: OperationModel, params: dict[str, Any], *, validate: bool = True
) -> HttpRequest:
    """What botocore's client sends for ``params``, as Cove's edge would receive it."""
    serializer = create_serializer(protocol, include_validation=validate)
    request_dict = serializer.serialize_to_request(params, operation)
    prepare_request_dict(request_dict, endpoint_url=ENDPOINT)
    prepared = create_request_object(request_dict).prepare()
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode("utf-8")
    headers = {key.lower(): str(value) for key, value in prepared.headers.items()}
    headers.setdefault("host", url.netloc)
    return HttpRequest(
        method=prepared.method, path=url.path or "/", query=url.query, headers=headers, body=bytes(body)
    )


def botocore_parse(protocol: str, shape: Shape | None, response: HttpResponse) -> dict[str, Any]:
    """botocore's parsed response (``ResponseMetadata`` included) for a codec's response."""
    headers = HeadersDict()
    for key, value in response.headers.items():
        headers[key] = value
    parsed = create_parser(protocol).parse(
        {"status_code": response.status, "headers": headers, "body": response.body}, shape
    )
    assert isinstance(parsed, dict)
    return parsed


def strip_metadata(parsed: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in parsed.items() if key != "ResponseMetadata"}


def prune_empty(value: Any) -> Any:
    """``value`` without empty dicts: query-style forms cannot express an empty structure, so
    botocore sends nothing for it."""
    if isinstance(value, dict):
        pruned = {key: prune_empty(item) for key, item in value.items()}
        return {key: item for key, item in pruned.items() if item != {}}
    if isinstance(value, list):
        return [prune_empty(item) for item in value]
    return value


def input_round_trip(codec: Codec, protocol: str, operation: OperationModel, params: dict[str, Any]) -> Any:
    """botocore serializes ``params``; the codec must name the operation and parse them back."""
    request = botocore_request(protocol, operation, params)
    found = codec.operation_for(operation.service_model, request)
    assert found is not None and found.name == operation.name, f"operation_for gave {found}"
    return codec.parse(operation, request)


def output_round_trip(
    codec: Codec, protocol: str, operation: OperationModel, output: dict[str, Any], request_id: str = "req-1"
) -> dict[str, Any]:
    """The codec serializes ``output``; botocore parses it (metadata stripped, request id checked)."""
    response = codec.serialize(operation, output, request_id)
    assert response.status == 200
    parsed = botocore_parse(protocol, operation.output_shape, response)
    metadata = parsed.get("ResponseMetadata", {})
    # botocore's RPC v2 parser reads no metadata at all for operations without output.
    if operation.output_shape is not None or protocol != "smithy-rpc-v2-cbor":
        assert metadata.get("RequestId") == request_id, metadata
    return strip_metadata(parsed)


# A tiny model that exercises the traits real services use sparingly: flattened lists and maps,
# renamed members, map key/value names, explicit timestamp formats, documents.
SYNTHETIC_SHAPES: dict[str, Any] = {
    "Payload": {
        "type": "structure",
        "members": {
            "Flat": {"shape": "FlatList"},
            "FlatNamed": {"shape": "FlatNamedList"},
            "Plain": {"shape": "StringList"},
            "Attrs": {"shape": "NamedMap"},
            "FlatAttrs": {"shape": "FlatMap"},
            "Renamed": {"shape": "String", "locationName": "OtherName"},
            "Epoch": {"shape": "EpochTime"},
            "Iso": {"shape": "IsoTime"},
            "Default": {"shape": "Time"},
            "Data": {"shape": "Blob"},
            "Ratio": {"shape": "Double"},
            "Small": {"shape": "Float"},
            "Flag": {"shape": "Boolean"},
            "Off": {"shape": "Boolean"},
            "Count": {"shape": "Integer"},
            "Big": {"shape": "Long"},
            "Children": {"shape": "ChildList"},
            "Empty": {"shape": "StringList"},
        },
    },
    "Child": {
        "type": "structure",
        "members": {"Name": {"shape": "String"}, "Tags": {"shape": "NamedMap"}},
    },
    "ChildList": {"type": "list", "member": {"shape": "Child"}},
    "FlatList": {"type": "list", "member": {"shape": "String"}, "flattened": True},
    "FlatNamedList": {
        "type": "list",
        "member": {"shape": "String", "locationName": "Item"},
        "flattened": True,
    },
    "StringList": {"type": "list", "member": {"shape": "String"}},
    "NamedMap": {
        "type": "map",
        "key": {"shape": "String", "locationName": "Name"},
        "value": {"shape": "String", "locationName": "Val"},
    },
    "FlatMap": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "Integer"}, "flattened": True},
    "String": {"type": "string"},
    "Blob": {"type": "blob"},
    "Double": {"type": "double"},
    "Float": {"type": "float"},
    "Boolean": {"type": "boolean"},
    "Integer": {"type": "integer"},
    "Long": {"type": "long"},
    "Time": {"type": "timestamp"},
    "EpochTime": {"type": "timestamp", "timestampFormat": "unixTimestamp"},
    "IsoTime": {"type": "timestamp", "timestampFormat": "iso8601"},
    "Fault": {
        "type": "structure",
        "members": {"message": {"shape": "String"}},
        "error": {"code": "Fault", "httpStatusCode": 409, "senderFault": True},
        "exception": True,
    },
}


def synthetic_service(protocol: str, **metadata: Any) -> ServiceModel:
    """A one-operation (``Echo``: Payload in, Payload out) service speaking ``protocol``."""
    output: dict[str, Any] = {"shape": "Payload"}
    if protocol == "query":
        output["resultWrapper"] = "EchoResult"
    model = {
        "metadata": {
            "apiVersion": "2020-01-01",
            "endpointPrefix": "synthetic",
            "protocol": protocol,
            "protocols": [protocol],
            "serviceId": "Synthetic",
            "signatureVersion": "v4",
            "uid": "synthetic-2020-01-01",
            "xmlNamespace": "https://synthetic.test/doc/2020-01-01/",
            "targetPrefix": "Synthetic_20200101",
            "jsonVersion": "1.1",
            **metadata,
        },
        "operations": {
            "Echo": {
                "name": "Echo",
                "http": {"method": "POST", "requestUri": "/"},
                "input": {"shape": "Payload"},
                "output": output,
                "errors": [{"shape": "Fault"}],
            },
            "Ping": {"name": "Ping", "http": {"method": "POST", "requestUri": "/"}},
        },
        "shapes": SYNTHETIC_SHAPES,
    }
    return ServiceModel(model, service_name="synthetic")


def synthetic_payload() -> dict[str, Any]:
    """A full ``Payload`` value with distinct, order-sensitive items."""
    return {
        "Flat": ["f1", "f2", "f3"],
        "FlatNamed": ["n1", "n2"],
        "Plain": ["p1", "p2"],
        "Attrs": {"a": "1", "b": "two & <three>"},
        "FlatAttrs": {"x": 1, "y": -2},
        "Renamed": "renamed",
        "Epoch": datetime(2021, 5, 6, 7, 8, 9, 500000, tzinfo=UTC),
        "Iso": datetime(2022, 12, 31, 23, 59, 59, 123000, tzinfo=UTC),
        "Default": datetime(2000, 1, 1, tzinfo=UTC),
        "Data": SAMPLE_BLOB,
        "Ratio": 0.1,
        "Small": 0.25,
        "Flag": True,
        "Off": False,
        "Count": -42,
        "Big": 2**53 + 1,
        "Children": [{"Name": "c1", "Tags": {"k": "v"}}, {"Name": "c2", "Tags": {}}],
        "Empty": [],
    }
