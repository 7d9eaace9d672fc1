"""Subnets through boto3 against a live Cove: placement rules, zones, attributes, address counting."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.conftest import ClientFactory


@pytest.fixture(scope="module")
def ec2(client: ClientFactory) -> Any:
    return client("ec2")


@pytest.fixture
def vpc_id(ec2: Any) -> Iterator[str]:
    vpc_id = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    yield vpc_id
    for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]:
        ec2.delete_subnet(SubnetId=s["SubnetId"])
    ec2.delete_vpc(VpcId=vpc_id)


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def test_create_subnet_shape(ec2: Any, vpc_id: str) -> None:
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.1.0.0/24", AvailabilityZone="us-east-1b")["Subnet"]
    assert subnet["AvailabilityZone"] == "us-east-1b" and subnet["AvailabilityZoneId"] == "use1-az2"
    assert subnet["AvailableIpAddressCount"] == 251
    assert subnet["State"] == "available" and subnet["DefaultForAz"] is False
    assert subnet["MapPublicIpOnLaunch"] is False
    assert subnet["SubnetArn"].endswith(f":subnet/{subnet['SubnetId']}")
    assert subnet["Tags"] == []  # CreateSubnet shows the empty tag set, DescribeSubnets omits it
    described = ec2.describe_subnets(SubnetIds=[subnet["SubnetId"]])["Subnets"][0]
    assert "Tags" not in described
    by_zone = ec2.describe_subnets(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": "availability-zone", "Values": ["us-east-1b"]},
        ]
    )["Subnets"]
    assert [s["SubnetId"] for s in by_zone] == [subnet["SubnetId"]]
    none = ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "default-for-az", "Values": ["true"]}]
    )
    assert none["Subnets"] == []


def test_create_subnet_by_zone_id_and_tags(ec2: Any, vpc_id: str) -> None:
    subnet = ec2.create_subnet(
        VpcId=vpc_id,
        CidrBlock="10.1.1.0/28",
        AvailabilityZoneId="use1-az3",
        TagSpecifications=[{"ResourceType": "subnet", "Tags": [{"Key": "tier", "Value": "db"}]}],
    )["Subnet"]
    assert subnet["AvailabilityZone"] == "us-east-1c" and subnet["AvailableIpAddressCount"] == 11
    found = ec2.describe_subnets(Filters=[{"Name": "tag:tier", "Values": ["db"]}])["Subnets"]
    assert subnet["SubnetId"] in [s["SubnetId"] for s in found]


@pytest.mark.parametrize("cidr", ["10.1.0.0/29", "10.2.0.0/24", "10.0.0.0/15"])
def test_subnet_range(ec2: Any, vpc_id: str, cidr: str) -> None:
    with pytest.raises(ClientError) as exc:
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr)
    assert _error(exc) == ("InvalidSubnet.Range", f"The CIDR '{cidr}' is invalid.")


@pytest.mark.parametrize("cidr", ["1000.1.0.0/20", "not-a-cidr", "10.0.0.0"])
def test_subnet_malformed_cidr(ec2: Any, vpc_id: str, cidr: str) -> None:
    with pytest.raises(ClientError) as exc:
        ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr)
    assert _error(exc) == (
        "InvalidParameterValue",
        f"Value ({cidr}) for parameter cidrBlock is invalid. This is not a valid CIDR block.",
    )


def test_subnet_conflict_and_zone_errors(ec2: Any, vpc_id: str) -> None:
    ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.1.0.0/24")
    with pytest.raises(ClientError) as exc:
        ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.1.0.128/25")
    assert _error(exc) == ("InvalidSubnet.Conflict", "The CIDR '10.1.0.128/25' conflicts with another subnet")
    with pytest.raises(ClientError) as exc:
        ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.1.9.0/24", AvailabilityZone="us-west-2a")
    assert _error(exc)[0] == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        ec2.create_subnet(VpcId="vpc-00000000000000000", CidrBlock="10.1.9.0/24")
    assert _error(exc)[0] == "InvalidVpcID.NotFound"


def test_modify_subnet_attribute(ec2: Any, vpc_id: str) -> None:
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.1.2.0/24")["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": True})
    subnet = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]
    assert subnet["MapPublicIpOnLaunch"] is True
    public = ec2.describe_subnets(
        Filters=[
            {"Name": "subnet-id", "Values": [subnet_id]},
            {"Name": "map-public-ip-on-launch", "Values": ["true"]},
        ]
    )
    assert len(public["Subnets"]) == 1


def test_available_addresses_drop_with_interfaces(ec2: Any, vpc_id: str) -> None:
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.1.3.0/28")["Subnet"]["SubnetId"]
    enis = []
    for expected in range(10, 7, -1):
        enis.append(
            ec2.create_network_interface(SubnetId=subnet_id)["NetworkInterface"]["NetworkInterfaceId"]
        )
        assert (
            ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["AvailableIpAddressCount"] == expected
        )
    with pytest.raises(ClientError) as exc:
        ec2.delete_subnet(SubnetId=subnet_id)
    assert _error(exc) == (
        "DependencyViolation",
        f"The subnet '{subnet_id}' has dependencies and cannot be deleted.",
    )
    for eni in enis:
        ec2.delete_network_interface(NetworkInterfaceId=eni)
    assert ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["AvailableIpAddressCount"] == 11


def test_unknown_subnet(ec2: Any) -> None:
    with pytest.raises(ClientError) as exc:
        ec2.describe_subnets(SubnetIds=["subnet-00000000000000000"])
    assert _error(exc) == (
        "InvalidSubnetID.NotFound",
        "The subnet ID 'subnet-00000000000000000' does not exist",
    )
