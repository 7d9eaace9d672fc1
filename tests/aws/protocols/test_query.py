"""The query codec against botocore's own QuerySerializer and QueryParser."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from cove.aws.errors import AccessDenied, InternalFailure, ServiceError
from cove.aws.http import HttpRequest
from cove.aws.protocols.query import QueryCodec, looks_like

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

CODEC = QueryCodec()
CASES = [(service, name) for service in ("iam", "sts", "cloudwatch") for name in operations(service)]


@pytest.mark.parametrize(("service", "name"), CASES)
def test_generated_round_trip(service: str, name: str) -> None:
    operation = service_model(service).operation_model(name)
    params = sample_input(operation)
    assert prune_empty(input_round_trip(CODEC, "query", operation, params)) == prune_empty(params)
    output = sample_output(operation)
    assert output_round_trip(CODEC, "query", operation, output) == output


def test_synthetic_traits_round_trip() -> None:
    operation = synthetic_service("query").operation_model("Echo")
    payload = synthetic_payload()
    # botocore sends nothing for an empty map, so the parsed child has no Tags.
    assert input_round_trip(CODEC, "query", operation, payload) == prune_empty(payload)
    assert output_round_trip(CODEC, "query", operation, payload) == payload


def test_parses_hand_written_form() -> None:
    operation = service_model("iam").operation_model("CreateRole")
    body = (
        "Action=CreateRole&Version=2010-05-08&RoleName=r&AssumeRolePolicyDocument=%7B%7D"
        "&MaxSessionDuration=3600&Tags.member.1.Key=team&Tags.member.1.Value=ml"
        "&Tags.member.2.Key=env&Tags.member.2.Value=dev"
    )
    request = HttpRequest(
        "POST", "/", "", {"content-type": "application/x-www-form-urlencoded"}, body.encode()
    )
    assert CODEC.parse(operation, request) == {
        "RoleName": "r",
        "AssumeRolePolicyDocument": "{}",
        "MaxSessionDuration": 3600,
        "Tags": [{"Key": "team", "Value": "ml"}, {"Key": "env", "Value": "dev"}],
    }


def test_empty_list_is_sent_and_parsed() -> None:
    operation = service_model("cloudwatch").operation_model("DeleteAlarms")
    request = botocore_request("query", operation, {"AlarmNames": []})
    assert CODEC.parse(operation, request) == {"AlarmNames": []}


def test_response_envelope() -> None:
    operation = service_model("sts").operation_model("GetCallerIdentity")
    response = CODEC.serialize(
        operation, {"Account": "123", "ResponseMetadata": {"RequestId": "old"}}, "rid-9"
    )
    text = response.body.decode()
    assert '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">' in text
    assert "<GetCallerIdentityResult><Account>123</Account></GetCallerIdentityResult>" in text
    assert "<ResponseMetadata><RequestId>rid-9</RequestId></ResponseMetadata>" in text
    assert response.headers["x-amzn-RequestId"] == "rid-9"


def test_lenient_output_values() -> None:
    operation = service_model("iam").operation_model("GetRole")
    moment = datetime(2024, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)
    role: dict[str, Any] = {
        "Path": "/",
        "RoleName": "r",
        "RoleId": "AROAEXAMPLE1234567",
        "Arn": "arn:aws:iam::123456789012:role/r",
        "CreateDate": moment.replace(tzinfo=None),
        "RoleLastUsed": {"LastUsedDate": moment.timestamp()},
    }
    response = CODEC.serialize(operation, {"Role": role}, "rid")
    assert b"<CreateDate>2024-03-01T12:00:00.250Z</CreateDate>" in response.body
    parsed = botocore_parse("query", operation.output_shape, response)
    assert parsed["Role"]["CreateDate"] == moment
    assert parsed["Role"]["RoleLastUsed"]["LastUsedDate"] == moment


@pytest.mark.parametrize(
    ("error", "status", "fault"),
    [
        (ServiceError("no such role", code="NoSuchEntity", status=404), 404, "Sender"),
        (AccessDenied("nope"), 403, "Sender"),
        (InternalFailure("boom <&>"), 500, "Receiver"),
    ],
)
def test_error(error: ServiceError, status: int, fault: str) -> None:
    service = service_model("iam")
    operation = service.operation_model("GetRole")
    response = CODEC.serialize_error(service, operation, error, "rid-e")
    assert response.status == status
    parsed = botocore_parse("query", operation.output_shape, response)
    assert parsed["Error"]["Code"] == error.code
    assert parsed["Error"]["Message"] == error.message
    assert parsed["Error"]["Type"] == fault
    assert parsed["ResponseMetadata"]["RequestId"] == "rid-e"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == status


def test_operation_for() -> None:
    service = service_model("sts")
    form = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}
    known = HttpRequest("POST", "/", "", form, b"Action=GetCallerIdentity&Version=2011-06-15")
    operation = CODEC.operation_for(service, known)
    assert operation is not None and operation.name == "GetCallerIdentity"
    assert CODEC.operation_for(service, HttpRequest("POST", "/", "", form, b"Action=Nope")) is None
    assert CODEC.operation_for(service, HttpRequest("POST", "/", "", form, b"Version=1")) is None
    via_get = HttpRequest("GET", "/", "Action=GetCallerIdentity&Version=2011-06-15", {})
    found = CODEC.operation_for(service, via_get)
    assert found is not None and found.name == "GetCallerIdentity"


def test_looks_like() -> None:
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert looks_like(HttpRequest("POST", "/", "", form, b"Action=ListRoles&Version=2010-05-08"))
    assert looks_like(HttpRequest("GET", "/", "Action=ListRoles", {}))
    assert not looks_like(HttpRequest("POST", "/", "", form, b"foo=bar"))
    assert not looks_like(HttpRequest("POST", "/", "", {"content-type": "application/x-amz-json-1.1"}, b"{}"))


def test_malformed_scalar_is_a_client_error() -> None:
    operation = service_model("iam").operation_model("CreateRole")
    form = {"content-type": "application/x-www-form-urlencoded"}
    body = b"Action=CreateRole&RoleName=r&AssumeRolePolicyDocument=x&MaxSessionDuration=soon"
    with pytest.raises(ServiceError) as caught:
        CODEC.parse(operation, HttpRequest("POST", "/", "", form, body))
    assert caught.value.code == "InvalidParameterValue"
    assert "MaxSessionDuration" in caught.value.message
