"""Route tables: routes (local, static, endpoint), subnet/gateway associations and the main table."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cove.services.ec2 import vpcs
from cove.services.ec2.errors import Ec2Error, invalid_value, not_found
from cove.services.ec2.filters import FilterSpec, apply_filters, field, path
from cove.services.ec2.ids import new_id
from cove.services.ec2.paging import paginate
from cove.services.ec2.tables.topology import (
    InternetGateway,
    NatGateway,
    NetworkInterface,
    Route,
    RouteTable,
    RouteTableAssociation,
    Subnet,
    Vpc,
)
from cove.services.ec2.tags import tags_from_specifications

__all__ = [
    "add_endpoint_route",
    "add_local_route",
    "associate_route_table",
    "create_main_route_table",
    "create_route",
    "create_route_table",
    "delete_route",
    "delete_route_table",
    "delete_vpc_route_tables",
    "describe_route_tables",
    "disassociate_route_table",
    "get_route_table",
    "main_route_table",
    "put_route",
    "remove_endpoint_route",
    "remove_local_route",
    "replace_route",
    "replace_route_table_association",
    "route_table_for_subnet",
    "route_table_view",
]

# CreateRoute's target parameters and the Describe member each shows up as (GWLB endpoints and
# gateway endpoints both appear as GatewayId).
_TARGETS = {
    "GatewayId": "GatewayId",
    "NatGatewayId": "NatGatewayId",
    "NetworkInterfaceId": "NetworkInterfaceId",
    "VpcEndpointId": "GatewayId",
    "InstanceId": "InstanceId",
    "VpcPeeringConnectionId": "VpcPeeringConnectionId",
    "TransitGatewayId": "TransitGatewayId",
    "EgressOnlyInternetGatewayId": "EgressOnlyInternetGatewayId",
    "CarrierGatewayId": "CarrierGatewayId",
    "LocalGatewayId": "LocalGatewayId",
    "CoreNetworkArn": "CoreNetworkArn",
}
_RESERVED = ipaddress.IPv4Network("169.254.168.0/22")

_FILTERS: FilterSpec = {
    "association.gateway-id": path("Associations", "GatewayId"),
    "association.route-table-association-id": path("Associations", "RouteTableAssociationId"),
    "association.route-table-id": path("Associations", "RouteTableId"),
    "association.subnet-id": path("Associations", "SubnetId"),
    "association.main": path("Associations", "Main"),
    "owner-id": field("OwnerId"),
    "route-table-id": field("RouteTableId"),
    "route.destination-cidr-block": path("Routes", "DestinationCidrBlock"),
    "route.destination-ipv6-cidr-block": path("Routes", "DestinationIpv6CidrBlock"),
    "route.destination-prefix-list-id": path("Routes", "DestinationPrefixListId"),
    "route.egress-only-internet-gateway-id": path("Routes", "EgressOnlyInternetGatewayId"),
    "route.gateway-id": path("Routes", "GatewayId"),
    "route.instance-id": path("Routes", "InstanceId"),
    "route.nat-gateway-id": path("Routes", "NatGatewayId"),
    "route.network-interface-id": path("Routes", "NetworkInterfaceId"),
    "route.transit-gateway-id": path("Routes", "TransitGatewayId"),
    "route.origin": path("Routes", "Origin"),
    "route.state": path("Routes", "State"),
    "route.vpc-peering-connection-id": path("Routes", "VpcPeeringConnectionId"),
    "vpc-id": field("VpcId"),
}


def get_route_table(session: Session, account_id: str, region: str, table_id: str) -> RouteTable:
    table = session.get(RouteTable, table_id)
    if table is None or table.account_id != account_id or table.region != region:
        raise not_found("InvalidRouteTableID.NotFound", "routeTable ID", table_id)
    return table


def _new_table(session: Session, vpc: Vpc, tags: list[dict[str, str]] | None = None) -> RouteTable:
    table = RouteTable(
        id=new_id("rtb"), account_id=vpc.account_id, region=vpc.region, vpc_id=vpc.id, tags=tags or []
    )
    session.add(table)
    session.flush()
    for assoc in vpc.cidr_blocks:
        put_route(session, table, assoc["CidrBlock"], "GatewayId", "local", origin="CreateRouteTable")
    for assoc in vpc.ipv6_cidr_blocks:
        put_route(session, table, assoc["Ipv6CidrBlock"], "GatewayId", "local", origin="CreateRouteTable")
    return table


def create_main_route_table(session: Session, vpc: Vpc) -> RouteTable:
    table = _new_table(session, vpc)
    session.add(
        RouteTableAssociation(id=new_id("rtbassoc"), route_table_id=table.id, vpc_id=vpc.id, main=True)
    )
    session.flush()
    return table


def main_route_table(session: Session, vpc_id: str) -> RouteTable:
    table = session.scalars(
        select(RouteTable)
        .join(RouteTableAssociation, RouteTableAssociation.route_table_id == RouteTable.id)
        .where(RouteTableAssociation.vpc_id == vpc_id, RouteTableAssociation.main.is_(True))
    ).first()
    if table is None:
        raise Ec2Error(f"The vpc '{vpc_id}' has no main route table", code="InternalError")
    return table


def route_table_for_subnet(session: Session, subnet: Subnet) -> RouteTable:
    """The table a subnet's traffic uses: its explicit association, else the VPC's main table."""
    explicit = session.scalars(
        select(RouteTable)
        .join(RouteTableAssociation, RouteTableAssociation.route_table_id == RouteTable.id)
        .where(RouteTableAssociation.subnet_id == subnet.id)
    ).first()
    return explicit or main_route_table(session, subnet.vpc_id)


def _destination_columns(destination: str) -> dict[str, str | None]:
    if destination.startswith("pl-"):
        return {"destination_prefix_list_id": destination}
    if ":" in destination:
        return {"destination_ipv6_cidr_block": destination}
    return {"destination_cidr_block": destination}


def _find_route(session: Session, table_id: str, destination: str) -> Route | None:
    query = select(Route).where(Route.route_table_id == table_id)
    for column, value in _destination_columns(destination).items():
        query = query.where(getattr(Route, column) == value)
    return session.scalars(query).first()


def put_route(
    session: Session,
    table: RouteTable,
    destination: str,
    target_type: str,
    target_id: str,
    *,
    origin: str = "CreateRoute",
) -> Route:
    route = Route(
        route_table_id=table.id,
        target_type=target_type,
        target_id=target_id,
        origin=origin,
        **_destination_columns(destination),
    )
    session.add(route)
    session.flush()
    return route


def add_local_route(session: Session, vpc_id: str, cidr: str) -> None:
    for table in session.scalars(select(RouteTable).where(RouteTable.vpc_id == vpc_id)):
        put_route(session, table, cidr, "GatewayId", "local", origin="CreateRouteTable")


def remove_local_route(session: Session, vpc_id: str, cidr: str) -> None:
    for table_id in session.scalars(select(RouteTable.id).where(RouteTable.vpc_id == vpc_id)):
        route = _find_route(session, table_id, cidr)
        if route is not None and route.target_id == "local":
            session.delete(route)


def add_endpoint_route(session: Session, route_table_id: str, prefix_list_id: str, vpce_id: str) -> None:
    """A gateway endpoint's route (destination ``pl-…``, target ``vpce-…``); for the endpoints family."""
    existing = _find_route(session, route_table_id, prefix_list_id)
    if existing is not None:
        raise Ec2Error(
            f"route table {route_table_id} already has a route with destination-prefix-list-id {prefix_list_id}",
            code="RouteAlreadyExists",
        )
    table = session.get(RouteTable, route_table_id)
    if table is None:
        raise not_found("InvalidRouteTableID.NotFound", "routeTable ID", route_table_id)
    put_route(session, table, prefix_list_id, "GatewayId", vpce_id)


def remove_endpoint_route(session: Session, route_table_id: str, prefix_list_id: str, vpce_id: str) -> None:
    route = _find_route(session, route_table_id, prefix_list_id)
    if route is not None and route.target_id == vpce_id:
        session.delete(route)


def delete_vpc_route_tables(session: Session, vpc_id: str) -> None:
    table_ids = list(session.scalars(select(RouteTable.id).where(RouteTable.vpc_id == vpc_id)))
    session.execute(delete(RouteTableAssociation).where(RouteTableAssociation.vpc_id == vpc_id))
    session.execute(delete(Route).where(Route.route_table_id.in_(table_ids)))
    session.execute(delete(RouteTable).where(RouteTable.id.in_(table_ids)))


# Views


def _live_targets(session: Session, routes: list[Route], vpc_of: dict[str, str]) -> set[tuple[str, str]]:
    """(table id, target id) pairs whose target still exists (and, for IGWs, is attached to that VPC)."""
    ids = {r.target_id for r in routes}
    igws = {
        g.id: g.vpc_id for g in session.scalars(select(InternetGateway).where(InternetGateway.id.in_(ids)))
    }
    nats = set(
        session.scalars(
            select(NatGateway.id).where(
                NatGateway.id.in_(ids), NatGateway.state.in_(("pending", "available"))
            )
        )
    )
    enis = set(session.scalars(select(NetworkInterface.id).where(NetworkInterface.id.in_(ids))))
    live: set[tuple[str, str]] = set()
    for r in routes:
        tid = r.target_id
        if tid.startswith("igw-") or tid.startswith("eigw-"):
            ok = tid in igws and igws[tid] == vpc_of.get(r.route_table_id)
        elif tid.startswith("nat-"):
            ok = tid in nats
        elif tid.startswith("eni-"):
            ok = tid in enis
        else:
            ok = True
        if ok:
            live.add((r.route_table_id, tid))
    return live


def _route_view(route: Route, live: set[tuple[str, str]]) -> dict[str, Any]:
    view: dict[str, Any] = {}
    if route.destination_cidr_block:
        view["DestinationCidrBlock"] = route.destination_cidr_block
    if route.destination_ipv6_cidr_block:
        view["DestinationIpv6CidrBlock"] = route.destination_ipv6_cidr_block
    if route.destination_prefix_list_id:
        view["DestinationPrefixListId"] = route.destination_prefix_list_id
    view[route.target_type] = route.target_id
    view["Origin"] = route.origin
    view["State"] = "active" if (route.route_table_id, route.target_id) in live else "blackhole"
    return view


def _association_view(assoc: RouteTableAssociation) -> dict[str, Any]:
    view: dict[str, Any] = {
        "Main": assoc.main,
        "RouteTableAssociationId": assoc.id,
        "RouteTableId": assoc.route_table_id,
        "AssociationState": {"State": "associated"},
    }
    if assoc.subnet_id:
        view["SubnetId"] = assoc.subnet_id
    if assoc.gateway_id:
        view["GatewayId"] = assoc.gateway_id
    return view


def _views(session: Session, tables: list[RouteTable]) -> list[dict[str, Any]]:
    ids = [t.id for t in tables]
    routes = list(session.scalars(select(Route).where(Route.route_table_id.in_(ids)).order_by(Route.id)))
    assocs = list(
        session.scalars(
            select(RouteTableAssociation)
            .where(RouteTableAssociation.route_table_id.in_(ids))
            .order_by(RouteTableAssociation.main.desc(), RouteTableAssociation.id)
        )
    )
    live = _live_targets(session, routes, {t.id: t.vpc_id for t in tables})
    views = []
    for t in tables:
        view: dict[str, Any] = {
            "Associations": [_association_view(a) for a in assocs if a.route_table_id == t.id],
            "PropagatingVgws": [],
            "RouteTableId": t.id,
            "Routes": [_route_view(r, live) for r in routes if r.route_table_id == t.id],
            "Tags": list(t.tags),
            "VpcId": t.vpc_id,
            "OwnerId": t.account_id,
        }
        views.append(view)
    return views


def route_table_view(session: Session, table: RouteTable) -> dict[str, Any]:
    return _views(session, [table])[0]


def describe_route_tables(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    query = (
        select(RouteTable)
        .where(RouteTable.account_id == account_id, RouteTable.region == region)
        .order_by(RouteTable.created, RouteTable.id)
    )
    ids = params.get("RouteTableIds") or []
    if ids:
        query = query.where(RouteTable.id.in_(ids))
    rows = list(session.scalars(query))
    found = {t.id for t in rows}
    for table_id in ids:
        if table_id not in found:
            raise not_found("InvalidRouteTableID.NotFound", "routeTable ID", table_id)
    views = apply_filters(_views(session, rows), params.get("Filters"), _FILTERS)
    page, extra = paginate(views, params.get("MaxResults"), params.get("NextToken"))
    return {"RouteTables": page, **extra}


# Route tables and associations


def create_route_table(session: Session, account_id: str, region: str, params: dict[str, Any]) -> RouteTable:
    vpc = vpcs.get_vpc(session, account_id, region, params["VpcId"])
    return _new_table(session, vpc, tags_from_specifications(params.get("TagSpecifications"), "route-table"))


def delete_route_table(session: Session, account_id: str, region: str, table_id: str) -> None:
    table = get_route_table(session, account_id, region, table_id)
    if session.scalars(
        select(RouteTableAssociation.id).where(RouteTableAssociation.route_table_id == table.id)
    ).first():
        raise Ec2Error(
            f"The routeTable '{table_id}' has dependencies and cannot be deleted.", code="DependencyViolation"
        )
    session.execute(delete(Route).where(Route.route_table_id == table.id))
    session.delete(table)


def _get_association(
    session: Session, account_id: str, region: str, association_id: str
) -> RouteTableAssociation:
    assoc = session.get(RouteTableAssociation, association_id)
    table = session.get(RouteTable, assoc.route_table_id) if assoc else None
    if assoc is None or table is None or table.account_id != account_id or table.region != region:
        raise not_found("InvalidAssociationID.NotFound", "association ID", association_id)
    return assoc


def associate_route_table(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> RouteTableAssociation:
    table = get_route_table(session, account_id, region, params["RouteTableId"])
    subnet_id, gateway_id = params.get("SubnetId"), params.get("GatewayId")
    if bool(subnet_id) == bool(gateway_id):
        raise Ec2Error(
            "Exactly one of subnetId or gatewayId must be specified.", code="InvalidParameterCombination"
        )
    if subnet_id:
        subnet = session.get(Subnet, subnet_id)
        if subnet is None or subnet.account_id != account_id or subnet.region != region:
            raise not_found("InvalidSubnetID.NotFound", "subnet ID", subnet_id)
        owner_vpc = subnet.vpc_id
        taken = select(RouteTableAssociation).where(RouteTableAssociation.subnet_id == subnet_id)
    else:
        gw = session.get(InternetGateway, gateway_id)
        if gw is None or gw.account_id != account_id or gw.region != region:
            raise not_found("InvalidGatewayID.NotFound", "gateway ID", str(gateway_id))
        owner_vpc = gw.vpc_id or ""
        taken = select(RouteTableAssociation).where(RouteTableAssociation.gateway_id == gateway_id)
    if owner_vpc != table.vpc_id:
        raise invalid_value(
            f"Route table {table.id} and {'subnet' if subnet_id else 'gateway'} "
            f"{subnet_id or gateway_id} belong to different networks."
        )
    existing = session.scalars(taken).first()
    if existing is not None:
        if existing.route_table_id == table.id:
            return existing
        raise Ec2Error(
            f"the specified association for route table {table.id} conflicts with an existing association",
            code="Resource.AlreadyAssociated",
        )
    assoc = RouteTableAssociation(
        id=new_id("rtbassoc"),
        route_table_id=table.id,
        vpc_id=table.vpc_id,
        main=False,
        subnet_id=subnet_id,
        gateway_id=gateway_id,
    )
    session.add(assoc)
    session.flush()
    return assoc


def disassociate_route_table(session: Session, account_id: str, region: str, association_id: str) -> None:
    assoc = _get_association(session, account_id, region, association_id)
    if assoc.main:
        raise invalid_value(f"cannot disassociate the main route table association {association_id}")
    session.delete(assoc)


def replace_route_table_association(
    session: Session, account_id: str, region: str, association_id: str, table_id: str
) -> RouteTableAssociation:
    assoc = _get_association(session, account_id, region, association_id)
    table = get_route_table(session, account_id, region, table_id)
    if table.vpc_id != assoc.vpc_id:
        raise invalid_value(
            f"Route table {table_id} and association {association_id} belong to different networks."
        )
    if assoc.route_table_id == table.id:
        return assoc  # already there: nothing to replace, so the association keeps its id
    replacement = RouteTableAssociation(
        id=new_id("rtbassoc"),
        route_table_id=table.id,
        vpc_id=assoc.vpc_id,
        main=assoc.main,
        subnet_id=assoc.subnet_id,
        gateway_id=assoc.gateway_id,
    )
    session.delete(assoc)
    session.flush()
    session.add(replacement)
    session.flush()
    return replacement


# Routes


def _destination(params: dict[str, Any]) -> str:
    if params.get("DestinationCidrBlock"):
        raw = str(params["DestinationCidrBlock"])
        try:
            if "/" not in raw:
                raise ValueError(raw)
            return str(ipaddress.IPv4Network(raw, strict=False))
        except ValueError:
            raise invalid_value(
                f"Value ({raw}) for parameter destinationCidrBlock is invalid. This is not a valid CIDR block."
            ) from None
    if params.get("DestinationIpv6CidrBlock"):
        raw = str(params["DestinationIpv6CidrBlock"])
        try:
            return str(ipaddress.IPv6Network(raw, strict=False))
        except ValueError:
            raise invalid_value(
                f"Value ({raw}) for parameter destinationIpv6CidrBlock is invalid. This is not a valid CIDR block."
            ) from None
    if params.get("DestinationPrefixListId"):
        return str(params["DestinationPrefixListId"])
    raise Ec2Error(
        "The request must contain exactly one of DestinationCidrBlock, DestinationIpv6CidrBlock or "
        "DestinationPrefixListId",
        code="MissingParameter",
    )


def _target(session: Session, table: RouteTable, params: dict[str, Any]) -> tuple[str, str]:
    given = [(p, str(params[p])) for p in _TARGETS if params.get(p)]
    if len(given) != 1:
        raise Ec2Error(
            "The request must contain exactly one of gatewayId, natGatewayId, networkInterfaceId, "
            "vpcPeeringConnectionId, egressOnlyInternetGatewayId, transitGatewayId, carrierGatewayId, "
            "localGatewayId, coreNetworkArn, vpcEndpointId or instanceId",
            code="InvalidParameterCombination" if given else "MissingParameter",
        )
    param, target_id = given[0]
    if param == "GatewayId":
        if target_id.startswith("igw-"):
            gw = session.get(InternetGateway, target_id)
            if gw is None or gw.account_id != table.account_id or gw.region != table.region:
                raise not_found("InvalidGatewayID.NotFound", "gateway ID", target_id)
            if gw.vpc_id != table.vpc_id:
                raise invalid_value(
                    f"route table {table.id} and network gateway {target_id} belong to different networks"
                )
        elif not target_id.startswith(("vgw-", "vpce-")):
            raise not_found("InvalidGatewayID.NotFound", "gateway ID", target_id)
    elif param == "NatGatewayId":
        nat = session.get(NatGateway, target_id)
        if nat is None or nat.account_id != table.account_id or nat.state in ("deleting", "deleted"):
            raise Ec2Error(
                f"The natGateway ID '{target_id}' does not exist", code="InvalidNatGatewayID.NotFound"
            )
    elif param == "NetworkInterfaceId":
        eni = session.get(NetworkInterface, target_id)
        if eni is None or eni.account_id != table.account_id:
            raise not_found("InvalidNetworkInterfaceID.NotFound", "networkInterface ID", target_id)
    return _TARGETS[param], target_id


def _check_destination(session: Session, table: RouteTable, destination: str, target_type: str) -> None:
    if destination.startswith("pl-") or ":" in destination:
        return
    net = ipaddress.IPv4Network(destination)
    if net.subnet_of(_RESERVED):
        raise invalid_value(
            f"The destination CIDR block {destination} is equal to or more specific than "
            f"{_RESERVED}, which is reserved."
        )
    vpc = session.get(Vpc, table.vpc_id)
    for assoc in vpc.cidr_blocks if vpc else []:
        local = ipaddress.IPv4Network(assoc["CidrBlock"])
        if net == local:
            raise Ec2Error(
                f"The route identified by {destination} already exists.", code="RouteAlreadyExists"
            )
        if net.subnet_of(local):
            subnets = session.scalars(select(Subnet.cidr_block).where(Subnet.vpc_id == table.vpc_id))
            whole_subnet = destination in set(subnets)
            if not whole_subnet or target_type not in ("NatGatewayId", "NetworkInterfaceId", "GatewayId"):
                raise invalid_value(
                    f"The destination CIDR block {destination} is equal to or more specific than one of "
                    f"this VPC's CIDR blocks. This route can target only an interface or an instance."
                )


def create_route(session: Session, account_id: str, region: str, params: dict[str, Any]) -> None:
    table = get_route_table(session, account_id, region, params["RouteTableId"])
    destination = _destination(params)
    target_type, target_id = _target(session, table, params)
    _check_destination(session, table, destination, target_type)
    if _find_route(session, table.id, destination) is not None:
        raise Ec2Error(f"The route identified by {destination} already exists.", code="RouteAlreadyExists")
    put_route(session, table, destination, target_type, target_id)


def replace_route(session: Session, account_id: str, region: str, params: dict[str, Any]) -> None:
    table = get_route_table(session, account_id, region, params["RouteTableId"])
    destination = _destination(params)
    route = _find_route(session, table.id, destination)
    if route is None:
        raise invalid_value(
            f"There is no route defined for '{destination}' in the route table. Use CreateRoute instead."
        )
    if route.target_id == "local" and not (params.get("NetworkInterfaceId") or params.get("LocalTarget")):
        raise invalid_value(f"cannot replace local route {destination} in route table {table.id}")
    if params.get("LocalTarget"):
        route.target_type, route.target_id = "GatewayId", "local"
        return
    route.target_type, route.target_id = _target(session, table, params)
    route.origin = "CreateRoute"


def delete_route(session: Session, account_id: str, region: str, params: dict[str, Any]) -> None:
    table = get_route_table(session, account_id, region, params["RouteTableId"])
    destination = _destination(params)
    route = _find_route(session, table.id, destination)
    if route is None:
        kind = next(k for k, v in _destination_columns(destination).items() if v)
        member = kind.replace("_", "-").replace("destination-", "destination-")
        raise Ec2Error(
            f"no route with {member} {destination} in route table {table.id}", code="InvalidRoute.NotFound"
        )
    if route.target_id == "local":
        raise invalid_value(f"cannot remove local route {destination} in route table {table.id}")
    if route.destination_prefix_list_id and route.target_id.startswith("vpce-"):
        raise invalid_value(
            f"Route {destination} in route table {table.id} is managed by a VPC endpoint and cannot be deleted."
        )
    session.delete(route)
