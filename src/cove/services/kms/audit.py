"""The audit hook: every KMS use, allowed or denied, becomes a CloudTrail event (who, operation,
key ARN, verdict, source VPC endpoint)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from cove.aws.context import RequestContext
from cove.db import Database
from cove.services.cloudtrail.events import event_from_context, record_event, resource

__all__ = ["KmsUse", "bind", "record", "record_in"]

log = logging.getLogger("cove.kms")
# Service functions get a session, not the Database; map its engine back to the Database that
# the provider registered, so several servers in one process each record to their own.
_DATABASES: dict[int, Database] = {}


@dataclass(slots=True)
class KmsUse:
    """One KMS API call or service-function use. Never holds plaintext or key material."""

    ctx: RequestContext
    operation: str
    key_arn: str | None
    allowed: bool
    error_code: str | None = None
    error_message: str | None = None
    via_service: str | None = None
    request_parameters: dict[str, Any] = field(default_factory=dict)


def bind(db: Database) -> None:
    _DATABASES[id(db.engine)] = db


def record_in(session: Session, use: KmsUse) -> None:
    db = _DATABASES.get(id(session.get_bind()))
    if db is None:
        log.info("kms use", extra={"operation": use.operation, "key": use.key_arn, "allowed": use.allowed})
        return
    record(db, use)


def record(db: Database, use: KmsUse) -> None:
    params = dict(use.request_parameters)
    if use.key_arn:
        params.setdefault("keyId", use.key_arn)
    extra: dict[str, Any] = {}
    if use.via_service:
        extra["viaService"] = use.via_service
    event = event_from_context(
        use.ctx,
        source="kms.amazonaws.com",
        name=use.operation,
        read_only=use.operation.startswith(("Describe", "Get", "List")),
        request_parameters=params,
        resources=[resource(use.key_arn, "AWS::KMS::Key")] if use.key_arn else [],
        error_code=use.error_code,
        error_message=use.error_message,
        authorization={"decision": "allowed" if use.allowed else "implicitDeny"},
        additional_event_data=extra or None,
    )
    record_event(db, event)
