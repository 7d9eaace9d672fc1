"""CloudWatch Logs for Cove's own producers: write events without going through HTTP.

VPC flow logs, training and processing jobs and endpoints deliver their output here, into the
same tables the Logs API reads, so ``aws logs get-log-events`` / ``filter-log-events`` (or the
SDKs, the console-like CLI, SageMaker's ``logs=True``) see it as they would on AWS::

    from cove.services.logs.service import append_events, ensure_group

    ensure_group(db, account_id, region, "/aws/sagemaker/TrainingJobs")
    append_events(db, account_id, region, "/aws/sagemaker/TrainingJobs", "job-1/algo-1-1700000000",
                  [(1700000000123, "epoch 1 loss 0.42"), (1700000000456, "epoch 2 loss 0.31")])

``db_or_session`` is a :class:`~cove.db.Database` (the call commits on its own) or an open
:class:`~sqlalchemy.orm.Session` (the events commit with the caller's transaction). Timestamps are
epoch milliseconds. Unlike PutLogEvents, producers are trusted: events may come in any order (they
are sorted), batches have no size, count or time-window limit, and nothing is rejected for being
old or new (though the group's retention, when it has one, drops what it would not keep anyway,
as it does for every write). A missing stream is created unless ``create_stream=False``; a missing group only with
``create_group=True``, otherwise ResourceNotFoundException, as AWS would answer the producer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.db import Database
from cove.services.logs import groups, streams
from cove.services.logs.errors import ResourceAlreadyExistsException, ResourceNotFoundException
from cove.services.logs.ingest import store_events
from cove.services.logs.names import epoch_ms
from cove.services.logs.tables import LogEventRow, LogGroupRow, LogStreamRow

__all__ = ["append_events", "ensure_group", "ensure_stream", "read_events"]


@contextmanager
def _session(db_or_session: Database | Session) -> Iterator[Session]:
    if isinstance(db_or_session, Session):
        yield db_or_session
    else:
        with db_or_session.session() as s:
            yield s


def _now_ms() -> int:
    return epoch_ms(datetime.now(UTC))


def _group(s: Session, account_id: str, region: str, name: str, create: bool) -> LogGroupRow:
    try:
        return groups.find_group(s, account_id, region, name)
    except ResourceNotFoundException:
        if not create:
            raise
    try:
        return groups.create_group(s, account_id, region, name, _now_ms())
    except ResourceAlreadyExistsException:
        return groups.find_group(s, account_id, region, name)  # created meanwhile by someone else


def _stream(s: Session, group: LogGroupRow, name: str, create: bool) -> LogStreamRow:
    try:
        return streams.find_stream(s, group, name)
    except ResourceNotFoundException:
        if not create:
            raise
    try:
        return streams.create_stream(s, group, name, _now_ms())
    except ResourceAlreadyExistsException:
        return streams.find_stream(s, group, name)


def ensure_group(
    db_or_session: Database | Session,
    account_id: str,
    region: str,
    group: str,
    *,
    retention_days: int | None = None,
) -> None:
    """Create the log group unless it exists; set its retention when given."""
    with _session(db_or_session) as s:
        row = _group(s, account_id, region, group, create=True)
        if retention_days is not None and row.retention_days != retention_days:
            groups.put_retention(s, row, retention_days, _now_ms())


def ensure_stream(
    db_or_session: Database | Session,
    account_id: str,
    region: str,
    group: str,
    stream: str,
    *,
    create_group: bool = False,
) -> None:
    with _session(db_or_session) as s:
        _stream(s, _group(s, account_id, region, group, create_group), stream, create=True)


def append_events(
    db_or_session: Database | Session,
    account_id: str,
    region: str,
    group: str,
    stream: str,
    events: Sequence[tuple[int, str]],
    create_stream: bool = True,
    *,
    create_group: bool = False,
) -> None:
    """Store ``(timestamp_ms, message)`` events in ``group``/``stream`` (see the module docstring)."""
    ordered = sorted(((int(ts), str(message)) for ts, message in events), key=lambda e: e[0])
    if ordered and ordered[0][0] < 0:
        raise ValueError("log event timestamps are milliseconds since the epoch, never negative")
    with _session(db_or_session) as s:
        row = _group(s, account_id, region, group, create_group)
        target = _stream(s, row, stream, create_stream)
        store_events(s, row, target, ordered, _now_ms())


def read_events(
    db_or_session: Database | Session, account_id: str, region: str, group: str, stream: str
) -> list[tuple[int, str]]:
    """Every event of one stream, oldest first (for Cove's own checks and tests)."""
    with _session(db_or_session) as s:
        target = streams.find_stream(s, groups.find_group(s, account_id, region, group), stream)
        rows = s.execute(
            select(LogEventRow.timestamp, LogEventRow.message)
            .where(LogEventRow.stream_id == target.id)
            .order_by(LogEventRow.timestamp, LogEventRow.id)
        )
        return [(r.timestamp, r.message) for r in rows]
