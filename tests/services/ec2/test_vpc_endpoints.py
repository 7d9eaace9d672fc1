"""VPC endpoints through boto3: services, gateway routes, interface ENIs, policies, DNS rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from tests.conftest import ClientFactory

from cove.server import EmbeddedServer
from cove.services.ec2 import endpoints, prefix_lists

S3 = "com.amazonaws.us-east-1.s3"


@pytest.fixture
def ec2(client: ClientFactory) -> Any:
    return client("ec2")


def _vpc(ec2: Any, *, dns: bool = True) -> str:
    vpc_id: str = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    if dns:
        ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": True})
    return vpc_id


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_endpoint_services(ec2: Any) -> None:
    out = ec2.describe_vpc_endpoint_services()
    names = out["ServiceNames"]
    assert names == [d["ServiceName"] for d in out["ServiceDetails"]]
    for suffix in ("sagemaker.api", "sagemaker.runtime", "sts", "kms", "logs", "ecr.dkr", "dynamodb"):
        assert f"com.amazonaws.us-east-1.{suffix}" in names
    s3 = [d for d in out["ServiceDetails"] if d["ServiceName"] == S3]
    assert sorted(t["ServiceType"] for d in s3 for t in d["ServiceType"]) == ["Gateway", "Interface"]
    api = next(d for d in out["ServiceDetails"] if d["ServiceName"].endswith("sagemaker.api"))
    assert api["Owner"] == "amazon" and api["AcceptanceRequired"] is False
    assert api["PrivateDnsName"] == "api.sagemaker.us-east-1.amazonaws.com"
    assert api["BaseEndpointDnsNames"] == ["api.sagemaker.us-east-1.vpce.amazonaws.com"]
    assert api["AvailabilityZones"][0] == "us-east-1a"

    gateways = ec2.describe_vpc_endpoint_services(Filters=[{"Name": "service-type", "Values": ["Gateway"]}])
    assert sorted(gateways["ServiceNames"]) == ["com.amazonaws.us-east-1.dynamodb", S3]

    page = ec2.describe_vpc_endpoint_services(MaxResults=2)
    assert page["ServiceNames"] == names[:2]
    rest = ec2.describe_vpc_endpoint_services(NextToken=page["NextToken"])
    assert rest["ServiceNames"] == names[2:] and "NextToken" not in rest

    with pytest.raises(ClientError) as exc:
        ec2.describe_vpc_endpoint_services(ServiceNames=["s3"])
    assert _code(exc) == "InvalidServiceName"
    assert "The Vpc Endpoint Service 's3' does not exist" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        ec2.describe_vpc_endpoint_services(Filters=[{"Name": "ServiceType", "Values": ["Gateway"]}])
    assert _code(exc) == "InvalidFilter"


def test_gateway_endpoint_routes(ec2: Any, cove_server: EmbeddedServer) -> None:
    vpc_id = _vpc(ec2)
    rtb1 = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    rtb2 = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    pl_id = prefix_lists.aws_prefix_list_id("us-east-1", S3)

    ep = ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=S3, RouteTableIds=[rtb1])["VpcEndpoint"]
    vpce = ep["VpcEndpointId"]
    assert ep["VpcEndpointType"] == "Gateway" and ep["State"] == "available"
    assert ep["RouteTableIds"] == [rtb1] and ep["PrivateDnsEnabled"] is False
    assert ep["PolicyDocument"] == endpoints.DEFAULT_GATEWAY_POLICY
    assert json.loads(ep["PolicyDocument"])["Statement"] == [
        {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}
    ]

    def endpoint_routes(rtb: str) -> list[dict[str, Any]]:
        table = ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]
        return [r for r in table["Routes"] if r.get("DestinationPrefixListId") == pl_id]

    routes = endpoint_routes(rtb1)
    assert len(routes) == 1 and routes[0]["GatewayId"] == vpce
    assert endpoint_routes(rtb2) == []

    ec2.modify_vpc_endpoint(VpcEndpointId=vpce, AddRouteTableIds=[rtb2], RemoveRouteTableIds=[rtb1])
    assert endpoint_routes(rtb1) == [] and len(endpoint_routes(rtb2)) == 1
    described = ec2.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"][0]
    assert described["RouteTableIds"] == [rtb2]

    by_filter = ec2.describe_vpc_endpoints(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "vpc-endpoint-type", "Values": ["Gateway"]}]
    )["VpcEndpoints"]
    assert [e["VpcEndpointId"] for e in by_filter] == [vpce]
    summary = _summaries(cove_server, vpc_id)
    assert [(e.endpoint_id, e.endpoint_type, e.route_table_ids) for e in summary] == [
        (vpce, "Gateway", [rtb2])
    ]
    assert summary[0].service_name == S3 and summary[0].policy_document == endpoints.DEFAULT_GATEWAY_POLICY

    # A VPC with an endpoint cannot be deleted.
    with pytest.raises(ClientError) as exc:
        ec2.delete_vpc(VpcId=vpc_id)
    assert _code(exc) == "DependencyViolation"

    out = ec2.delete_vpc_endpoints(VpcEndpointIds=[vpce, "vpce-00000000000000000"])
    assert [u["ResourceId"] for u in out["Unsuccessful"]] == ["vpce-00000000000000000"]
    assert endpoint_routes(rtb2) == []
    gone = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["VpcEndpoints"]
    assert [e["State"] for e in gone] == ["deleted"]


def _summaries(server: EmbeddedServer, vpc_id: str) -> list[endpoints.EndpointSummary]:
    # The explain-layer view, read straight from the server's database.
    with server.cove.db.read() as s:
        return endpoints.endpoints_in_vpc(s, vpc_id)


def test_interface_endpoint_enis(ec2: Any) -> None:
    vpc_id = _vpc(ec2)
    sub_a = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.1.0/24", AvailabilityZone="us-east-1a")["Subnet"]
    sub_b = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.2.0/24", AvailabilityZone="us-east-1b")["Subnet"]
    sub_a2 = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.3.0/24", AvailabilityZone="us-east-1a")[
        "Subnet"
    ]
    sg = ec2.create_security_group(GroupName="vpce", Description="endpoint", VpcId=vpc_id)["GroupId"]
    service = "com.amazonaws.us-east-1.sagemaker.api"

    with pytest.raises(ClientError) as exc:
        ec2.create_vpc_endpoint(
            VpcId=vpc_id,
            ServiceName=service,
            VpcEndpointType="Interface",
            SubnetIds=[sub_a["SubnetId"], sub_a2["SubnetId"]],
        )
    assert _code(exc) == "DuplicateSubnetsInSameZone"

    ep = ec2.create_vpc_endpoint(
        VpcId=vpc_id,
        ServiceName=service,
        VpcEndpointType="Interface",
        SubnetIds=[sub_a["SubnetId"], sub_b["SubnetId"]],
        SecurityGroupIds=[sg],
    )["VpcEndpoint"]
    vpce = ep["VpcEndpointId"]
    assert ep["PrivateDnsEnabled"] is True and ep["State"] == "available"
    assert ep["PolicyDocument"] == endpoints.DEFAULT_INTERFACE_POLICY
    assert [g["GroupId"] for g in ep["Groups"]] == [sg]
    assert ep["SubnetIds"] == [sub_a["SubnetId"], sub_b["SubnetId"]]
    assert len(ep["NetworkInterfaceIds"]) == 2
    names = [d["DnsName"] for d in ep["DnsEntries"]]
    assert names[0].startswith(vpce) and names[0].endswith(".api.sagemaker.us-east-1.vpce.amazonaws.com")
    assert "api.sagemaker.us-east-1.amazonaws.com" in names

    enis = ec2.describe_network_interfaces(NetworkInterfaceIds=ep["NetworkInterfaceIds"])["NetworkInterfaces"]
    assert {e["SubnetId"] for e in enis} == {sub_a["SubnetId"], sub_b["SubnetId"]}
    for eni in enis:
        assert eni["InterfaceType"] == "vpc_endpoint" and eni["RequesterManaged"] is True
        assert eni["Description"] == f"VPC Endpoint Interface {vpce}"
        assert [g["GroupId"] for g in eni["Groups"]] == [sg]

    ec2.modify_vpc_endpoint(VpcEndpointId=vpce, RemoveSubnetIds=[sub_b["SubnetId"]])
    after = ec2.describe_vpc_endpoints(VpcEndpointIds=[vpce])["VpcEndpoints"][0]
    assert after["SubnetIds"] == [sub_a["SubnetId"]] and len(after["NetworkInterfaceIds"]) == 1

    ec2.delete_vpc_endpoints(VpcEndpointIds=[vpce])
    left = ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
        "NetworkInterfaces"
    ]
    assert left == []


def test_default_security_group_and_private_dns_rules(ec2: Any) -> None:
    vpc_id = _vpc(ec2, dns=False)
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.20.1.0/24")["Subnet"]["SubnetId"]
    service = "com.amazonaws.us-east-1.sts"
    with pytest.raises(ClientError) as exc:
        ec2.create_vpc_endpoint(
            VpcId=vpc_id, ServiceName=service, VpcEndpointType="Interface", SubnetIds=[subnet]
        )
    assert _code(exc) == "InvalidParameter"
    assert "enableDnsHostnames" in exc.value.response["Error"]["Message"]

    ep = ec2.create_vpc_endpoint(
        VpcId=vpc_id,
        ServiceName=service,
        VpcEndpointType="Interface",
        SubnetIds=[subnet],
        PrivateDnsEnabled=False,
    )["VpcEndpoint"]
    default_sg = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    assert [g["GroupId"] for g in ep["Groups"]] == [default_sg]
    assert ep["PrivateDnsEnabled"] is False
    ec2.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])


def test_policies_and_errors(ec2: Any) -> None:
    vpc_id = _vpc(ec2)
    policy = json.dumps(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": "arn:aws:s3:::b/*",
                }
            ]
        }
    )
    ep = ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=S3, PolicyDocument=policy)["VpcEndpoint"]
    assert ep["PolicyDocument"] == policy
    ec2.modify_vpc_endpoint(VpcEndpointId=ep["VpcEndpointId"], ResetPolicy=True)
    reset = ec2.describe_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"]])["VpcEndpoints"][0]
    assert reset["PolicyDocument"] == endpoints.DEFAULT_GATEWAY_POLICY

    for bad in ("not json", json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})):
        with pytest.raises(ClientError) as exc:
            ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=S3, PolicyDocument=bad)
        assert _code(exc) == "InvalidPolicyDocument"
        assert exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        ec2.modify_vpc_endpoint(VpcEndpointId=ep["VpcEndpointId"], PolicyDocument="{")
    assert _code(exc) == "InvalidPolicyDocument"

    with pytest.raises(ClientError) as exc:
        ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName="com.amazonaws.us-east-1.nope")
    assert _code(exc) == "InvalidServiceName"
    with pytest.raises(ClientError) as exc:
        ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=S3, VpcEndpointType="GatewayLoadBalancer")
    assert _code(exc) == "InvalidParameter"
    with pytest.raises(ClientError) as exc:
        ec2.create_vpc_endpoint(VpcId="vpc-00000000000000000", ServiceName=S3)
    assert _code(exc) == "InvalidVpcID.NotFound"
    with pytest.raises(ClientError) as exc:
        ec2.describe_vpc_endpoints(VpcEndpointIds=["vpce-00000000000000000"])
    assert _code(exc) == "InvalidVpcEndpointId.NotFound"

    again = ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=S3, ClientToken="tok-1")["VpcEndpoint"]
    same = ec2.create_vpc_endpoint(VpcId=vpc_id, ServiceName=S3, ClientToken="tok-1")["VpcEndpoint"]
    assert again["VpcEndpointId"] == same["VpcEndpointId"]
    ec2.delete_vpc_endpoints(VpcEndpointIds=[ep["VpcEndpointId"], again["VpcEndpointId"]])
