"""Events recorded straight into the live server's database, each test in a time window of its own.

Other suites record events at the present time into the same database; a window years in the past
keeps each test's lookups to its own events.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cove.aws.context import Principal
from cove.server import EmbeddedServer
from cove.services.cloudtrail.events import AuditEvent, flush_events, record_event, resource, user_identity

Recorder = Callable[..., AuditEvent]


@pytest.fixture
def window() -> datetime:
    """The start of an hour no other test uses."""
    return datetime(2001, 1, 1, tzinfo=UTC) + timedelta(hours=random.randrange(24 * 365 * 15))


@pytest.fixture
def account_id(cove_server: EmbeddedServer) -> str:
    return cove_server.cove.account.account_id


@pytest.fixture
def principal(account_id: str) -> Principal:
    return Principal(
        kind="user",
        account_id=account_id,
        arn=f"arn:aws:iam::{account_id}:user/auditor",
        user_id="AIDAAUDITOR",
        name="auditor",
    )


@pytest.fixture
def record(cove_server: EmbeddedServer, window: datetime, account_id: str, principal: Principal) -> Recorder:
    """``record(minute, name=…, …)``: store an event ``minute`` minutes into the window and wait for it."""

    def factory(minute: float = 0, **fields: Any) -> AuditEvent:
        who: Principal = fields.pop("principal", principal)
        key = fields.pop("access_key_id", "AKIAAUDITOR")
        values: dict[str, Any] = {
            "event_time": window + timedelta(minutes=minute),
            "event_source": "kms.amazonaws.com",
            "event_name": "Decrypt",
            "aws_region": "us-east-1",
            "source_ip": "10.0.0.1",
            "user_identity": user_identity(who, key),
            "recipient_account_id": account_id,
            "read_only": True,
            "resources": [
                resource(f"arn:aws:kms:us-east-1:{account_id}:key/{uuid.uuid4()}", "AWS::KMS::Key")
            ],
        }
        values.update(fields)
        event = AuditEvent(**values)
        record_event(cove_server.cove.db, event)
        assert flush_events(cove_server.cove.db)
        return event

    return factory
