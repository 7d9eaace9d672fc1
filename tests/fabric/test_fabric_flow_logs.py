"""VPC Flow Logs end to end: CreateFlowLogs through boto3, real packets between ENIs, AWS
version-2 records in the CloudWatch Logs group, one stream per ENI."""

from __future__ import annotations

import gzip
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from cove.fabric.probe import Agent, Probe
from cove.server import EmbeddedServer, free_port
from cove.settings import Settings
from tests.conftest import make_client
from tests.fabric.fabric_support import fabric_available

pytestmark = [pytest.mark.root, pytest.mark.skipif(not fabric_available(), reason="needs root and netns")]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    state = tmp_path_factory.mktemp("fabric-flowlogs")
    server = EmbeddedServer(
        Settings(state_dir=state, port=free_port(), fabric="on", flow_log_interval=1.0)
    ).start()
    try:
        yield server
    finally:
        server.stop()
        assert server.cove.kernel is not None
        server.cove.kernel.fabric.teardown()


def _lines(logs: Any, group: str, stream: str) -> list[str]:
    try:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [e["message"] for e in events]


def test_accepted_and_rejected_flows_reach_cloudwatch_logs(server: EmbeddedServer) -> None:
    ec2, logs = make_client(server, "ec2"), make_client(server, "logs")
    account = server.cove.account.account_id
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.50.1.0/24")["Subnet"]["SubnetId"]
    web = ec2.create_security_group(GroupName="web", Description="w", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=web,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.50.0.0/16"}]}
        ],
    )
    client = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]
    target = ec2.create_network_interface(SubnetId=subnet, Groups=[web])["NetworkInterface"]
    ec2.create_flow_logs(
        ResourceIds=[vpc],
        ResourceType="VPC",
        TrafficType="ALL",
        LogDestinationType="cloud-watch-logs",
        LogGroupName="vpc-flow",
        DeliverLogsPermissionArn=f"arn:aws:iam::{account}:role/flow-logs",
    )
    s3 = make_client(server, "s3")
    s3.create_bucket(Bucket="flow-archive")
    ec2.create_flow_logs(
        ResourceIds=[target["NetworkInterfaceId"]],
        ResourceType="NetworkInterface",
        TrafficType="REJECT",
        LogDestinationType="s3",
        LogDestination="arn:aws:s3:::flow-archive/vpc",
        LogFormat="${interface-id} ${srcaddr} ${dstport} ${action} ${flow-direction}",
    )
    assert server.cove.kernel is not None and server.cove.kernel.wait_applied(5.0)
    names = server.cove.kernel.fabric.names
    src, dst = client["PrivateIpAddress"], target["PrivateIpAddress"]
    with (
        Agent(names.eni(target["NetworkInterfaceId"])) as listener,
        Agent(names.eni(client["NetworkInterfaceId"])) as prober,
    ):
        listener.serve(tcp=[443, 22])
        seen = prober.probe(
            [Probe("ok", "tcp", dst, 443, 41443), Probe("no", "tcp", dst, 22, 41422)], timeout=1.0
        )
    assert seen == {"ok": "open", "no": "timeout"}

    stream = dst_eni = target["NetworkInterfaceId"]
    accepted = f"2 {account} {stream} {src} {dst} 41443 443 6 "
    rejected = f"2 {account} {stream} {src} {dst} 41422 22 6 "
    deadline = time.monotonic() + 20
    lines: list[str] = []
    while time.monotonic() < deadline:
        lines = _lines(logs, "vpc-flow", stream)
        if any(line.startswith(accepted) for line in lines) and any(
            line.startswith(rejected) for line in lines
        ):
            break
        time.sleep(0.5)
    accept = next((line for line in lines if line.startswith(accepted)), None)
    reject = next((line for line in lines if line.startswith(rejected)), None)
    assert accept is not None and accept.endswith(" ACCEPT OK"), lines
    assert reject is not None and reject.endswith(" REJECT OK"), lines
    fields = accept.split()
    assert (
        len(fields) == 14
        and int(fields[8]) >= 3
        and int(fields[9]) > 0
        and int(fields[10]) <= int(fields[11])
    )
    # The client's own stream has its side of the accepted flow (egress).
    mine = _lines(logs, "vpc-flow", client["NetworkInterfaceId"])
    assert any(
        line.startswith(f"2 {account} {client['NetworkInterfaceId']} {src} {dst} 41443 443 6 ")
        for line in mine
    )

    # The ENI's REJECT-only flow log lands in S3 as AWS names the objects, with a header line.
    prefix = f"vpc/AWSLogs/{account}/vpcflowlogs/us-east-1/"
    deadline = time.monotonic() + 20
    texts: list[str] = []
    while time.monotonic() < deadline and not any(f"{dst_eni} {src} 22 REJECT ingress" in t for t in texts):
        listed = s3.list_objects_v2(Bucket="flow-archive", Prefix=prefix).get("Contents", [])
        texts = [
            gzip.decompress(s3.get_object(Bucket="flow-archive", Key=o["Key"])["Body"].read()).decode()
            for o in listed
        ]
        time.sleep(0.5)
    assert any(f"{dst_eni} {src} 22 REJECT ingress" in t for t in texts), texts
    assert all(t.startswith("interface-id srcaddr dstport action flow-direction\n") for t in texts)
    assert not any(" ACCEPT " in t for t in texts)
    assert all(
        re.search(r"_vpcflowlogs_us-east-1_fl-[0-9a-f]+_\d{8}T\d{4}Z_[0-9a-f]{8}\.log\.gz$", o["Key"])
        for o in s3.list_objects_v2(Bucket="flow-archive", Prefix=prefix)["Contents"]
    )
