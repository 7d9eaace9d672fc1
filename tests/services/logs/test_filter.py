"""FilterLogEvents through boto3: interleaving, stream selection, time bounds, patterns, paging in
both directions, and correctness at 100,000 events."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cove.services.logs.service import append_events

from .conftest import now_ms


@pytest.fixture
def filled(logs: Any, group: str) -> tuple[str, int]:
    """Two streams whose events alternate in time."""
    t = now_ms() - 60_000
    for name, offset in (("web-1", 0), ("web-2", 1)):
        logs.create_log_stream(logGroupName=group, logStreamName=name)
        events = [
            {"timestamp": t + 2 * i + offset, "message": json.dumps({"n": 2 * i + offset, "stream": name})}
            for i in range(5)
        ]
        logs.put_log_events(logGroupName=group, logStreamName=name, logEvents=events)
    logs.create_log_stream(logGroupName=group, logStreamName="worker")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="worker",
        logEvents=[{"timestamp": t + 3, "message": "ERROR worker crashed"}],
    )
    return group, t


def _numbers(events: list[dict[str, Any]]) -> list[int]:
    return [json.loads(e["message"])["n"] for e in events if e["message"].startswith("{")]


def test_interleaved_and_selected(logs: Any, filled: tuple[str, int]) -> None:
    group, t = filled
    every = logs.filter_log_events(logGroupName=group)
    assert _numbers(every["events"]) == list(range(10))
    assert len(every["events"]) == 11 and every["searchedLogStreams"] == []
    assert "nextToken" not in every
    first = every["events"][0]
    assert first["logStreamName"] == "web-1" and first["timestamp"] == t
    assert len(first["eventId"]) == 56 and first["ingestionTime"] >= t
    assert len({e["eventId"] for e in every["events"]}) == 11
    only = logs.filter_log_events(logGroupName=group, logStreamNames=["web-2", "not-there"])
    assert _numbers(only["events"]) == [1, 3, 5, 7, 9]
    prefixed = logs.filter_log_events(logGroupName=group, logStreamNamePrefix="web")
    assert len(prefixed["events"]) == 10
    with pytest.raises(ClientError) as exc:
        logs.filter_log_events(logGroupName=group, logStreamNames=["web-1"], logStreamNamePrefix="web")
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    # Both bounds are inclusive.
    bounded = logs.filter_log_events(logGroupName=group, startTime=t + 2, endTime=t + 4)
    assert [e["timestamp"] for e in bounded["events"]] == [t + 2, t + 3, t + 3, t + 4]


def test_patterns_through_the_api(logs: Any, filled: tuple[str, int]) -> None:
    group, _ = filled

    def found(pattern: str) -> list[str]:
        return [
            e["message"] for e in logs.filter_log_events(logGroupName=group, filterPattern=pattern)["events"]
        ]

    assert found("ERROR") == ["ERROR worker crashed"]
    assert found('"worker crashed"') == ["ERROR worker crashed"]
    assert len(found("?ERROR ?web-2")) == 6
    assert len(found("stream -web-1")) == 5
    assert _numbers([{"message": m} for m in found('{ $.stream = "web-1" && $.n >= 4 }')]) == [4, 6, 8]
    with pytest.raises(ClientError) as exc:
        found("{ $.n = ")
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == ("InvalidParameterException", "Invalid filter pattern")


def test_paginator_and_direction(logs: Any, filled: tuple[str, int]) -> None:
    group, t = filled
    pages = list(
        logs.get_paginator("filter_log_events").paginate(
            logGroupName=group, logStreamNamePrefix="web", PaginationConfig={"PageSize": 3}
        )
    )
    assert [len(p["events"]) for p in pages] == [3, 3, 3, 1]
    assert _numbers([e for p in pages for e in p["events"]]) == list(range(10))
    newest_first = list(
        logs.get_paginator("filter_log_events").paginate(
            logGroupName=group,
            logStreamNamePrefix="web",
            startFromHead=False,
            startTime=t - 1000,
            PaginationConfig={"PageSize": 4},
        )
    )
    assert _numbers([e for p in newest_first for e in p["events"]]) == list(range(9, -1, -1))
    with pytest.raises(ClientError) as exc:
        logs.filter_log_events(logGroupName=group, startFromHead=False, startTime=1_600_000_000_000)
    assert exc.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ClientError) as exc:
        logs.filter_log_events(logGroupName=group, nextToken="garbage")
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "InvalidParameterException",
        "The specified nextToken is invalid.",
    )
    with pytest.raises(ClientError) as exc:
        logs.filter_log_events(logGroupName=group + "-missing")
    assert exc.value.response["Error"]["Code"] == "ResourceNotFoundException"


@pytest.fixture
def big_group(logs: Any, cove_server: Any) -> Iterator[tuple[str, int]]:
    """100,000 events in two streams, written through the producers' API."""
    cove = cove_server.cove
    name = f"/cove/big/{uuid.uuid4().hex[:10]}"
    logs.create_log_group(logGroupName=name)
    t = now_ms() - 3_600_000
    for stream, parity in (("even", 0), ("odd", 1)):
        append_events(
            cove.db,
            cove.account.account_id,
            "us-east-1",
            name,
            stream,
            [(t + n, f"event {n} {'NEEDLE' if n % 1000 == 7 else 'hay'}") for n in range(parity, 100_000, 2)],
        )
    yield name, t
    logs.delete_log_group(logGroupName=name)


def test_hundred_thousand_events(logs: Any, big_group: tuple[str, int]) -> None:
    group, t = big_group
    started = time.perf_counter()
    needles = [
        e["message"]
        for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=group, filterPattern="NEEDLE"
        )
        for e in page["events"]
    ]
    assert needles == [f"event {n} NEEDLE" for n in range(7, 100_000, 1000)]
    everything = [
        int(e["message"].split()[1])
        for page in logs.get_paginator("filter_log_events").paginate(logGroupName=group)
        for e in page["events"]
    ]
    assert everything == list(range(100_000))
    # A narrow window in the middle reads only its slice.
    window = logs.filter_log_events(logGroupName=group, startTime=t + 50_000, endTime=t + 50_009)["events"]
    assert [int(e["message"].split()[1]) for e in window] == list(range(50_000, 50_010))
    # One stream, read backwards from the newest event with GetLogEvents until the token repeats.
    token, count, last_first = None, 0, None
    while True:
        kwargs: dict[str, str] = {"nextToken": token} if token else {}
        page = logs.get_log_events(logGroupName=group, logStreamName="odd", **kwargs)
        if token is not None and page["nextBackwardToken"] == token:
            break
        numbers = [int(e["message"].split()[1]) for e in page["events"]]
        assert numbers == sorted(numbers)
        if last_first is not None:
            assert numbers[-1] == last_first - 2  # pages join without gap or overlap
        last_first = numbers[0]
        count += len(numbers)
        token = page["nextBackwardToken"]
    assert count == 50_000 and last_first == 1
    assert time.perf_counter() - started < 60
