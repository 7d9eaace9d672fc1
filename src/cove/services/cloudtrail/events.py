"""The recording API: providers describe an API call as an :class:`AuditEvent` and
:func:`record_event` stores it, committed on its own so that a request that fails (and rolls back
its own work) still leaves its denial on record."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from cove.aws.context import Principal, RequestContext
from cove.db import Database
from cove.policy import Decision
from cove.services.cloudtrail.writer import PendingEvent, commit_lock, enqueue, flush

__all__ = [
    "EVENT_VERSION",
    "AuditEvent",
    "authorization_from_decision",
    "cloudtrail_record",
    "commit_lock",
    "event_from_context",
    "flush_events",
    "record_event",
    "resource",
    "resource_name",
    "user_identity",
    "username_of",
]

EVENT_VERSION = "1.08"
EventCategory = Literal["Management", "Data"]


@dataclass(slots=True)
class AuditEvent:
    """One API call in CloudTrail's terms (field names are CloudTrail's, in snake case).

    ``request_parameters`` must never hold secrets or plaintext: it is stored as given.
    ``authorization`` is Cove's addition (see :func:`authorization_from_decision`); it is written
    into the record's ``additionalEventData``.
    """

    event_time: datetime
    event_source: str
    event_name: str
    aws_region: str
    source_ip: str
    user_identity: dict[str, Any]
    recipient_account_id: str
    user_agent: str | None = None
    request_parameters: dict[str, Any] | None = None
    response_elements: dict[str, Any] | None = None
    resources: list[dict[str, str]] = field(default_factory=list)
    error_code: str | None = None
    error_message: str | None = None
    read_only: bool = False
    management_event: bool = True
    event_category: EventCategory = "Management"
    vpc_endpoint_id: str | None = None
    authorization: dict[str, Any] | None = None
    additional_event_data: dict[str, Any] | None = None
    request_id: str | None = None
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    event_type: str = "AwsApiCall"

    @property
    def denied(self) -> bool:
        if self.authorization is not None:
            return self.authorization.get("decision") not in (None, "allowed")
        return self.error_code in ("AccessDenied", "AccessDeniedException")


def resource(arn: str, type_: str, account_id: str | None = None) -> dict[str, str]:
    """A ``resources`` entry; ``account_id`` defaults to the one in the ARN (absent for S3)."""
    account = account_id if account_id is not None else _arn_account(arn)
    entry = {"ARN": arn, "type": type_}
    if account:
        entry["accountId"] = account
    return entry


def user_identity(principal: Principal, access_key_id: str | None = None) -> dict[str, Any]:
    """CloudTrail's ``userIdentity`` element for ``principal``."""
    if principal.kind == "anonymous":
        return {"type": "AWSAccount", "principalId": "", "accountId": "ANONYMOUS_PRINCIPAL"}
    identity: dict[str, Any] = {
        "type": {"root": "Root", "user": "IAMUser", "assumed-role": "AssumedRole"}[principal.kind],
        "principalId": principal.user_id,
        "arn": principal.arn,
        "accountId": principal.account_id,
    }
    if access_key_id:
        identity["accessKeyId"] = access_key_id
    if principal.kind == "user":
        identity["userName"] = principal.name
    if principal.kind == "assumed-role" and principal.role_arn:
        identity["sessionContext"] = {
            "sessionIssuer": {
                "type": "Role",
                "principalId": principal.role_id or "",
                "arn": principal.role_arn,
                "accountId": principal.account_id,
                "userName": principal.role_arn.rsplit("/", 1)[-1],
            },
            "attributes": {"mfaAuthenticated": "false"},
        }
    return identity


def username_of(identity: dict[str, Any]) -> str | None:
    """What LookupEvents calls ``Username``: the user name, the role session name, or "root"."""
    kind = identity.get("type")
    if kind == "Root":
        return "root"
    if kind == "IAMUser":
        return identity.get("userName") or str(identity.get("arn", "")).rsplit("/", 1)[-1] or None
    if kind == "AssumedRole":
        return str(identity.get("arn", "")).rsplit("/", 1)[-1] or None
    if kind == "AWSService":
        return identity.get("invokedBy")
    return None


def authorization_from_decision(decision: Decision) -> dict[str, Any]:
    """Cove's explanation of a policy decision: the verdict, the policy type that denied and the
    statements that decided it."""
    out: dict[str, Any] = {
        "decision": str(decision.result),
        "statements": [
            {
                "policyType": str(s.policy_type),
                "policyId": s.policy_id,
                "policyName": s.policy_name,
                "sid": s.sid,
                "statementIndex": s.statement_index,
                "effect": str(s.effect.value),
            }
            for s in decision.matched_statements
        ],
    }
    if decision.denied_by is not None:
        out["deniedBy"] = str(decision.denied_by)
    return out


def event_from_context(
    ctx: RequestContext,
    *,
    source: str,
    name: str,
    read_only: bool,
    request_parameters: dict[str, Any] | None = None,
    response_elements: dict[str, Any] | None = None,
    resources: list[dict[str, str]] | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    management_event: bool = True,
    event_category: EventCategory = "Management",
    authorization: dict[str, Any] | Decision | None = None,
    user_agent: str | None = None,
    recipient_account_id: str | None = None,
    additional_event_data: dict[str, Any] | None = None,
) -> AuditEvent:
    """An event for the request ``ctx`` describes: identity, region, source address and VPC
    endpoint come from the context (the listener's, never the headers)."""
    if isinstance(authorization, Decision):
        authorization = authorization_from_decision(authorization)
    key = ctx.credential.access_key_id if ctx.credential is not None else None
    src = ctx.source
    return AuditEvent(
        event_time=ctx.now,
        event_source=source,
        event_name=name,
        aws_region=ctx.region,
        source_ip=(src.vpc_source_ip or src.source_ip) if src.vpce_id else src.source_ip,
        user_identity=user_identity(ctx.principal, key),
        recipient_account_id=recipient_account_id or ctx.account_id,
        user_agent=user_agent,
        request_parameters=request_parameters,
        response_elements=response_elements,
        resources=list(resources or []),
        error_code=error_code,
        error_message=error_message,
        read_only=read_only,
        management_event=management_event,
        event_category=event_category,
        vpc_endpoint_id=src.vpce_id,
        authorization=authorization,
        additional_event_data=additional_event_data,
        request_id=ctx.request_id,
    )


def cloudtrail_record(event: AuditEvent) -> dict[str, Any]:
    """The CloudTrail JSON record (eventVersion 1.08) for ``event``."""
    record: dict[str, Any] = {
        "eventVersion": EVENT_VERSION,
        "userIdentity": event.user_identity,
        "eventTime": _iso(event.event_time),
        "eventSource": event.event_source,
        "eventName": event.event_name,
        "awsRegion": event.aws_region,
        "sourceIPAddress": event.source_ip,
        "userAgent": event.user_agent or "",
    }
    if event.error_code:
        record["errorCode"] = event.error_code
        record["errorMessage"] = event.error_message or ""
    record["requestParameters"] = event.request_parameters
    record["responseElements"] = event.response_elements
    additional = dict(event.additional_event_data or {})
    if event.authorization is not None:
        additional["authorization"] = event.authorization
    if additional:
        record["additionalEventData"] = additional
    record["requestID"] = event.request_id or event.event_id
    record["eventID"] = event.event_id
    record["readOnly"] = event.read_only
    if event.resources:
        record["resources"] = event.resources
    record["eventType"] = event.event_type
    record["managementEvent"] = event.management_event
    record["recipientAccountId"] = event.recipient_account_id
    if event.vpc_endpoint_id:
        record["vpcEndpointId"] = event.vpc_endpoint_id
    record["eventCategory"] = event.event_category
    return record


def record_event(db: Database, event: AuditEvent) -> None:
    """Record ``event``: committed shortly after, in a transaction of its own (never the caller's),
    so it survives the caller's rollback. Cheap: the row is built here, the commit happens in the
    background; :func:`flush_events` waits for it."""
    if event.event_time.tzinfo is None:
        raise ValueError("event_time must be timezone-aware")
    identity = event.user_identity
    row = {
        "event_id": event.event_id,
        "event_time": event.event_time,
        "account_id": event.recipient_account_id,
        "event_source": event.event_source,
        "event_name": event.event_name,
        "read_only": event.read_only,
        "username": username_of(identity),
        "principal_arn": identity.get("arn"),
        "access_key_id": identity.get("accessKeyId"),
        "error_code": event.error_code,
        "decision": (event.authorization or {}).get("decision"),
        "record": json.dumps(cloudtrail_record(event), separators=(",", ":"), default=str),
    }
    resources = tuple(
        {
            "position": i,
            "arn": r.get("ARN", ""),
            "name": resource_name(r.get("ARN", "")),
            "type": r.get("type"),
        }
        for i, r in enumerate(event.resources)
    )
    enqueue(db, PendingEvent(row, resources))


def flush_events(db: Database | None = None, timeout: float = 30.0) -> bool:
    """Wait until every event recorded so far is committed (False if ``timeout`` passed first)."""
    return flush(db, timeout)


def resource_name(arn: str) -> str:
    """LookupEvents' ResourceName: S3 names buckets and objects by name, other services by ARN."""
    if arn.startswith("arn:aws:s3:::"):
        return arn.removeprefix("arn:aws:s3:::")
    return arn


def _arn_account(arn: str) -> str:
    parts = arn.split(":", 5)
    return parts[4] if len(parts) > 4 else ""


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
