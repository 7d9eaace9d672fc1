"""GetLogEvents: one stream's events in time order, paged forwards or backwards by position.

A forward token ``f/P`` continues with the events after position P, a backward token ``b/P``
with those before it. When a direction has nothing more, the token for it is the one the caller
sent: that is how clients (and the SDKs' paginators) know they reached the end.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, and_, or_, select
from sqlalchemy.orm import Session

from cove.services.logs.ingest import EVENT_OVERHEAD, MAX_BATCH_BYTES
from cove.services.logs.tables import LogEventRow, LogStreamRow
from cove.services.logs.tokens import START, Position, parse_position, position_token

__all__ = ["after", "before", "get_log_events"]

Out = dict[str, Any]
_DEFAULT_LIMIT = 10_000


def after(position: Position) -> Any:
    """Events later than ``position`` in (timestamp, id) order, in a form indexes can use."""
    ts, row = position
    return and_(LogEventRow.timestamp >= ts, or_(LogEventRow.timestamp > ts, LogEventRow.id > row))


def before(position: Position) -> Any:
    ts, row = position
    return and_(LogEventRow.timestamp <= ts, or_(LogEventRow.timestamp < ts, LogEventRow.id < row))


def get_log_events(s: Session, stream: LogStreamRow, p: dict[str, Any], floor: int | None = None) -> Out:
    """``floor``: the oldest timestamp the group's retention keeps."""
    query = select(LogEventRow.id, LogEventRow.timestamp, LogEventRow.ingestion, LogEventRow.message).where(
        LogEventRow.stream_id == stream.id
    )
    if floor is not None:
        query = query.where(LogEventRow.timestamp >= floor)
    if p.get("startTime") is not None:
        query = query.where(LogEventRow.timestamp >= p["startTime"])
    if p.get("endTime") is not None:
        query = query.where(LogEventRow.timestamp < p["endTime"])
    limit = p.get("limit") or _DEFAULT_LIMIT
    token = p.get("nextToken")
    cursor: Position | None
    if token is not None:
        direction, cursor = parse_position(token)
    elif p.get("startFromHead"):
        direction, cursor = "f", START
    else:
        direction, cursor = "b", None  # the newest events
    if direction == "f":
        assert cursor is not None
        query = query.where(after(cursor)).order_by(LogEventRow.timestamp, LogEventRow.id)
    else:
        if cursor is not None:
            query = query.where(before(cursor))
        query = query.order_by(LogEventRow.timestamp.desc(), LogEventRow.id.desc())
    rows = list(s.execute(query.limit(limit)))
    # A page holds at most 1 MB, counted from the cursor outwards.
    kept: list[Row[int, int, int, str]] = []
    size = 0
    for row in rows:
        size += len(row.message.encode()) + EVENT_OVERHEAD
        if kept and size > MAX_BATCH_BYTES:
            break
        kept.append(row)
    if direction == "b":
        kept.reverse()
    events = [{"timestamp": r.timestamp, "message": r.message, "ingestionTime": r.ingestion} for r in kept]
    if kept:
        first, last = (kept[0].timestamp, kept[0].id), (kept[-1].timestamp, kept[-1].id)
        return {
            "events": events,
            "nextForwardToken": position_token("f", last),
            "nextBackwardToken": position_token("b", first),
        }
    edge = cursor if cursor is not None else START
    return {
        "events": [],
        "nextForwardToken": position_token("f", edge),
        "nextBackwardToken": position_token("b", edge),
    }
