"""Subnets: CIDR placement inside the VPC, availability zones, attributes and free-address counting."""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cove.services.ec2 import regions, vpcs
from cove.services.ec2.errors import Ec2Error, invalid_value, not_found
from cove.services.ec2.filters import FilterSpec, apply_filters, field, path
from cove.services.ec2.ids import new_id
from cove.services.ec2.paging import paginate
from cove.services.ec2.tables.topology import NetworkInterface, PrivateIp, RouteTableAssociation, Subnet, Vpc
from cove.services.ec2.tags import tags_from_specifications

__all__ = [
    "RESERVED_PER_SUBNET",
    "create_subnet",
    "delete_subnet",
    "describe_subnets",
    "get_subnet",
    "modify_subnet_attribute",
    "new_subnet",
    "reserved_addresses",
    "subnet_view",
    "used_addresses",
]

RESERVED_PER_SUBNET = 5

_FILTERS: FilterSpec = {
    "availability-zone": field("AvailabilityZone"),
    "availabilityZone": field("AvailabilityZone"),
    "availability-zone-id": field("AvailabilityZoneId"),
    "available-ip-address-count": field("AvailableIpAddressCount"),
    "cidr": field("CidrBlock"),
    "cidr-block": field("CidrBlock"),
    "cidrBlock": field("CidrBlock"),
    "customer-owned-ipv4-pool": field("CustomerOwnedIpv4Pool"),
    "default-for-az": field("DefaultForAz"),
    "defaultForAz": field("DefaultForAz"),
    "enable-dns64": field("EnableDns64"),
    "enable-lni-at-device-index": field("EnableLniAtDeviceIndex"),
    "ipv6-cidr-block-association.ipv6-cidr-block": path("Ipv6CidrBlockAssociationSet", "Ipv6CidrBlock"),
    "ipv6-cidr-block-association.association-id": path("Ipv6CidrBlockAssociationSet", "AssociationId"),
    "ipv6-cidr-block-association.state": path("Ipv6CidrBlockAssociationSet", "Ipv6CidrBlockState", "State"),
    "ipv6-native": field("Ipv6Native"),
    "map-customer-owned-ip-on-launch": field("MapCustomerOwnedIpOnLaunch"),
    "map-public-ip-on-launch": field("MapPublicIpOnLaunch"),
    "outpost-arn": field("OutpostArn"),
    "owner-id": field("OwnerId"),
    "private-dns-name-options-on-launch.hostname-type": path("PrivateDnsNameOptionsOnLaunch", "HostnameType"),
    "private-dns-name-options-on-launch.enable-resource-name-dns-a-record": path(
        "PrivateDnsNameOptionsOnLaunch", "EnableResourceNameDnsARecord"
    ),
    "private-dns-name-options-on-launch.enable-resource-name-dns-aaaa-record": path(
        "PrivateDnsNameOptionsOnLaunch", "EnableResourceNameDnsAAAARecord"
    ),
    "state": field("State"),
    "subnet-arn": field("SubnetArn"),
    "subnet-id": field("SubnetId"),
    "vpc-id": field("VpcId"),
}

# ModifySubnetAttribute's boolean switches kept in ``Subnet.attributes``, by Describe member name.
_BOOL_ATTRIBUTES = {
    "MapCustomerOwnedIpOnLaunch": "MapCustomerOwnedIpOnLaunch",
    "EnableDns64": "EnableDns64",
    "EnableResourceNameDnsARecordOnLaunch": "EnableResourceNameDnsARecord",
    "EnableResourceNameDnsAAAARecordOnLaunch": "EnableResourceNameDnsAAAARecord",
}


def reserved_addresses(cidr: str) -> set[str]:
    """The five addresses AWS keeps in every subnet: network, router, DNS, future use, broadcast."""
    net = ipaddress.IPv4Network(cidr)
    first = int(net.network_address)
    return {str(ipaddress.IPv4Address(first + i)) for i in range(4)} | {str(net.broadcast_address)}


def used_addresses(session: Session, subnet_ids: list[str]) -> dict[str, int]:
    rows = session.execute(
        select(PrivateIp.subnet_id, func.count())
        .where(PrivateIp.subnet_id.in_(subnet_ids))
        .group_by(PrivateIp.subnet_id)
    )
    return {subnet_id: int(count) for subnet_id, count in rows}


def subnet_view(subnet: Subnet, used: int = 0) -> dict[str, Any]:
    size = ipaddress.IPv4Network(subnet.cidr_block).num_addresses
    attrs = subnet.attributes or {}
    view: dict[str, Any] = {
        "AvailabilityZone": subnet.availability_zone,
        "AvailabilityZoneId": subnet.availability_zone_id,
        "AvailableIpAddressCount": max(size - RESERVED_PER_SUBNET - used, 0),
        "CidrBlock": subnet.cidr_block,
        "DefaultForAz": subnet.default_for_az,
        "MapPublicIpOnLaunch": subnet.map_public_ip_on_launch,
        "MapCustomerOwnedIpOnLaunch": bool(attrs.get("MapCustomerOwnedIpOnLaunch", False)),
        "State": subnet.state,
        "SubnetId": subnet.id,
        "VpcId": subnet.vpc_id,
        "OwnerId": subnet.account_id,
        "AssignIpv6AddressOnCreation": subnet.assign_ipv6_address_on_creation,
        "Ipv6CidrBlockAssociationSet": [dict(a) for a in subnet.ipv6_cidr_blocks],
        "SubnetArn": f"arn:aws:ec2:{subnet.region}:{subnet.account_id}:subnet/{subnet.id}",
        "EnableDns64": bool(attrs.get("EnableDns64", False)),
        "Ipv6Native": bool(attrs.get("Ipv6Native", False)),
        "PrivateDnsNameOptionsOnLaunch": {
            "HostnameType": attrs.get("HostnameType", "ip-name"),
            "EnableResourceNameDnsARecord": bool(attrs.get("EnableResourceNameDnsARecord", False)),
            "EnableResourceNameDnsAAAARecord": bool(attrs.get("EnableResourceNameDnsAAAARecord", False)),
        },
        "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
    }
    if "EnableLniAtDeviceIndex" in attrs:
        view["EnableLniAtDeviceIndex"] = attrs["EnableLniAtDeviceIndex"]
    if subnet.tags:
        view["Tags"] = list(subnet.tags)
    return view


def get_subnet(session: Session, account_id: str, region: str, subnet_id: str) -> Subnet:
    subnet = session.get(Subnet, subnet_id)
    if subnet is None or subnet.account_id != account_id or subnet.region != region:
        raise not_found("InvalidSubnetID.NotFound", "subnet ID", subnet_id)
    return subnet


def new_subnet(
    session: Session,
    vpc: Vpc,
    cidr: str,
    zone: str,
    zone_id: str,
    *,
    default_for_az: bool = False,
    map_public_ip_on_launch: bool = False,
    tags: list[dict[str, str]] | None = None,
    ipv6_cidr: str | None = None,
) -> Subnet:
    ipv6 = []
    if ipv6_cidr:
        ipv6 = [
            {
                "AssociationId": new_id("subnet-cidr-assoc"),
                "Ipv6CidrBlock": ipv6_cidr,
                "Ipv6CidrBlockState": {"State": "associated"},
            }
        ]
    subnet = Subnet(
        id=new_id("subnet"),
        account_id=vpc.account_id,
        region=vpc.region,
        vpc_id=vpc.id,
        cidr_block=cidr,
        ipv6_cidr_blocks=ipv6,
        availability_zone=zone,
        availability_zone_id=zone_id,
        state="available",
        default_for_az=default_for_az,
        map_public_ip_on_launch=map_public_ip_on_launch,
        assign_ipv6_address_on_creation=False,
        attributes={},
        tags=tags or [],
    )
    session.add(subnet)
    session.flush()
    return subnet


def _zone(region: str, params: dict[str, Any]) -> tuple[str, str]:
    zones = regions.availability_zones(region)
    name, zone_id = params.get("AvailabilityZone"), params.get("AvailabilityZoneId")
    if name is None and zone_id is None:
        return zones[0]
    for zn, zi in zones:
        if (name is None or zn == name) and (zone_id is None or zi == zone_id):
            return zn, zi
    shown = name if name is not None else zone_id
    member = "availabilityZone" if name is not None else "availabilityZoneId"
    raise invalid_value(
        f"Value ({shown}) for parameter {member} is invalid. Subnets can currently only be created in the "
        f"following availability zones: {', '.join(z for z, _ in zones)}."
    )


def _subnet_ipv6(vpc: Vpc, raw: str) -> str:
    try:
        net = ipaddress.IPv6Network(raw, strict=False)
    except ValueError:
        raise Ec2Error(f"The IPv6 CIDR '{raw}' is invalid.", code="InvalidSubnet.Range") from None
    inside = any(net.subnet_of(ipaddress.IPv6Network(a["Ipv6CidrBlock"])) for a in vpc.ipv6_cidr_blocks)
    if net.prefixlen != 64 or not inside:
        raise Ec2Error(f"The IPv6 CIDR '{raw}' is invalid.", code="InvalidSubnet.Range")
    return str(net)


def create_subnet(session: Session, account_id: str, region: str, params: dict[str, Any]) -> Subnet:
    vpc = vpcs.get_vpc(session, account_id, region, params["VpcId"])
    raw = params.get("CidrBlock")
    cidr = vpcs.cidr_parameter(raw, "InvalidSubnet.Range")
    net = ipaddress.IPv4Network(cidr)
    if not any(net.subnet_of(ipaddress.IPv4Network(a["CidrBlock"])) for a in vpc.cidr_blocks):
        raise Ec2Error(f"The CIDR '{raw}' is invalid.", code="InvalidSubnet.Range")
    for other in session.scalars(select(Subnet.cidr_block).where(Subnet.vpc_id == vpc.id)):
        if net.overlaps(ipaddress.IPv4Network(other)):
            raise Ec2Error(f"The CIDR '{raw}' conflicts with another subnet", code="InvalidSubnet.Conflict")
    zone, zone_id = _zone(region, params)
    ipv6 = _subnet_ipv6(vpc, str(params["Ipv6CidrBlock"])) if params.get("Ipv6CidrBlock") else None
    tags = tags_from_specifications(params.get("TagSpecifications"), "subnet")
    return new_subnet(session, vpc, cidr, zone, zone_id, tags=tags, ipv6_cidr=ipv6)


def describe_subnets(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    query = (
        select(Subnet)
        .where(Subnet.account_id == account_id, Subnet.region == region)
        .order_by(Subnet.created, Subnet.id)
    )
    ids = params.get("SubnetIds") or []
    if ids:
        query = query.where(Subnet.id.in_(ids))
    rows = list(session.scalars(query))
    found = {s.id for s in rows}
    for subnet_id in ids:
        if subnet_id not in found:
            raise not_found("InvalidSubnetID.NotFound", "subnet ID", subnet_id)
    used = used_addresses(session, [s.id for s in rows])
    views = apply_filters([subnet_view(s, used.get(s.id, 0)) for s in rows], params.get("Filters"), _FILTERS)
    page, extra = paginate(views, params.get("MaxResults"), params.get("NextToken"))
    return {"Subnets": page, **extra}


def delete_subnet(session: Session, account_id: str, region: str, subnet_id: str) -> None:
    subnet = get_subnet(session, account_id, region, subnet_id)
    if session.scalars(
        select(NetworkInterface.id).where(NetworkInterface.subnet_id == subnet_id).limit(1)
    ).first():
        raise Ec2Error(
            f"The subnet '{subnet_id}' has dependencies and cannot be deleted.", code="DependencyViolation"
        )
    for assoc in session.scalars(
        select(RouteTableAssociation).where(RouteTableAssociation.subnet_id == subnet_id)
    ):
        session.delete(assoc)
    session.delete(subnet)


def modify_subnet_attribute(session: Session, account_id: str, region: str, params: dict[str, Any]) -> None:
    subnet = get_subnet(session, account_id, region, params["SubnetId"])
    attrs = dict(subnet.attributes or {})

    def flag(name: str) -> bool | None:
        value = params.get(name)
        return None if value is None else bool(value.get("Value", False))

    if (v := flag("MapPublicIpOnLaunch")) is not None:
        subnet.map_public_ip_on_launch = v
    if (v := flag("AssignIpv6AddressOnCreation")) is not None:
        subnet.assign_ipv6_address_on_creation = v
    for member, key in _BOOL_ATTRIBUTES.items():
        if (v := flag(member)) is not None:
            attrs[key] = v
    if params.get("PrivateDnsHostnameTypeOnLaunch"):
        attrs["HostnameType"] = params["PrivateDnsHostnameTypeOnLaunch"]
    if params.get("EnableLniAtDeviceIndex") is not None:
        attrs["EnableLniAtDeviceIndex"] = int(params["EnableLniAtDeviceIndex"])
    if (v := flag("DisableLniAtDeviceIndex")) is not None and v:
        attrs.pop("EnableLniAtDeviceIndex", None)
    subnet.attributes = attrs
