"""Log groups through boto3: creation rules, describe filters and paging, retention, tags."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cove.services.logs.service import append_events

from .conftest import now_ms


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def test_create_describe_delete(logs: Any, cove_server: Any) -> None:
    account = cove_server.cove.account.account_id
    name = f"/cove/groups/{uuid.uuid4().hex[:10]}"
    key = f"arn:aws:kms:us-east-1:{account}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    logs.create_log_group(logGroupName=name, kmsKeyId=key, tags={"team": "ml"})
    [found] = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert found["logGroupName"] == name
    assert found["arn"] == f"arn:aws:logs:us-east-1:{account}:log-group:{name}:*"
    assert found["logGroupArn"] == f"arn:aws:logs:us-east-1:{account}:log-group:{name}"
    assert found["kmsKeyId"] == key
    assert found["storedBytes"] == 0 and found["metricFilterCount"] == 0
    assert found["logGroupClass"] == "STANDARD"
    assert "retentionInDays" not in found
    assert isinstance(found["creationTime"], int) and found["creationTime"] > 1_600_000_000_000
    with pytest.raises(ClientError) as exc:
        logs.create_log_group(logGroupName=name)
    assert _error(exc) == ("ResourceAlreadyExistsException", "The specified log group already exists")
    logs.delete_log_group(logGroupName=name)
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []
    with pytest.raises(ClientError) as exc:
        logs.delete_log_group(logGroupName=name)
    assert _error(exc) == ("ResourceNotFoundException", "The specified log group does not exist.")


def test_reserved_prefix(logs: Any) -> None:
    for name in ("aws/mine", "AWS/mine"):
        with pytest.raises(ClientError) as exc:
            logs.create_log_group(logGroupName=name)
        assert _error(exc) == (
            "InvalidParameterException",
            "Log groups starting with AWS/ are reserved for AWS.",
        )
    # The service-owned groups start with a slash: users may create those.
    name = f"/aws/sagemaker/cove-{uuid.uuid4().hex[:8]}"
    logs.create_log_group(logGroupName=name)
    logs.delete_log_group(logGroupName=name)


def test_prefix_pattern_and_paginator(logs: Any) -> None:
    base = f"/cove/page-{uuid.uuid4().hex[:8]}"
    names = [f"{base}/{suffix}" for suffix in ("b", "a", "C", "DataLogs", "x/DataLogs/y", "datalogs")]
    for name in names:
        logs.create_log_group(logGroupName=name)
    try:
        pages = list(
            logs.get_paginator("describe_log_groups").paginate(
                logGroupNamePrefix=base, PaginationConfig={"PageSize": 2}
            )
        )
        assert len(pages) == 3
        listed = [g["logGroupName"] for page in pages for g in page["logGroups"]]
        assert listed == sorted(names)  # ASCII order: upper case first
        # A pattern is a case-sensitive substring, and the answer carries only three members.
        matched = logs.describe_log_groups(logGroupNamePattern=f"{base[-8:]}/x/DataLogs")["logGroups"]
        assert [g["logGroupName"] for g in matched] == [f"{base}/x/DataLogs/y"]
        assert set(matched[0]) == {"logGroupName", "creationTime", "arn"}
        both = logs.describe_log_groups(logGroupNamePattern=base[-8:])["logGroups"]
        assert {g["logGroupName"] for g in both} == set(names)
        with pytest.raises(ClientError) as exc:
            logs.describe_log_groups(logGroupNamePrefix=base, logGroupNamePattern="x")
        assert _error(exc) == (
            "InvalidParameterException",
            "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
        )
        one = logs.describe_log_groups(logGroupIdentifiers=[f"{base}/a"])["logGroups"]
        assert [g["logGroupName"] for g in one] == [f"{base}/a"]
        with pytest.raises(ClientError) as exc:
            logs.describe_log_groups(nextToken="not-a-token!")
        assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    finally:
        for name in names:
            logs.delete_log_group(logGroupName=name)


def test_retention(logs: Any, group: str) -> None:
    logs.put_retention_policy(logGroupName=group, retentionInDays=14)
    [found] = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert found["retentionInDays"] == 14
    with pytest.raises(ClientError) as exc:
        logs.put_retention_policy(logGroupName=group, retentionInDays=2)
    code, message = _error(exc)
    assert code == "InvalidParameterException"
    assert message.startswith(
        "1 validation error detected: Value '2' at 'retentionInDays' failed to satisfy constraint: "
        "Member must satisfy enum value set: [1, 3, 5, 7, 14, 30,"
    )
    assert message.endswith("3288, 3653]")
    logs.delete_retention_policy(logGroupName=group)
    [found] = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert "retentionInDays" not in found
    with pytest.raises(ClientError) as exc:
        logs.put_retention_policy(logGroupName=group + "-missing", retentionInDays=7)
    assert _error(exc) == ("ResourceNotFoundException", "The specified log group does not exist.")


def test_tags(logs: Any, group: str, cove_server: Any) -> None:
    account = cove_server.cove.account.account_id
    arn = f"arn:aws:logs:us-east-1:{account}:log-group:{group}"
    logs.tag_resource(resourceArn=arn, tags={"a": "1", "b": "2"})
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "2"}
    logs.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    # The legacy log-group operations see the same tags.
    logs.tag_log_group(logGroupName=group, tags={"c": "3"})
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"b": "2", "c": "3"}
    logs.untag_log_group(logGroupName=group, tags=["b"])
    assert logs.list_tags_for_resource(resourceArn=arn)["tags"] == {"c": "3"}
    with pytest.raises(ClientError) as exc:
        logs.tag_resource(resourceArn=arn, tags={f"k{i}": "v" for i in range(50)})
    assert exc.value.response["Error"]["Code"] == "TooManyTagsException"
    with pytest.raises(ClientError) as exc:
        logs.list_tags_for_resource(resourceArn=arn + "-missing")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_deletion_protection(logs: Any, group: str) -> None:
    logs.put_log_group_deletion_protection(logGroupIdentifier=group, deletionProtectionEnabled=True)
    [found] = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert found["deletionProtectionEnabled"] is True
    with pytest.raises(ClientError) as exc:
        logs.delete_log_group(logGroupName=group)
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    logs.put_log_group_deletion_protection(logGroupIdentifier=group, deletionProtectionEnabled=False)
    logs.delete_log_group(logGroupName=group)


def test_kms_key_association(logs: Any, group: str) -> None:
    key = "arn:aws:kms:us-east-1:111122223333:key/abcd"
    logs.associate_kms_key(logGroupName=group, kmsKeyId=key)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["kmsKeyId"] == key
    logs.disassociate_kms_key(logGroupName=group)
    assert "kmsKeyId" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]


def test_retention_expires_events_and_stored_bytes(logs: Any, group: str, cove_server: Any) -> None:
    cove = cove_server.cove
    day = 86_400_000
    t = now_ms()
    old, new = (t - 10 * day, "ten days old"), (t, "fresh")
    append_events(cove.db, cove.account.account_id, "us-east-1", group, "s", [old, new])
    append_events(cove.db, cove.account.account_id, "us-east-1", group, "other", [(t, "other stream")])

    def stored() -> int:
        return int(logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["storedBytes"])

    assert stored() == len("ten days old") + len("fresh") + len("other stream")
    logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    got = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
    assert [e["message"] for e in got] == ["fresh"]
    assert stored() == len("fresh") + len("other stream")
    logs.delete_log_stream(logGroupName=group, logStreamName="s")
    assert stored() == len("other stream")


def test_model_violations_are_invalid_parameter_exceptions(logs: Any) -> None:
    """Logs answers a request that breaks the API model with InvalidParameterException, not the
    ValidationException of other json services."""
    with pytest.raises(ClientError) as exc:
        logs.describe_log_groups(limit=51)
    err = exc.value.response["Error"]
    assert err["Code"] == "InvalidParameterException"
    assert "limit" in err["Message"] and "less than or equal to 50" in err["Message"]
