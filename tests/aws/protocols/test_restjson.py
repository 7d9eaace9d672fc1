"""The rest-json codec against botocore's RestJSONSerializer and RestJSONParser."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from cove.aws.errors import ServiceError, ValidationException
from cove.aws.http import HttpRequest
from cove.aws.protocols.restjson import RestJsonCodec

from .roundtrip import (
    botocore_parse,
    botocore_request,
    operations,
    service_model,
    synthetic_payload,
    synthetic_service,
)
from .test_rest import rest_input, rest_input_trip, rest_output, rest_output_trip

CODEC = RestJsonCodec()
CASES = [
    (service, name)
    for service, limit in (
        ("sagemaker-runtime", None),
        ("sagemaker-metrics", None),
        ("lambda", 40),
        ("apigateway", 40),
    )
    for name in operations(service, limit=limit)
]


@pytest.mark.parametrize(("service", "name"), CASES)
def test_request_round_trip(service: str, name: str) -> None:
    operation = service_model(service).operation_model(name)
    params = rest_input(operation)
    assert rest_input_trip(CODEC, "rest-json", operation, params) == params


@pytest.mark.parametrize(("service", "name"), CASES)
def test_response_round_trip(service: str, name: str) -> None:
    operation = service_model(service).operation_model(name)
    parsed, expected = rest_output_trip(CODEC, "rest-json", operation, rest_output(operation))
    assert parsed == expected


def test_synthetic_traits_round_trip() -> None:
    operation = synthetic_service("rest-json").operation_model("Echo")
    payload = synthetic_payload()
    assert rest_input_trip(CODEC, "rest-json", operation, payload) == payload
    parsed, expected = rest_output_trip(CODEC, "rest-json", operation, payload)
    assert parsed == expected


def test_invoke_endpoint_wire_format() -> None:
    operation = service_model("sagemaker-runtime").operation_model("InvokeEndpoint")
    request = HttpRequest(
        "POST",
        "/endpoints/my-endpoint/invocations",
        "",
        {
            "host": "runtime.sagemaker.localhost",
            "content-type": "text/csv",
            "x-amzn-sagemaker-target-model": "m.tar.gz",
        },
        b"1,2,3",
    )
    assert CODEC.operation_for(operation.service_model, request) is operation
    assert CODEC.parse(operation, request) == {
        "EndpointName": "my-endpoint",
        "ContentType": "text/csv",
        "TargetModel": "m.tar.gz",
        "Body": b"1,2,3",
    }
    response = CODEC.serialize(
        operation, {"Body": b"0.5", "ContentType": "text/csv", "InvokedProductionVariant": "v1"}, "rid"
    )
    assert response.status == 200
    assert response.body == b"0.5"
    assert response.headers["Content-Type"] == "text/csv"
    assert response.headers["x-Amzn-Invoked-Production-Variant"] == "v1"
    assert response.headers["x-amzn-RequestId"] == "rid"


def test_json_body_uses_wire_names_and_epoch_timestamps() -> None:
    operation = service_model("sagemaker-metrics").operation_model("BatchPutMetrics")
    params = {
        "TrialComponentName": "tc",
        "MetricData": [
            {
                "MetricName": "loss",
                "Timestamp": datetime(2024, 1, 2, 3, 4, 5, 250000, tzinfo=UTC),
                "Value": 0.5,
            }
        ],
    }
    request = botocore_request("rest-json", operation, params)
    assert json.loads(request.body)["MetricData"][0]["Timestamp"] == 1704164645.25
    assert CODEC.parse(operation, request) == params


def test_response_with_status_code_member_and_no_body() -> None:
    model = service_model("lambda")
    operation = model.operation_model("Invoke")
    response = CODEC.serialize(operation, {"StatusCode": 202, "Payload": b"", "ExecutedVersion": "1"}, "r")
    assert response.status == 202
    parsed = botocore_parse("rest-json", operation.output_shape, response)
    assert parsed["StatusCode"] == 202 and parsed["ExecutedVersion"] == "1"


def test_empty_output_is_empty_json_object_only_when_there_are_body_members() -> None:
    model = service_model("lambda")
    assert CODEC.serialize(model.operation_model("ListFunctions"), {}, "r").body == b"{}"
    assert CODEC.serialize(model.operation_model("DeleteFunction"), {}, "r").body == b""


@pytest.mark.parametrize(
    ("error", "code", "status"),
    [
        (ValidationException("bad input"), "ValidationException", 400),
        (
            ServiceError("nope", code="ResourceNotFoundException", status=404),
            "ResourceNotFoundException",
            404,
        ),
        (
            ServiceError("slow down", code="TooManyRequestsException", status=429),
            "TooManyRequestsException",
            429,
        ),
        (
            ServiceError("boom", code="ServiceException", status=500, sender_fault=False),
            "ServiceException",
            500,
        ),
    ],
)
def test_errors_parse_in_botocore(error: ServiceError, code: str, status: int) -> None:
    model = service_model("lambda")
    operation = model.operation_model("GetFunction")
    response = CODEC.serialize_error(model, operation, error, "req-9")
    assert response.status == status
    assert response.headers["x-amzn-ErrorType"] == code
    parsed = botocore_parse("rest-json", operation.output_shape, response)
    assert parsed["Error"]["Code"] == code
    assert parsed["Error"]["Message"] == error.message
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == status


def test_error_uses_the_modeled_message_spelling_and_extra_members() -> None:
    model = service_model("lambda")
    error = ServiceError("gone", code="ResourceNotFoundException", status=404, extra={"Type": "User"})
    response = CODEC.serialize_error(model, None, error, "r")
    body = json.loads(response.body)
    shape = model.shape_for_error_code("ResourceNotFoundException")
    assert body["Type"] == "User"
    message_key = next(name for name in shape.members if name.lower() == "message")
    assert body[message_key] == "gone"
    modeled = botocore_parse("rest-json", shape, response)
    assert modeled[message_key] == "gone"


def test_error_code_from_body_when_header_is_lost() -> None:
    model = service_model("sagemaker-runtime")
    response = CODEC.serialize_error(model, None, ServiceError("x", code="ModelError", status=424), "r")
    del response.headers["x-amzn-ErrorType"]
    assert botocore_parse("rest-json", None, response)["Error"]["Code"] == "ModelError"
