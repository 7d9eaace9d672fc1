"""The rpc-v2-cbor codec against botocore's RpcV2CBORSerializer and RpcV2CBORParser."""

from __future__ import annotations

from datetime import UTC, datetime

import cbor2
import pytest

from cove.aws.errors import ServiceError, ValidationException
from cove.aws.http import HttpRequest
from cove.aws.protocols.cbor import CborCodec, looks_like, route_of

from .roundtrip import (
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

PROTOCOL = "smithy-rpc-v2-cbor"
CODEC = CborCodec()


@pytest.mark.parametrize("name", operations("cloudwatch"))
def test_generated_round_trip(name: str) -> None:
    operation = service_model("cloudwatch").operation_model(name)
    params = sample_input(operation)
    assert input_round_trip(CODEC, PROTOCOL, operation, params) == params
    output = sample_output(operation)
    assert output_round_trip(CODEC, PROTOCOL, operation, output) == output


def test_synthetic_traits_round_trip() -> None:
    operation = synthetic_service(PROTOCOL).operation_model("Echo")
    payload = synthetic_payload()
    assert input_round_trip(CODEC, PROTOCOL, operation, payload) == payload
    assert output_round_trip(CODEC, PROTOCOL, operation, payload) == payload


def test_wire_format_of_a_response() -> None:
    operation = service_model("cloudwatch").operation_model("GetMetricData")
    moment = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    output = {"MetricDataResults": [{"Id": "m", "Timestamps": [moment], "Values": [1.5]}]}
    response = CODEC.serialize(operation, output, "rid-1")
    assert response.headers["smithy-protocol"] == "rpc-v2-cbor"
    assert response.headers["Content-Type"] == "application/cbor"
    assert response.headers["x-amzn-RequestId"] == "rid-1"
    # Tag 1 (0xc1) around a 4-byte unsigned epoch (0x1a): what Smithy servers send.
    epoch = int(moment.timestamp())
    assert b"\xc1\x1a" + epoch.to_bytes(4, "big") in response.body
    assert cbor2.loads(response.body)["MetricDataResults"][0]["Timestamps"] == [moment]
    assert (
        botocore_parse(PROTOCOL, operation.output_shape, response)["MetricDataResults"]
        == output["MetricDataResults"]
    )


@pytest.mark.parametrize(
    "error",
    [
        ValidationException("bad period"),
        ServiceError("missing", code="ResourceNotFound", status=404),
        ServiceError("down", code="InternalServiceError", status=500, sender_fault=False),
    ],
)
def test_error(error: ServiceError) -> None:
    service = service_model("cloudwatch")
    operation = service.operation_model("PutMetricData")
    response = CODEC.serialize_error(service, operation, error, "rid-e")
    assert response.status == error.status
    fault = "Sender" if error.sender_fault else "Receiver"
    # CloudWatch carries awsQueryCompatible, so botocore reads the code from this header.
    assert response.headers["x-amzn-query-error"] == f"{error.code};{fault}"
    parsed = botocore_parse(PROTOCOL, operation.output_shape, response)
    assert parsed["Error"]["Code"] == error.code
    assert parsed["Error"]["Message"] == error.message
    assert parsed["Error"]["Type"] == fault
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-e"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == error.status


def test_error_without_query_compatibility() -> None:
    service = synthetic_service(PROTOCOL)
    error = ServiceError("conflict", code="Fault", status=409)
    response = CODEC.serialize_error(service, None, error, "rid")
    assert "x-amzn-query-error" not in response.headers
    assert cbor2.loads(response.body) == {"__type": "Fault", "message": "conflict"}
    parsed = botocore_parse(PROTOCOL, None, response)
    assert parsed["Error"] == {"Code": "Fault", "Message": "conflict"}


def test_operation_for_reads_the_path() -> None:
    service = service_model("cloudwatch")
    operation = service.operation_model("ListMetrics")
    request = botocore_request(PROTOCOL, operation, {"Namespace": "AWS/EC2"})
    assert request.path == "/service/GraniteServiceVersion20100801/operation/ListMetrics"
    assert looks_like(request)
    found = CODEC.operation_for(service, request)
    assert found is not None and found.name == "ListMetrics"
    headers = {"smithy-protocol": "rpc-v2-cbor"}
    unknown = HttpRequest("POST", "/service/GraniteServiceVersion20100801/operation/Fly", "", headers)
    assert CODEC.operation_for(service, unknown) is None
    other = HttpRequest("POST", "/service/Other/operation/ListMetrics", "", headers)
    assert CODEC.operation_for(service, other) is None
    assert route_of(HttpRequest("POST", "/", "", headers)) is None
    assert not looks_like(HttpRequest("POST", "/", "", {"content-type": "application/x-amz-json-1.0"}))


def test_empty_body_is_empty_input() -> None:
    operation = service_model("cloudwatch").operation_model("ListDashboards")
    assert CODEC.parse(operation, HttpRequest("POST", "/", "", {}, b"")) == {}


@pytest.mark.parametrize(
    "body",
    [
        b"\xff\x00",
        cbor2.dumps([1, 2]),
        cbor2.dumps({"NextToken": 5}),
        cbor2.dumps({"DashboardNamePrefix": ["a"]}),
    ],
)
def test_malformed_body_is_a_serialization_error(body: bytes) -> None:
    operation = service_model("cloudwatch").operation_model("ListDashboards")
    with pytest.raises(ServiceError) as caught:
        CODEC.parse(operation, HttpRequest("POST", "/", "", {}, body))
    assert caught.value.code == "SerializationException"
