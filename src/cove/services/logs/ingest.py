"""Storing events: PutLogEvents with AWS's batch rules, and the lenient path Cove's producers use."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from sqlalchemy import case, insert, update
from sqlalchemy.orm import Session

from cove.services.logs.errors import InvalidParameterException
from cove.services.logs.groups import purge_expired
from cove.services.logs.streams import sequence_token
from cove.services.logs.tables import LogEventRow, LogGroupRow, LogStreamRow

__all__ = ["EVENT_OVERHEAD", "MAX_BATCH_BYTES", "put_log_events", "store_events"]

Out = dict[str, Any]

# Every event counts its UTF-8 message plus 26 bytes against the batch and page limits.
EVENT_OVERHEAD = 26
MAX_BATCH_BYTES = 1_048_576
MAX_EVENT_BYTES = 1_048_576
_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
_TOO_OLD_MS = 14 * _DAY_MS
_TOO_NEW_MS = 2 * _HOUR_MS
_INSERT_CHUNK = 5000


def put_log_events(
    s: Session, group: LogGroupRow, stream: LogStreamRow, events: Sequence[dict[str, Any]], now_ms: int
) -> Out:
    """Check the batch as AWS does, store what it accepts and report what it rejects."""
    sizes = [len(str(e["message"]).encode()) + EVENT_OVERHEAD for e in events]
    for size in sizes:
        if size > MAX_EVENT_BYTES:
            raise InvalidParameterException(
                f"Log event too large: {size} bytes exceeds limit of {MAX_EVENT_BYTES}"
            )
    if sum(sizes) > MAX_BATCH_BYTES:
        raise InvalidParameterException(
            f"Upload too large: {sum(sizes)} bytes exceeds limit of {MAX_BATCH_BYTES}"
        )
    stamps = [int(e["timestamp"]) for e in events]
    if any(later < earlier for earlier, later in pairwise(stamps)):
        raise InvalidParameterException(
            "Log events in a single PutLogEvents request must be in chronological order."
        )
    # Sorted timestamps make every rejected kind a prefix (too old, expired) or a suffix (too new).
    too_old = sum(1 for t in stamps if t < now_ms - _TOO_OLD_MS)
    expired = (
        sum(1 for t in stamps if t < now_ms - group.retention_days * _DAY_MS)
        if group.retention_days is not None
        else 0
    )
    too_new_from = next((i for i, t in enumerate(stamps) if t > now_ms + _TOO_NEW_MS), len(stamps))
    first = max(too_old, expired)
    accepted = [(stamps[i], str(events[i]["message"])) for i in range(first, max(first, too_new_from))]
    if accepted and accepted[-1][0] - accepted[0][0] > _DAY_MS:
        raise InvalidParameterException(
            "The batch of log events in a single PutLogEvents request cannot span more than 24 hours."
        )
    store_events(s, group, stream, accepted, now_ms, upload=True)
    out: Out = {"nextSequenceToken": sequence_token(stream)}
    rejected: dict[str, int] = {}
    if too_new_from < len(stamps):
        rejected["tooNewLogEventStartIndex"] = too_new_from
    if too_old:
        rejected["tooOldLogEventEndIndex"] = too_old
    if expired:
        rejected["expiredLogEventEndIndex"] = expired
    if rejected:
        out["rejectedLogEventsInfo"] = rejected
    return out


def store_events(
    s: Session,
    group: LogGroupRow,
    stream: LogStreamRow,
    events: Sequence[tuple[int, str]],
    now_ms: int,
    *,
    upload: bool = False,
) -> None:
    """Insert events (sorted by timestamp) and keep the stream's and group's figures current;
    ``upload`` counts a PutLogEvents batch (the sequence token) even when nothing was accepted."""
    if not events:
        if upload:
            s.execute(
                update(LogStreamRow)
                .where(LogStreamRow.id == stream.id)
                .values(uploads=LogStreamRow.uploads + 1)
                .execution_options(synchronize_session=False)
            )
            s.refresh(stream)
        return
    for start in range(0, len(events), _INSERT_CHUNK):
        s.execute(
            insert(LogEventRow),
            [
                {
                    "group_id": group.id,
                    "stream_id": stream.id,
                    "timestamp": ts,
                    "ingestion": now_ms,
                    "message": message,
                    "size": len(message.encode()),
                }
                for ts, message in events[start : start + _INSERT_CHUNK]
            ],
        )
    low, high = events[0][0], events[-1][0]
    # Increments in SQL: concurrent batches to one stream or group must not lose each other's figures.
    first, last = LogStreamRow.first_event_ms, LogStreamRow.last_event_ms
    s.execute(
        update(LogStreamRow)
        .where(LogStreamRow.id == stream.id)
        .values(
            first_event_ms=case((first.is_(None) | (first > low), low), else_=first),
            last_event_ms=case((last.is_(None) | (last < high), high), else_=last),
            last_ingestion_ms=now_ms,
            uploads=LogStreamRow.uploads + (1 if upload else 0),
        )
        .execution_options(synchronize_session=False)
    )
    s.execute(
        update(LogGroupRow)
        .where(LogGroupRow.id == group.id)
        .values(stored_bytes=LogGroupRow.stored_bytes + sum(len(m.encode()) for _, m in events))
        .execution_options(synchronize_session=False)
    )
    s.refresh(stream)
    s.refresh(group)
    # Retention is applied as events arrive (and when the policy changes), not by a sweeper.
    purge_expired(s, group, now_ms)
