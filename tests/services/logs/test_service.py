"""The producers' API (append_events and friends): what it creates, what it refuses, and that what
it writes is what the Logs API reads."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest

from cove.services.logs.errors import ResourceNotFoundException
from cove.services.logs.service import append_events, ensure_group, ensure_stream, read_events

from .conftest import now_ms

DAY = 86_400_000


@pytest.fixture
def where(cove_server: Any) -> tuple[Any, str]:
    return cove_server.cove.db, cove_server.cove.account.account_id


def test_append_creates_stream_and_group_only_when_asked(logs: Any, where: tuple[Any, str]) -> None:
    db, account = where
    group = f"/aws/sagemaker/TrainingJobs-{uuid.uuid4().hex[:8]}"
    t = now_ms()
    with pytest.raises(ResourceNotFoundException) as exc:
        append_events(db, account, "us-east-1", group, "job/algo-1", [(t, "x")])
    assert exc.value.message == "The specified log group does not exist."
    # Out of order and older than PutLogEvents would take: producers are trusted, events sorted.
    events = [(t, "epoch 2"), (t - 20 * DAY, "setup"), (t - 1, "epoch 1")]
    append_events(db, account, "us-east-1", group, "job/algo-1", events, create_group=True)
    got = logs.get_log_events(logGroupName=group, logStreamName="job/algo-1", startFromHead=True)["events"]
    assert [e["message"] for e in got] == ["setup", "epoch 1", "epoch 2"]
    [stream] = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert stream["firstEventTimestamp"] == t - 20 * DAY and stream["lastEventTimestamp"] == t
    with pytest.raises(ResourceNotFoundException) as exc:
        append_events(db, account, "us-east-1", group, "other", [(t, "x")], create_stream=False)
    assert exc.value.message == "The specified log stream does not exist."
    assert read_events(db, account, "us-east-1", group, "job/algo-1")[0] == (t - 20 * DAY, "setup")
    logs.delete_log_group(logGroupName=group)


def test_session_commits_with_the_caller(logs: Any, where: tuple[Any, str]) -> None:
    db, account = where
    group = f"/cove/service-{uuid.uuid4().hex[:8]}"
    ensure_group(db, account, "us-east-1", group, retention_days=7)
    ensure_stream(db, account, "us-east-1", group, "s")
    with pytest.raises(RuntimeError), db.session() as s:
        append_events(s, account, "us-east-1", group, "s", [(now_ms(), "rolled back")])
        raise RuntimeError("caller fails")
    assert read_events(db, account, "us-east-1", group, "s") == []
    with db.session() as s:
        append_events(s, account, "us-east-1", group, "s", [(now_ms(), "kept")])
    assert [m for _, m in read_events(db, account, "us-east-1", group, "s")] == ["kept"]
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 7
    logs.delete_log_group(logGroupName=group)


def test_concurrent_producers_share_one_new_stream(logs: Any, where: tuple[Any, str]) -> None:
    db, account = where
    group = f"/cove/race-{uuid.uuid4().hex[:8]}"
    t = now_ms()
    errors: list[BaseException] = []

    def produce(worker: int) -> None:
        try:
            for batch in range(5):
                events = [(t + batch, f"w{worker} b{batch} e{i}") for i in range(20)]
                append_events(db, account, "us-east-1", group, "shared", events, create_group=True)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=produce, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(read_events(db, account, "us-east-1", group, "shared")) == 4 * 5 * 20
    [described] = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described["storedBytes"] == sum(
        len(f"w{w} b{b} e{i}") for w in range(4) for b in range(5) for i in range(20)
    )
    logs.delete_log_group(logGroupName=group)
