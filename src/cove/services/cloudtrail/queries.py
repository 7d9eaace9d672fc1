"""Reading the audit trail back: one filter shape shared by LookupEvents and ``cove audit``."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from cove.services.cloudtrail.tables import AuditEventRow, AuditResourceRow

__all__ = ["DENIAL_CODES", "EventFilter", "StoredEvent", "find_events"]

# Error codes that mean "refused by policy" when a provider recorded no authorization explanation.
DENIAL_CODES = ("AccessDenied", "AccessDeniedException")
_ROLE_ARN = re.compile(r"^arn:(?P<partition>[^:]+):iam::(?P<account>\d{12}):role/(?:.*/)?(?P<name>[^/]+)$")


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Every member is optional; given members must all match."""

    account_id: str | None = None
    event_id: str | None = None
    event_source: str | None = None
    event_name: str | None = None
    read_only: bool | None = None
    username: str | None = None
    access_key_id: str | None = None
    resource_type: str | None = None
    # Matches a resource's LookupEvents name or its ARN.
    resource_name: str | None = None
    # Also matches a resource whose ARN ends in "/<value>" (a KMS key id, an IAM name).
    resource_suffix: bool = False
    # A principal ARN; a role's ARN also matches the sessions of that role.
    principal_arn: str | None = None
    denied: bool = False
    start: datetime | None = None
    end: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    event_id: str
    event_time: datetime
    event_source: str
    event_name: str
    read_only: bool
    username: str | None
    access_key_id: str | None
    principal_arn: str | None
    resources: tuple[tuple[str | None, str], ...]
    record: str

    @property
    def document(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.record)
        return parsed


def find_events(
    session: Session,
    flt: EventFilter,
    *,
    limit: int,
    before: tuple[datetime, int] | None = None,
) -> list[StoredEvent]:
    """Up to ``limit`` matching events, newest first, strictly older than ``before`` (a
    (time, seq) position from an earlier page)."""
    t = AuditEventRow
    query = select(t).where(*_conditions(flt))
    if before is not None:
        when, seq = before
        query = query.where(or_(t.event_time < when, and_(t.event_time == when, t.seq < seq)))
    rows = session.scalars(query.order_by(t.event_time.desc(), t.seq.desc()).limit(limit)).all()
    resources = _resources(session, [r.seq for r in rows])
    return [
        StoredEvent(
            seq=r.seq,
            event_id=r.event_id,
            event_time=r.event_time,
            event_source=r.event_source,
            event_name=r.event_name,
            read_only=r.read_only,
            username=r.username,
            access_key_id=r.access_key_id,
            principal_arn=r.principal_arn,
            resources=tuple(resources.get(r.seq, ())),
            record=r.record,
        )
        for r in rows
    ]


def _conditions(flt: EventFilter) -> list[ColumnElement[bool]]:
    t = AuditEventRow
    out: list[ColumnElement[bool]] = []
    equal = (
        (t.account_id, flt.account_id),
        (t.event_id, flt.event_id),
        (t.event_source, flt.event_source),
        (t.event_name, flt.event_name),
        (t.username, flt.username),
        (t.access_key_id, flt.access_key_id),
    )
    out.extend(column == value for column, value in equal if value is not None)
    if flt.read_only is not None:
        out.append(t.read_only == flt.read_only)
    if flt.start is not None:
        out.append(t.event_time >= flt.start)
    if flt.end is not None:
        out.append(t.event_time <= flt.end)
    if flt.denied:
        out.append(or_(t.decision.in_(("explicitDeny", "implicitDeny")), t.error_code.in_(DENIAL_CODES)))
    if flt.principal_arn is not None:
        out.append(_principal(flt.principal_arn))
    if flt.resource_type is not None or flt.resource_name is not None:
        out.append(t.seq.in_(_resource_query(flt)))
    return out


def _principal(arn: str) -> ColumnElement[bool]:
    column = AuditEventRow.principal_arn
    role = _ROLE_ARN.match(arn)
    if role is None:
        return column == arn
    sessions = f"arn:{role['partition']}:sts::{role['account']}:assumed-role/{role['name']}/"
    return or_(column == arn, column.startswith(sessions, autoescape=True))


def _resource_query(flt: EventFilter) -> Any:
    r = AuditResourceRow
    query = select(r.event_seq)
    if flt.resource_type is not None:
        query = query.where(r.type == flt.resource_type)
    if flt.resource_name is not None:
        name = flt.resource_name
        matches: list[ColumnElement[bool]] = [r.name == name, r.arn == name]
        if flt.resource_suffix:
            matches.append(r.arn.endswith("/" + name, autoescape=True))
        query = query.where(or_(*matches))
    return query


def _resources(session: Session, seqs: Sequence[int]) -> dict[int, list[tuple[str | None, str]]]:
    if not seqs:
        return {}
    r = AuditResourceRow
    out: dict[int, list[tuple[str | None, str]]] = {}
    rows = session.execute(
        select(r.event_seq, r.type, r.name).where(r.event_seq.in_(seqs)).order_by(r.event_seq, r.position)
    )
    for seq, type_, name in rows:
        out.setdefault(seq, []).append((type_, name))
    return out
