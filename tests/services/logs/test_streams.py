"""Log streams through boto3: creation rules, ordering, prefixes, paging, the event figures."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from .conftest import now_ms


def test_create_describe_delete(logs: Any, group: str, cove_server: Any) -> None:
    account = cove_server.cove.account.account_id
    logs.create_log_stream(logGroupName=group, logStreamName="s1")
    [stream] = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert stream["logStreamName"] == "s1"
    assert stream["arn"] == f"arn:aws:logs:us-east-1:{account}:log-group:{group}:log-stream:s1"
    assert stream["storedBytes"] == 0
    # Before any event, no event figures and no sequence token.
    assert not {
        "firstEventTimestamp",
        "lastEventTimestamp",
        "lastIngestionTime",
        "uploadSequenceToken",
    } & set(stream)
    with pytest.raises(ClientError) as exc:
        logs.create_log_stream(logGroupName=group, logStreamName="s1")
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "ResourceAlreadyExistsException",
        "The specified log stream already exists",
    )
    with pytest.raises(ClientError) as exc:
        logs.create_log_stream(logGroupName=group + "-missing", logStreamName="s1")
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
    logs.delete_log_stream(logGroupName=group, logStreamName="s1")
    assert logs.describe_log_streams(logGroupName=group)["logStreams"] == []
    with pytest.raises(ClientError) as exc:
        logs.delete_log_stream(logGroupName=group, logStreamName="s1")
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )


def test_event_figures(logs: Any, group: str) -> None:
    logs.create_log_stream(logGroupName=group, logStreamName="s")
    t = now_ms() - 60_000
    first = logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": t, "message": "one"}, {"timestamp": t + 5, "message": "two"}],
    )
    [stream] = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert stream["firstEventTimestamp"] == t and stream["lastEventTimestamp"] == t + 5
    assert stream["lastIngestionTime"] >= t
    assert stream["uploadSequenceToken"] == first["nextSequenceToken"]
    second = logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": t - 10, "message": "earlier"}],
        sequenceToken="ignored-as-aws-does",
    )
    assert int(second["nextSequenceToken"]) > int(first["nextSequenceToken"])
    [stream] = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert stream["firstEventTimestamp"] == t - 10 and stream["lastEventTimestamp"] == t + 5
    [described] = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert described["storedBytes"] == len("one") + len("two") + len("earlier")


def test_ordering_prefix_and_paging(logs: Any, group: str) -> None:
    t = now_ms() - 60_000
    # Names sort one way, last event times the other.
    for offset, name in enumerate(["c", "b", "a", "ab"]):
        logs.create_log_stream(logGroupName=group, logStreamName=name)
        logs.put_log_events(
            logGroupName=group, logStreamName=name, logEvents=[{"timestamp": t + offset, "message": name}]
        )
    logs.create_log_stream(logGroupName=group, logStreamName="empty")

    def names(**kwargs: Any) -> list[str]:
        return [
            s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group, **kwargs)["logStreams"]
        ]

    assert names() == ["a", "ab", "b", "c", "empty"]
    assert names(descending=True) == ["empty", "c", "b", "ab", "a"]
    assert names(orderBy="LastEventTime") == ["empty", "c", "b", "a", "ab"]
    assert names(orderBy="LastEventTime", descending=True) == ["ab", "a", "b", "c", "empty"]
    assert names(logStreamNamePrefix="a") == ["a", "ab"]
    with pytest.raises(ClientError) as exc:
        names(orderBy="LastEventTime", logStreamNamePrefix="a")
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "InvalidParameterException",
        "Cannot order by LastEventTime with a logStreamNamePrefix.",
    )
    pages = list(
        logs.get_paginator("describe_log_streams").paginate(
            logGroupName=group, orderBy="LastEventTime", descending=True, PaginationConfig={"PageSize": 2}
        )
    )
    assert [[s["logStreamName"] for s in p["logStreams"]] for p in pages] == [
        ["ab", "a"],
        ["b", "c"],
        ["empty"],
    ]
    # The group may also be named by its ARN (the one without the trailing :*).
    arn = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["logGroupArn"]
    by_arn = logs.describe_log_streams(logGroupIdentifier=arn, logStreamNamePrefix="c")["logStreams"]
    assert [s["logStreamName"] for s in by_arn] == ["c"]
    with pytest.raises(ClientError) as exc:
        logs.describe_log_streams(logGroupName=group, logGroupIdentifier=group)
    err = exc.value.response["Error"]
    assert (err["Code"], err["Message"]) == (
        "ValidationException",
        "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
    )
