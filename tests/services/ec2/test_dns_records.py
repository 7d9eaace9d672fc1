"""The record table of a VPC's Amazon DNS server, from model networks and from the EC2 API."""

from __future__ import annotations

import ipaddress
from dataclasses import replace
from typing import Any

import pytest
from tests.conftest import ClientFactory
from tests.netmodel.netmodel_builders import S3, edit, lab, resources

from cove import netmodel as nm
from cove.fabric.dns import RecordTable
from cove.server import EmbeddedServer
from cove.services.ec2 import snapshot
from cove.services.ec2.dns import (
    endpoint_dns_names,
    public_dns_name,
    public_service_records,
    service_public_address,
    vpc_dns_records,
)
from cove.services.ec2.endpoints import endpoint_services
from cove.services.ec2.prefix_lists import service_addresses

REGION = "us-east-1"
SM_HOST = "api.sagemaker.us-east-1.amazonaws.com"
S3_PUBLIC = ("198.18.16.10",)
SM_PUBLIC = ("198.18.64.10",)
STS_PUBLIC = ("198.18.66.10",)


def test_service_public_addresses() -> None:
    assert service_public_address(REGION, "s3") == "198.18.16.10"
    assert service_public_address(REGION, "dynamodb") == "198.18.32.10"
    assert service_public_address("eu-west-1", "sagemaker.api") == "198.18.64.10"
    assert service_public_address(REGION, "application-autoscaling") == "198.18.73.10"
    blocks = {**service_addresses, **snapshot.INTERFACE_SERVICE_ADDRESSES}
    for service in endpoint_services(REGION):
        suffix = service.name.removeprefix(f"com.amazonaws.{REGION}.")
        address = ipaddress.ip_address(service_public_address(REGION, suffix))
        assert address in ipaddress.ip_network(blocks[suffix]), suffix
    with pytest.raises(KeyError):
        service_public_address(REGION, "no-such-service")


def test_public_service_names() -> None:
    records = public_service_records("eu-west-1")
    assert records["s3.eu-west-1.amazonaws.com"] == S3_PUBLIC
    assert records["*.s3.eu-west-1.amazonaws.com"] == S3_PUBLIC
    assert records["s3.amazonaws.com"] == records["*.s3.amazonaws.com"] == S3_PUBLIC
    assert records["api.sagemaker.eu-west-1.amazonaws.com"] == SM_PUBLIC
    assert records["runtime.sagemaker.eu-west-1.amazonaws.com"] == ("198.18.65.10",)
    assert records["sts.eu-west-1.amazonaws.com"] == records["sts.amazonaws.com"] == STS_PUBLIC
    for name, address in [
        ("kms", "198.18.67.10"),
        ("logs", "198.18.68.10"),
        ("monitoring", "198.18.69.10"),
        ("api.ecr", "198.18.70.10"),
        ("*.dkr.ecr", "198.18.71.10"),
        ("ec2", "198.18.72.10"),
        ("application-autoscaling", "198.18.73.10"),
        ("dynamodb", "198.18.32.10"),
    ]:
        assert records[f"{name}.eu-west-1.amazonaws.com"] == (address,), name
    table = RecordTable.build(records)
    assert table.lookup("my-bucket.s3.eu-west-1.amazonaws.com") == S3_PUBLIC
    assert table.lookup("123456789012.dkr.ecr.eu-west-1.amazonaws.com") == ("198.18.71.10",)


def test_lab_private_dns_switches_the_service_name() -> None:
    records = vpc_dns_records(lab(), "vpc-1", REGION)
    # vpce-sm (private DNS on, the VPC has both DNS attributes) takes the SageMaker API name.
    assert records[SM_HOST] == ("10.0.1.50",)
    assert records["runtime.sagemaker.us-east-1.amazonaws.com"] == ("198.18.65.10",)
    # The S3 gateway endpoint changes routes, not names.
    assert records["s3.us-east-1.amazonaws.com"] == S3_PUBLIC
    for changed in (
        lab(**edit("vpce-sm", private_dns_enabled=False)),
        lab(**edit("vpc-1", enable_dns_hostnames=False)),
        lab(**edit("vpce-sm", eni_ids=())),
    ):
        assert vpc_dns_records(changed, "vpc-1", REGION)[SM_HOST] == SM_PUBLIC
    assert vpc_dns_records(lab(**edit("vpc-1", enable_dns_support=False)), "vpc-1", REGION) == {}


def test_s3_interface_endpoint_with_private_dns() -> None:
    s3_eni = nm.Eni("eni-s3i", "subnet-b", ("10.0.2.60",), kind=nm.EniKind.VPC_ENDPOINT)
    endpoint = nm.VpcEndpoint(
        "vpce-s3i", "vpc-1", nm.EndpointType.INTERFACE, S3, subnet_ids=("subnet-b",), eni_ids=("eni-s3i",)
    )
    network = lab(eni_s3i=s3_eni, vpce_s3i=endpoint)
    records = vpc_dns_records(network, "vpc-1", REGION)
    table = RecordTable.build(records)
    assert table.lookup("s3.us-east-1.amazonaws.com") == ("10.0.2.60",)
    assert table.lookup("bucket.s3.us-east-1.amazonaws.com") == ("10.0.2.60",)
    # The global name is not in the endpoint's private zone.
    assert table.lookup("bucket.s3.amazonaws.com") == S3_PUBLIC
    off = lab(eni_s3i=s3_eni, vpce_s3i=replace(endpoint, private_dns_enabled=False))
    assert RecordTable.build(vpc_dns_records(off, "vpc-1", REGION)).lookup(
        "b.s3.us-east-1.amazonaws.com"
    ) == (S3_PUBLIC)


def test_two_endpoints_for_one_service_first_holds_the_zone() -> None:
    second_eni = nm.Eni("eni-vpce2", "subnet-b", ("10.0.2.51",), kind=nm.EniKind.VPC_ENDPOINT)
    second = replace(resources()["vpce-sm"], id="vpce-sm2", subnet_ids=("subnet-b",), eni_ids=("eni-vpce2",))
    records = vpc_dns_records(lab(eni_vpce2=second_eni, vpce_sm2=second), "vpc-1", REGION)
    assert records[SM_HOST] == ("10.0.1.50",)


def test_interface_names_and_extra() -> None:
    records = vpc_dns_records(
        lab(), "vpc-1", REGION, extra={"algo-1": ["10.0.1.10"], "ALGO-2.": ["10.0.1.11"]}
    )
    assert records["ip-10-0-1-10.ec2.internal"] == ("10.0.1.10",)
    assert records["ip-10-0-1-50.ec2.internal"] == ("10.0.1.50",)  # endpoint ENIs have names too
    assert records["ip-10-0-0-10.ec2.internal"] == ("10.0.0.10",)
    # The public name of eni-pub resolves to its private address inside the VPC.
    assert records[public_dns_name(REGION, "203.0.113.20")] == ("10.0.0.20",)
    assert records["ec2-203-0-113-20.compute-1.amazonaws.com"] == ("10.0.0.20",)
    assert records["algo-1"] == ("10.0.1.10",)
    assert records["algo-2"] == ("10.0.1.11",)
    no_hostnames = vpc_dns_records(lab(**edit("vpc-1", enable_dns_hostnames=False)), "vpc-1", REGION)
    assert "ec2-203-0-113-20.compute-1.amazonaws.com" not in no_hostnames
    assert no_hostnames["ip-10-0-0-20.ec2.internal"] == ("10.0.0.20",)
    elsewhere = vpc_dns_records(lab(), "vpc-1", "eu-west-1")
    assert elsewhere["ip-10-0-1-10.eu-west-1.compute.internal"] == ("10.0.1.10",)
    assert elsewhere["ec2-203-0-113-20.eu-west-1.compute.amazonaws.com"] == ("10.0.0.20",)
    assert "ip-10-0-1-10.ec2.internal" not in elsewhere


def test_other_vpcs_interfaces_are_not_named() -> None:
    other: dict[str, Any] = {
        "vpc_2": nm.Vpc("vpc-2", ("10.9.0.0/16",)),
        "subnet_x": nm.Subnet("subnet-x", "vpc-2", "10.9.1.0/24"),
        "rtb_2": nm.RouteTable("rtb-2", "vpc-2", main=True),
        "acl_2": nm.NetworkAcl.allow_all("acl-2", "vpc-2"),
        "eni_x": nm.Eni("eni-x", "subnet-x", ("10.9.1.5",)),
    }
    network = lab(**other)
    assert "ip-10-9-1-5.ec2.internal" not in vpc_dns_records(network, "vpc-1", REGION)
    records = vpc_dns_records(network, "vpc-2", REGION)
    assert records["ip-10-9-1-5.ec2.internal"] == ("10.9.1.5",)
    assert "ip-10-0-1-10.ec2.internal" not in records
    # vpc-2 has no endpoint: public answers, whatever vpc-1's endpoints say.
    assert records[SM_HOST] == SM_PUBLIC


# -- through the EC2 API ------------------------------------------------------------------------


def _records(server: EmbeddedServer, vpc_id: str) -> dict[str, tuple[str, ...]]:
    account = server.cove.account.account_id
    with server.cove.db.read() as session:
        network = snapshot.load_network(session, account, REGION)
        names = endpoint_dns_names(session, account, REGION)
    return vpc_dns_records(network, vpc_id, REGION, endpoint_names=names)


def _eni_addresses(ec2: Any, eni_ids: list[str]) -> dict[str, str]:
    """Availability zone → primary address of each ENI."""
    enis = ec2.describe_network_interfaces(NetworkInterfaceIds=eni_ids)["NetworkInterfaces"]
    return {e["AvailabilityZone"]: e["PrivateIpAddress"] for e in enis}


def test_records_from_the_api(client: ClientFactory, cove_server: EmbeddedServer) -> None:
    ec2 = client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.61.0.0/16")["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    sub_a = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.61.1.0/24", AvailabilityZone="us-east-1a")
    sub_b = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.61.2.0/24", AvailabilityZone="us-east-1b")
    subnets = [sub_a["Subnet"]["SubnetId"], sub_b["Subnet"]["SubnetId"]]
    sm = ec2.create_vpc_endpoint(
        VpcId=vpc_id,
        VpcEndpointType="Interface",
        ServiceName=f"com.amazonaws.{REGION}.sagemaker.api",
        SubnetIds=subnets,
    )["VpcEndpoint"]
    sts = ec2.create_vpc_endpoint(
        VpcId=vpc_id,
        VpcEndpointType="Interface",
        ServiceName=f"com.amazonaws.{REGION}.sts",
        SubnetIds=subnets[:1],
        PrivateDnsEnabled=False,
    )["VpcEndpoint"]
    s3 = ec2.create_vpc_endpoint(
        VpcId=vpc_id,
        VpcEndpointType="Interface",
        ServiceName=f"com.amazonaws.{REGION}.s3",
        SubnetIds=subnets[1:],
    )["VpcEndpoint"]
    sm_enis = _eni_addresses(ec2, sm["NetworkInterfaceIds"])
    sts_enis = _eni_addresses(ec2, sts["NetworkInterfaceIds"])
    s3_enis = _eni_addresses(ec2, s3["NetworkInterfaceIds"])
    assert sm["PrivateDnsEnabled"] and not sts["PrivateDnsEnabled"] and not s3["PrivateDnsEnabled"]

    records = _records(cove_server, vpc_id)
    assert set(records[SM_HOST]) == set(sm_enis.values()) and len(sm_enis) == 2
    assert records["sts.us-east-1.amazonaws.com"] == STS_PUBLIC
    assert records["s3.us-east-1.amazonaws.com"] == S3_PUBLIC
    # Every endpoint-specific name DescribeVpcEndpoints gives resolves to that endpoint's ENIs.
    described = {
        e["VpcEndpointId"]: e
        for e in ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    }
    for endpoint_id, enis in ((sm["VpcEndpointId"], sm_enis), (sts["VpcEndpointId"], sts_enis)):
        for entry in described[endpoint_id]["DnsEntries"]:
            name = entry["DnsName"]
            if not name.startswith("vpce-"):
                assert name == SM_HOST  # the private DNS entry
                continue
            zone = next((z for z in enis if name.split(".")[0].endswith("-" + z)), None)
            expected = {enis[zone]} if zone else set(enis.values())
            assert set(records[name]) == expected, name
    s3_name = described[s3["VpcEndpointId"]]["DnsEntries"][0]["DnsName"]
    table = RecordTable.build(records)
    assert table.lookup(s3_name) == tuple(s3_enis.values())
    assert table.lookup("my-bucket." + s3_name) == tuple(s3_enis.values())
    # Each interface's PrivateDnsName, endpoint ENIs included.
    enis = ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
        "NetworkInterfaces"
    ]
    assert len(enis) == 4
    for eni in enis:
        assert records[eni["PrivateDnsName"]] == (eni["PrivateIpAddress"],)

    # Private DNS switched off on SageMaker and on for STS: the names follow.
    ec2.modify_vpc_endpoint(VpcEndpointId=sm["VpcEndpointId"], PrivateDnsEnabled=False)
    ec2.modify_vpc_endpoint(VpcEndpointId=sts["VpcEndpointId"], PrivateDnsEnabled=True)
    records = _records(cove_server, vpc_id)
    assert records[SM_HOST] == SM_PUBLIC
    assert records["sts.us-east-1.amazonaws.com"] == tuple(sts_enis.values())
    assert records["sts.amazonaws.com"] == STS_PUBLIC

    # Deleted endpoints leave no names behind.
    ec2.delete_vpc_endpoints(VpcEndpointIds=[sts["VpcEndpointId"]])
    records = _records(cove_server, vpc_id)
    assert records["sts.us-east-1.amazonaws.com"] == STS_PUBLIC
    assert not any(name.startswith(sts["VpcEndpointId"]) for name in records)

    ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsSupport={"Value": False})
    assert _records(cove_server, vpc_id) == {}
