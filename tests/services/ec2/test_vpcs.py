"""VPCs through boto3 against a live Cove: defaults, the default VPC, CIDR blocks, attributes, deletion."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.conftest import ClientFactory


@pytest.fixture(scope="module")
def ec2(client: ClientFactory) -> Any:
    return client("ec2")


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_default_vpc_exists_with_subnets_igw_and_main_route(ec2: Any) -> None:
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert len(vpcs) == 1
    vpc = vpcs[0]
    assert vpc["CidrBlock"] == "172.31.0.0/16" and vpc["IsDefault"] is True and vpc["State"] == "available"
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"]
    cidrs = sorted(s["CidrBlock"] for s in subnets)
    assert cidrs[:2] == ["172.31.0.0/20", "172.31.16.0/20"]
    assert len({s["AvailabilityZone"] for s in subnets}) == len(subnets) == 6
    assert all(s["DefaultForAz"] and s["MapPublicIpOnLaunch"] for s in subnets)
    assert all(s["AvailableIpAddressCount"] == 4091 for s in subnets)
    igws = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [vpc["VpcId"]]}])
    igw_id = igws["InternetGateways"][0]["InternetGatewayId"]
    tables = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc["VpcId"]]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"]
    routes = {r["DestinationCidrBlock"]: r for r in tables[0]["Routes"]}
    assert routes["172.31.0.0/16"]["GatewayId"] == "local"
    assert routes["0.0.0.0/0"]["GatewayId"] == igw_id and routes["0.0.0.0/0"]["State"] == "active"
    attr = ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute="enableDnsHostnames")
    assert attr["EnableDnsHostnames"] == {"Value": True}
    accounts = ec2.describe_account_attributes(AttributeNames=["default-vpc"])["AccountAttributes"]
    assert accounts[0]["AttributeValues"] == [{"AttributeValue": vpc["VpcId"]}]
    with pytest.raises(ClientError) as exc:
        ec2.create_default_vpc()
    assert _code(exc) == "DefaultVpcAlreadyExists"


def test_create_vpc_canonicalises_and_creates_main_table(ec2: Any) -> None:
    vpc = ec2.create_vpc(
        CidrBlock="10.9.0.18/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "n", "Value": "a"}]}],
    )["Vpc"]
    try:
        assert vpc["CidrBlock"] == "10.9.0.0/16"
        assert vpc["InstanceTenancy"] == "default" and vpc["IsDefault"] is False
        assert vpc["CidrBlockAssociationSet"][0]["CidrBlockState"] == {"State": "associated"}
        assert vpc["Tags"] == [{"Key": "n", "Value": "a"}]
        described = ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])["Vpcs"][0]
        assert described["State"] == "available" and described["OwnerId"]
        tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
            "RouteTables"
        ]
        assert len(tables) == 1
        assert tables[0]["Associations"][0]["Main"] is True
        assert tables[0]["Routes"] == [
            {
                "DestinationCidrBlock": "10.9.0.0/16",
                "GatewayId": "local",
                "Origin": "CreateRouteTable",
                "State": "active",
            }
        ]
        support = ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute="enableDnsSupport")
        hostnames = ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute="enableDnsHostnames")
        assert support["EnableDnsSupport"] == {"Value": True} and hostnames["EnableDnsHostnames"] == {
            "Value": False
        }
        ec2.modify_vpc_attribute(VpcId=vpc["VpcId"], EnableDnsHostnames={"Value": True})
        hostnames = ec2.describe_vpc_attribute(VpcId=vpc["VpcId"], Attribute="enableDnsHostnames")
        assert hostnames["EnableDnsHostnames"] == {"Value": True}
        tagged = ec2.describe_vpcs(
            Filters=[{"Name": "tag:n", "Values": ["a"]}, {"Name": "cidr", "Values": ["10.9.*"]}]
        )
        assert [v["VpcId"] for v in tagged["Vpcs"]] == [vpc["VpcId"]]
    finally:
        ec2.delete_vpc(VpcId=vpc["VpcId"])
    with pytest.raises(ClientError) as exc:
        ec2.describe_vpcs(VpcIds=[vpc["VpcId"]])
    assert _code(exc) == "InvalidVpcID.NotFound"
    assert exc.value.response["Error"]["Message"] == f"The vpc ID '{vpc['VpcId']}' does not exist"


@pytest.mark.parametrize("cidr", ["10.0.0.0/15", "10.0.0.0/29"])
def test_create_vpc_rejects_bad_ranges(ec2: Any, cidr: str) -> None:
    with pytest.raises(ClientError) as exc:
        ec2.create_vpc(CidrBlock=cidr)
    assert _code(exc) == "InvalidVpc.Range"
    assert exc.value.response["Error"]["Message"] == f"The CIDR '{cidr}' is invalid."


@pytest.mark.parametrize("cidr", ["not-a-cidr", "1000.1.0.0/20", "10.0.0.0"])
def test_create_vpc_rejects_malformed_cidr(ec2: Any, cidr: str) -> None:
    with pytest.raises(ClientError) as exc:
        ec2.create_vpc(CidrBlock=cidr)
    assert _code(exc) == "InvalidParameterValue"
    assert exc.value.response["Error"]["Message"] == (
        f"Value ({cidr}) for parameter cidrBlock is invalid. This is not a valid CIDR block."
    )


def test_cidr_filter_accepts_host_bits_and_legacy_is_default(ec2: Any) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.77.3.4/16")["Vpc"]
    try:
        assert vpc["CidrBlock"] == "10.77.0.0/16"
        for value in ("10.77.3.4/16", "10.77.0.0/16"):
            found = ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": [value]}])["Vpcs"]
            assert vpc["VpcId"] in [v["VpcId"] for v in found]
        other = ec2.describe_vpcs(Filters=[{"Name": "cidr", "Values": ["10.78.3.4/16"]}])["Vpcs"]
        assert vpc["VpcId"] not in [v["VpcId"] for v in other]
        defaults = ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
        assert [v["IsDefault"] for v in defaults] == [True]
    finally:
        ec2.delete_vpc(VpcId=vpc["VpcId"])


def test_dry_run(ec2: Any) -> None:
    with pytest.raises(ClientError) as exc:
        ec2.create_vpc(CidrBlock="10.0.0.0/16", DryRun=True)
    assert _code(exc) == "DryRunOperation"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412


def test_secondary_cidr_blocks_add_and_remove_local_routes(ec2: Any) -> None:
    vpc_id = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    try:
        assoc = ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock="10.21.0.0/16")["CidrBlockAssociation"]
        assert assoc["CidrBlock"] == "10.21.0.0/16"
        table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"][0]
        assert {r["DestinationCidrBlock"] for r in table["Routes"]} == {"10.20.0.0/16", "10.21.0.0/16"}
        with pytest.raises(ClientError) as exc:
            ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock="192.168.0.0/16")
        assert _code(exc) == "InvalidVpc.Range"
        for i in range(3):
            ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock=f"10.{30 + i}.0.0/16")
        with pytest.raises(ClientError) as exc:
            ec2.associate_vpc_cidr_block(VpcId=vpc_id, CidrBlock="10.40.0.0/16")
        assert _code(exc) == "CidrLimitExceeded"
        primary = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]["CidrBlockAssociationSet"][0]["AssociationId"]
        with pytest.raises(ClientError) as exc:
            ec2.disassociate_vpc_cidr_block(AssociationId=primary)
        assert _code(exc) == "OperationNotPermitted"
        out = ec2.disassociate_vpc_cidr_block(AssociationId=assoc["AssociationId"])
        assert out["CidrBlockAssociation"]["CidrBlockState"]["State"] == "disassociating"
        vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
        assert "10.21.0.0/16" not in {a["CidrBlock"] for a in vpc["CidrBlockAssociationSet"]}
        v6 = ec2.associate_vpc_cidr_block(VpcId=vpc_id, AmazonProvidedIpv6CidrBlock=True)
        assert v6["Ipv6CidrBlockAssociation"]["Ipv6CidrBlock"].endswith("/56")
    finally:
        ec2.delete_vpc(VpcId=vpc_id)


def test_delete_vpc_with_dependencies(ec2: Any) -> None:
    vpc_id = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.50.0.0/24")["Subnet"]["SubnetId"]
    with pytest.raises(ClientError) as exc:
        ec2.delete_vpc(VpcId=vpc_id)
    assert _code(exc) == "DependencyViolation"
    assert (
        exc.value.response["Error"]["Message"]
        == f"The vpc '{vpc_id}' has dependencies and cannot be deleted."
    )
    ec2.delete_subnet(SubnetId=subnet_id)
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    with pytest.raises(ClientError) as exc:
        ec2.delete_vpc(VpcId=vpc_id)
    assert _code(exc) == "DependencyViolation"
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    ec2.delete_internet_gateway(InternetGatewayId=igw)
    ec2.delete_vpc(VpcId=vpc_id)
    assert ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"] == []


def test_describe_vpcs_pages(ec2: Any) -> None:
    ids = [ec2.create_vpc(CidrBlock=f"10.{60 + i}.0.0/16")["Vpc"]["VpcId"] for i in range(3)]
    try:
        first = ec2.describe_vpcs(VpcIds=ids, MaxResults=5)
        assert "NextToken" not in first
        seen: list[str] = []
        token: dict[str, str] = {}
        while True:
            page = ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": ids}], MaxResults=5, **token)
            seen += [v["VpcId"] for v in page["Vpcs"]]
            if "NextToken" not in page:
                break
            token = {"NextToken": page["NextToken"]}
        assert sorted(seen) == sorted(ids)
    finally:
        for vpc_id in ids:
            ec2.delete_vpc(VpcId=vpc_id)
