"""FilterLogEvents: a group's events across streams, interleaved by time, through a filter pattern.

Events are read from the group's time index in chunks and matched in Python, so a page costs
what it scans, not the size of the group. The token remembers the direction and the position of
the last event returned.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.services.logs import tokens
from cove.services.logs.errors import InvalidParameterException, invalid_token
from cove.services.logs.ingest import EVENT_OVERHEAD, MAX_BATCH_BYTES
from cove.services.logs.patterns import compile_pattern
from cove.services.logs.reading import after, before
from cove.services.logs.tables import LogEventRow, LogGroupRow, LogStreamRow

__all__ = ["filter_log_events"]

Out = dict[str, Any]
_DEFAULT_LIMIT = 10_000
_CHUNK = 2_000
# Larger stream sets are matched in Python rather than sent as an IN list.
_IN_LIST_MAX = 500
# FilterLogEvents reads newest-first only from 2024-01-01T00:00:00Z on.
_DESCENDING_FROM_MS = 1_704_067_200_000


def filter_log_events(s: Session, group: LogGroupRow, p: dict[str, Any], floor: int | None = None) -> Out:
    """``floor``: the oldest timestamp the group's retention keeps."""
    names, prefix = p.get("logStreamNames"), p.get("logStreamNamePrefix")
    if names is not None and prefix is not None:
        raise InvalidParameterException("Cannot specify both logStreamNames and logStreamNamePrefix.")
    match = compile_pattern(p.get("filterPattern"))
    streams = {
        row.id: row.name
        for row in s.execute(
            select(LogStreamRow.id, LogStreamRow.name).where(LogStreamRow.group_id == group.id)
        )
    }
    if names is not None:
        wanted = set(names)
        streams = {sid: name for sid, name in streams.items() if name in wanted}
    elif prefix is not None:
        streams = {sid: name for sid, name in streams.items() if name.startswith(prefix)}
    direction, cursor = _start(p)
    limit = p.get("limit") or _DEFAULT_LIMIT
    query = select(
        LogEventRow.id,
        LogEventRow.stream_id,
        LogEventRow.timestamp,
        LogEventRow.ingestion,
        LogEventRow.message,
    ).where(LogEventRow.group_id == group.id)
    if floor is not None:
        query = query.where(LogEventRow.timestamp >= floor)
    if p.get("startTime") is not None:
        query = query.where(LogEventRow.timestamp >= p["startTime"])
    if p.get("endTime") is not None:
        query = query.where(LogEventRow.timestamp <= p["endTime"])
    scoped = names is not None or prefix is not None
    if scoped and len(streams) <= _IN_LIST_MAX:
        query = query.where(LogEventRow.stream_id.in_(list(streams)))
    forward = direction == "f"
    order = (
        (LogEventRow.timestamp, LogEventRow.id)
        if forward
        else (LogEventRow.timestamp.desc(), LogEventRow.id.desc())
    )
    events: list[Out] = []
    size, more = 0, False
    exhausted = scoped and not streams
    while not exhausted and not more:
        bound = query if cursor is None else query.where(after(cursor) if forward else before(cursor))
        chunk = list(s.execute(bound.order_by(*order).limit(_CHUNK)))
        exhausted = len(chunk) < _CHUNK
        for row in chunk:
            if len(events) >= limit:
                more = True
                break
            if row.stream_id in streams and (match is None or match(row.message)):
                weight = len(row.message.encode()) + EVENT_OVERHEAD
                if events and size + weight > MAX_BATCH_BYTES:
                    more = True
                    break
                size += weight
                events.append(
                    {
                        "logStreamName": streams[row.stream_id],
                        "timestamp": row.timestamp,
                        "message": row.message,
                        "ingestionTime": row.ingestion,
                        "eventId": tokens.event_id((row.timestamp, row.id)),
                    }
                )
            cursor = (row.timestamp, row.id)
        if not more and len(events) >= limit and not exhausted:
            # The page is full at a chunk's end: say "more" only if anything is left to scan.
            bound = query.where(after(cursor) if forward else before(cursor)) if cursor else query
            more = s.execute(bound.limit(1)).first() is not None
            break
    out: Out = {"events": events, "searchedLogStreams": []}
    if more and cursor is not None:
        out["nextToken"] = tokens.encode({"d": direction, "t": cursor[0], "i": cursor[1]})
    return out


def _start(p: dict[str, Any]) -> tuple[str, tokens.Position | None]:
    token = p.get("nextToken")
    if token is not None:
        state = tokens.decode(token)
        if (
            not isinstance(state, dict)
            or state.get("d") not in ("f", "b")
            or not isinstance(state.get("t"), int)
            or not isinstance(state.get("i"), int)
        ):
            raise invalid_token()
        return str(state["d"]), (state["t"], state["i"])
    if p.get("startFromHead", True):
        return "f", None
    start = p.get("startTime")
    if start is not None and start < _DESCENDING_FROM_MS:
        raise InvalidParameterException(
            "startFromHead set to false is supported only when startTime is on or after "
            "Jan 1, 2024 00:00:00 UTC."
        )
    return "b", None
