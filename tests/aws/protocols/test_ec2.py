"""The ec2 codec against botocore's EC2Serializer and EC2QueryParser."""

from __future__ import annotations

import pytest

from cove.aws.errors import InvalidParameterValue, ServiceError
from cove.aws.http import HttpRequest
from cove.aws.protocols.query import Ec2Codec

from .roundtrip import (
    botocore_parse,
    botocore_request,
    input_round_trip,
    operations,
    output_round_trip,
    prune_empty,
    sample_input,
    sample_output,
    service_model,
    synthetic_payload,
    synthetic_service,
)

CODEC = Ec2Codec()


@pytest.mark.parametrize("name", operations("ec2", limit=150))
def test_generated_round_trip(name: str) -> None:
    operation = service_model("ec2").operation_model(name)
    params = sample_input(operation)
    assert prune_empty(input_round_trip(CODEC, "ec2", operation, params)) == prune_empty(params)
    output = sample_output(operation)
    assert output_round_trip(CODEC, "ec2", operation, output) == output


def test_synthetic_traits_round_trip() -> None:
    operation = synthetic_service("ec2").operation_model("Echo")
    payload = synthetic_payload()
    expected = prune_empty({key: value for key, value in payload.items() if key != "Empty"})
    # ec2 sends nothing for an empty list or map.
    assert input_round_trip(CODEC, "ec2", operation, payload) == expected
    assert output_round_trip(CODEC, "ec2", operation, payload) == payload


def test_lists_without_member_and_capitalised_names() -> None:
    operation = service_model("ec2").operation_model("DescribeInstances")
    params = {
        "InstanceIds": ["i-1", "i-2"],
        "Filters": [{"Name": "tag:team", "Values": ["ml", "data"]}],
        "MaxResults": 5,
        "DryRun": False,
    }
    request = botocore_request("ec2", operation, params)
    form = request.form()
    assert form["InstanceId.2"] == "i-2"
    assert form["Filter.1.Value.2"] == "data"
    assert CODEC.parse(operation, request) == params


def test_response_envelope_uses_location_names_and_items() -> None:
    operation = service_model("ec2").operation_model("DescribeVpcs")
    output = {"Vpcs": [{"VpcId": "vpc-1", "CidrBlock": "10.0.0.0/16", "IsDefault": True}]}
    response = CODEC.serialize(operation, output, "rid-2")
    text = response.body.decode()
    assert '<DescribeVpcsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' in text
    assert "<requestId>rid-2</requestId>" in text
    assert "<vpcSet><item>" in text
    assert "<vpcId>vpc-1</vpcId>" in text
    assert "<isDefault>true</isDefault>" in text
    parsed = botocore_parse("ec2", operation.output_shape, response)
    assert parsed["Vpcs"] == output["Vpcs"]
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-2"


@pytest.mark.parametrize(
    "error",
    [
        InvalidParameterValue("bad cidr"),
        ServiceError('Invalid id: "i-1"', code="InvalidInstanceID.NotFound", status=400),
        ServiceError("slow down", code="RequestLimitExceeded", status=503, sender_fault=False),
    ],
)
def test_error(error: ServiceError) -> None:
    service = service_model("ec2")
    operation = service.operation_model("DescribeInstances")
    response = CODEC.serialize_error(service, operation, error, "rid-e")
    assert response.status == error.status
    assert response.body.decode().count("<Errors><Error>") == 1
    parsed = botocore_parse("ec2", operation.output_shape, response)
    assert parsed["Error"]["Code"] == error.code
    assert parsed["Error"]["Message"] == error.message
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-e"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == error.status


def test_operation_for() -> None:
    service = service_model("ec2")
    form = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
    request = HttpRequest("POST", "/", "", form, b"Action=RunInstances&Version=2016-11-15")
    found = CODEC.operation_for(service, request)
    assert found is not None and found.name == "RunInstances"
    assert CODEC.operation_for(service, HttpRequest("POST", "/", "", form, b"Action=Fly")) is None
