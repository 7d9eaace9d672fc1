"""The background writer: events recorded close together share a transaction, and flushing does not
wait for the writer's pause."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from cove.db import Database
from cove.services.cloudtrail import writer
from cove.services.cloudtrail.events import AuditEvent, flush_events, record_event, resource
from cove.services.cloudtrail.tables import AuditEventRow, AuditResourceRow


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'audit.db'}")
    database.migrate()
    yield database
    assert flush_events(database)
    database.dispose()


def _event(i: int) -> AuditEvent:
    return AuditEvent(
        event_time=datetime(2031, 1, 1, tzinfo=UTC),
        event_source="s3.amazonaws.com",
        event_name="PutObject",
        aws_region="us-east-1",
        source_ip="127.0.0.1",
        user_identity={"type": "Root", "accountId": "111122223333"},
        recipient_account_id="111122223333",
        resources=[
            resource(f"arn:aws:s3:::b/{i}", "AWS::S3::Object", ""),
            resource("arn:aws:s3:::b", "AWS::S3::Bucket", ""),
        ],
    )


def _commits(db: Database) -> list[int]:
    commits: list[int] = []

    def count(conn: Any) -> None:
        commits.append(1)

    event.listen(db.engine, "commit", count)
    return commits


def test_a_trickle_of_events_shares_transactions(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "_LINGER_S", 0.5)
    commits = _commits(db)
    for i in range(20):  # as requests record them: a few milliseconds apart
        record_event(db, _event(i))
        time.sleep(0.002)
    assert flush_events(db)
    assert 1 <= len(commits) <= 3  # one each without the pause
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEventRow)) == 20
        # Each event's resources point at its own row, in the order recorded.
        rows = s.execute(
            select(AuditEventRow.seq, AuditResourceRow.name)
            .join(AuditResourceRow, AuditResourceRow.event_seq == AuditEventRow.seq)
            .where(AuditResourceRow.position == 0)
            .order_by(AuditEventRow.seq)
        ).all()
    assert [name for _, name in rows] == [f"b/{i}" for i in range(20)]


def test_flushing_cuts_the_pause_short(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer, "_LINGER_S", 60.0)
    record_event(db, _event(0))
    started = time.monotonic()
    assert flush_events(db, timeout=20)
    assert time.monotonic() - started < 20
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEventRow)) == 1
