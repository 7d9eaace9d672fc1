"""Flow logs through boto3: creation per resource, destinations, formats, filters, deletion."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.conftest import ClientFactory

from cove.server import EmbeddedServer
from cove.services.ec2 import flow_logs

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


@pytest.fixture
def ec2(client: ClientFactory) -> Any:
    return client("ec2")


@pytest.fixture
def role_arn(client: ClientFactory) -> str:
    arn: str = client("iam").create_role(
        RoleName=f"fl-{uuid.uuid4().hex[:8]}", AssumeRolePolicyDocument=TRUST
    )["Role"]["Arn"]
    return arn


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _bucket() -> str:
    return f"arn:aws:s3:::flow-{uuid.uuid4().hex[:10]}"


def test_log_format_parsing() -> None:
    assert flow_logs.parse_log_format(flow_logs.DEFAULT_LOG_FORMAT)[:3] == [
        "version",
        "account-id",
        "interface-id",
    ]
    assert flow_logs.parse_log_format("${srcaddr} ${traffic-path}") == ["srcaddr", "traffic-path"]
    for bad in ("${nope}", "srcaddr", "${srcaddr}x", ""):
        with pytest.raises(flow_logs.Ec2Error):
            flow_logs.parse_log_format(bad)


def test_s3_and_cloudwatch_lifecycle(ec2: Any, role_arn: str, cove_server: EmbeddedServer) -> None:
    vpc1 = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    vpc2 = ec2.create_vpc(CidrBlock="10.31.0.0/16")["Vpc"]["VpcId"]
    bucket = _bucket()

    with pytest.raises(ClientError) as exc:
        ec2.create_flow_logs(
            ResourceType="VPC",
            ResourceIds=[vpc1],
            TrafficType="ALL",
            LogDestinationType="s3",
            LogDestination=bucket,
            DryRun=True,
        )
    assert _code(exc) == "DryRunOperation"

    out = ec2.create_flow_logs(
        ResourceType="VPC",
        ResourceIds=[vpc1, vpc2, "vpc-00000000000000000"],
        TrafficType="ALL",
        LogDestinationType="s3",
        LogDestination=bucket,
    )
    assert len(out["FlowLogIds"]) == 2
    assert [(u["ResourceId"], u["Error"]["Code"]) for u in out["Unsuccessful"]] == [
        ("vpc-00000000000000000", "InvalidVpcID.NotFound")
    ]
    logs = ec2.describe_flow_logs(FlowLogIds=out["FlowLogIds"])["FlowLogs"]
    assert {fl["ResourceId"] for fl in logs} == {vpc1, vpc2}
    fl = logs[0]
    assert fl["DeliverLogsStatus"] == "SUCCESS" and fl["FlowLogStatus"] == "ACTIVE"
    assert fl["LogDestinationType"] == "s3" and fl["LogDestination"] == bucket
    assert fl["LogFormat"] == flow_logs.DEFAULT_LOG_FORMAT and fl["MaxAggregationInterval"] == 600
    assert fl["FlowLogId"].startswith("fl-")

    group = f"group-{uuid.uuid4().hex[:6]}"
    custom = "${version} ${vpc-id} ${srcaddr} ${dstaddr} ${action} ${tcp-flags}"
    cw = ec2.create_flow_logs(
        ResourceType="VPC",
        ResourceIds=[vpc1],
        TrafficType="REJECT",
        LogGroupName=group,
        DeliverLogsPermissionArn=role_arn,
        LogFormat=custom,
        MaxAggregationInterval=60,
        TagSpecifications=[{"ResourceType": "vpc-flow-log", "Tags": [{"Key": "k", "Value": "v"}]}],
    )["FlowLogIds"][0]
    missing_role = ec2.create_flow_logs(
        ResourceType="VPC",
        ResourceIds=[vpc2],
        TrafficType="ACCEPT",
        LogGroupName=group,
        DeliverLogsPermissionArn=role_arn + "-missing",
    )["FlowLogIds"][0]

    by_group = ec2.describe_flow_logs(Filters=[{"Name": "log-group-name", "Values": [group]}])["FlowLogs"]
    views = {v["FlowLogId"]: v for v in by_group}
    assert set(views) == {cw, missing_role}
    assert views[cw]["LogDestinationType"] == "cloud-watch-logs" and views[cw]["LogFormat"] == custom
    assert views[cw]["MaxAggregationInterval"] == 60 and views[cw]["DeliverLogsStatus"] == "SUCCESS"
    assert views[missing_role]["DeliverLogsStatus"] == "FAILED"
    assert views[missing_role]["DeliverLogsErrorMessage"] == "Access error"

    def ids(filters: list[dict[str, Any]]) -> set[str]:
        return {v["FlowLogId"] for v in ec2.describe_flow_logs(Filters=filters)["FlowLogs"]}

    assert ids([{"Name": "tag:k", "Values": ["v"]}]) == {cw}
    assert ids(
        [{"Name": "resource-id", "Values": [vpc1]}, {"Name": "traffic-type", "Values": ["reject"]}]
    ) == {cw}
    assert cw not in ids([{"Name": "log-destination-type", "Values": ["s3"]}])
    assert missing_role in ids([{"Name": "deliver-log-status", "Values": ["FAILED"]}])

    # The enforcement layer's view: every active flow log of the resources, with parsed fields.
    with cove_server.cove.db.read() as s:
        configs = flow_logs.flow_logs_for(s, [vpc1])
    assert {c.flow_log_id for c in configs} == {out["FlowLogIds"][0], cw}
    by_id = {c.flow_log_id: c for c in configs}
    assert by_id[cw].fields == ["version", "vpc-id", "srcaddr", "dstaddr", "action", "tcp-flags"]
    assert by_id[cw].traffic_type == "REJECT" and by_id[cw].delivering

    all_ids = out["FlowLogIds"] + [cw, missing_role]
    ec2.delete_flow_logs(FlowLogIds=all_ids)
    assert ec2.describe_flow_logs(FlowLogIds=all_ids)["FlowLogs"] == []


def test_errors(ec2: Any, role_arn: str) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.32.0.0/16")["Vpc"]["VpcId"]
    base: dict[str, Any] = {"ResourceType": "VPC", "ResourceIds": [vpc], "TrafficType": "ALL"}

    def error(**kwargs: Any) -> tuple[str, str]:
        with pytest.raises(ClientError) as exc:
            ec2.create_flow_logs(**{**base, **kwargs})
        return _code(exc), str(exc.value.response["Error"]["Message"])

    bucket = _bucket()
    assert error(LogDestinationType="s3", LogDestination=bucket, MaxAggregationInterval=10) == (
        "InvalidParameter",
        "Invalid Flow Log Max Aggregation Interval",
    )
    assert error(LogDestinationType="s3") == (
        "InvalidParameter",
        "LogDestination can't be empty if LogGroupName is not provided.",
    )
    assert error(LogDestinationType="s3", LogGroupName="g") == (
        "InvalidParameter",
        "LogDestination type must be cloud-watch-logs if LogGroupName is provided.",
    )
    assert error(LogGroupName="g") == (
        "InvalidParameter",
        "DeliverLogsPermissionArn can't be empty if LogDestinationType is cloud-watch-logs.",
    )
    code, message = error(LogDestinationType="s3", LogDestination=bucket, LogFormat="${version} ${bogus}")
    assert code == "InvalidParameter" and "bogus" in message

    ec2.create_flow_logs(**base, LogDestinationType="s3", LogDestination=bucket)
    assert error(LogDestinationType="s3", LogDestination=bucket) == (
        "FlowLogAlreadyExists",
        "Error. There is an existing Flow Log with the same configuration and log destination.",
    )
    # Another traffic type to the same place is a different flow log.
    ec2.create_flow_logs(**{**base, "TrafficType": "REJECT"}, LogDestinationType="s3", LogDestination=bucket)

    with pytest.raises(ClientError) as exc:
        ec2.delete_flow_logs(FlowLogIds=["fl-1a2b3c4d", "fl-2b3c4d5e"])
    assert _code(exc) == "InvalidFlowLogId.NotFound"
    assert exc.value.response["Error"]["Message"] == (
        "These flow log ids in the input list are not found: [TotalCount: 2] fl-1a2b3c4d fl-2b3c4d5e"
    )
