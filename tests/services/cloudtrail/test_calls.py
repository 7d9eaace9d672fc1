"""Whole-service recording (the gateway hook for IAM and STS management events)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from cove.aws.context import Principal, RequestContext, SourceContext
from cove.aws.errors import AccessDenied
from cove.server import EmbeddedServer
from cove.services.cloudtrail.calls import HIDDEN, ApiCallRecorder, is_read_only, request_parameters
from cove.services.cloudtrail.events import flush_events
from cove.services.cloudtrail.tables import AuditEventRow

ACCOUNT = "111122223333"
ROOT = Principal(kind="root", account_id=ACCOUNT, arn=f"arn:aws:iam::{ACCOUNT}:root", user_id=ACCOUNT)


def _ctx(service: str, operation: str, when: datetime) -> RequestContext:
    return RequestContext(
        request_id=f"req-{operation}-{when.timestamp()}",
        region="us-east-1",
        service=service,
        operation=operation,
        principal=ROOT,
        source=SourceContext(),
        now=when,
    )


def test_request_parameters_are_camel_cased_and_secrets_hidden() -> None:
    when = datetime(2030, 1, 1, tzinfo=UTC)
    params = {
        "UserName": "ana",
        "Password": "hunter2",
        "KMSKeyId": "k",
        "ACL": "private",
        "Plaintext": b"secret",
        "Tags": [{"Key": "team", "Value": "ml"}],
        "Expires": when,
    }
    assert request_parameters(params) == {
        "userName": "ana",
        "password": HIDDEN,
        "kmsKeyId": "k",
        "acl": "private",
        "plaintext": HIDDEN,
        "tags": [{"key": "team", "value": "ml"}],
        "expires": when.isoformat(),
    }


def test_read_only_operations() -> None:
    assert is_read_only("GetRole")
    assert is_read_only("ListUsers")
    assert not is_read_only("CreateRole")
    assert not is_read_only("AssumeRole")


def test_recorder_records_chosen_services_only(cove_server: EmbeddedServer, window: datetime) -> None:
    db = cove_server.cove.db
    recorder = ApiCallRecorder(db)
    created = _ctx("iam", "CreateUser", window)
    denied = _ctx("sts", "AssumeRole", window + timedelta(minutes=1))
    ignored = _ctx("ec2", "CreateVpc", window + timedelta(minutes=2))
    recorder(created, {"UserName": "ana"}, user_agent="aws-cli/2")
    recorder(denied, {"RoleArn": "arn:aws:iam::1:role/x"}, AccessDenied("no"))
    recorder(ignored, {"CidrBlock": "10.0.0.0/16"})
    assert flush_events(db)
    with db.read() as session:
        rows = session.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.event_time >= window, AuditEventRow.event_time < window + timedelta(hours=1))
            .order_by(AuditEventRow.event_time)
        ).all()
    assert [(r.event_source, r.event_name, r.read_only, r.error_code) for r in rows] == [
        ("iam.amazonaws.com", "CreateUser", False, None),
        ("sts.amazonaws.com", "AssumeRole", False, "AccessDenied"),
    ]
    first = json.loads(rows[0].record)
    assert first["requestParameters"] == {"userName": "ana"}
    assert first["userAgent"] == "aws-cli/2"
    assert first["userIdentity"]["type"] == "Root"
    assert json.loads(rows[1].record)["errorMessage"] == "no"
