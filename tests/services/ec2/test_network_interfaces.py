"""Network interfaces through boto3 against a live Cove: addresses, groups, attributes, errors."""

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
def net(ec2: Any) -> Iterator[dict[str, str]]:
    vpc_id = ec2.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.5.0.0/24")["Subnet"]["SubnetId"]
    yield {"vpc": vpc_id, "subnet": subnet_id}
    for eni in ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
        "NetworkInterfaces"
    ]:
        ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]:
        if g["GroupName"] != "default":
            ec2.delete_security_group(GroupId=g["GroupId"])
    ec2.delete_subnet(SubnetId=subnet_id)
    ec2.delete_vpc(VpcId=vpc_id)


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_create_interface_shape(ec2: Any, net: dict[str, str]) -> None:
    eni = ec2.create_network_interface(
        SubnetId=net["subnet"],
        Description="mine",
        SecondaryPrivateIpAddressCount=2,
        TagSpecifications=[{"ResourceType": "network-interface", "Tags": [{"Key": "a", "Value": "b"}]}],
    )["NetworkInterface"]
    assert eni["PrivateIpAddress"] == "10.5.0.4"
    assert [a["PrivateIpAddress"] for a in eni["PrivateIpAddresses"]] == ["10.5.0.4", "10.5.0.5", "10.5.0.6"]
    assert eni["PrivateIpAddresses"][0]["Primary"] is True
    assert eni["PrivateDnsName"] == "ip-10-5-0-4.ec2.internal"
    assert eni["MacAddress"].startswith("02:") and len(eni["MacAddress"]) == 17
    assert eni["Status"] == "available" and eni["InterfaceType"] == "interface"
    assert eni["RequesterManaged"] is False and eni["SourceDestCheck"] is True
    assert eni["Description"] == "mine" and eni["TagSet"] == [{"Key": "a", "Value": "b"}]
    default_sg = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [net["vpc"]]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    assert eni["Groups"] == [{"GroupId": default_sg, "GroupName": "default"}]
    for name, value in [
        ("addresses.private-ip-address", "10.5.0.6"),
        ("private-ip-address", "10.5.0.4"),
        ("group-id", default_sg),
        ("description", "mine"),
        ("tag:a", "b"),
    ]:
        found = ec2.describe_network_interfaces(
            Filters=[{"Name": name, "Values": [value]}, {"Name": "subnet-id", "Values": [net["subnet"]]}]
        )["NetworkInterfaces"]
        assert [e["NetworkInterfaceId"] for e in found] == [eni["NetworkInterfaceId"]], name


def test_private_address_rules(ec2: Any, net: dict[str, str]) -> None:
    eni = ec2.create_network_interface(SubnetId=net["subnet"], PrivateIpAddress="10.5.0.50")[
        "NetworkInterface"
    ]
    assert eni["PrivateIpAddress"] == "10.5.0.50"
    with pytest.raises(ClientError) as exc:
        ec2.create_network_interface(SubnetId=net["subnet"], PrivateIpAddress="10.5.0.50")
    assert _code(exc) == "InvalidIPAddress.InUse"
    for bad in ("10.5.0.1", "10.5.1.9"):
        with pytest.raises(ClientError) as exc:
            ec2.create_network_interface(SubnetId=net["subnet"], PrivateIpAddress=bad)
        assert _code(exc) == "InvalidParameterValue"
    eni_id = eni["NetworkInterfaceId"]
    out = ec2.assign_private_ip_addresses(NetworkInterfaceId=eni_id, SecondaryPrivateIpAddressCount=1)
    extra = out["AssignedPrivateIpAddresses"][0]["PrivateIpAddress"]
    shown = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
    assert extra in [a["PrivateIpAddress"] for a in shown["PrivateIpAddresses"]]
    ec2.unassign_private_ip_addresses(NetworkInterfaceId=eni_id, PrivateIpAddresses=[extra])
    shown = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
    assert [a["PrivateIpAddress"] for a in shown["PrivateIpAddresses"]] == ["10.5.0.50"]


def test_groups_and_attributes(ec2: Any, net: dict[str, str]) -> None:
    groups = [
        ec2.create_security_group(GroupName=f"g{i}", Description="d", VpcId=net["vpc"])["GroupId"]
        for i in range(6)
    ]
    with pytest.raises(ClientError) as exc:
        ec2.create_network_interface(SubnetId=net["subnet"], Groups=groups)
    assert _code(exc) == "SecurityGroupsPerInterfaceLimitExceeded"
    eni_id = ec2.create_network_interface(SubnetId=net["subnet"], Groups=groups[:2])["NetworkInterface"][
        "NetworkInterfaceId"
    ]
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni_id, Groups=[groups[3]])
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni_id, SourceDestCheck={"Value": False})
    ec2.modify_network_interface_attribute(NetworkInterfaceId=eni_id, Description={"Value": "changed"})
    shown = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
    assert shown["Groups"] == [{"GroupId": groups[3], "GroupName": "g3"}]
    assert shown["SourceDestCheck"] is False and shown["Description"] == "changed"
    attr = ec2.describe_network_interface_attribute(NetworkInterfaceId=eni_id, Attribute="description")
    assert attr["Description"] == {"Value": "changed"}
    ec2.delete_network_interface(NetworkInterfaceId=eni_id)
    with pytest.raises(ClientError) as exc:
        ec2.delete_network_interface(NetworkInterfaceId=eni_id)
    assert _code(exc) == "InvalidNetworkInterfaceID.NotFound"
    assert exc.value.response["Error"]["Message"] == f"The networkInterface ID '{eni_id}' does not exist"
