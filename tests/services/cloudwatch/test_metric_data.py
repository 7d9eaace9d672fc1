"""GetMetricData: MetricStat queries, metric math, ScanBy, MaxDatapoints pages and errors."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

DIMS = [{"Name": "TrainingJobName", "Value": "job-1"}]


def stat(namespace: str, name: str, statistic: str = "Sum", period: int = 60) -> dict[str, Any]:
    metric = {"Namespace": namespace, "MetricName": name, "Dimensions": DIMS}
    return {"Metric": metric, "Period": period, "Stat": statistic}


@pytest.fixture
def series(cw: Any, namespace: str, base: datetime) -> datetime:
    """a = 1..5 and b = 10, 20, 30 (minutes 0-4 and 0-2)."""
    data = [
        {
            "MetricName": "a",
            "Dimensions": DIMS,
            "Timestamp": base + timedelta(minutes=i),
            "Value": float(i + 1),
        }
        for i in range(5)
    ] + [
        {
            "MetricName": "b",
            "Dimensions": DIMS,
            "Timestamp": base + timedelta(minutes=i),
            "Value": 10.0 * (i + 1),
        }
        for i in range(3)
    ]
    cw.put_metric_data(Namespace=namespace, MetricData=data)
    return base


def get(cw: Any, base: datetime, queries: list[dict[str, Any]], **kw: Any) -> Any:
    return cw.get_metric_data(
        MetricDataQueries=queries, StartTime=base, EndTime=base + timedelta(minutes=10), **kw
    )


def test_metric_stats_and_math(cw: Any, namespace: str, series: datetime) -> None:
    base = series
    queries: list[dict[str, Any]] = [
        {"Id": "a", "MetricStat": stat(namespace, "a"), "ReturnData": False},
        {"Id": "b", "MetricStat": stat(namespace, "b"), "Label": "bee"},
        {"Id": "total", "Expression": "a + b"},
        {"Id": "both", "Expression": "SUM(METRICS())", "Label": "sum of all"},
        {"Id": "scaled", "Expression": "(a * 2 - 1) / 2"},
    ]
    got = get(cw, base, queries, ScanBy="TimestampAscending")
    results = {r["Id"]: r for r in got["MetricDataResults"]}
    assert list(results) == ["b", "total", "both", "scaled"]  # a has ReturnData false
    minutes = [base + timedelta(minutes=i) for i in range(5)]
    assert results["b"]["Label"] == "bee" and results["b"]["Values"] == [10.0, 20.0, 30.0]
    assert results["b"]["Timestamps"] == minutes[:3] and results["b"]["StatusCode"] == "Complete"
    # Arithmetic keeps the timestamps both sides have; SUM of an array keeps every timestamp.
    assert results["total"]["Values"] == [11.0, 22.0, 33.0]
    assert results["both"]["Label"] == "sum of all"
    assert results["both"]["Timestamps"] == minutes and results["both"]["Values"] == [
        11.0,
        22.0,
        33.0,
        4.0,
        5.0,
    ]
    assert results["scaled"]["Values"] == [0.5, 1.5, 2.5, 3.5, 4.5]
    # Newest first unless asked otherwise; the default label is the metric's name.
    default = get(cw, base, [{"Id": "a", "MetricStat": stat(namespace, "a", "Maximum", 120)}])
    [only] = default["MetricDataResults"]
    assert only["Label"] == "a" and only["Values"] == [5.0, 4.0, 2.0]
    assert only["Timestamps"] == [minutes[4], minutes[2], minutes[0]]


def test_max_datapoints_pages(cw: Any, namespace: str, series: datetime) -> None:
    queries = [
        {"Id": "a", "MetricStat": stat(namespace, "a")},
        {"Id": "b", "MetricStat": stat(namespace, "b")},
    ]
    pages = []
    token = None
    while True:
        page = get(cw, series, queries, MaxDatapoints=3, **({"NextToken": token} if token else {}))
        pages.append(page)
        token = page.get("NextToken")
        if not token:
            break
    assert len(pages) == 3
    first = {r["Id"]: r for r in pages[0]["MetricDataResults"]}
    assert first["a"]["Values"] == [5.0, 4.0, 3.0] and first["a"]["StatusCode"] == "PartialData"
    assert first["b"]["Values"] == [] and first["b"]["StatusCode"] == "PartialData"
    values: dict[str, list[float]] = {"a": [], "b": []}
    for page in pages:
        for result in page["MetricDataResults"]:
            values[result["Id"]] += result["Values"]
    assert values == {"a": [5.0, 4.0, 3.0, 2.0, 1.0], "b": [30.0, 20.0, 10.0]}
    assert all(r["StatusCode"] == "Complete" for r in pages[-1]["MetricDataResults"])
    # boto3's paginator follows the same tokens.
    paginator = cw.get_paginator("get_metric_data")
    pulled = [
        v
        for page in paginator.paginate(
            MetricDataQueries=queries[:1],
            StartTime=series,
            EndTime=series + timedelta(minutes=10),
            MaxDatapoints=2,
        )
        for r in page["MetricDataResults"]
        for v in r["Values"]
    ]
    assert pulled == [5.0, 4.0, 3.0, 2.0, 1.0]


@pytest.mark.parametrize(
    ("queries", "fragment"),
    [
        ([{"Id": "A", "MetricStat": None}], "MetricDataQueries.member.1.Id is invalid"),
        ([{"Id": "a", "MetricStat": None}, {"Id": "a", "MetricStat": None}], "are not unique"),
        ([{"Id": "e", "Expression": "a +"}], "Error in expression e"),
        ([{"Id": "e", "Expression": "nothere * 2"}], "Unrecognized metric id nothere"),
        ([{"Id": "e", "Expression": "FOO(1)"}], "Unknown function FOO"),
        ([{"Id": "e", "Expression": "f"}, {"Id": "f", "Expression": "e"}], "Circular"),
        ([{"Id": "a", "MetricStat": None, "ReturnData": False}], "ReturnData"),
        ([{"Id": "a", "MetricStat": None, "Expression": "1"}], "mutually exclusive"),
    ],
)
def test_errors(
    cw: Any, namespace: str, base: datetime, queries: list[dict[str, Any]], fragment: str
) -> None:
    for query in queries:
        if "MetricStat" in query:
            query["MetricStat"] = stat(namespace, "a")
    with pytest.raises(ClientError) as exc:
        get(cw, base, queries)
    err = exc.value.response["Error"]
    assert err["Code"] == "ValidationError" and fragment in err["Message"], err


def test_bad_token(cw: Any, namespace: str, base: datetime) -> None:
    with pytest.raises(cw.exceptions.InvalidNextToken):
        get(cw, base, [{"Id": "a", "MetricStat": stat(namespace, "a")}], NextToken="not-a-token")
