"""LookupEvents: one lookup attribute, a time range, newest first, 50 per page."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cove.services.cloudtrail.errors import (
    InvalidEventCategory,
    InvalidLookupAttributes,
    InvalidMaxResults,
    InvalidNextToken,
    InvalidTimeRange,
)
from cove.services.cloudtrail.queries import EventFilter, StoredEvent, find_events

__all__ = ["MAX_RESULTS", "event_view", "lookup_events"]

MAX_RESULTS = 50
_ATTRIBUTE_FIELDS = {
    "EventId": "event_id",
    "EventName": "event_name",
    "ReadOnly": "read_only",
    "Username": "username",
    "ResourceType": "resource_type",
    "ResourceName": "resource_name",
    "EventSource": "event_source",
    "AccessKeyId": "access_key_id",
}


def lookup_events(session: Session, account_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """The LookupEvents response for ``params`` (boto3's shape), over ``account_id``'s events."""
    flt = _filter(account_id, params)
    limit = params.get("MaxResults", MAX_RESULTS)
    if not 1 <= limit <= MAX_RESULTS:
        raise InvalidMaxResults(f"Value {limit} for MaxResults is invalid. It must be between 1 and 50.")
    category = params.get("EventCategory")
    if category is not None and category != "insight":
        raise InvalidEventCategory(f"Event category {category} is not valid.")
    fingerprint = _fingerprint(params)
    before = _decode_token(params["NextToken"], fingerprint) if params.get("NextToken") else None
    if category == "insight":
        return {"Events": []}  # Cove generates no Insights events
    # One extra row tells whether another page exists without a second query.
    events = find_events(session, flt, limit=limit + 1, before=before)
    out: dict[str, Any] = {"Events": [event_view(e) for e in events[:limit]]}
    if len(events) > limit:
        last = events[limit - 1]
        out["NextToken"] = _encode_token(last.event_time, last.seq, fingerprint)
    return out


def event_view(event: StoredEvent) -> dict[str, Any]:
    view: dict[str, Any] = {
        "EventId": event.event_id,
        "EventName": event.event_name,
        "ReadOnly": "true" if event.read_only else "false",
        "EventTime": event.event_time,
        "EventSource": event.event_source,
        "Resources": [
            {"ResourceName": name} | ({"ResourceType": type_} if type_ else {})
            for type_, name in event.resources
        ],
        "CloudTrailEvent": event.record,
    }
    if event.access_key_id:
        view["AccessKeyId"] = event.access_key_id
    if event.username:
        view["Username"] = event.username
    return view


def _filter(account_id: str, params: dict[str, Any]) -> EventFilter:
    start: datetime | None = params.get("StartTime")
    end: datetime | None = params.get("EndTime")
    if start is not None and end is not None and start > end:
        raise InvalidTimeRange("Start time must be less than or equal to end time.")
    fields: dict[str, Any] = {"account_id": account_id, "start": start, "end": end}
    attributes: list[dict[str, str]] = params.get("LookupAttributes") or []
    if len(attributes) > 1:
        raise InvalidLookupAttributes("You cannot specify more than one lookup attribute.")
    for attribute in attributes:
        key, value = attribute["AttributeKey"], attribute["AttributeValue"]
        if key == "ReadOnly":
            if value.lower() not in ("true", "false"):
                raise InvalidLookupAttributes(
                    f"The value {value} for lookup attribute ReadOnly is not valid. It must be true or false."
                )
            fields["read_only"] = value.lower() == "true"
        else:
            fields[_ATTRIBUTE_FIELDS[key]] = value
    return EventFilter(**fields)


def _fingerprint(params: dict[str, Any]) -> str:
    """What a token is bound to: the same query with another filter must not reuse it."""
    scope = {
        "attributes": params.get("LookupAttributes") or [],
        "start": params["StartTime"].isoformat() if params.get("StartTime") else None,
        "end": params["EndTime"].isoformat() if params.get("EndTime") else None,
        "category": params.get("EventCategory"),
    }
    return hashlib.sha256(json.dumps(scope, sort_keys=True).encode()).hexdigest()[:16]


def _encode_token(when: datetime, seq: int, fingerprint: str) -> str:
    raw = json.dumps({"t": when.isoformat(), "s": seq, "f": fingerprint}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode()


def _decode_token(token: str, fingerprint: str) -> tuple[datetime, int]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(token.encode()))
        when, seq, bound = datetime.fromisoformat(raw["t"]), int(raw["s"]), raw["f"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidNextToken("Invalid NextToken") from None
    if bound != fingerprint or when.tzinfo is None:
        raise InvalidNextToken("Invalid NextToken")
    return when, seq
