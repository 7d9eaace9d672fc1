"""CreateTags / DeleteTags / DescribeTags across resource types, through boto3."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.conftest import ClientFactory

from cove.services.ec2 import tagging


@pytest.fixture
def ec2(client: ClientFactory) -> Any:
    return client("ec2")


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_kind_of() -> None:
    assert tagging.kind_of("vpc-0123").resource_type == "vpc"
    assert tagging.kind_of("eipalloc-1").resource_type == "elastic-ip"
    assert tagging.kind_of("fl-1").resource_type == "vpc-flow-log"
    for bad in ("nope-1", "vpc", "vpc-", "i-123"):
        with pytest.raises(tagging.Ec2Error) as exc:
            tagging.kind_of(bad)
        assert exc.value.code == "InvalidID"


def test_tags_across_resource_types(ec2: Any) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24")["Subnet"]["SubnetId"]
    sg = ec2.create_security_group(GroupName="tagged", Description="d", VpcId=vpc)["GroupId"]
    rtb = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    pl = ec2.create_managed_prefix_list(PrefixListName="tagged", MaxEntries=1, AddressFamily="IPv4")[
        "PrefixList"
    ]["PrefixListId"]
    vpce = ec2.create_vpc_endpoint(VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3")["VpcEndpoint"][
        "VpcEndpointId"
    ]
    resources = {
        vpc: "vpc",
        subnet: "subnet",
        sg: "security-group",
        rtb: "route-table",
        igw: "internet-gateway",
        pl: "prefix-list",
        vpce: "vpc-endpoint",
    }
    marker = uuid.uuid4().hex
    ec2.create_tags(
        Resources=list(resources), Tags=[{"Key": "run", "Value": marker}, {"Key": "team", "Value": "ml"}]
    )

    tagged = ec2.describe_tags(Filters=[{"Name": "value", "Values": [marker]}])["Tags"]
    assert {(t["ResourceId"], t["ResourceType"]) for t in tagged} == set(resources.items())
    assert all(t["Key"] == "run" for t in tagged)

    assert ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Tags"] == [
        {"Key": "run", "Value": marker},
        {"Key": "team", "Value": "ml"},
    ]
    endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"][0]
    assert {"Key": "team", "Value": "ml"} in endpoint["Tags"]

    only_sg = ec2.describe_tags(
        Filters=[{"Name": "resource-type", "Values": ["security-group"]}, {"Name": "key", "Values": ["team"]}]
    )["Tags"]
    assert {"Key": "team", "ResourceId": sg, "ResourceType": "security-group", "Value": "ml"} in only_sg
    by_id = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [subnet]}])["Tags"]
    assert [(t["Key"], t["Value"]) for t in by_id] == [("run", marker), ("team", "ml")]
    by_tag = ec2.describe_tags(
        Filters=[{"Name": "tag:run", "Values": [marker]}, {"Name": "key", "Values": ["team"]}]
    )
    assert {t["ResourceId"] for t in by_tag["Tags"]} == set(resources)

    # DeleteTags: a value that does not match keeps the tag; a key alone removes it.
    ec2.delete_tags(Resources=[vpc], Tags=[{"Key": "team", "Value": "other"}])
    assert len(ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [vpc]}])["Tags"]) == 2
    ec2.delete_tags(Resources=[vpc, subnet], Tags=[{"Key": "team"}])
    left = ec2.describe_tags(Filters=[{"Name": "resource-id", "Values": [vpc, subnet]}])["Tags"]
    assert {(t["ResourceId"], t["Key"]) for t in left} == {(vpc, "run"), (subnet, "run")}

    pages: list[dict[str, Any]] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"Filters": [{"Name": "value", "Values": [marker]}], "MaxResults": 3}
        if token:
            kwargs["NextToken"] = token
        page = ec2.describe_tags(**kwargs)
        pages += page["Tags"]
        token = page.get("NextToken")
        if not token:
            break
    assert len(pages) == len(resources)

    ec2.delete_vpc_endpoints(VpcEndpointIds=[vpce])


def test_tag_errors(ec2: Any) -> None:
    vpc = ec2.create_vpc(CidrBlock="10.41.0.0/16")["Vpc"]["VpcId"]
    with pytest.raises(ClientError) as exc:
        ec2.create_tags(Resources=["bogus-123"], Tags=[{"Key": "a", "Value": "b"}])
    assert _code(exc) == "InvalidID"
    assert exc.value.response["Error"]["Message"] == "The ID 'bogus-123' is not valid"
    with pytest.raises(ClientError) as exc:
        ec2.create_tags(Resources=[vpc, "subnet-00000000000000000"], Tags=[{"Key": "a", "Value": "b"}])
    assert _code(exc) == "InvalidSubnetID.NotFound"
    # The request failed as a whole: the VPC was not tagged either.
    assert not ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0].get("Tags")
    with pytest.raises(ClientError) as exc:
        ec2.create_tags(Resources=[vpc], Tags=[{"Key": "aws:reserved", "Value": "x"}])
    assert _code(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        ec2.create_tags(Resources=[vpc], Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    assert _code(exc) == "TagLimitExceeded"
    with pytest.raises(ClientError) as exc:
        ec2.delete_tags(Resources=["vpc-00000000000000000"], Tags=[{"Key": "a"}])
    assert _code(exc) == "InvalidVpcID.NotFound"
    with pytest.raises(ClientError) as exc:
        ec2.describe_tags(Filters=[{"Name": "bogus", "Values": ["x"]}])
    assert _code(exc) == "InvalidParameterValue"
