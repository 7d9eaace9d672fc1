"""The awsJson codec against botocore's JSONSerializer and JSONParser."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from cove.aws.errors import ServiceError, ValidationException
from cove.aws.http import HttpRequest
from cove.aws.protocols.json import JsonCodec, looks_like, target_of

from .roundtrip import (
    SAMPLE_BLOB,
    botocore_parse,
    botocore_request,
    input_round_trip,
    operations,
    output_round_trip,
    sample_input,
    sample_output,
    service_model,
    synthetic_payload,
    synthetic_service,
)

CODEC = JsonCodec()
CASES = [
    *[
        (service, name)
        for service in ("kms", "logs", "application-autoscaling")
        for name in operations(service)
    ],
    *[("sagemaker", name) for name in operations("sagemaker", limit=150)],
    *[("cloudwatch", name) for name in operations("cloudwatch")],
]


@pytest.mark.parametrize(("service", "name"), CASES)
def test_generated_round_trip(service: str, name: str) -> None:
    operation = service_model(service).operation_model(name)
    params = sample_input(operation)
    assert input_round_trip(CODEC, "json", operation, params) == params
    output = sample_output(operation)
    assert output_round_trip(CODEC, "json", operation, output) == output


def test_synthetic_traits_round_trip() -> None:
    operation = synthetic_service("json").operation_model("Echo")
    payload = synthetic_payload()
    assert input_round_trip(CODEC, "json", operation, payload) == payload
    assert output_round_trip(CODEC, "json", operation, payload) == payload
    body = json.loads(CODEC.serialize(operation, payload, "r").body)
    assert body["OtherName"] == "renamed"
    assert body["Iso"] == "2022-12-31T23:59:59.123Z"
    assert body["Epoch"] == 1620284889.5
    assert body["Default"] == 946684800


def test_wire_format_of_a_response() -> None:
    operation = service_model("kms").operation_model("Encrypt")
    output = {"CiphertextBlob": SAMPLE_BLOB, "KeyId": "k", "ResponseMetadata": {"RequestId": "x"}}
    response = CODEC.serialize(operation, output, "rid-1")
    assert response.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert response.headers["x-amzn-RequestId"] == "rid-1"
    assert json.loads(response.body) == {"CiphertextBlob": "AAFiaW5hcnn//g==", "KeyId": "k"}


def test_json_version_follows_the_model() -> None:
    operation = service_model("cloudwatch").operation_model("ListMetrics")
    assert CODEC.serialize(operation, {}, "r").headers["Content-Type"] == "application/x-amz-json-1.0"


def test_lenient_output_values() -> None:
    operation = service_model("kms").operation_model("DescribeKey")
    moment = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)
    output = {"KeyMetadata": {"KeyId": "k", "CreationDate": "2024-03-01T12:00:00Z"}}
    parsed = botocore_parse("json", operation.output_shape, CODEC.serialize(operation, output, "r"))
    assert parsed["KeyMetadata"]["CreationDate"] == moment
    output = {"KeyMetadata": {"KeyId": "k", "CreationDate": moment.replace(tzinfo=None)}}
    parsed = botocore_parse("json", operation.output_shape, CODEC.serialize(operation, output, "r"))
    assert parsed["KeyMetadata"]["CreationDate"] == moment


def test_empty_body_is_empty_input() -> None:
    operation = service_model("kms").operation_model("ListKeys")
    headers = {"x-amz-target": "TrentService.ListKeys", "content-type": "application/x-amz-json-1.1"}
    assert CODEC.parse(operation, HttpRequest("POST", "/", "", headers, b"")) == {}


@pytest.mark.parametrize(
    "error",
    [
        ValidationException("bad name"),
        ServiceError("missing", code="ResourceNotFound", status=400),
        ServiceError("limit", code="ThrottlingException", status=429),
        ServiceError("down", code="ServiceUnavailable", status=503, sender_fault=False),
    ],
)
def test_error(error: ServiceError) -> None:
    service = service_model("sagemaker")
    operation = service.operation_model("DescribeTrainingJob")
    response = CODEC.serialize_error(service, operation, error, "rid-e")
    assert response.status == error.status
    assert "x-amzn-query-error" not in response.headers
    parsed = botocore_parse("json", operation.output_shape, response)
    assert parsed["Error"]["Code"] == error.code
    assert parsed["Error"]["Message"] == error.message
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-e"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == error.status


def test_query_compatible_error() -> None:
    service = service_model("cloudwatch")
    operation = service.operation_model("GetMetricData")
    error = ServiceError("no such thing", code="ResourceNotFound", status=404)
    response = CODEC.serialize_error(service, operation, error, "rid-q")
    assert response.headers["x-amzn-query-error"] == "ResourceNotFound;Sender"
    parsed = botocore_parse("json", operation.output_shape, response)
    assert parsed["Error"]["Code"] == "ResourceNotFound"
    assert parsed["Error"]["Type"] == "Sender"
    assert parsed["Error"]["Message"] == "no such thing"


def test_operation_for_checks_the_target_prefix() -> None:
    service = service_model("logs")
    operation = service.operation_model("PutLogEvents")
    request = botocore_request(
        "json",
        operation,
        {"logGroupName": "g", "logStreamName": "s", "logEvents": [{"timestamp": 1, "message": "m"}]},
    )
    assert request.headers["x-amz-target"] == "Logs_20140328.PutLogEvents"
    found = CODEC.operation_for(service, request)
    assert found is not None and found.name == "PutLogEvents"
    wrong = HttpRequest("POST", "/", "", {"x-amz-target": "TrentService.PutLogEvents"}, b"{}")
    assert CODEC.operation_for(service, wrong) is None
    unknown = HttpRequest("POST", "/", "", {"x-amz-target": "Logs_20140328.Fly"}, b"{}")
    assert CODEC.operation_for(service, unknown) is None
    assert CODEC.operation_for(service, HttpRequest("POST", "/", "", {}, b"{}")) is None


def test_looks_like_and_target_of() -> None:
    request = HttpRequest(
        "POST",
        "/",
        "",
        {"x-amz-target": "SageMaker.ListModels", "content-type": "application/x-amz-json-1.1"},
        b"{}",
    )
    assert looks_like(request)
    assert target_of(request) == ("SageMaker", "ListModels")
    form = HttpRequest("POST", "/", "", {"content-type": "application/x-www-form-urlencoded"}, b"Action=X")
    assert not looks_like(form)
    assert target_of(form) is None


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("ListAliases", b"{not json"),
        ("ListAliases", b"[1, 2]"),
        ("ListAliases", b'{"Limit": "many"}'),
        ("ListAliases", b'{"Marker": 3}'),
        ("Encrypt", b'{"KeyId": "k", "Plaintext": "not base64!!"}'),
        ("Encrypt", b'{"KeyId": {"a": 1}, "Plaintext": ""}'),
        ("CreateKey", b'{"Tags": {"TagKey": "k"}}'),
    ],
)
def test_malformed_body_is_a_serialization_error(name: str, body: bytes) -> None:
    operation = service_model("kms").operation_model(name)
    headers = {"content-type": "application/x-amz-json-1.1"}
    with pytest.raises(ServiceError) as caught:
        CODEC.parse(operation, HttpRequest("POST", "/", "", headers, body))
    assert caught.value.code == "SerializationException"
    assert caught.value.status == 400
