"""PutLogEvents and GetLogEvents through boto3: round trips, AWS's batch rules, rejected events,
and the forward/backward tokens."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import now_ms

DAY = 86_400_000
HOUR = 3_600_000


@pytest.fixture
def stream(logs: Any, group: str) -> str:
    logs.create_log_stream(logGroupName=group, logStreamName="app")
    return "app"


def _put(logs: Any, group: str, stream: str, events: list[tuple[int, str]]) -> Any:
    return logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": t, "message": m} for t, m in events],
    )


def test_round_trip(logs: Any, group: str, stream: str) -> None:
    t = now_ms() - 10_000
    sent = [(t, "first"), (t, "same time, later"), (t + 1, "ünïcödé ✓"), (t + 2, "x" * 1000)]
    out = _put(logs, group, stream, sent)
    assert "rejectedLogEventsInfo" not in out
    got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
    assert [(e["timestamp"], e["message"]) for e in got["events"]] == sent
    assert all(e["ingestionTime"] >= t for e in got["events"])
    # The default (not from the head) returns the newest events, still oldest first.
    latest = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=2)
    assert [e["message"] for e in latest["events"]] == ["ünïcödé ✓", "x" * 1000]


def test_errors(logs: Any, group: str, stream: str) -> None:
    t = now_ms()
    with pytest.raises(ClientError) as exc:
        _put(logs, group, stream, [(t, "b"), (t - 1, "a")])
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "InvalidParameterException",
        "Log events in a single PutLogEvents request must be in chronological order.",
    )
    with pytest.raises(ClientError) as exc:
        _put(logs, group, "nope", [(t, "a")])
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )
    with pytest.raises(ClientError) as exc:
        _put(logs, group + "-missing", stream, [(t, "a")])
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
    with pytest.raises(ClientError) as exc:
        _put(logs, group, stream, [(t - 25 * HOUR, "a"), (t - HOUR + 1, "b")])
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "InvalidParameterException",
        "The batch of log events in a single PutLogEvents request cannot span more than 24 hours.",
    )
    # 1,048,576 bytes at most, counting 26 bytes per event.
    with pytest.raises(ClientError) as exc:
        _put(logs, group, stream, [(t, "x" * 500_000), (t, "y" * 548_551)])
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "InvalidParameterException",
        "Upload too large: 1048603 bytes exceeds limit of 1048576",
    )
    _put(logs, group, stream, [(t, "x" * 500_000), (t, "y" * 548_524)])
    with pytest.raises(ClientError) as exc:
        logs.get_log_events(logGroupName=group, logStreamName=stream, nextToken="f/123/s")
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "InvalidParameterException",
        "The specified nextToken is invalid.",
    )
    with pytest.raises(ClientError) as exc:
        logs.get_log_events(logGroupName=group, logStreamName="nope")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_rejected_events(logs: Any, group: str, stream: str) -> None:
    t = now_ms()
    events = [
        (t - 15 * DAY, "too old"),
        (t - 14 * DAY - 60_000, "too old too"),
        (t - HOUR, "kept 1"),
        (t + HOUR, "kept 2"),
        (t + 3 * HOUR, "too new"),
    ]
    out = _put(logs, group, stream, events)
    assert out["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2, "tooNewLogEventStartIndex": 4}
    got = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    assert [e["message"] for e in got] == ["kept 1", "kept 2"]
    # Older than the group's retention (but within 14 days): expired.
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    out = _put(logs, group, stream, [(t - 2 * DAY, "expired"), (t, "kept 3")])
    assert out["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}
    # A batch where everything is rejected is still accepted as a request.
    out = _put(logs, group, stream, [(t + 5 * HOUR, "too new")])
    assert out["rejectedLogEventsInfo"] == {"tooNewLogEventStartIndex": 0}


def test_tokens_forward_and_backward(logs: Any, group: str, stream: str) -> None:
    t = now_ms() - 60_000
    _put(logs, group, stream, [(t + i // 3, f"m{i}") for i in range(10)])  # equal timestamps too

    def get(**kwargs: Any) -> Any:
        return logs.get_log_events(logGroupName=group, logStreamName=stream, limit=4, **kwargs)

    page = get(startFromHead=True)
    seen = [e["message"] for e in page["events"]]
    token = page["nextForwardToken"]
    assert token.startswith("f/") and token.endswith("/s") and len(token) == 60
    while True:
        page = get(nextToken=token)
        if page["nextForwardToken"] == token:
            assert page["events"] == []
            break
        seen += [e["message"] for e in page["events"]]
        token = page["nextForwardToken"]
    assert seen == [f"m{i}" for i in range(10)]
    # Events that arrive later are what the last forward token finds (tailing).
    _put(logs, group, stream, [(t + 100, "m10")])
    assert [e["message"] for e in get(nextToken=token)["events"]] == ["m10"]
    # Backwards from the newest.
    page = get()
    pages = [[e["message"] for e in page["events"]]]
    token = page["nextBackwardToken"]
    while True:
        page = get(nextToken=token)
        if page["nextBackwardToken"] == token:
            break
        pages.insert(0, [e["message"] for e in page["events"]])
        token = page["nextBackwardToken"]
    assert pages == [["m0", "m1", "m2"], ["m3", "m4", "m5", "m6"], ["m7", "m8", "m9", "m10"]]


def test_time_range(logs: Any, group: str, stream: str) -> None:
    t = now_ms() - 60_000
    _put(logs, group, stream, [(t + i, f"m{i}") for i in range(5)])
    got = logs.get_log_events(logGroupName=group, logStreamName=stream, startTime=t + 1, endTime=t + 3)
    # startTime is inclusive, endTime exclusive.
    assert [e["message"] for e in got["events"]] == ["m1", "m2"]


def test_empty_stream_tokens(logs: Any, group: str, stream: str) -> None:
    got = logs.get_log_events(logGroupName=group, logStreamName=stream)
    assert got["events"] == []
    assert got["nextForwardToken"] == "f/" + "0" * 56 + "/s"
    assert got["nextBackwardToken"] == "b/" + "0" * 56 + "/s"
