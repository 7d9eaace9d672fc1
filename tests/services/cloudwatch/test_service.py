"""put_metric_data: what Cove's job reconciler publishes shows through the API."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from cove.aws.errors import ServiceError
from cove.server import EmbeddedServer
from cove.services.cloudwatch.service import put_metric_data

NAMESPACE = "/aws/sagemaker/TrainingJobs"


def test_training_metrics_reach_the_api(cove_server: EmbeddedServer, cw: Any, base: datetime) -> None:
    cove = cove_server.cove
    account, region = cove.account.account_id, "us-east-1"
    job = f"job-{base.timestamp():.0f}"
    host = [{"Name": "Host", "Value": f"{job}/algo-1"}]
    with cove.db.session() as session:
        put_metric_data(
            session,
            account,
            region,
            NAMESPACE,
            [
                {
                    "MetricName": "train:loss",
                    "Dimensions": host,
                    "Timestamp": base.timestamp() + i * 60,
                    "Value": v,
                }
                for i, v in enumerate([0.9, 0.5, 0.3])
            ]
            + [
                {
                    "MetricName": "CPUUtilization",
                    "Dimensions": host,
                    "Timestamp": base,
                    "Value": 180.0,
                    "Unit": "Percent",
                },
                {
                    "MetricName": "train:loss",
                    "Dimensions": [{"Name": "TrainingJobName", "Value": job}],
                    "Timestamp": base + timedelta(minutes=2),
                    "Value": 0.3,
                },
            ],
        )
    got = cw.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName="train:loss",
        Dimensions=host,
        StartTime=base,
        EndTime=base + timedelta(minutes=3),
        Period=60,
        Statistics=["Average"],
    )
    assert sorted((p["Timestamp"], p["Average"]) for p in got["Datapoints"]) == [
        (base + timedelta(minutes=i), v) for i, v in enumerate([0.9, 0.5, 0.3])
    ]
    listed = cw.list_metrics(Namespace=NAMESPACE, Dimensions=[{"Name": "TrainingJobName", "Value": job}])
    assert [m["MetricName"] for m in listed["Metrics"]] == ["train:loss"]
    assert (
        len(
            cw.list_metrics(Namespace=NAMESPACE, Dimensions=[{"Name": "Host", "Value": f"{job}/algo-1"}])[
                "Metrics"
            ]
        )
        == 2
    )
    # A bad datum is refused as PutMetricData would refuse it, and nothing of the batch is kept.
    with pytest.raises(ServiceError) as exc, cove.db.session() as session:
        put_metric_data(
            session,
            account,
            region,
            NAMESPACE,
            [{"MetricName": f"{job}-never", "Value": 1.0}, {"MetricName": "x", "Value": float("inf")}],
        )
    assert exc.value.code == "InvalidParameterValue"
    assert exc.value.message == "The value inf for parameter MetricData.member.2.Value is invalid."
    assert cw.list_metrics(Namespace=NAMESPACE, MetricName=f"{job}-never")["Metrics"] == []
