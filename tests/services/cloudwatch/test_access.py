"""IAM decides CloudWatch metric calls at the gateway; the actions take no resource ARN (``*``)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ClientFactory


def test_identity_policy_allows_and_denies(client: ClientFactory, namespace: str, base: datetime) -> None:
    iam = client("iam")
    name = f"cw-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["cloudwatch:PutMetricData", "cloudwatch:List*"], "Resource": "*"}
        ],
    }
    iam.put_user_policy(UserName=name, PolicyName="metrics", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    cw = client(
        "cloudwatch", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )
    cw.put_metric_data(Namespace=namespace, MetricData=[{"MetricName": "m", "Timestamp": base, "Value": 1.0}])
    assert [m["MetricName"] for m in cw.list_metrics(Namespace=namespace)["Metrics"]] == ["m"]
    with pytest.raises(ClientError) as exc:
        cw.get_metric_statistics(
            Namespace=namespace,
            MetricName="m",
            StartTime=base,
            EndTime=base + timedelta(minutes=1),
            Period=60,
            Statistics=["Sum"],
        )
    err = exc.value.response["Error"]
    assert err["Code"] == "AccessDenied" and exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "cloudwatch:GetMetricStatistics" in err["Message"] and name in err["Message"]
