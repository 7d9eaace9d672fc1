"""`cove explain` on the seed scenario: private subnets, an S3 gateway endpoint with a custom
policy, and a security group that references itself for distributed training."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner

from cove.cli import app
from cove.server import EmbeddedServer
from tests.conftest import ClientFactory

runner = CliRunner()

ENDPOINT_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "TrainingData",
            "Principal": "*",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::training-data", "arn:aws:s3:::training-data/*"],
        },
        {
            "Sid": "AmazonLinuxAMIRepositoryAccess",
            "Principal": "*",
            "Effect": "Deny",
            "Action": ["s3:GetObject"],
            "Resource": ["arn:aws:s3:::packages.*.amazonaws.com/*", "arn:aws:s3:::repo.*.amazonaws.com/*"],
        },
    ],
}


@dataclass
class Seed:
    vpc: str
    eni_a: str
    eni_b: str
    eni_isolated: str
    eni_no_peers: str
    subnet_without_endpoint: str


@pytest.fixture(scope="module")
def seed(client: ClientFactory) -> Seed:
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24", AvailabilityZone="us-east-1a")["Subnet"][
        "SubnetId"
    ]
    b = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.2.0/24", AvailabilityZone="us-east-1b")["Subnet"][
        "SubnetId"
    ]
    c = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.3.0/24", AvailabilityZone="us-east-1c")["Subnet"][
        "SubnetId"
    ]
    private = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    for subnet in (a, b):
        ec2.associate_route_table(RouteTableId=private, SubnetId=subnet)
    isolated = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=isolated, SubnetId=c)
    ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName="com.amazonaws.us-east-1.s3",
        VpcEndpointType="Gateway",
        RouteTableIds=[private],
        PolicyDocument=json.dumps(ENDPOINT_POLICY),
    )
    training = ec2.create_security_group(GroupName="training", Description="training peers", VpcId=vpc)[
        "GroupId"
    ]
    ec2.authorize_security_group_ingress(
        GroupId=training, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": training}]}]
    )
    lonely = ec2.create_security_group(GroupName="no-peers", Description="no self rule", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=lonely, IpProtocol="tcp", FromPort=443, ToPort=443, CidrIp="0.0.0.0/0"
    )

    def eni(subnet: str, group: str) -> str:
        out: str = ec2.create_network_interface(SubnetId=subnet, Groups=[group])["NetworkInterface"][
            "NetworkInterfaceId"
        ]
        return out

    return Seed(vpc, eni(a, training), eni(b, training), eni(c, training), eni(b, lonely), c)


def _explain(server: EmbeddedServer, *args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(
        app, ["explain", "--state-dir", str(server.cove.settings.state_dir), "--json", *args]
    )
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.output)


def test_training_data_through_the_endpoint(cove_server: EmbeddedServer, seed: Seed) -> None:
    code, out = _explain(cove_server, "--from", seed.eni_a, "--to", "s3://training-data/train.csv")
    assert code == 0 and out["decision"] == "ALLOW"
    assert any(h["component_type"] == "vpc-endpoint" for h in out["path"])
    [check] = out["policies"]
    assert (check["layer"], check["decision"], check["statements"]) == (
        "VPC endpoint policy",
        "allowed",
        ["TrainingData"],
    )


def test_other_bucket_denied_by_endpoint_policy(cove_server: EmbeddedServer, seed: Seed) -> None:
    code, out = _explain(cove_server, "--from", seed.eni_a, "--to", "s3://someone-elses-bucket/x")
    assert code == 1 and out["decision"] == "DENY" and out["network_decision"] == "ALLOW"
    assert out["policies"][0]["decision"] == "implicitDeny"
    assert out["authorization"]["message"].endswith(
        "because no VPC endpoint policy allows the s3:GetObject action"
    )


def test_package_repository_explicitly_denied(cove_server: EmbeddedServer, seed: Seed) -> None:
    code, out = _explain(
        cove_server, "--from", seed.eni_a, "--to", "s3://packages.us-east-1.amazonaws.com/x.rpm"
    )
    assert code == 1
    assert out["policies"][0]["decision"] == "explicitDeny"
    assert out["policies"][0]["statements"] == ["AmazonLinuxAMIRepositoryAccess"]
    assert "explicit deny in a VPC endpoint policy" in out["authorization"]["message"]


def test_subnet_without_endpoint_route_cannot_reach_s3(cove_server: EmbeddedServer, seed: Seed) -> None:
    code, out = _explain(cove_server, "--from", seed.eni_isolated, "--to", "s3://training-data/train.csv")
    assert code == 1 and out["network_decision"] == "DENY"
    assert [b["code"] for b in out["blockers"]] == ["NO_ROUTE_TO_DESTINATION"]
    # A subnet as the source stands for a new instance there: the same answer.
    _, from_subnet = _explain(cove_server, "--from", seed.subnet_without_endpoint, "--to", "s3")
    assert [b["code"] for b in from_subnet["blockers"]] == ["NO_ROUTE_TO_DESTINATION"]


def test_distributed_training_peers(cove_server: EmbeddedServer, seed: Seed) -> None:
    code, out = _explain(cove_server, "--from", seed.eni_a, "--to", seed.eni_b, "--port", "29500")
    assert code == 0 and out["blockers"] == []
    code, out = _explain(cove_server, "--from", seed.eni_a, "--to", seed.eni_no_peers, "--port", "29500")
    assert code == 1
    assert [b["code"] for b in out["blockers"]] == ["ENI_SG_RULES_MISMATCH"]
    assert out["blockers"][0]["component_id"].startswith("sg-")


def test_internet_is_unreachable_from_private_subnets(cove_server: EmbeddedServer, seed: Seed) -> None:
    code, out = _explain(cove_server, "--from", seed.eni_a, "--to", "203.0.113.10", "--port", "443")
    assert code == 1 and "NO_ROUTE_TO_DESTINATION" in [b["code"] for b in out["blockers"]]


def test_readable_output_and_bad_input(cove_server: EmbeddedServer, seed: Seed) -> None:
    state = str(cove_server.cove.settings.state_dir)
    text = runner.invoke(
        app,
        ["explain", "--state-dir", state, "--from", seed.eni_a, "--to", seed.eni_no_peers, "--port", "22"],
    )
    assert text.exit_code == 1
    assert "DENY" in text.output and "ENI_SG_RULES_MISMATCH" in text.output and "forward path" in text.output
    bad = runner.invoke(
        app, ["explain", "--state-dir", state, "--from", "eni-00000000000000000", "--to", "s3"]
    )
    assert bad.exit_code == 2 and "does not exist" in bad.output
