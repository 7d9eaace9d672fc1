"""Older clients: the same operations over awsJson 1.0 and query (botocore before 1.37 spoke
query to CloudWatch), by loading botocore's model with only that protocol left in it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.config import Config

from cove.server import EmbeddedServer


def client_speaking(protocol: str, server: EmbeddedServer, tmp: Path) -> Any:
    model = (
        botocore.session.get_session()
        .get_component("data_loader")
        .load_service_model("cloudwatch", "service-2")
    )
    model = json.loads(json.dumps(model))
    model["metadata"]["protocol"] = protocol
    model["metadata"]["protocols"] = [protocol]
    folder = tmp / "cloudwatch" / model["metadata"]["apiVersion"]
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    core = botocore.session.get_session()
    core.set_config_variable("data_path", str(tmp))
    account = server.cove.account
    session = boto3.Session(
        botocore_session=core,
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
        region_name="us-east-1",
    )
    client = session.client(
        "cloudwatch", endpoint_url=server.endpoint_url, config=Config(retries={"max_attempts": 1})
    )
    assert client.meta.service_model.protocol == protocol
    return client


@pytest.mark.parametrize("protocol", ["json", "query"])
def test_round_trip(
    protocol: str, cove_server: EmbeddedServer, tmp_path: Path, namespace: str, base: datetime
) -> None:
    cw = client_speaking(protocol, cove_server, tmp_path)
    dims = [{"Name": "Host", "Value": "algo-1"}]
    # 300 datums: over botocore's 10 KiB threshold, so the body travels gzip-compressed.
    data = [
        {
            "MetricName": "loss",
            "Dimensions": dims,
            "Timestamp": base + timedelta(seconds=i),
            "Value": float(i),
        }
        for i in range(300)
    ]
    cw.put_metric_data(Namespace=namespace, MetricData=data)
    got = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName="loss",
        Dimensions=dims,
        StartTime=base,
        EndTime=base + timedelta(minutes=5),
        Period=300,
        Statistics=["Sum", "SampleCount"],
    )
    [point] = got["Datapoints"]
    assert point["Sum"] == float(sum(range(300))) and point["SampleCount"] == 300.0
    assert point["Timestamp"] == base
    result = cw.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {"Namespace": namespace, "MetricName": "loss", "Dimensions": dims},
                    "Period": 60,
                    "Stat": "Maximum",
                },
            },
            {"Id": "half", "Expression": "m / 2"},
        ],
        StartTime=base,
        EndTime=base + timedelta(minutes=5),
        ScanBy="TimestampAscending",
    )
    by_id = {r["Id"]: r for r in result["MetricDataResults"]}
    assert by_id["m"]["Values"] == [59.0, 119.0, 179.0, 239.0, 299.0]
    assert by_id["m"]["Timestamps"][0] == base and by_id["half"]["Values"][0] == 29.5
    [metric] = cw.list_metrics(Namespace=namespace)["Metrics"]
    assert metric == {"Namespace": namespace, "MetricName": "loss", "Dimensions": dims}
    with pytest.raises(cw.exceptions.InvalidParameterValueException) as exc:
        cw.put_metric_data(Namespace="AWS/Foo", MetricData=[{"MetricName": "x", "Value": 1.0}])
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert exc.value.response["Error"]["Message"] == "The value AWS/ for parameter Namespace is invalid."
