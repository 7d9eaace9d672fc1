"""The AWS CLI against Cove's CloudWatch metrics."""

from __future__ import annotations

from datetime import datetime, timedelta

from cove.server import EmbeddedServer
from tests.awscli import AwsCli


def test_aws_cloudwatch_cli(cove_server: EmbeddedServer, namespace: str, base: datetime) -> None:
    aws = AwsCli(cove_server).service("cloudwatch")

    at = base.strftime("%Y-%m-%dT%H:%M:%SZ")
    for value in ("1", "2", "6"):
        aws(
            "put-metric-data",
            "--namespace", namespace,
            "--metric-name", "Latency",
            "--unit", "Milliseconds",
            "--value", value,
            "--dimensions", "Host=algo-1,Job=j1",
            "--timestamp", at,
        )  # fmt: skip
    got = aws(
        "get-metric-statistics",
        "--namespace", namespace,
        "--metric-name", "Latency",
        "--dimensions", "Name=Host,Value=algo-1", "Name=Job,Value=j1",
        "--start-time", at,
        "--end-time", (base + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "--period", "60",
        "--statistics", "Average", "Maximum",
    )  # fmt: skip
    assert got["Label"] == "Latency"
    [point] = got["Datapoints"]
    assert (point["Average"], point["Maximum"], point["Unit"]) == (3.0, 6.0, "Milliseconds")
    listed = aws("list-metrics", "--namespace", namespace)["Metrics"]
    assert [m["MetricName"] for m in listed] == ["Latency"]
    refused = aws(
        "put-metric-data", "--namespace", "AWS/EC2", "--metric-name", "x", "--value", "1", check=False
    )
    assert refused.returncode != 0 and "InvalidParameterValue" in refused.stderr
