"""AWS's errors for bad PutMetricData / GetMetricStatistics calls (codes from x-amzn-query-error)."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError


def error(call: Any, **kw: Any) -> dict[str, str]:
    with pytest.raises(ClientError) as exc:
        call(**kw)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    err: dict[str, str] = exc.value.response["Error"]
    return err


def test_put_metric_data_errors(cw: Any, namespace: str, base: datetime) -> None:
    def put(**datum: Any) -> dict[str, str]:
        return error(cw.put_metric_data, Namespace=namespace, MetricData=[{"MetricName": "m", **datum}])

    reserved = error(cw.put_metric_data, Namespace="AWS/EC2", MetricData=[{"MetricName": "m", "Value": 1.0}])
    assert reserved == {**reserved, "Code": "InvalidParameterValue"}
    assert reserved["Message"] == "The value AWS/ for parameter Namespace is invalid."
    both = put(Value=1.0, StatisticValues={"SampleCount": 1, "Sum": 1, "Minimum": 1, "Maximum": 1})
    assert both["Code"] == "InvalidParameterCombination"
    assert both["Message"] == (
        "The parameters MetricData.member.1.Value and MetricData.member.1.StatisticValues are mutually "
        "exclusive and you have specified both."
    )
    sizes = put(Values=[1.0, 2.0], Counts=[1.0])
    assert sizes["Code"] == "InvalidParameterValue"
    assert sizes["Message"] == (
        "The parameters MetricData.member.1.Values and MetricData.member.1.Counts must be of the same size."
    )
    assert put()["Code"] == "MissingParameter"
    nan = put(Value=math.nan)
    assert nan == {
        **nan,
        "Code": "InvalidParameterValue",
        "Message": ("The value nan for parameter MetricData.member.1.Value is invalid."),
    }
    old = put(Value=1.0, Timestamp=base - timedelta(days=15))
    assert old["Code"] == "InvalidParameterValue" and "within the past two weeks" in old["Message"]
    future = put(Value=1.0, Timestamp=base + timedelta(hours=5))
    assert "two hours in the future" in future["Message"]
    resolution = put(Value=1.0, StorageResolution=30)
    assert (
        resolution["Message"]
        == "The value 30 for parameter MetricData.member.1.StorageResolution is invalid."
    )
    # Model constraints are checked before the handler, as CloudWatch's ValidationError.
    long_name = error(
        cw.put_metric_data, Namespace=namespace, MetricData=[{"MetricName": "x" * 256, "Value": 1.0}]
    )
    assert long_name["Code"] == "ValidationError" and "255" in long_name["Message"]
    # Nothing of a rejected call was stored.
    assert cw.list_metrics(Namespace=namespace)["Metrics"] == []


def test_get_metric_statistics_errors(cw: Any, namespace: str, base: datetime) -> None:
    def get(**kw: Any) -> dict[str, str]:
        params = {
            "Namespace": namespace,
            "MetricName": "m",
            "StartTime": base,
            "EndTime": base + timedelta(hours=1),
            "Period": 60,
            "Statistics": ["Sum"],
        }
        merged = {**params, **kw}
        return error(cw.get_metric_statistics, **{k: v for k, v in merged.items() if v is not None})

    both = get(ExtendedStatistics=["p90"])
    assert both["Code"] == "InvalidParameterCombination"
    period = get(Period=45)
    assert period == {
        **period,
        "Code": "InvalidParameterValue",
        "Message": "The parameter Period must be a multiple of 60.",
    }
    order = get(EndTime=base)
    assert order["Message"] == "The parameter StartTime must be less than the parameter EndTime."
    many = get(EndTime=base + timedelta(minutes=1441))
    assert many["Code"] == "InvalidParameterCombination"
    assert many["Message"].startswith(
        "You have requested up to 1,441 datapoints, which exceeds the limit of 1,440."
    )
    assert get(Statistics=None, ExtendedStatistics=["p101"])["Code"] == "InvalidParameterValue"
    # 1,440 datapoints is allowed.
    fine = cw.get_metric_statistics(
        Namespace=namespace,
        MetricName="m",
        StartTime=base,
        EndTime=base + timedelta(minutes=1440),
        Period=60,
        Statistics=["Sum"],
    )
    assert fine["Datapoints"] == []
