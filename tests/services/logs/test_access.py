"""IAM decides Logs calls at the gateway, on the ARNs AWS uses: ``log-group:NAME:*`` for group
actions, ``log-group:NAME:log-stream:STREAM`` for stream ones, the plain ARN for tagging."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ClientFactory

from .conftest import now_ms


def _user_with(client: ClientFactory, *statements: dict[str, Any]) -> Any:
    iam = client("iam")
    name = f"logs-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="logs",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": list(statements)}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return client("logs", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])


def _denied(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
    return str(exc.value.response["Error"]["Message"])


def test_policies_scope_groups_and_streams(client: ClientFactory, logs: Any, cove_server: Any) -> None:
    account = cove_server.cove.account.account_id
    mine, other = f"/app/{uuid.uuid4().hex[:8]}", f"/other/{uuid.uuid4().hex[:8]}"
    for name in (mine, other):
        logs.create_log_group(logGroupName=name)
        logs.create_log_stream(logGroupName=name, logStreamName="allowed")
        logs.create_log_stream(logGroupName=name, logStreamName="secret")
    prefix = f"arn:aws:logs:us-east-1:{account}:log-group"
    # The shape of AWS's own AWSLambdaBasicExecutionRole-style policy.
    writer = _user_with(
        client,
        {"Effect": "Allow", "Action": ["logs:DescribeLogGroups"], "Resource": f"{prefix}:*"},
        {
            "Effect": "Allow",
            "Action": ["logs:DescribeLogStreams", "logs:FilterLogEvents"],
            "Resource": f"{prefix}:{mine}:*",
        },
        {
            "Effect": "Allow",
            "Action": ["logs:PutLogEvents", "logs:GetLogEvents"],
            "Resource": f"{prefix}:{mine}:log-stream:allowed",
        },
        {"Effect": "Allow", "Action": "logs:ListTagsForResource", "Resource": f"{prefix}:{mine}"},
    )
    time.sleep(0.1)
    event = [{"timestamp": now_ms(), "message": "hello"}]
    writer.put_log_events(logGroupName=mine, logStreamName="allowed", logEvents=event)
    got = writer.get_log_events(logGroupName=mine, logStreamName="allowed")["events"]
    assert [e["message"] for e in got] == ["hello"]
    assert len(writer.filter_log_events(logGroupName=mine)["events"]) == 1
    assert {s["logStreamName"] for s in writer.describe_log_streams(logGroupName=mine)["logStreams"]} == {
        "allowed",
        "secret",
    }
    assert writer.describe_log_groups(logGroupNamePrefix=mine)["logGroups"]
    assert writer.list_tags_for_resource(resourceArn=f"{prefix}:{mine}")["tags"] == {}
    message = _denied(writer.put_log_events, logGroupName=mine, logStreamName="secret", logEvents=event)
    assert f"{prefix}:{mine}:log-stream:secret" in message and "logs:PutLogEvents" in message
    _denied(writer.put_log_events, logGroupName=other, logStreamName="allowed", logEvents=event)
    message = _denied(writer.filter_log_events, logGroupName=other)
    assert f"{prefix}:{other}:*" in message
    _denied(writer.create_log_group, logGroupName=f"{mine}-new")
    _denied(writer.list_tags_for_resource, resourceArn=f"{prefix}:{other}")
    for name in (mine, other):
        logs.delete_log_group(logGroupName=name)
