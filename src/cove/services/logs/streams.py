"""Log streams: create, find, delete, describe."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cove.services.logs import tokens
from cove.services.logs.errors import (
    STREAM_EXISTS,
    STREAM_MISSING,
    InvalidParameterException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    invalid_token,
)
from cove.services.logs.groups import forget_events
from cove.services.logs.names import check_stream_name, stream_arn
from cove.services.logs.tables import LogEventRow, LogGroupRow, LogStreamRow

__all__ = [
    "create_stream",
    "delete_stream",
    "describe_streams",
    "find_stream",
    "sequence_token",
    "stream_view",
]

Out = dict[str, Any]


def find_stream(s: Session, group: LogGroupRow, name: str) -> LogStreamRow:
    row = s.scalar(select(LogStreamRow).where(LogStreamRow.group_id == group.id, LogStreamRow.name == name))
    if row is None:
        raise ResourceNotFoundException(STREAM_MISSING)
    return row


def create_stream(s: Session, group: LogGroupRow, name: str, now_ms: int) -> LogStreamRow:
    check_stream_name(name)
    row = LogStreamRow(group_id=group.id, name=name, created_ms=now_ms, uploads=0)
    try:
        with s.begin_nested():
            s.add(row)
    except IntegrityError:
        raise ResourceAlreadyExistsException(STREAM_EXISTS) from None
    return row


def delete_stream(s: Session, group: LogGroupRow, stream: LogStreamRow) -> None:
    forget_events(s, group, LogEventRow.stream_id == stream.id)
    s.delete(stream)


def sequence_token(stream: LogStreamRow) -> str:
    """The deprecated upload sequence token: 56 digits that grow with every accepted batch."""
    return f"{stream.id:026d}{stream.uploads:030d}"


def stream_view(group: LogGroupRow, row: LogStreamRow) -> Out:
    view: Out = {
        "logStreamName": row.name,
        "creationTime": row.created_ms,
        "arn": stream_arn(group.region, group.account_id, group.name, row.name),
        # AWS has reported zero for streams since June 2019; groups keep the real figure.
        "storedBytes": 0,
    }
    if row.first_event_ms is not None:
        view["firstEventTimestamp"] = row.first_event_ms
    if row.last_event_ms is not None:
        view["lastEventTimestamp"] = row.last_event_ms
    if row.last_ingestion_ms is not None:
        view["lastIngestionTime"] = row.last_ingestion_ms
    if row.uploads:
        view["uploadSequenceToken"] = sequence_token(row)
    return view


def _sort_key(row: LogStreamRow, by_time: bool) -> list[Any]:
    # Streams without events sort as the oldest; names break ties so pages never overlap.
    return [row.last_event_ms or 0, row.name] if by_time else [row.name]


def describe_streams(s: Session, group: LogGroupRow, p: dict[str, Any]) -> Out:
    by_time = p.get("orderBy") == "LastEventTime"
    prefix = p.get("logStreamNamePrefix")
    if by_time and prefix is not None:
        raise InvalidParameterException("Cannot order by LastEventTime with a logStreamNamePrefix.")
    descending = bool(p.get("descending"))
    rows = s.scalars(select(LogStreamRow).where(LogStreamRow.group_id == group.id)).all()
    if prefix is not None:
        rows = [r for r in rows if r.name.startswith(prefix)]
    chosen = sorted(rows, key=lambda r: _sort_key(r, by_time), reverse=descending)
    token = p.get("nextToken")
    if token is not None:
        after = tokens.decode(token)
        shape = [int, str] if by_time else [str]
        if not isinstance(after, list) or [type(v) for v in after] != shape:
            raise invalid_token()
        if descending:
            chosen = [r for r in chosen if _sort_key(r, by_time) < after]
        else:
            chosen = [r for r in chosen if _sort_key(r, by_time) > after]
    limit = p.get("limit") or 50
    page = chosen[:limit]
    out: Out = {"logStreams": [stream_view(group, r) for r in page]}
    if len(chosen) > limit:
        out["nextToken"] = tokens.encode(_sort_key(page[-1], by_time))
    return out
