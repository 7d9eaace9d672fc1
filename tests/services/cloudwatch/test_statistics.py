"""PutMetricData and GetMetricStatistics through boto3 (smithy-rpc-v2-cbor)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

HOST = [{"Name": "Host", "Value": "job/algo-1"}]


def stats(cw: Any, namespace: str, name: str, start: datetime, end: datetime, period: int, **kw: Any) -> Any:
    if "ExtendedStatistics" not in kw:
        kw.setdefault("Statistics", ["SampleCount", "Average", "Sum", "Minimum", "Maximum"])
    return cw.get_metric_statistics(
        Namespace=namespace, MetricName=name, StartTime=start, EndTime=end, Period=period, **kw
    )


def test_values_land_in_period_buckets_aligned_to_the_start(cw: Any, namespace: str, base: datetime) -> None:
    data = [
        {"MetricName": "loss", "Dimensions": HOST, "Timestamp": base + timedelta(seconds=s), "Value": v}
        for s, v in [(5, 1.0), (50, 3.0), (70, 10.0), (299, 2.0), (300, 7.0), (650, 4.0)]
    ]
    cw.put_metric_data(Namespace=namespace, MetricData=data)
    got = stats(cw, namespace, "loss", base, base + timedelta(minutes=15), 300, Dimensions=HOST)
    assert got["Label"] == "loss"
    points = sorted(got["Datapoints"], key=lambda d: d["Timestamp"])
    assert [p["Timestamp"] for p in points] == [
        base,
        base + timedelta(minutes=5),
        base + timedelta(minutes=10),
    ]
    first = points[0]
    assert (first["SampleCount"], first["Sum"], first["Minimum"], first["Maximum"]) == (4.0, 16.0, 1.0, 10.0)
    assert first["Average"] == 4.0 and first["Unit"] == "None"
    assert points[1]["Sum"] == 7.0 and points[2]["Sum"] == 4.0
    # Buckets start at StartTime (rounded down to the minute), not at multiples of the period.
    shifted = stats(cw, namespace, "loss", base + timedelta(seconds=61), base + timedelta(minutes=7), 120)
    assert shifted["Datapoints"] == []  # no dimensions given: another metric
    shifted = stats(
        cw, namespace, "loss", base + timedelta(seconds=61), base + timedelta(minutes=7), 120, Dimensions=HOST
    )
    by_time = {p["Timestamp"]: p["Sum"] for p in shifted["Datapoints"]}
    # Standard resolution keeps the minute: the point put at 04:59 counts in the bucket from 03:00.
    assert by_time == {
        base + timedelta(minutes=1): 10.0,
        base + timedelta(minutes=3): 2.0,
        base + timedelta(minutes=5): 7.0,
    }


def test_dimensions_match_exactly_and_in_any_order(cw: Any, namespace: str, base: datetime) -> None:
    two = [{"Name": "A", "Value": "1"}, {"Name": "B", "Value": "2"}]
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[{"MetricName": "m", "Dimensions": two, "Timestamp": base, "Value": 5.0}],
    )
    end = base + timedelta(minutes=1)
    assert stats(cw, namespace, "m", base, end, 60, Dimensions=two[:1])["Datapoints"] == []
    swapped = stats(cw, namespace, "m", base, end, 60, Dimensions=list(reversed(two)))["Datapoints"]
    assert [p["Sum"] for p in swapped] == [5.0]


def test_values_counts_statistic_sets_and_percentiles(cw: Any, namespace: str, base: datetime) -> None:
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": "lat",
                "Timestamp": base,
                "Values": [float(v) for v in range(1, 101)],
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "lat",
                "Timestamp": base,
                "Values": [1000.0],
                "Counts": [10.0],
                "Unit": "Milliseconds",
            },
            {
                "MetricName": "set",
                "Timestamp": base,
                "StatisticValues": {"SampleCount": 4, "Sum": 20, "Minimum": 2, "Maximum": 9},
            },
        ],
    )
    end = base + timedelta(minutes=1)
    [point] = stats(cw, namespace, "lat", base, end, 60)["Datapoints"]
    assert point["SampleCount"] == 110.0 and point["Sum"] == 5050.0 + 10000.0
    assert point["Maximum"] == 1000.0 and point["Unit"] == "Milliseconds"
    [pct] = stats(cw, namespace, "lat", base, end, 60, ExtendedStatistics=["p50", "p90", "p99.9", "p100"])[
        "Datapoints"
    ]
    assert pct["ExtendedStatistics"] == {"p50": 55.0, "p90": 99.0, "p99.9": 1000.0, "p100": 1000.0}
    assert "Sum" not in pct
    [summary] = stats(cw, namespace, "set", base, end, 60)["Datapoints"]
    assert (summary["SampleCount"], summary["Average"], summary["Minimum"], summary["Maximum"]) == (
        4,
        5,
        2,
        9,
    )
    # No percentile can be derived from a statistic set.
    [no_pct] = stats(cw, namespace, "set", base, end, 60, ExtendedStatistics=["p50"])["Datapoints"]
    assert "ExtendedStatistics" not in no_pct


def test_units_are_kept_apart_and_filtered(cw: Any, namespace: str, base: datetime) -> None:
    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": "size", "Timestamp": base, "Value": 1.0, "Unit": "Bytes"},
            {"MetricName": "size", "Timestamp": base, "Value": 2.0, "Unit": "Kilobytes"},
        ],
    )
    end = base + timedelta(minutes=1)
    both = stats(cw, namespace, "size", base, end, 60)["Datapoints"]
    assert sorted((p["Unit"], p["Sum"]) for p in both) == [("Bytes", 1.0), ("Kilobytes", 2.0)]
    only = stats(cw, namespace, "size", base, end, 60, Unit="Kilobytes")["Datapoints"]
    assert [(p["Unit"], p["Sum"]) for p in only] == [("Kilobytes", 2.0)]
    assert stats(cw, namespace, "size", base, end, 60, Unit="Count")["Datapoints"] == []


def test_high_resolution_keeps_seconds_standard_keeps_minutes(
    cw: Any, namespace: str, base: datetime
) -> None:
    data = []
    for second in (1, 2, 11, 12):
        data.append(
            {
                "MetricName": "hi",
                "Timestamp": base + timedelta(seconds=second),
                "Value": 1.0,
                "StorageResolution": 1,
            }
        )
        data.append({"MetricName": "std", "Timestamp": base + timedelta(seconds=second), "Value": 1.0})
    cw.put_metric_data(Namespace=namespace, MetricData=data)
    end = base + timedelta(seconds=30)
    hi = stats(cw, namespace, "hi", base, end, 10, Statistics=["Sum"])["Datapoints"]
    assert sorted((p["Timestamp"], p["Sum"]) for p in hi) == [
        (base, 2.0),
        (base + timedelta(seconds=10), 2.0),
    ]
    std = stats(cw, namespace, "std", base, end, 10, Statistics=["Sum"])["Datapoints"]
    assert [(p["Timestamp"], p["Sum"]) for p in std] == [(base, 4.0)]


def test_entity_metric_data_are_plain_metrics(cw: Any, namespace: str, base: datetime) -> None:
    cw.put_metric_data(
        Namespace=namespace,
        EntityMetricData=[
            {
                "Entity": {"KeyAttributes": {"Type": "Service", "Name": "svc", "Environment": "test"}},
                "MetricData": [{"MetricName": "calls", "Timestamp": base, "Value": 3.0}],
            }
        ],
    )
    [point] = stats(cw, namespace, "calls", base, base + timedelta(minutes=1), 60)["Datapoints"]
    assert point["Sum"] == 3.0
