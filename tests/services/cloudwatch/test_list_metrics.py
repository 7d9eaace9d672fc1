"""ListMetrics: filters, paging, RecentlyActive."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def test_filters(cw: Any, namespace: str, base: datetime) -> None:
    def datum(name: str, **dims: str) -> dict[str, Any]:
        dimensions = [{"Name": k, "Value": v} for k, v in dims.items()]
        return {"MetricName": name, "Dimensions": dimensions, "Timestamp": base, "Value": 1.0}

    cw.put_metric_data(
        Namespace=namespace,
        MetricData=[
            datum("cpu", Host="h1"),
            datum("cpu", Host="h2"),
            datum("cpu", Host="h1", Gpu="0"),
            datum("mem"),
            datum("cpu", Host="h1"),  # the same metric again
        ],
    )
    listed = cw.list_metrics(Namespace=namespace)["Metrics"]
    assert len(listed) == 4
    assert {"Namespace": namespace, "MetricName": "mem", "Dimensions": []} in listed

    def names(**kw: Any) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
        metrics = cw.list_metrics(Namespace=namespace, **kw)["Metrics"]
        return sorted(
            (m["MetricName"], tuple((d["Name"], d["Value"]) for d in m["Dimensions"])) for m in metrics
        )

    assert names(MetricName="mem") == [("mem", ())]
    assert names(Dimensions=[{"Name": "Host", "Value": "h1"}]) == [
        ("cpu", (("Host", "h1"),)),
        ("cpu", (("Host", "h1"), ("Gpu", "0"))),
    ]
    assert names(Dimensions=[{"Name": "Gpu"}]) == [("cpu", (("Host", "h1"), ("Gpu", "0")))]
    assert names(Dimensions=[{"Name": "Host"}, {"Name": "Nope"}]) == []
    # The data is two hours old but was received just now.
    assert len(names(RecentlyActive="PT3H")) == 4
    assert cw.list_metrics(Namespace=namespace + "-other")["Metrics"] == []


def test_pages_of_500(cw: Any, namespace: str, base: datetime) -> None:
    data = [{"MetricName": f"m{i:03d}", "Timestamp": base, "Value": float(i)} for i in range(620)]
    cw.put_metric_data(Namespace=namespace, MetricData=data)
    first = cw.list_metrics(Namespace=namespace)
    assert len(first["Metrics"]) == 500 and first["NextToken"]
    second = cw.list_metrics(Namespace=namespace, NextToken=first["NextToken"])
    assert len(second["Metrics"]) == 120 and "NextToken" not in second
    pages = cw.get_paginator("list_metrics").paginate(Namespace=namespace)
    every = {m["MetricName"] for page in pages for m in page["Metrics"]}
    assert every == {f"m{i:03d}" for i in range(620)}
