"""Route tables through boto3 against a live Cove: routes, targets, associations, main table, errors."""

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
def vpc(ec2: Any) -> Iterator[dict[str, str]]:
    vpc_id = ec2.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.3.1.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    yield {"vpc": vpc_id, "subnet": subnet_id, "igw": igw}
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    for t in tables:
        for a in t["Associations"]:
            if not a["Main"]:
                ec2.disassociate_route_table(AssociationId=a["RouteTableAssociationId"])
    for t in tables:
        if not any(a["Main"] for a in t["Associations"]):
            ec2.delete_route_table(RouteTableId=t["RouteTableId"])
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc_id)
    ec2.delete_internet_gateway(InternetGatewayId=igw)
    for eni in ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[
        "NetworkInterfaces"
    ]:
        ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    ec2.delete_subnet(SubnetId=subnet_id)
    ec2.delete_vpc(VpcId=vpc_id)


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def _table(ec2: Any, table_id: str) -> dict[str, Any]:
    return dict(ec2.describe_route_tables(RouteTableIds=[table_id])["RouteTables"][0])


def test_routes_to_igw_and_errors(ec2: Any, vpc: dict[str, str]) -> None:
    table = ec2.create_route_table(VpcId=vpc["vpc"])["RouteTable"]
    rtb = table["RouteTableId"]
    assert table["Associations"] == [] and table["Routes"][0]["GatewayId"] == "local"
    ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=vpc["igw"])
    routes = _table(ec2, rtb)["Routes"]
    assert {
        "DestinationCidrBlock": "0.0.0.0/0",
        "GatewayId": vpc["igw"],
        "Origin": "CreateRoute",
        "State": "active",
    } in routes
    with pytest.raises(ClientError) as exc:
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0", GatewayId=vpc["igw"])
    assert _code(exc) == "RouteAlreadyExists"
    with pytest.raises(ClientError) as exc:
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="169.254.169.0/24", GatewayId=vpc["igw"])
    assert _code(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="10.3.1.0/25", GatewayId=vpc["igw"])
    assert _code(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="1000.0.0.0/8", GatewayId=vpc["igw"])
    assert _code(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        ec2.delete_route(RouteTableId=rtb, DestinationCidrBlock="10.3.0.0/16")
    assert _code(exc) == "InvalidParameterValue"
    with pytest.raises(ClientError) as exc:
        ec2.delete_route(RouteTableId=rtb, DestinationCidrBlock="11.0.0.0/8")
    assert _code(exc) == "InvalidRoute.NotFound"
    found = ec2.describe_route_tables(
        Filters=[
            {"Name": "route.gateway-id", "Values": [vpc["igw"]]},
            {"Name": "vpc-id", "Values": [vpc["vpc"]]},
        ]
    )["RouteTables"]
    assert [t["RouteTableId"] for t in found] == [rtb]
    ec2.delete_route(RouteTableId=rtb, DestinationCidrBlock="0.0.0.0/0")
    assert len(_table(ec2, rtb)["Routes"]) == 1


def test_route_to_interface_goes_blackhole(ec2: Any, vpc: dict[str, str]) -> None:
    rtb = ec2.create_route_table(VpcId=vpc["vpc"])["RouteTable"]["RouteTableId"]
    eni = ec2.create_network_interface(SubnetId=vpc["subnet"])["NetworkInterface"]["NetworkInterfaceId"]
    ec2.create_route(RouteTableId=rtb, DestinationCidrBlock="192.168.0.0/16", NetworkInterfaceId=eni)
    ec2.replace_route(RouteTableId=rtb, DestinationCidrBlock="192.168.0.0/16", GatewayId=vpc["igw"])
    route = next(r for r in _table(ec2, rtb)["Routes"] if r["DestinationCidrBlock"] == "192.168.0.0/16")
    assert route["GatewayId"] == vpc["igw"] and "NetworkInterfaceId" not in route
    ec2.replace_route(RouteTableId=rtb, DestinationCidrBlock="192.168.0.0/16", NetworkInterfaceId=eni)
    ec2.delete_network_interface(NetworkInterfaceId=eni)
    route = next(r for r in _table(ec2, rtb)["Routes"] if r["DestinationCidrBlock"] == "192.168.0.0/16")
    assert route["State"] == "blackhole"


def test_associations_and_main_table(ec2: Any, vpc: dict[str, str]) -> None:
    rtb = ec2.create_route_table(VpcId=vpc["vpc"])["RouteTable"]["RouteTableId"]
    assoc = ec2.associate_route_table(RouteTableId=rtb, SubnetId=vpc["subnet"])
    assert assoc["AssociationState"] == {"State": "associated"}
    by_subnet = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [vpc["subnet"]]}]
    )
    assert [t["RouteTableId"] for t in by_subnet["RouteTables"]] == [rtb]
    with pytest.raises(ClientError) as exc:
        ec2.delete_route_table(RouteTableId=rtb)
    assert _code(exc) == "DependencyViolation"
    other = ec2.create_route_table(VpcId=vpc["vpc"])["RouteTable"]["RouteTableId"]
    with pytest.raises(ClientError) as exc:
        ec2.associate_route_table(RouteTableId=other, SubnetId=vpc["subnet"])
    assert _code(exc) == "Resource.AlreadyAssociated"
    new_id = ec2.replace_route_table_association(AssociationId=assoc["AssociationId"], RouteTableId=other)
    assert new_id["NewAssociationId"] != assoc["AssociationId"]
    assert _table(ec2, other)["Associations"][0]["SubnetId"] == vpc["subnet"]
    # Replacing with the table already associated changes nothing, the id included.
    same = ec2.replace_route_table_association(AssociationId=new_id["NewAssociationId"], RouteTableId=other)
    assert same["NewAssociationId"] == new_id["NewAssociationId"]
    ec2.disassociate_route_table(AssociationId=new_id["NewAssociationId"])
    with pytest.raises(ClientError) as exc:
        ec2.disassociate_route_table(AssociationId=new_id["NewAssociationId"])
    assert _code(exc) == "InvalidAssociationID.NotFound"
    # Make `rtb` the main table, then the old main table becomes deletable.
    main = ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc["vpc"]]}, {"Name": "association.main", "Values": ["true"]}]
    )["RouteTables"][0]
    main_assoc = main["Associations"][0]["RouteTableAssociationId"]
    with pytest.raises(ClientError) as exc:
        ec2.delete_route_table(RouteTableId=main["RouteTableId"])
    assert _code(exc) == "DependencyViolation"
    with pytest.raises(ClientError) as exc:
        ec2.disassociate_route_table(AssociationId=main_assoc)
    assert _code(exc) == "InvalidParameterValue"
    ec2.replace_route_table_association(AssociationId=main_assoc, RouteTableId=rtb)
    assert _table(ec2, rtb)["Associations"][0]["Main"] is True
    ec2.delete_route_table(RouteTableId=main["RouteTableId"])


def test_unknown_route_table(ec2: Any) -> None:
    with pytest.raises(ClientError) as exc:
        ec2.describe_route_tables(RouteTableIds=["rtb-00000000000000000"])
    assert _code(exc) == "InvalidRouteTableID.NotFound"
