"""Gateways out of a VPC: internet gateways (and egress-only ones), elastic IPs and NAT gateways.

Elastic IPs come from 198.19.0.0/16, the upper half of the benchmarking range 198.18.0.0/15, so
Cove's "public" addresses can never collide with a real one.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cove.services.ec2 import interfaces, subnets, vpcs
from cove.services.ec2.errors import Ec2Error, invalid_value, not_found
from cove.services.ec2.filters import FilterSpec, apply_filters, field, path
from cove.services.ec2.ids import new_id
from cove.services.ec2.paging import paginate
from cove.services.ec2.tables.topology import (
    Address,
    InternetGateway,
    NatGateway,
    NetworkInterface,
    PrivateIp,
)
from cove.services.ec2.tags import tags_from_specifications

__all__ = [
    "MAX_ADDRESSES",
    "PUBLIC_POOL",
    "allocate_address",
    "associate_address",
    "attach_internet_gateway",
    "create_egress_only_internet_gateway",
    "create_internet_gateway",
    "create_nat_gateway",
    "delete_egress_only_internet_gateway",
    "delete_internet_gateway",
    "delete_nat_gateway",
    "describe_addresses",
    "describe_egress_only_internet_gateways",
    "describe_internet_gateways",
    "describe_nat_gateways",
    "detach_internet_gateway",
    "disassociate_address",
    "egress_only_view",
    "internet_gateway_view",
    "max_addresses",
    "nat_gateway_view",
    "new_internet_gateway",
    "release_address",
]

PUBLIC_POOL = ipaddress.IPv4Network("198.19.0.0/16")
# AWS's default quota is 5 Elastic IPs per region, but it is adjustable and accounts commonly run with
# more; a test suite that allocates across many tests without releasing (as moto's does against a
# live server) needs dozens. So the default is generous and COVE_EC2_MAX_ADDRESSES sets the quota
# (5 gives AWS's out-of-the-box behaviour). Read per call so it can change without a restart.
MAX_ADDRESSES = 100


def max_addresses() -> int:
    """The Elastic IP quota per account and region: COVE_EC2_MAX_ADDRESSES, else MAX_ADDRESSES."""
    raw = os.environ.get("COVE_EC2_MAX_ADDRESSES", "").strip()
    try:
        return int(raw) if raw else MAX_ADDRESSES
    except ValueError:
        return MAX_ADDRESSES


_IGW_FILTERS: FilterSpec = {
    "attachment.state": path("Attachments", "State"),
    "attachment.vpc-id": path("Attachments", "VpcId"),
    "internet-gateway-id": field("InternetGatewayId"),
    "owner-id": field("OwnerId"),
}
_EIGW_FILTERS: FilterSpec = {
    "egress-only-internet-gateway-id": field("EgressOnlyInternetGatewayId"),
    "attachment.state": path("Attachments", "State"),
    "attachment.vpc-id": path("Attachments", "VpcId"),
}
_ADDRESS_FILTERS: FilterSpec = {
    "allocation-id": field("AllocationId"),
    "association-id": field("AssociationId"),
    "domain": field("Domain"),
    "instance-id": field("InstanceId"),
    "network-border-group": field("NetworkBorderGroup"),
    "network-interface-id": field("NetworkInterfaceId"),
    "network-interface-owner-id": field("NetworkInterfaceOwnerId"),
    "private-ip-address": field("PrivateIpAddress"),
    "public-ip": field("PublicIp"),
}
_NAT_FILTERS: FilterSpec = {
    "nat-gateway-id": field("NatGatewayId"),
    "state": field("State"),
    "subnet-id": field("SubnetId"),
    "vpc-id": field("VpcId"),
}


# Internet gateways


def _get_igw(
    session: Session, account_id: str, region: str, igw_id: str, kind: str = "internet"
) -> InternetGateway:
    igw = session.get(InternetGateway, igw_id)
    if igw is None or igw.account_id != account_id or igw.region != region or igw.kind != kind:
        if kind == "internet":
            raise not_found("InvalidInternetGatewayID.NotFound", "internetGateway ID", igw_id)
        raise not_found("InvalidGatewayID.NotFound", "gateway ID", igw_id)
    return igw


def new_internet_gateway(
    session: Session, account_id: str, region: str, tags: list[dict[str, str]] | None = None
) -> InternetGateway:
    igw = InternetGateway(
        id=new_id("igw"), account_id=account_id, region=region, kind="internet", tags=tags or []
    )
    session.add(igw)
    session.flush()
    return igw


def internet_gateway_view(igw: InternetGateway) -> dict[str, Any]:
    return {
        "Attachments": [{"State": "available", "VpcId": igw.vpc_id}] if igw.vpc_id else [],
        "InternetGatewayId": igw.id,
        "OwnerId": igw.account_id,
        "Tags": list(igw.tags),
    }


def create_internet_gateway(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> InternetGateway:
    tags = tags_from_specifications(params.get("TagSpecifications"), "internet-gateway")
    return new_internet_gateway(session, account_id, region, tags)


def attach_internet_gateway(session: Session, account_id: str, region: str, igw_id: str, vpc_id: str) -> None:
    igw = _get_igw(session, account_id, region, igw_id)
    vpc = vpcs.get_vpc(session, account_id, region, vpc_id)
    if igw.vpc_id is not None:
        raise Ec2Error(
            f"resource {igw_id} is already attached to network {igw.vpc_id}",
            code="Resource.AlreadyAssociated",
        )
    other = session.scalars(
        select(InternetGateway.id).where(InternetGateway.vpc_id == vpc.id, InternetGateway.kind == "internet")
    ).first()
    if other is not None:
        raise invalid_value(f"Network {vpc.id} already has an internet gateway attached")
    igw.vpc_id = vpc.id


def detach_internet_gateway(session: Session, account_id: str, region: str, igw_id: str, vpc_id: str) -> None:
    igw = _get_igw(session, account_id, region, igw_id)
    # No existence check on the VPC: a gateway is "not attached" to an unknown VPC as to any other.
    if igw.vpc_id != vpc_id:
        raise Ec2Error(f"resource {igw_id} is not attached to network {vpc_id}", code="Gateway.NotAttached")
    igw.vpc_id = None


def delete_internet_gateway(session: Session, account_id: str, region: str, igw_id: str) -> None:
    igw = _get_igw(session, account_id, region, igw_id)
    if igw.vpc_id is not None:
        raise Ec2Error(
            f"The internetGateway '{igw_id}' has dependencies and cannot be deleted.",
            code="DependencyViolation",
        )
    session.delete(igw)


def _scoped(session: Session, account_id: str, region: str, kind: str) -> list[InternetGateway]:
    return list(
        session.scalars(
            select(InternetGateway)
            .where(
                InternetGateway.account_id == account_id,
                InternetGateway.region == region,
                InternetGateway.kind == kind,
            )
            .order_by(InternetGateway.created, InternetGateway.id)
        )
    )


def describe_internet_gateways(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    rows = _scoped(session, account_id, region, "internet")
    ids = params.get("InternetGatewayIds") or []
    if ids:
        known = {g.id for g in rows}
        for igw_id in ids:
            if igw_id not in known:
                raise not_found("InvalidInternetGatewayID.NotFound", "internetGateway ID", igw_id)
        rows = [g for g in rows if g.id in ids]
    views = apply_filters([internet_gateway_view(g) for g in rows], params.get("Filters"), _IGW_FILTERS)
    page, extra = paginate(views, params.get("MaxResults"), params.get("NextToken"))
    return {"InternetGateways": page, **extra}


def egress_only_view(igw: InternetGateway) -> dict[str, Any]:
    return {
        "Attachments": [{"State": "attached", "VpcId": igw.vpc_id}] if igw.vpc_id else [],
        "EgressOnlyInternetGatewayId": igw.id,
        "Tags": list(igw.tags),
    }


def create_egress_only_internet_gateway(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> InternetGateway:
    try:
        vpc = vpcs.get_vpc(session, account_id, region, params["VpcId"])
    except Ec2Error as error:
        # This call words the missing VPC its own way.
        raise Ec2Error(f"VpcID {params['VpcId']} does not exist.", code=error.code) from None
    igw = InternetGateway(
        id=new_id("eigw"),
        account_id=account_id,
        region=region,
        kind="egress-only",
        vpc_id=vpc.id,
        tags=tags_from_specifications(params.get("TagSpecifications"), "egress-only-internet-gateway"),
    )
    session.add(igw)
    session.flush()
    return igw


def describe_egress_only_internet_gateways(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    rows = _scoped(session, account_id, region, "egress-only")
    ids = params.get("EgressOnlyInternetGatewayIds") or []
    if ids:
        known = {g.id for g in rows}
        for igw_id in ids:
            if igw_id not in known:
                raise not_found("InvalidGatewayID.NotFound", "gateway ID", igw_id)
        rows = [g for g in rows if g.id in ids]
    views = apply_filters([egress_only_view(g) for g in rows], params.get("Filters"), _EIGW_FILTERS)
    page, extra = paginate(views, params.get("MaxResults"), params.get("NextToken"))
    return {"EgressOnlyInternetGateways": page, **extra}


def delete_egress_only_internet_gateway(session: Session, account_id: str, region: str, igw_id: str) -> None:
    session.delete(_get_igw(session, account_id, region, igw_id, kind="egress-only"))


# Elastic IPs


def _address_view(eip: Address, eni_subnets: dict[str, str] | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "AllocationId": eip.allocation_id,
        "Domain": eip.domain,
        "PublicIp": eip.public_ip,
        "PublicIpv4Pool": "amazon",
        "NetworkBorderGroup": eip.region,
        "Tags": list(eip.tags),
    }
    if eip.association_id:
        view["AssociationId"] = eip.association_id
    if eip.network_interface_id:
        view["NetworkInterfaceId"] = eip.network_interface_id
        view["NetworkInterfaceOwnerId"] = eip.account_id
        if eni_subnets and eip.network_interface_id in eni_subnets:
            view["SubnetId"] = eni_subnets[eip.network_interface_id]
    if eip.private_ip_address:
        view["PrivateIpAddress"] = eip.private_ip_address
    if eip.instance_id:
        view["InstanceId"] = eip.instance_id
    return view


def _addresses(session: Session, account_id: str, region: str) -> list[Address]:
    return list(
        session.scalars(
            select(Address)
            .where(Address.account_id == account_id, Address.region == region)
            .order_by(Address.created, Address.allocation_id)
        )
    )


def _free_public_ip(session: Session) -> str:
    first, size = int(PUBLIC_POOL.network_address), PUBLIC_POOL.num_addresses
    for _ in range(64):
        candidate = str(ipaddress.IPv4Address(first + 1 + secrets.randbelow(size - 2)))
        if session.scalars(select(Address.public_ip).where(Address.public_ip == candidate)).first() is None:
            return candidate
    raise Ec2Error("No free addresses in the public pool", code="InsufficientAddressCapacity")


def allocate_address(session: Session, account_id: str, region: str, params: dict[str, Any]) -> Address:
    domain = params.get("Domain") or "vpc"
    if domain not in ("vpc", "standard"):
        raise invalid_value(f"Invalid value '{domain}' for domain.")
    count = session.scalar(
        select(func.count())
        .select_from(Address)
        .where(Address.account_id == account_id, Address.region == region)
    )
    if (count or 0) >= max_addresses():
        raise Ec2Error("The maximum number of addresses has been reached.", code="AddressLimitExceeded")
    requested = params.get("Address")
    if requested:
        try:
            public_ip = str(ipaddress.IPv4Address(str(requested)))
        except ValueError:
            raise invalid_value(f"Invalid value '{requested}' for IP address") from None
        if session.scalars(select(Address.public_ip).where(Address.public_ip == public_ip)).first():
            raise Ec2Error(f"Address {public_ip} is already allocated.", code="InvalidAddress.InUse")
    else:
        public_ip = _free_public_ip(session)
    eip = Address(
        allocation_id=new_id("eipalloc"),
        account_id=account_id,
        region=region,
        public_ip=public_ip,
        domain="vpc",
        tags=tags_from_specifications(params.get("TagSpecifications"), "elastic-ip"),
    )
    session.add(eip)
    session.flush()
    return eip


def _eip_by(
    session: Session, account_id: str, region: str, allocation_id: str | None, public_ip: str | None
) -> Address:
    if allocation_id:
        eip = session.get(Address, allocation_id)
        if eip is None or eip.account_id != account_id or eip.region != region:
            raise not_found("InvalidAllocationID.NotFound", "allocation ID", allocation_id)
        return eip
    if public_ip:
        found = session.scalars(
            select(Address).where(
                Address.account_id == account_id, Address.region == region, Address.public_ip == public_ip
            )
        ).first()
        if found is None:
            raise Ec2Error(f"Address '{public_ip}' not found.", code="InvalidAddress.NotFound")
        return found
    raise Ec2Error("The request must contain the parameter AllocationId or PublicIp", code="MissingParameter")


def describe_addresses(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    rows = _addresses(session, account_id, region)
    ids, ips = params.get("AllocationIds") or [], params.get("PublicIps") or []
    for allocation_id in ids:
        if allocation_id not in {a.allocation_id for a in rows}:
            raise not_found("InvalidAllocationID.NotFound", "allocation ID", allocation_id)
    for ip in ips:
        if ip not in {a.public_ip for a in rows}:
            raise Ec2Error(f"Address '{ip}' not found.", code="InvalidAddress.NotFound")
    if ids or ips:
        rows = [a for a in rows if a.allocation_id in ids or a.public_ip in ips]
    eni_ids = [a.network_interface_id for a in rows if a.network_interface_id]
    eni_subnets = dict(
        session.execute(
            select(NetworkInterface.id, NetworkInterface.subnet_id).where(NetworkInterface.id.in_(eni_ids))
        ).all()
    )
    views = apply_filters(
        [_address_view(a, eni_subnets) for a in rows], params.get("Filters"), _ADDRESS_FILTERS
    )
    return {"Addresses": list(views)}


def release_address(session: Session, account_id: str, region: str, params: dict[str, Any]) -> None:
    eip = _eip_by(session, account_id, region, params.get("AllocationId"), params.get("PublicIp"))
    if eip.association_id:
        raise Ec2Error(
            f"The address with allocation id [{eip.allocation_id}] is in use.", code="InvalidIPAddress.InUse"
        )
    session.delete(eip)


def associate_address(session: Session, account_id: str, region: str, params: dict[str, Any]) -> str:
    eip = _eip_by(session, account_id, region, params.get("AllocationId"), params.get("PublicIp"))
    eni_id = params.get("NetworkInterfaceId")
    if not eni_id:
        if params.get("InstanceId"):
            raise Ec2Error(
                f"The instance ID '{params['InstanceId']}' does not exist", code="InvalidInstanceID.NotFound"
            )
        raise Ec2Error("The request must contain the parameter NetworkInterfaceId", code="MissingParameter")
    eni = interfaces.get_network_interface(session, account_id, region, str(eni_id))
    held = list(session.scalars(select(PrivateIp).where(PrivateIp.network_interface_id == eni.id)))
    private_ip = params.get("PrivateIpAddress") or next((ip.address for ip in held if ip.primary), None)
    if private_ip not in {ip.address for ip in held}:
        raise invalid_value(
            f"The specified private IP address {private_ip} is not assigned to interface {eni.id}"
        )
    if eip.association_id and eip.network_interface_id == eni.id and eip.private_ip_address == private_ip:
        return eip.association_id  # the same association again is a no-op
    if eip.association_id and not params.get("AllowReassociation"):
        raise Ec2Error(
            f"resource {eip.allocation_id} is already associated with associate-id {eip.association_id}",
            code="Resource.AlreadyAssociated",
        )
    taken = session.scalars(
        select(Address).where(
            Address.network_interface_id == eni.id, Address.private_ip_address == private_ip
        )
    ).first()
    if taken is not None and taken is not eip:
        if not params.get("AllowReassociation"):
            raise Ec2Error(
                f"resource {eni.id} is already associated with associate-id {taken.association_id}",
                code="Resource.AlreadyAssociated",
            )
        taken.association_id = taken.network_interface_id = taken.private_ip_address = None
        session.flush()
    eip.association_id = new_id("eipassoc")
    eip.network_interface_id = eni.id
    eip.private_ip_address = private_ip
    return eip.association_id


def disassociate_address(session: Session, account_id: str, region: str, params: dict[str, Any]) -> None:
    association_id, public_ip = params.get("AssociationId"), params.get("PublicIp")
    query = select(Address).where(Address.account_id == account_id, Address.region == region)
    if association_id:
        eip = session.scalars(query.where(Address.association_id == association_id)).first()
        if eip is None:
            raise not_found("InvalidAssociationID.NotFound", "association ID", association_id)
    else:
        eip = _eip_by(session, account_id, region, None, public_ip)
        if not eip.association_id:
            return
    if eip.network_interface_id:
        eni = session.get(NetworkInterface, eip.network_interface_id)
        if eni is not None and eni.interface_type == "nat_gateway":
            raise Ec2Error(
                f"You do not have permission to access the specified resource: {eip.allocation_id} is used by a "
                "NAT gateway.",
                code="AuthFailure",
            )
    eip.association_id = eip.network_interface_id = eip.private_ip_address = None


# NAT gateways


def _get_nat(session: Session, account_id: str, region: str, nat_id: str) -> NatGateway:
    nat = session.get(NatGateway, nat_id)
    if nat is None or nat.account_id != account_id or nat.region != region:
        raise Ec2Error(f"The Nat Gateway {nat_id} was not found", code="NatGatewayNotFound")
    return nat


def nat_gateway_view(nat: NatGateway, state: str | None = None) -> dict[str, Any]:
    address: dict[str, Any] = {"IsPrimary": True, "Status": "succeeded"}
    if nat.allocation_id:
        address["AllocationId"] = nat.allocation_id
    if nat.network_interface_id:
        address["NetworkInterfaceId"] = nat.network_interface_id
    if nat.private_ip_address:
        address["PrivateIp"] = nat.private_ip_address
    if nat.public_ip:
        address["PublicIp"] = nat.public_ip
    view: dict[str, Any] = {
        "CreateTime": nat.created,
        "NatGatewayAddresses": [address],
        "NatGatewayId": nat.id,
        "State": state or nat.state,
        "SubnetId": nat.subnet_id,
        "VpcId": nat.vpc_id,
        "Tags": list(nat.tags),
        "ConnectivityType": nat.connectivity_type,
    }
    if nat.deleted is not None:
        view["DeleteTime"] = nat.deleted
    return view


def create_nat_gateway(
    session: Session, account_id: str, region: str, params: dict[str, Any], now: datetime
) -> NatGateway:
    if not params.get("SubnetId"):
        raise Ec2Error("The request must contain the parameter SubnetId", code="MissingParameter")
    subnet = subnets.get_subnet(session, account_id, region, params["SubnetId"])
    connectivity = params.get("ConnectivityType") or "public"
    eip: Address | None = None
    if connectivity == "public":
        if not params.get("AllocationId"):
            raise Ec2Error(
                "The request must contain the parameter AllocationId for a public NAT gateway",
                code="MissingParameter",
            )
        eip = _eip_by(session, account_id, region, params["AllocationId"], None)
        if eip.association_id:
            raise Ec2Error(
                f"Elastic IP address [{eip.allocation_id}] is already associated",
                code="Resource.AlreadyAssociated",
            )
    nat_id = new_id("nat")
    eni = interfaces.create_network_interface(
        session,
        account_id=account_id,
        region=region,
        subnet_id=subnet.id,
        group_ids=[],
        description=f"Interface for NAT Gateway {nat_id}",
        interface_type="nat_gateway",
        requester_managed=True,
        requester_id="amazon-vpc",
        private_ip=params.get("PrivateIpAddress"),
    )
    private_ip = session.scalars(
        select(PrivateIp.address).where(PrivateIp.network_interface_id == eni.id, PrivateIp.primary.is_(True))
    ).one()
    if eip is not None:
        eip.association_id = new_id("eipassoc")
        eip.network_interface_id = eni.id
        eip.private_ip_address = private_ip
    nat = NatGateway(
        id=nat_id,
        account_id=account_id,
        region=region,
        vpc_id=subnet.vpc_id,
        subnet_id=subnet.id,
        connectivity_type=connectivity,
        allocation_id=eip.allocation_id if eip else None,
        network_interface_id=eni.id,
        private_ip_address=private_ip,
        public_ip=eip.public_ip if eip else None,
        # Nothing has to be provisioned, so the gateway is usable at once; CreateNatGateway still
        # answers "pending" as AWS does.
        state="available",
        tags=tags_from_specifications(params.get("TagSpecifications"), "natgateway"),
        created=now,
    )
    session.add(nat)
    session.flush()
    return nat


def describe_nat_gateways(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    query = (
        select(NatGateway)
        .where(NatGateway.account_id == account_id, NatGateway.region == region)
        .order_by(NatGateway.created, NatGateway.id)
    )
    ids = params.get("NatGatewayIds") or []
    if ids:
        query = query.where(NatGateway.id.in_(ids))
    rows = list(session.scalars(query))
    for nat_id in ids:
        if nat_id not in {n.id for n in rows}:
            raise Ec2Error(f"The Nat Gateway {nat_id} was not found", code="NatGatewayNotFound")
    views = apply_filters([nat_gateway_view(n) for n in rows], params.get("Filter"), _NAT_FILTERS)
    page, extra = paginate(views, params.get("MaxResults"), params.get("NextToken"))
    return {"NatGateways": page, **extra}


def delete_nat_gateway(
    session: Session, account_id: str, region: str, nat_id: str, now: datetime
) -> NatGateway:
    nat = _get_nat(session, account_id, region, nat_id)
    if nat.state == "deleted":
        return nat
    if nat.network_interface_id:
        eni = session.get(NetworkInterface, nat.network_interface_id)
        if eni is not None:
            interfaces.remove_network_interface(session, eni)
    nat.state = "deleted"
    nat.deleted = now
    return nat
