"""The recording API: identities, request contexts, policy decisions, and independence from the
caller's transaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from cove.aws.context import Credential, Principal, RequestContext, SourceContext
from cove.db import Database
from cove.policy import PolicyKind, evaluate, parse_policy
from cove.policy import Principal as PolicyPrincipal
from cove.policy import RequestContext as PolicyRequest
from cove.server import EmbeddedServer
from cove.services.cloudtrail.errors import InvalidMaxResults
from cove.services.cloudtrail.events import (
    AuditEvent,
    authorization_from_decision,
    cloudtrail_record,
    event_from_context,
    flush_events,
    record_event,
    resource,
    user_identity,
    username_of,
)
from cove.services.cloudtrail.lookup import lookup_events
from cove.services.cloudtrail.tables import AuditEventRow

from .conftest import Recorder

ACCOUNT = "111122223333"
USER = Principal(
    kind="user", account_id=ACCOUNT, arn=f"arn:aws:iam::{ACCOUNT}:user/ana", user_id="AIDAANA", name="ana"
)


def _ctx(source: SourceContext, principal: Principal = USER) -> RequestContext:
    credential = Credential(access_key_id="AKIAANA", secret_access_key="x", principal=principal)
    return RequestContext(
        request_id="req-1",
        region="eu-west-1",
        service="kms",
        operation="Decrypt",
        principal=principal,
        source=source,
        now=datetime(2030, 5, 1, 12, 0, tzinfo=UTC),
        credential=credential,
    )


def test_user_identities() -> None:
    root = Principal(kind="root", account_id=ACCOUNT, arn=f"arn:aws:iam::{ACCOUNT}:root", user_id=ACCOUNT)
    assert user_identity(root) == {
        "type": "Root",
        "principalId": ACCOUNT,
        "arn": f"arn:aws:iam::{ACCOUNT}:root",
        "accountId": ACCOUNT,
    }
    assert username_of(user_identity(root)) == "root"
    ana = user_identity(USER, "AKIAANA")
    assert ana["type"] == "IAMUser"
    assert ana["userName"] == "ana"
    assert ana["accessKeyId"] == "AKIAANA"
    assert "sessionContext" not in ana
    assert username_of(ana) == "ana"
    anonymous = user_identity(Principal(kind="anonymous", account_id="", arn="*", user_id="anonymous"))
    assert anonymous["accountId"] == "ANONYMOUS_PRINCIPAL"
    assert username_of(anonymous) is None
    assert (
        username_of({"type": "AWSService", "invokedBy": "sagemaker.amazonaws.com"})
        == "sagemaker.amazonaws.com"
    )


def test_event_from_context_over_the_internet() -> None:
    event = event_from_context(
        _ctx(SourceContext(source_ip="203.0.113.9")),
        source="kms.amazonaws.com",
        name="Decrypt",
        read_only=True,
        request_parameters={"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
    )
    assert event.event_time == datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
    assert event.aws_region == "eu-west-1"
    assert event.source_ip == "203.0.113.9"
    assert event.vpc_endpoint_id is None
    assert event.recipient_account_id == ACCOUNT
    assert event.request_id == "req-1"
    assert event.user_identity["accessKeyId"] == "AKIAANA"
    doc = cloudtrail_record(event)
    assert "vpcEndpointId" not in doc
    assert "additionalEventData" not in doc
    assert "errorCode" not in doc


def test_event_from_context_through_a_vpc_endpoint() -> None:
    source = SourceContext(
        source_ip="169.254.0.2", vpce_id="vpce-0123", vpc_id="vpc-1", vpc_source_ip="10.1.2.3"
    )
    event = event_from_context(
        _ctx(source),
        source="s3.amazonaws.com",
        name="GetObject",
        read_only=True,
        recipient_account_id="444455556666",
    )
    # Through an endpoint CloudTrail shows the caller's private address and the endpoint id.
    assert event.source_ip == "10.1.2.3"
    assert event.vpc_endpoint_id == "vpce-0123"
    assert event.recipient_account_id == "444455556666"
    assert cloudtrail_record(event)["vpcEndpointId"] == "vpce-0123"


def test_authorization_from_a_policy_decision() -> None:
    key_arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k"
    key_policy = parse_policy(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Everyone", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"},
                {
                    "Sid": "NoDecrypt",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "kms:Decrypt",
                    "Resource": "*",
                },
            ],
        },
        kind=PolicyKind.RESOURCE,
        name="key policy",
    )
    request = PolicyRequest("kms:Decrypt", key_arn, PolicyPrincipal.user(USER.arn))
    decision = evaluate(request, resource_policy=key_policy, resource_account=ACCOUNT)
    auth = authorization_from_decision(decision)
    assert auth["decision"] == "explicitDeny"
    assert auth["deniedBy"] == "resource-based"
    denies = [s for s in auth["statements"] if s["effect"] == "Deny"]
    assert [(s["sid"], s["policyType"]) for s in denies] == [("NoDecrypt", "resource-based")]
    event = event_from_context(
        _ctx(SourceContext()),
        source="kms.amazonaws.com",
        name="Decrypt",
        read_only=True,
        authorization=decision,
    )
    assert event.authorization == auth
    assert event.denied
    assert cloudtrail_record(event)["additionalEventData"]["authorization"] == auth
    json.dumps(cloudtrail_record(event))  # the record is plain JSON


def test_naive_times_are_refused(cove_server: EmbeddedServer) -> None:
    event = AuditEvent(
        event_time=datetime(2030, 1, 1),
        event_source="kms.amazonaws.com",
        event_name="Decrypt",
        aws_region="us-east-1",
        source_ip="127.0.0.1",
        user_identity=user_identity(USER),
        recipient_account_id=ACCOUNT,
    )
    with pytest.raises(ValueError):
        record_event(cove_server.cove.db, event)


def test_recorded_event_survives_the_callers_rollback(cove_server: EmbeddedServer, window: datetime) -> None:
    db: Database = cove_server.cove.db
    event = AuditEvent(
        event_time=window,
        event_source="kms.amazonaws.com",
        event_name="Decrypt",
        aws_region="us-east-1",
        source_ip="127.0.0.1",
        user_identity=user_identity(USER),
        recipient_account_id=ACCOUNT,
        error_code="AccessDeniedException",
        error_message="denied",
    )
    marker = f"rollback-{event.event_id[:8]}"

    class Refused(Exception):
        pass

    with pytest.raises(Refused), db.session() as session:
        # The caller has written (on SQLite it now holds the database's only write lock) when it
        # records its denial and fails.
        session.execute(
            text("INSERT INTO accounts (id, name, local, created) VALUES (:id, :name, false, :now)"),
            {"id": marker[-12:], "name": marker, "now": datetime.now(UTC).replace(tzinfo=None)},
        )
        record_event(db, event)
        raise Refused
    assert flush_events(db, timeout=10)
    with db.read() as session:
        assert session.scalar(
            select(AuditEventRow.error_code).where(AuditEventRow.event_id == event.event_id)
        ) == ("AccessDeniedException")
        assert session.scalar(text("SELECT count(*) FROM accounts WHERE name = :n"), {"n": marker}) == 0


def test_many_events_are_all_committed(
    cove_server: EmbeddedServer, record: Recorder, window: datetime
) -> None:
    db = cove_server.cove.db
    events = [
        AuditEvent(
            event_time=window + timedelta(seconds=i),
            event_source="s3.amazonaws.com",
            event_name="PutObject",
            aws_region="us-east-1",
            source_ip="127.0.0.1",
            user_identity=user_identity(USER),
            recipient_account_id=ACCOUNT,
            resources=[resource(f"arn:aws:s3:::bulk/{i}", "AWS::S3::Object")],
        )
        for i in range(300)
    ]
    for event in events:
        record_event(db, event)
    assert flush_events(db)
    with db.read() as session:
        out = lookup_events(
            session, ACCOUNT, {"StartTime": window, "EndTime": window + timedelta(hours=1), "MaxResults": 50}
        )
    assert [e["Resources"][0]["ResourceName"] for e in out["Events"]] == [
        f"bulk/{i}" for i in range(299, 249, -1)
    ]


def test_max_results_out_of_range(cove_server: EmbeddedServer) -> None:
    # boto3 refuses 0 itself and the wire layer validates the model's bound of 50; the service
    # keeps its own check for callers that bypass both.
    with cove_server.cove.db.read() as session, pytest.raises(InvalidMaxResults):
        lookup_events(session, ACCOUNT, {"MaxResults": 51})
