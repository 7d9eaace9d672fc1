"""SageMaker's VPC pre-flight checks on topologies built through the EC2 API."""

from __future__ import annotations

from typing import Any

import pytest

from cove.server import EmbeddedServer
from cove.services.sagemaker.preflight import Preflight, vpc_preflight
from tests.conftest import ClientFactory


def _check(server: EmbeddedServer, subnets: list[str], groups: list[str], **kw: Any) -> Preflight:
    with server.cove.db.read() as session:
        return vpc_preflight(
            session,
            account_id=server.cove.account.account_id,
            region="us-east-1",
            subnets=subnets,
            security_group_ids=groups,
            instance_type=kw.pop("instance_type", "ml.m5.xlarge"),
            **kw,
        )


@pytest.fixture(scope="module")
def vpc(client: ClientFactory) -> dict[str, str]:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24", AvailabilityZone="us-east-1a")["Subnet"][
        "SubnetId"
    ]
    b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.2.0/24", AvailabilityZone="us-east-1b")["Subnet"][
        "SubnetId"
    ]
    tiny = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.3.0/28", AvailabilityZone="us-east-1c")["Subnet"][
        "SubnetId"
    ]
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=rt, SubnetId=a)
    ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3", RouteTableIds=[rt])
    peers = ec2.create_security_group(GroupName="peers", Description="self", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=peers, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": peers}]}]
    )
    alone = ec2.create_security_group(GroupName="alone", Description="no self", VpcId=vpc)["GroupId"]
    other_vpc = ec2.create_vpc(CidrBlock="10.41.0.0/16", InstanceTenancy="dedicated")["Vpc"]["VpcId"]
    other = ec2.create_subnet(VpcId=other_vpc, CidrBlock="10.41.1.0/24")["Subnet"]["SubnetId"]
    other_sg = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [other_vpc]}])[
        "SecurityGroups"
    ][0]["GroupId"]
    return {
        "a": a,
        "b": b,
        "tiny": tiny,
        "peers": peers,
        "alone": alone,
        "other": other,
        "other_sg": other_sg,
    }


def test_good_config_passes(cove_server: EmbeddedServer, vpc: dict[str, str]) -> None:
    result = _check(cove_server, [vpc["a"]], [vpc["peers"]], instance_count=2)
    assert result.findings == ()
    result.raise_for_errors()


def test_unknown_subnet_and_group(cove_server: EmbeddedServer, vpc: dict[str, str]) -> None:
    result = _check(cove_server, [vpc["a"], "subnet-0000000000000dead"], ["sg-0000000000000dead"])
    assert {f.code for f in result.errors} == {"SubnetNotFound", "SecurityGroupNotFound"}
    assert "subnet-0000000000000dead" in result.errors[0].message
    with pytest.raises(Exception, match="do not exist"):
        result.raise_for_errors()


def test_subnets_in_two_vpcs(cove_server: EmbeddedServer, vpc: dict[str, str]) -> None:
    result = _check(cove_server, [vpc["a"], vpc["other"]], [vpc["peers"]])
    assert [f.code for f in result.errors] == ["SubnetsInDifferentVpcs"]


def test_address_budget(cove_server: EmbeddedServer, vpc: dict[str, str]) -> None:
    # A /28 has 11 usable addresses: 5 ordinary instances fit (10), 6 do not (12), 3 EFA ones need 15.
    assert _check(cove_server, [vpc["tiny"]], [vpc["peers"]], instance_count=5).errors == ()
    six = _check(cove_server, [vpc["tiny"]], [vpc["peers"]], instance_count=6)
    assert [f.code for f in six.errors] == ["InsufficientFreeAddresses"]
    assert "have 11 free IP addresses" in six.errors[0].message and "need 12" in six.errors[0].message
    efa = _check(
        cove_server, [vpc["tiny"]], [vpc["peers"]], instance_count=3, instance_type="ml.p4d.24xlarge"
    )
    assert "need 15 (5 each)" in efa.errors[0].message


def test_training_needs_default_tenancy(cove_server: EmbeddedServer, vpc: dict[str, str]) -> None:
    training = _check(cove_server, [vpc["other"]], [vpc["other_sg"]], job="training")
    assert [f.code for f in training.errors] == ["VpcTenancy"]
    processing = _check(cove_server, [vpc["other"]], [vpc["other_sg"]], job="processing")
    assert processing.errors == ()


def test_group_counts(cove_server: EmbeddedServer, vpc: dict[str, str]) -> None:
    result = _check(cove_server, [vpc["a"]], [vpc["peers"]] * 6)
    assert "SecurityGroupCount" in {f.code for f in result.errors}


def test_peers_without_self_reference_warn(cove_server: EmbeddedServer, vpc: dict[str, str]) -> None:
    single = _check(cove_server, [vpc["a"]], [vpc["alone"]], instance_count=1)
    assert single.warnings == ()
    result = _check(cove_server, [vpc["a"], vpc["b"]], [vpc["alone"]], instance_count=2)
    codes = [f.code for f in result.warnings]
    assert "PeersUnreachable" in codes
    peers = next(f for f in result.warnings if f.code == "PeersUnreachable")
    assert vpc["alone"] in peers.message and "SG_HAS_NO_RULES" in peers.message


def test_subnet_without_path_to_s3_warns(cove_server: EmbeddedServer, vpc: dict[str, str]) -> None:
    result = _check(cove_server, [vpc["a"], vpc["b"]], [vpc["peers"]], instance_count=1)
    warnings = [f for f in result.warnings if f.code == "NoPathToS3"]
    assert len(warnings) == 1 and vpc["b"] in warnings[0].message
    assert "NO_ROUTE_TO_DESTINATION" in warnings[0].message and "Data download failed" in warnings[0].message
