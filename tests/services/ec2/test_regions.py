"""Regions, availability zones and account attributes through boto3 against a live Cove."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from tests.conftest import ClientFactory

from cove.server import EmbeddedServer
from cove.services.ec2 import regions, subnets


@pytest.fixture(scope="module")
def ec2(client: ClientFactory) -> Any:
    return client("ec2")


def test_describe_regions(ec2: Any) -> None:
    found = {r["RegionName"]: r for r in ec2.describe_regions()["Regions"]}
    assert found["eu-west-1"]["Endpoint"] == "ec2.eu-west-1.amazonaws.com"
    assert "us-east-1" in found and len(found) == len(regions.REGIONS)
    only = ec2.describe_regions(RegionNames=["us-west-2"])["Regions"]
    assert [r["RegionName"] for r in only] == ["us-west-2"]


def test_describe_availability_zones(ec2: Any) -> None:
    zones = ec2.describe_availability_zones()["AvailabilityZones"]
    assert [z["ZoneName"] for z in zones] == [f"us-east-1{c}" for c in "abcdef"]
    assert zones[0]["ZoneId"] == "use1-az1" and zones[0]["State"] == "available"
    one = ec2.describe_availability_zones(ZoneNames=["us-east-1c"])["AvailabilityZones"]
    assert [z["ZoneId"] for z in one] == ["use1-az3"]
    by_id = ec2.describe_availability_zones(Filters=[{"Name": "zone-id", "Values": ["use1-az2"]}])
    assert [z["ZoneName"] for z in by_id["AvailabilityZones"]] == ["us-east-1b"]
    with pytest.raises(ClientError) as exc:
        ec2.describe_availability_zones(ZoneNames=["us-east-1z"])
    assert exc.value.response["Error"]["Code"] == "InvalidParameterValue"


def test_other_region_has_its_own_default_vpc(cove_server: EmbeddedServer, ec2: Any) -> None:
    account = cove_server.cove.account
    west = boto3.Session(
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
        region_name="us-west-1",
    ).client("ec2", endpoint_url=cove_server.endpoint_url)
    west_vpcs = west.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    home = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    assert len(west_vpcs) == len(home) == 1 and west_vpcs[0]["VpcId"] != home[0]["VpcId"]
    west_subnets = west.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [west_vpcs[0]["VpcId"]]}])[
        "Subnets"
    ]
    assert sorted(s["AvailabilityZone"] for s in west_subnets) == ["us-west-1a", "us-west-1b"]
    with pytest.raises(ClientError) as exc:
        west.describe_vpcs(VpcIds=[home[0]["VpcId"]])
    assert exc.value.response["Error"]["Code"] == "InvalidVpcID.NotFound"


def test_account_attributes(ec2: Any) -> None:
    attrs = {
        a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
        for a in ec2.describe_account_attributes()["AccountAttributes"]
    }
    assert attrs["supported-platforms"] == ["VPC"]
    assert attrs["vpc-max-security-groups-per-interface"] == ["5"]
    assert attrs["max-elastic-ips"] == ["5"] and attrs["vpc-max-elastic-ips"] == ["5"]
    assert attrs["default-vpc"][0].startswith("vpc-")


def test_zone_tables_and_reserved_addresses() -> None:
    assert regions.availability_zones("eu-west-1") == [
        ("eu-west-1a", "euw1-az1"),
        ("eu-west-1b", "euw1-az2"),
        ("eu-west-1c", "euw1-az3"),
    ]
    assert regions.zone_id_for("us-east-1", "us-east-1f") == "use1-az6"
    assert subnets.reserved_addresses("10.0.0.0/28") == {
        "10.0.0.0",
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
        "10.0.0.15",
    }
