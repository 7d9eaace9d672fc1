"""Internet gateways, elastic IPs and NAT gateways through boto3 against a live Cove."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.conftest import ClientFactory


@pytest.fixture(scope="module")
def ec2(client: ClientFactory) -> Any:
    return client("ec2")


@pytest.fixture
def net(ec2: Any) -> Iterator[dict[str, str]]:
    vpc_id = ec2.create_vpc(CidrBlock="10.4.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.4.0.0/24")["Subnet"]["SubnetId"]
    yield {"vpc": vpc_id, "subnet": subnet_id}
    for eni in ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
        "NetworkInterfaces"
    ]:
        ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    ec2.delete_subnet(SubnetId=subnet_id)
    ec2.delete_vpc(VpcId=vpc_id)


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_internet_gateway_lifecycle(ec2: Any, net: dict[str, str]) -> None:
    igw = ec2.create_internet_gateway(
        TagSpecifications=[{"ResourceType": "internet-gateway", "Tags": [{"Key": "k", "Value": "v"}]}]
    )["InternetGateway"]
    igw_id = igw["InternetGatewayId"]
    assert igw["Attachments"] == [] and igw["Tags"] == [{"Key": "k", "Value": "v"}]
    with pytest.raises(ClientError) as exc:
        ec2.detach_internet_gateway(InternetGatewayId=igw_id, VpcId=net["vpc"])
    assert _code(exc) == "Gateway.NotAttached"
    ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=net["vpc"])
    shown = ec2.describe_internet_gateways(InternetGatewayIds=[igw_id])["InternetGateways"][0]
    assert shown["Attachments"] == [{"State": "available", "VpcId": net["vpc"]}]
    with pytest.raises(ClientError) as exc:
        ec2.detach_internet_gateway(InternetGatewayId=igw_id, VpcId="vpc-deadbeef")
    assert _code(exc) == "Gateway.NotAttached"
    with pytest.raises(ClientError) as exc:
        ec2.attach_internet_gateway(InternetGatewayId=igw_id, VpcId=net["vpc"])
    assert _code(exc) == "Resource.AlreadyAssociated"
    with pytest.raises(ClientError) as exc:
        ec2.delete_internet_gateway(InternetGatewayId=igw_id)
    assert _code(exc) == "DependencyViolation"
    found = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [net["vpc"]]}])
    assert [g["InternetGatewayId"] for g in found["InternetGateways"]] == [igw_id]
    ec2.detach_internet_gateway(InternetGatewayId=igw_id, VpcId=net["vpc"])
    ec2.delete_internet_gateway(InternetGatewayId=igw_id)
    with pytest.raises(ClientError) as exc:
        ec2.describe_internet_gateways(InternetGatewayIds=[igw_id])
    assert _code(exc) == "InvalidInternetGatewayID.NotFound"


def test_elastic_ip_allocate_associate_release(ec2: Any, net: dict[str, str]) -> None:
    eip = ec2.allocate_address(Domain="vpc")
    try:
        assert eip["Domain"] == "vpc" and eip["AllocationId"].startswith("eipalloc-")
        assert ipaddress.IPv4Address(eip["PublicIp"]) in ipaddress.IPv4Network("198.19.0.0/16")
        eni = ec2.create_network_interface(SubnetId=net["subnet"])["NetworkInterface"]
        assoc = ec2.associate_address(
            AllocationId=eip["AllocationId"], NetworkInterfaceId=eni["NetworkInterfaceId"]
        )
        again = ec2.associate_address(
            AllocationId=eip["AllocationId"], NetworkInterfaceId=eni["NetworkInterfaceId"]
        )
        assert again["AssociationId"] == assoc["AssociationId"]
        other = ec2.create_network_interface(SubnetId=net["subnet"])["NetworkInterface"]["NetworkInterfaceId"]
        with pytest.raises(ClientError) as exc:
            ec2.associate_address(AllocationId=eip["AllocationId"], NetworkInterfaceId=other)
        assert _code(exc) == "Resource.AlreadyAssociated"
        shown = ec2.describe_addresses(AllocationIds=[eip["AllocationId"]])["Addresses"][0]
        assert shown["AssociationId"] == assoc["AssociationId"]
        assert shown["NetworkInterfaceId"] == eni["NetworkInterfaceId"]
        assert shown["PrivateIpAddress"] == eni["PrivateIpAddress"]
        described = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni["NetworkInterfaceId"]])
        assert described["NetworkInterfaces"][0]["Association"]["PublicIp"] == eip["PublicIp"]
        with pytest.raises(ClientError) as exc:
            ec2.release_address(AllocationId=eip["AllocationId"])
        assert _code(exc) == "InvalidIPAddress.InUse"
        ec2.disassociate_address(AssociationId=assoc["AssociationId"])
        assert "AssociationId" not in ec2.describe_addresses(PublicIps=[eip["PublicIp"]])["Addresses"][0]
    finally:
        ec2.release_address(AllocationId=eip["AllocationId"])
    with pytest.raises(ClientError) as exc:
        ec2.describe_addresses(AllocationIds=[eip["AllocationId"]])
    assert _code(exc) == "InvalidAllocationID.NotFound"


def test_elastic_ip_limit(ec2: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # AWS's out-of-the-box quota; Cove's default is higher (see gateways.MAX_ADDRESSES).
    monkeypatch.setenv("COVE_EC2_MAX_ADDRESSES", "5")
    held = ec2.describe_addresses()["Addresses"]
    allocated = [ec2.allocate_address(Domain="vpc")["AllocationId"] for _ in range(5 - len(held))]
    try:
        with pytest.raises(ClientError) as exc:
            ec2.allocate_address(Domain="vpc")
        assert _code(exc) == "AddressLimitExceeded"
    finally:
        for allocation_id in allocated:
            ec2.release_address(AllocationId=allocation_id)


def test_nat_gateway_lifecycle(ec2: Any, net: dict[str, str]) -> None:
    eip = ec2.allocate_address(Domain="vpc")
    try:
        nat = ec2.create_nat_gateway(SubnetId=net["subnet"], AllocationId=eip["AllocationId"])["NatGateway"]
        assert (
            nat["State"] == "pending" and nat["VpcId"] == net["vpc"] and nat["ConnectivityType"] == "public"
        )
        address = nat["NatGatewayAddresses"][0]
        assert address["PublicIp"] == eip["PublicIp"] and address["AllocationId"] == eip["AllocationId"]
        shown = ec2.describe_nat_gateways(Filter=[{"Name": "vpc-id", "Values": [net["vpc"]]}])["NatGateways"]
        assert [n["State"] for n in shown] == ["available"]
        eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[address["NetworkInterfaceId"]])[
            "NetworkInterfaces"
        ][0]
        assert eni["InterfaceType"] == "nat_gateway" and eni["RequesterManaged"] is True
        assert eni["PrivateIpAddress"] == address["PrivateIp"]
        with pytest.raises(ClientError) as exc:
            ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
        assert _code(exc) in ("InvalidNetworkInterface.InUse", "OperationNotPermitted")
        table = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [net["vpc"]]}])[
            "RouteTables"
        ][0]
        ec2.create_route(
            RouteTableId=table["RouteTableId"],
            DestinationCidrBlock="0.0.0.0/0",
            NatGatewayId=nat["NatGatewayId"],
        )
        assert ec2.delete_nat_gateway(NatGatewayId=nat["NatGatewayId"])["NatGatewayId"] == nat["NatGatewayId"]
        gone = ec2.describe_nat_gateways(NatGatewayIds=[nat["NatGatewayId"]])["NatGateways"][0]
        assert gone["State"] == "deleted" and "DeleteTime" in gone
        table = ec2.describe_route_tables(RouteTableIds=[table["RouteTableId"]])["RouteTables"][0]
        nat_route = next(r for r in table["Routes"] if r.get("NatGatewayId") == nat["NatGatewayId"])
        assert nat_route["State"] == "blackhole"
        ec2.delete_route(RouteTableId=table["RouteTableId"], DestinationCidrBlock="0.0.0.0/0")
        assert (
            "AssociationId" not in ec2.describe_addresses(AllocationIds=[eip["AllocationId"]])["Addresses"][0]
        )
    finally:
        ec2.release_address(AllocationId=eip["AllocationId"])
    with pytest.raises(ClientError) as exc:
        ec2.describe_nat_gateways(NatGatewayIds=["nat-00000000000000000"])
    assert _code(exc) == "NatGatewayNotFound"


def test_private_nat_gateway(ec2: Any, net: dict[str, str]) -> None:
    nat = ec2.create_nat_gateway(SubnetId=net["subnet"], ConnectivityType="private")["NatGateway"]
    assert nat["ConnectivityType"] == "private" and "PublicIp" not in nat["NatGatewayAddresses"][0]
    ec2.delete_nat_gateway(NatGatewayId=nat["NatGatewayId"])


def test_egress_only_gateway_lifecycle(ec2: Any, net: dict[str, str]) -> None:
    created = ec2.create_egress_only_internet_gateway(VpcId=net["vpc"])["EgressOnlyInternetGateway"]
    eigw_id = created["EgressOnlyInternetGatewayId"]
    assert eigw_id.startswith("eigw-")
    assert created["Attachments"] == [{"State": "attached", "VpcId": net["vpc"]}]
    shown = ec2.describe_egress_only_internet_gateways(EgressOnlyInternetGatewayIds=[eigw_id])
    assert [g["EgressOnlyInternetGatewayId"] for g in shown["EgressOnlyInternetGateways"]] == [eigw_id]
    ec2.delete_egress_only_internet_gateway(EgressOnlyInternetGatewayId=eigw_id)
    with pytest.raises(ClientError) as exc:
        ec2.create_egress_only_internet_gateway(VpcId="vpc-says-what")
    assert _code(exc) == "InvalidVpcID.NotFound"
    assert exc.value.response["Error"]["Message"] == "VpcID vpc-says-what does not exist."
