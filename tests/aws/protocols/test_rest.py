"""Shared REST machinery: routing, virtual-host S3, header values; plus the round-trip helpers the
rest-json and rest-xml tests share."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.model import OperationModel, Shape, ShapeResolver

from cove.aws.http import HttpRequest
from cove.aws.protocols.base import Codec
from cove.aws.protocols.rest import (
    Route,
    format_header_value,
    parse_header_value,
    s3_bucket_from_host,
    s3_path_style,
    split_header_list,
)
from cove.aws.protocols.restjson import RestJsonCodec
from cove.aws.protocols.restxml import RestXmlCodec

from .roundtrip import (
    botocore_parse,
    botocore_request,
    operations,
    sample_input,
    sample_output,
    service_model,
    strip_metadata,
)

__all__ = ["PAYLOAD_BYTES", "rest_input", "rest_input_trip", "rest_output", "rest_output_trip", "same_route"]

# botocore decodes blob payloads it reads back as utf-8 text, so payload samples stay ASCII.
PAYLOAD_BYTES = b"payload bytes \x01 ok"


def _whole_seconds(shape: Shape, value: dict[str, Any]) -> None:
    # Header timestamps travel as RFC 7231 dates: whole seconds only.
    for name, member in shape.members.items():
        if name in value and member.serialization.get("location") == "header":
            if member.type_name == "timestamp":
                value[name] = value[name].replace(microsecond=0)
            elif member.type_name == "list" and member.member.type_name == "timestamp":
                value[name] = [item.replace(microsecond=0) for item in value[name]]


def _fill_payload(shape: Shape | None, value: dict[str, Any]) -> None:
    if shape is None:
        return
    payload = shape.serialization.get("payload")
    if payload is None or shape.members[payload].serialization.get("eventstream"):
        return
    member = shape.members[payload]
    if member.type_name == "blob":
        value[payload] = PAYLOAD_BYTES
    elif member.type_name == "string":
        value[payload] = "payload text é"


def rest_input(operation: OperationModel) -> dict[str, Any]:
    """Sample parameters for a rest operation, streaming payload included."""
    params = sample_input(operation)
    shape = operation.input_shape
    if shape is not None:
        _whole_seconds(shape, params)
        _fill_payload(shape, params)
        # A real Content-MD5 is tested on its own; a sample string is not a digest.
        params.pop("ContentMD5", None)
    return params


def rest_output(operation: OperationModel) -> dict[str, Any]:
    output = sample_output(operation)
    shape = operation.output_shape
    if shape is not None:
        _whole_seconds(shape, output)
        _fill_payload(shape, output)
        for name, member in shape.members.items():
            if member.serialization.get("location") == "statusCode":
                output[name] = 202
    return output


def same_route(found: OperationModel, wanted: OperationModel) -> bool:
    """Operations no request can tell apart (a deprecated twin, ListBuckets/ListDirectoryBuckets)."""
    one, other = Route.compile(found), Route.compile(wanted)
    return (
        found.http.get("method") == wanted.http.get("method")
        and one.pattern.pattern == other.pattern.pattern
        and one.literal_query == other.literal_query
        and set(other.required_query) <= set(one.required_query)
        and set(other.required_headers) <= set(one.required_headers)
    )


def rest_input_trip(codec: Codec, protocol: str, operation: OperationModel, params: dict[str, Any]) -> Any:
    request = botocore_request(protocol, operation, params, validate=False)
    found = codec.operation_for(operation.service_model, request)
    assert found is not None, f"no operation for {request.method} {request.path}?{request.query}"
    assert found.name == operation.name or same_route(found, operation), found.name
    return codec.parse(operation, request)


def _expected_output(operation: OperationModel, output: dict[str, Any]) -> dict[str, Any]:
    expected = dict(output)
    shape = operation.output_shape
    payload = None if shape is None else shape.serialization.get("payload")
    if shape is not None and payload is not None and shape.members[payload].type_name in ("blob", "string"):
        # botocore hands payloads back as text when it reads them from bytes.
        value = expected.get(payload, b"")
        expected[payload] = value.decode("utf-8") if isinstance(value, bytes) else value
    return expected


def rest_output_trip(
    codec: Codec, protocol: str, operation: OperationModel, output: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what botocore parsed, what it should have parsed) for ``output`` serialized by ``codec``."""
    response = codec.serialize(operation, output, "req-42")
    status_members = [
        name
        for name, member in (operation.output_shape.members.items() if operation.output_shape else [])
        if member.serialization.get("location") == "statusCode"
    ]
    expected_status = output[status_members[0]] if status_members else operation.http.get("responseCode", 200)
    assert response.status == expected_status
    parsed = botocore_parse(protocol, operation.output_shape, response)
    assert parsed["ResponseMetadata"]["RequestId"] == "req-42"
    return strip_metadata(parsed), _expected_output(operation, output)


# ---- routing


def test_s3_bucket_from_host() -> None:
    assert s3_bucket_from_host("mybucket.s3.amazonaws.com") == "mybucket"
    assert s3_bucket_from_host("my.dotted.bucket.s3.us-west-2.amazonaws.com") == "my.dotted.bucket"
    assert s3_bucket_from_host("logs.s3-eu-west-1.amazonaws.com") == "logs"
    assert s3_bucket_from_host("bucket.s3.cove.internal:8443") == "bucket"
    assert s3_bucket_from_host("bucket.localhost:1234") == "bucket"
    assert s3_bucket_from_host("bucket.cove.test", base_hosts=("cove.test",)) == "bucket"
    for host in (
        "localhost",
        "localhost:1234",
        "s3.amazonaws.com",
        "s3.localhost",
        "127.0.0.1:9000",
        "",
        "[::1]:80",
    ):
        assert s3_bucket_from_host(host) is None, host


def test_s3_path_style_rewrites_virtual_host_requests() -> None:
    def request(host: str, path: str) -> HttpRequest:
        return HttpRequest("GET", path, "", {"host": host})

    assert s3_path_style(request("b1.localhost:1234", "/")) == "/b1"
    assert s3_path_style(request("b1.localhost:1234", "/a/b%20c")) == "/b1/a/b%20c"
    assert s3_path_style(request("localhost:1234", "/b1/key")) == "/b1/key"


def test_header_list_split_honours_quotes() -> None:
    assert split_header_list('a, "b,c", "d\\"e",f') == ["a", "b,c", 'd"e', "f"]
    assert split_header_list("") == [""]


def test_header_values_round_trip() -> None:
    model = service_model("s3")
    expires = model.operation_model("PutObject").input_shape.members["Expires"]
    moment = datetime(2024, 3, 1, 12, 0, 5, tzinfo=UTC)
    assert format_header_value(expires, moment) == "Fri, 01 Mar 2024 12:00:05 GMT"
    assert parse_header_value(expires, "Fri, 01 Mar 2024 12:00:05 GMT") == moment
    tags = ShapeResolver(
        {"L": {"type": "list", "member": {"shape": "S"}, "location": "header"}, "S": {"type": "string"}}
    ).get_shape_by_name("L")
    assert format_header_value(tags, ["a", "b,c"]) == 'a,"b,c"'
    assert parse_header_value(tags, 'a, "b,c"') == ["a", "b,c"]


def test_jsonvalue_header_is_base64_json() -> None:
    # No bundled rest service we test has a jsonvalue header member, so build one.
    shape = ShapeResolver(
        {"J": {"type": "string", "jsonvalue": True, "location": "header"}}
    ).get_shape_by_name("J")
    text = format_header_value(shape, {"a": [1, 2]})
    assert json.loads(base64.b64decode(text)) == {"a": [1, 2]}
    assert parse_header_value(shape, text) == {"a": [1, 2]}


@pytest.mark.parametrize("name", operations("s3"))
def test_every_s3_operation_routes_to_itself(name: str) -> None:
    operation = service_model("s3").operation_model(name)
    request = botocore_request("rest-xml", operation, rest_input(operation), validate=False)
    found = RestXmlCodec().operation_for(operation.service_model, request)
    assert found is not None
    assert found.name == name or same_route(found, operation), found.name


def test_s3_most_specific_route_wins() -> None:
    codec = RestXmlCodec()
    model = service_model("s3")

    def route(method: str, path: str, query: str = "", headers: dict[str, str] | None = None) -> str | None:
        found = codec.operation_for(
            model, HttpRequest(method, path, query, {"host": "localhost", **(headers or {})})
        )
        return None if found is None else found.name

    assert route("GET", "/") == "ListBuckets"
    assert route("GET", "/b") == "ListObjects"
    assert route("GET", "/b/") == "ListObjects"
    assert route("GET", "/b", "list-type=2&prefix=x") == "ListObjectsV2"
    assert route("GET", "/b", "policy") == "GetBucketPolicy"
    assert route("GET", "/b", "list-type=3") == "ListObjects"
    assert route("GET", "/b/k/with/slashes") == "GetObject"
    assert route("GET", "/b/k", "uploadId=u") == "ListParts"
    assert route("PUT", "/b/k") == "PutObject"
    assert route("PUT", "/b/k", "", {"x-amz-copy-source": "/o/k"}) == "CopyObject"
    assert route("PUT", "/b/k", "partNumber=1&uploadId=u") == "UploadPart"
    assert route("PUT", "/b/k", "partNumber=1&uploadId=u", {"x-amz-copy-source": "/o/k"}) == "UploadPartCopy"
    assert route("DELETE", "/b/k", "uploadId=u") == "AbortMultipartUpload"
    assert route("DELETE", "/b/k") == "DeleteObject"
    assert route("POST", "/b/k", "uploads") == "CreateMultipartUpload"
    assert route("GET", "/b", "analytics") == "ListBucketAnalyticsConfigurations"
    assert route("GET", "/b", "analytics&id=a") == "GetBucketAnalyticsConfiguration"
    assert route("GET", "/b", "lifecycle") == "GetBucketLifecycleConfiguration"
    assert route("HEAD", "/b") == "HeadBucket"
    assert route("HEAD", "/b/k") == "HeadObject"
    assert route("PATCH", "/b") is None


def test_virtual_host_requests_route_and_parse_like_path_style() -> None:
    codec = RestXmlCodec()
    operation = service_model("s3").operation_model("GetObject")
    request = HttpRequest(
        "GET", "/dir/a%20b%2Bc", "versionId=v1", {"host": "bkt.localhost:1234", "range": "bytes=0-1"}
    )
    assert codec.operation_for(operation.service_model, request) is operation
    assert codec.parse(operation, request) == {
        "Bucket": "bkt",
        "Key": "dir/a b+c",
        "VersionId": "v1",
        "Range": "bytes=0-1",
    }
    listing = HttpRequest("GET", "/", "list-type=2", {"host": "bkt.s3.us-east-1.amazonaws.com"})
    found = codec.operation_for(service_model("s3"), listing)
    assert found is not None and found.name == "ListObjectsV2"
    assert codec.parse(found, listing) == {"Bucket": "bkt"}


def test_labels_are_percent_decoded_and_greedy_labels_keep_slashes() -> None:
    codec = RestJsonCodec()
    model = service_model("lambda")
    arn = "arn:aws:lambda:us-east-1:123456789012:function:f"
    request = botocore_request(
        "rest-json", model.operation_model("GetFunction"), {"FunctionName": arn, "Qualifier": "$LATEST"}
    )
    assert "%3A" in request.path
    found = codec.operation_for(model, request)
    assert found is not None and found.name == "GetFunction"
    assert codec.parse(found, request) == {"FunctionName": arn, "Qualifier": "$LATEST"}


def test_route_index_is_built_once_per_service() -> None:
    from cove.aws.protocols import rest

    model = service_model("s3")
    assert rest._index_for(model) is rest._index_for(model)
