"""LookupEvents through boto3 against the live server."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cove.aws.context import Principal
from cove.services.cloudtrail.events import resource

from .conftest import Recorder

ClientFactory = Any


def _lookup(client: ClientFactory, window: datetime, **kw: Any) -> list[dict[str, Any]]:
    ct = client("cloudtrail")
    kw.setdefault("StartTime", window)
    kw.setdefault("EndTime", window + timedelta(hours=1))
    events: list[dict[str, Any]] = ct.lookup_events(**kw)["Events"]
    return events


def _ids(events: list[dict[str, Any]]) -> list[str]:
    return [e["EventId"] for e in events]


def test_newest_first_within_time_range(client: ClientFactory, record: Recorder, window: datetime) -> None:
    early, middle, late = record(1), record(20), record(40)
    record(70)  # after the window
    assert _ids(_lookup(client, window)) == [late.event_id, middle.event_id, early.event_id]
    assert _ids(_lookup(client, window, StartTime=window + timedelta(minutes=10))) == [
        late.event_id,
        middle.event_id,
    ]
    assert _ids(_lookup(client, window, EndTime=window + timedelta(minutes=20))) == [
        middle.event_id,
        early.event_id,
    ]


def test_event_members(client: ClientFactory, record: Recorder, window: datetime, account_id: str) -> None:
    key_arn = f"arn:aws:kms:us-east-1:{account_id}:key/1234abcd"
    event = record(5, resources=[resource(key_arn, "AWS::KMS::Key")], read_only=False, event_name="Encrypt")
    [found] = _lookup(client, window)
    assert found["EventId"] == event.event_id
    assert found["EventName"] == "Encrypt"
    assert found["ReadOnly"] == "false"
    assert found["AccessKeyId"] == "AKIAAUDITOR"
    assert found["EventSource"] == "kms.amazonaws.com"
    assert found["Username"] == "auditor"
    assert found["EventTime"] == event.event_time
    assert found["Resources"] == [{"ResourceType": "AWS::KMS::Key", "ResourceName": key_arn}]
    assert json.loads(found["CloudTrailEvent"])["eventID"] == event.event_id


def test_cloudtrail_event_json_shape(
    client: ClientFactory, record: Recorder, window: datetime, account_id: str
) -> None:
    role = Principal(
        kind="assumed-role",
        account_id=account_id,
        arn=f"arn:aws:sts::{account_id}:assumed-role/Trainer/job-7",
        user_id="AROATRAINER:job-7",
        name="job-7",
        role_arn=f"arn:aws:iam::{account_id}:role/service/Trainer",
        role_id="AROATRAINER",
        session_name="job-7",
    )
    auth = {
        "decision": "explicitDeny",
        "deniedBy": "resource-based",
        "statements": [{"policyType": "resource-based", "sid": "DenyOutsideVpce", "effect": "Deny"}],
    }
    record(
        3,
        principal=role,
        access_key_id="ASIATRAINER",
        event_source="s3.amazonaws.com",
        event_name="GetObject",
        resources=[
            resource("arn:aws:s3:::data/train.csv", "AWS::S3::Object"),
            resource("arn:aws:s3:::data", "AWS::S3::Bucket", account_id),
        ],
        request_parameters={"bucketName": "data", "key": "train.csv"},
        error_code="AccessDenied",
        error_message="Access Denied",
        management_event=False,
        event_category="Data",
        vpc_endpoint_id="vpce-0abc",
        user_agent="Boto3/1.0",
        authorization=auth,
        request_id="REQ123",
    )
    [found] = _lookup(client, window)
    assert found["Username"] == "job-7"
    assert found["Resources"] == [
        {"ResourceType": "AWS::S3::Object", "ResourceName": "data/train.csv"},
        {"ResourceType": "AWS::S3::Bucket", "ResourceName": "data"},
    ]
    doc = json.loads(found["CloudTrailEvent"])
    assert doc["eventVersion"] == "1.08"
    assert doc["eventType"] == "AwsApiCall"
    assert doc["eventTime"] == (window + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert doc["eventSource"] == "s3.amazonaws.com"
    assert doc["eventName"] == "GetObject"
    assert doc["awsRegion"] == "us-east-1"
    assert doc["sourceIPAddress"] == "10.0.0.1"
    assert doc["userAgent"] == "Boto3/1.0"
    assert doc["requestParameters"] == {"bucketName": "data", "key": "train.csv"}
    assert doc["responseElements"] is None
    assert doc["requestID"] == "REQ123"
    assert doc["eventID"] == found["EventId"]
    assert doc["readOnly"] is True
    assert doc["managementEvent"] is False
    assert doc["eventCategory"] == "Data"
    assert doc["recipientAccountId"] == account_id
    assert doc["vpcEndpointId"] == "vpce-0abc"
    assert doc["errorCode"] == "AccessDenied"
    assert doc["errorMessage"] == "Access Denied"
    assert doc["additionalEventData"] == {"authorization": auth}
    assert doc["resources"][1] == {
        "ARN": "arn:aws:s3:::data",
        "type": "AWS::S3::Bucket",
        "accountId": account_id,
    }
    assert "accountId" not in doc["resources"][0]  # S3 ARNs name no account
    identity = doc["userIdentity"]
    assert identity["type"] == "AssumedRole"
    assert identity["principalId"] == "AROATRAINER:job-7"
    assert identity["arn"] == role.arn
    assert identity["accountId"] == account_id
    assert identity["accessKeyId"] == "ASIATRAINER"
    assert identity["sessionContext"]["sessionIssuer"] == {
        "type": "Role",
        "principalId": "AROATRAINER",
        "arn": role.role_arn,
        "accountId": account_id,
        "userName": "Trainer",
    }


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("EventName", "GenerateDataKey", {"gen"}),
        ("EventSource", "s3.amazonaws.com", {"s3"}),
        ("ReadOnly", "false", {"gen", "s3"}),
        ("ReadOnly", "TRUE", {"decrypt", "root"}),
        ("Username", "root", {"root"}),
        ("Username", "auditor", {"decrypt", "gen", "s3"}),
        ("AccessKeyId", "AKIAROOT", {"root"}),
        ("ResourceType", "AWS::S3::Bucket", {"s3"}),
        ("ResourceName", "bucket-x", {"s3"}),
        ("ResourceName", "arn:aws:s3:::bucket-x", {"s3"}),
        ("ResourceName", "arn:aws:kms:us-east-1:111122223333:key/k1", {"decrypt", "gen"}),
    ],
)
def test_lookup_attributes(
    client: ClientFactory,
    record: Recorder,
    window: datetime,
    account_id: str,
    key: str,
    value: str,
    expected: set[str],
) -> None:
    key_arn = "arn:aws:kms:us-east-1:111122223333:key/k1"
    root = Principal(
        kind="root", account_id=account_id, arn=f"arn:aws:iam::{account_id}:root", user_id=account_id
    )
    events = {
        "decrypt": record(1, resources=[resource(key_arn, "AWS::KMS::Key")]),
        "gen": record(
            2, event_name="GenerateDataKey", read_only=False, resources=[resource(key_arn, "AWS::KMS::Key")]
        ),
        "s3": record(
            3,
            event_source="s3.amazonaws.com",
            event_name="CreateBucket",
            read_only=False,
            resources=[resource("arn:aws:s3:::bucket-x", "AWS::S3::Bucket")],
        ),
        "root": record(4, principal=root, access_key_id="AKIAROOT", event_name="ListKeys", resources=[]),
    }
    found = _lookup(client, window, LookupAttributes=[{"AttributeKey": key, "AttributeValue": value}])
    assert set(_ids(found)) == {events[name].event_id for name in expected}


def test_lookup_by_event_id(client: ClientFactory, record: Recorder, window: datetime) -> None:
    record(1)
    wanted = record(2)
    found = client("cloudtrail").lookup_events(
        LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": wanted.event_id}]
    )["Events"]
    assert _ids(found) == [wanted.event_id]


def test_pagination_with_next_token(client: ClientFactory, record: Recorder, window: datetime) -> None:
    # Two events share a timestamp: the page boundary falls between them and neither is lost.
    recorded = [record(m) for m in (1, 2, 3, 3, 4)]
    expected = [e.event_id for e in reversed(recorded)]
    ct = client("cloudtrail")
    kw: dict[str, Any] = {"StartTime": window, "EndTime": window + timedelta(hours=1), "MaxResults": 2}
    pages: list[list[str]] = []
    while True:
        out = ct.lookup_events(**kw)
        pages.append(_ids(out["Events"]))
        if "NextToken" not in out:
            break
        kw["NextToken"] = out["NextToken"]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [i for p in pages for i in p] == expected

    paginated = ct.get_paginator("lookup_events").paginate(
        StartTime=window, EndTime=window + timedelta(hours=1), PaginationConfig={"PageSize": 3}
    )
    assert [e["EventId"] for page in paginated for e in page["Events"]] == expected


def test_default_and_maximum_page_size(client: ClientFactory, record: Recorder, window: datetime) -> None:
    for m in range(52):
        record(m / 2)
    out = client("cloudtrail").lookup_events(StartTime=window, EndTime=window + timedelta(hours=1))
    assert len(out["Events"]) == 50
    assert "NextToken" in out


def test_other_accounts_events_are_not_returned(
    client: ClientFactory, record: Recorder, window: datetime
) -> None:
    record(1, recipient_account_id="999988887777")
    assert _lookup(client, window) == []


def _error(call: Any, **kw: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as info:
        call(**kw)
    error: dict[str, Any] = info.value.response["Error"]
    return error


def test_errors(client: ClientFactory, window: datetime) -> None:
    ct = client("cloudtrail")
    two = [
        {"AttributeKey": "EventName", "AttributeValue": "Decrypt"},
        {"AttributeKey": "ReadOnly", "AttributeValue": "true"},
    ]
    assert _error(ct.lookup_events, LookupAttributes=two) == {
        "Code": "InvalidLookupAttributesException",
        "Message": "You cannot specify more than one lookup attribute.",
    }
    bad = _error(ct.lookup_events, LookupAttributes=[{"AttributeKey": "ReadOnly", "AttributeValue": "maybe"}])
    assert bad["Code"] == "InvalidLookupAttributesException"
    assert _error(ct.lookup_events, StartTime=window + timedelta(hours=1), EndTime=window) == {
        "Code": "InvalidTimeRangeException",
        "Message": "Start time must be less than or equal to end time.",
    }
    assert _error(ct.lookup_events, NextToken="not-a-token")["Code"] == "InvalidNextTokenException"


def test_next_token_is_bound_to_its_query(client: ClientFactory, record: Recorder, window: datetime) -> None:
    record(1)
    record(2)
    ct = client("cloudtrail")
    first = ct.lookup_events(StartTime=window, EndTime=window + timedelta(hours=1), MaxResults=1)
    token = first["NextToken"]
    other = _error(ct.lookup_events, StartTime=window, NextToken=token, MaxResults=1)
    assert other["Code"] == "InvalidNextTokenException"
