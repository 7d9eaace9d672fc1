"""VPCs: CIDR blocks, attributes, the default VPC and what comes with every VPC.

Creating a VPC also creates its main route table (with a local route per CIDR), its default network
ACL and its default security group. The last two belong to the security family: it registers
functions here (``on_vpc_created``, ``vpc_dependencies``, ``on_vpc_deleted``) so that this module
needs no import of it.
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.services.ec2 import gateways, regions, routes, subnets
from cove.services.ec2.errors import Ec2Error, invalid_value, not_found
from cove.services.ec2.filters import FilterSpec, apply_filters, field, path
from cove.services.ec2.ids import new_id
from cove.services.ec2.paging import paginate
from cove.services.ec2.tables.topology import (
    InternetGateway,
    NatGateway,
    NetworkInterface,
    RegionState,
    RouteTable,
    RouteTableAssociation,
    Subnet,
    Vpc,
)
from cove.services.ec2.tags import tags_from_specifications

__all__ = [
    "DEFAULT_VPC_CIDR",
    "DEFAULT_VPC_LOCK",
    "MAX_IPV4_CIDRS",
    "associate_cidr_block",
    "canonical_cidr",
    "create_default_vpc",
    "create_vpc",
    "default_vpc_ready",
    "delete_vpc",
    "describe_vpc_attribute",
    "describe_vpcs",
    "disassociate_cidr_block",
    "ensure_default_vpc",
    "find_default_vpc",
    "get_vpc",
    "mark_default_vpc_ready",
    "modify_vpc_attribute",
    "modify_vpc_tenancy",
    "on_vpc_created",
    "on_vpc_deleted",
    "vpc_dependencies",
    "vpc_view",
]

DEFAULT_VPC_CIDR = "172.31.0.0/16"
MAX_IPV4_CIDRS = 5

VpcHook = Callable[[Session, Vpc], None]
# Called after a VPC and its main route table exist: the security family creates the default
# security group and network ACL here.
on_vpc_created: list[VpcHook] = []
# Called before a VPC row is deleted, after the dependency check: removes default SG and NACL.
on_vpc_deleted: list[VpcHook] = []
# Each returns True when the VPC still has something of that family that blocks its deletion
# (non-default security groups, endpoints, …).
vpc_dependencies: list[Callable[[Session, Vpc], bool]] = []

_ATTRIBUTES = {
    "enableDnsSupport": ("EnableDnsSupport", "enable_dns_support"),
    "enableDnsHostnames": ("EnableDnsHostnames", "enable_dns_hostnames"),
    "enableNetworkAddressUsageMetrics": (
        "EnableNetworkAddressUsageMetrics",
        "enable_network_address_usage_metrics",
    ),
}

_FILTERS: FilterSpec = {
    "cidr": field("CidrBlock"),
    "cidr-block-association.cidr-block": path("CidrBlockAssociationSet", "CidrBlock"),
    "cidr-block-association.association-id": path("CidrBlockAssociationSet", "AssociationId"),
    "cidr-block-association.state": path("CidrBlockAssociationSet", "CidrBlockState", "State"),
    "dhcp-options-id": field("DhcpOptionsId"),
    "ipv6-cidr-block-association.ipv6-cidr-block": path("Ipv6CidrBlockAssociationSet", "Ipv6CidrBlock"),
    "ipv6-cidr-block-association.ipv6-pool": path("Ipv6CidrBlockAssociationSet", "Ipv6Pool"),
    "ipv6-cidr-block-association.association-id": path("Ipv6CidrBlockAssociationSet", "AssociationId"),
    "ipv6-cidr-block-association.state": path("Ipv6CidrBlockAssociationSet", "Ipv6CidrBlockState", "State"),
    "instance-tenancy": field("InstanceTenancy"),
    "is-default": field("IsDefault"),
    # The legacy camelCase name, which EC2 still accepts (as it does for subnets).
    "isDefault": field("IsDefault"),
    "owner-id": field("OwnerId"),
    "state": field("State"),
    "vpc-id": field("VpcId"),
}

# Default VPCs are created at most once per process per (account, region); the table remembers it
# across restarts.
_initialised: set[tuple[str, str]] = set()
DEFAULT_VPC_LOCK = threading.Lock()


def canonical_cidr(value: str, code: str, *, low: int = 16, high: int = 28) -> str:
    """``10.0.0.18/18`` → ``10.0.0.0/18``; anything else (or a prefix outside low..high) is ``code``."""
    try:
        if "/" not in value:
            raise ValueError(value)
        net = ipaddress.IPv4Network(value, strict=False)
    except ValueError:
        raise Ec2Error(f"The CIDR '{value}' is invalid.", code=code) from None
    if not low <= net.prefixlen <= high:
        raise Ec2Error(f"The CIDR '{value}' is invalid.", code=code)
    return str(net)


def _ipv4_association(cidr: str, state: str = "associated") -> dict[str, Any]:
    return {"AssociationId": new_id("vpc-cidr-assoc"), "CidrBlock": cidr, "CidrBlockState": {"State": state}}


def _ipv6_association(region: str) -> dict[str, Any]:
    # Amazon's pool: a random /56 out of 2600:1f00::/24 stands in for it.
    block = ipaddress.IPv6Network((0x2600_1F00 << 96 | secrets.randbits(24) << 72, 56))
    return {
        "AssociationId": new_id("vpc-cidr-assoc"),
        "Ipv6CidrBlock": str(block),
        "Ipv6CidrBlockState": {"State": "associated"},
        "NetworkBorderGroup": region,
        "Ipv6Pool": "Amazon",
    }


def vpc_view(vpc: Vpc) -> dict[str, Any]:
    view: dict[str, Any] = {
        "OwnerId": vpc.account_id,
        "InstanceTenancy": vpc.instance_tenancy,
        "CidrBlockAssociationSet": [dict(a) for a in vpc.cidr_blocks],
        "IsDefault": vpc.is_default,
        "VpcId": vpc.id,
        "State": vpc.state,
        "CidrBlock": vpc.cidr_block,
        "DhcpOptionsId": vpc.dhcp_options_id,
        "BlockPublicAccessStates": {"InternetGatewayBlockMode": "off"},
    }
    if vpc.ipv6_cidr_blocks:
        view["Ipv6CidrBlockAssociationSet"] = [dict(a) for a in vpc.ipv6_cidr_blocks]
    if vpc.tags:
        view["Tags"] = list(vpc.tags)
    return view


def get_vpc(session: Session, account_id: str, region: str, vpc_id: str) -> Vpc:
    vpc = session.get(Vpc, vpc_id)
    if vpc is None or vpc.account_id != account_id or vpc.region != region:
        raise not_found("InvalidVpcID.NotFound", "vpc ID", vpc_id)
    return vpc


def find_default_vpc(session: Session, account_id: str, region: str) -> Vpc | None:
    return session.scalars(
        select(Vpc).where(Vpc.account_id == account_id, Vpc.region == region, Vpc.is_default.is_(True))
    ).first()


def _new_vpc(
    session: Session,
    account_id: str,
    region: str,
    cidr: str,
    *,
    tenancy: str = "default",
    is_default: bool = False,
    tags: list[dict[str, str]] | None = None,
    ipv6: bool = False,
) -> Vpc:
    vpc = Vpc(
        id=new_id("vpc"),
        account_id=account_id,
        region=region,
        cidr_block=cidr,
        cidr_blocks=[_ipv4_association(cidr)],
        ipv6_cidr_blocks=[_ipv6_association(region)] if ipv6 else [],
        instance_tenancy=tenancy,
        dhcp_options_id="default",
        is_default=is_default,
        state="available",
        enable_dns_support=True,
        enable_dns_hostnames=is_default,
        enable_network_address_usage_metrics=False,
        tags=tags or [],
    )
    session.add(vpc)
    session.flush()
    routes.create_main_route_table(session, vpc)
    for hook in on_vpc_created:
        hook(session, vpc)
    return vpc


def cidr_parameter(raw: object, range_code: str) -> str:
    """The ``CidrBlock`` of CreateVpc/CreateSubnet, canonicalised. Not a CIDR at all is a bad value;
    a well-formed block of the wrong size is the caller's ``range_code`` error."""
    if not raw:
        raise Ec2Error("The request must contain the parameter CidrBlock", code="MissingParameter")
    try:
        if "/" not in str(raw):
            raise ValueError(raw)
        ipaddress.IPv4Network(str(raw), strict=False)
    except ValueError:
        raise invalid_value(
            f"Value ({raw}) for parameter cidrBlock is invalid. This is not a valid CIDR block."
        ) from None
    return canonical_cidr(str(raw), range_code)


def create_vpc(session: Session, account_id: str, region: str, params: dict[str, Any]) -> Vpc:
    cidr = cidr_parameter(params.get("CidrBlock"), "InvalidVpc.Range")
    tenancy = params.get("InstanceTenancy") or "default"
    if tenancy not in ("default", "dedicated"):
        raise invalid_value(
            f"Value ({tenancy}) for parameter InstanceTenancy is invalid. Use the default or dedicated values only."
        )
    tags = tags_from_specifications(params.get("TagSpecifications"), "vpc")
    return _new_vpc(
        session,
        account_id,
        region,
        cidr,
        tenancy=tenancy,
        tags=tags,
        ipv6=bool(params.get("AmazonProvidedIpv6CidrBlock")),
    )


def _build_default_vpc(session: Session, account_id: str, region: str) -> Vpc:
    vpc = _new_vpc(session, account_id, region, DEFAULT_VPC_CIDR, is_default=True)
    base = ipaddress.IPv4Network(DEFAULT_VPC_CIDR)
    blocks = base.subnets(new_prefix=20)
    for (zone, zone_id), block in zip(regions.availability_zones(region), blocks, strict=False):
        subnets.new_subnet(
            session, vpc, str(block), zone, zone_id, default_for_az=True, map_public_ip_on_launch=True
        )
    igw = gateways.new_internet_gateway(session, account_id, region)
    igw.vpc_id = vpc.id
    main = routes.main_route_table(session, vpc.id)
    routes.put_route(session, main, "0.0.0.0/0", "GatewayId", igw.id)
    return vpc


def default_vpc_ready(account_id: str, region: str) -> bool:
    """Whether this process already knows the default VPC of (account, region) was created."""
    return (account_id, region) in _initialised


def ensure_default_vpc(session: Session, account_id: str, region: str) -> None:
    """Create the default VPC of (account, region) the first time that pair is seen.

    The caller commits ``session`` and then calls ``mark_default_vpc_ready``; ``DEFAULT_VPC_LOCK``
    around both keeps two first requests from creating two default VPCs."""
    if session.get(RegionState, (account_id, region)) is None:
        session.add(RegionState(account_id=account_id, region=region))
        _build_default_vpc(session, account_id, region)


def mark_default_vpc_ready(account_id: str, region: str) -> None:
    _initialised.add((account_id, region))


def create_default_vpc(session: Session, account_id: str, region: str) -> Vpc:
    if find_default_vpc(session, account_id, region) is not None:
        raise Ec2Error(
            "A Default VPC already exists for this account in this region.", code="DefaultVpcAlreadyExists"
        )
    return _build_default_vpc(session, account_id, region)


def describe_vpcs(session: Session, account_id: str, region: str, params: dict[str, Any]) -> dict[str, Any]:
    query = (
        select(Vpc).where(Vpc.account_id == account_id, Vpc.region == region).order_by(Vpc.created, Vpc.id)
    )
    ids = params.get("VpcIds") or []
    if ids:
        query = query.where(Vpc.id.in_(ids))
    rows = list(session.scalars(query))
    found = {v.id for v in rows}
    for vpc_id in ids:
        if vpc_id not in found:
            raise not_found("InvalidVpcID.NotFound", "vpc ID", vpc_id)
    views = apply_filters([vpc_view(v) for v in rows], params.get("Filters"), _FILTERS)
    page, extra = paginate(views, params.get("MaxResults"), params.get("NextToken"))
    return {"Vpcs": page, **extra}


def _dependency_error(vpc_id: str) -> Ec2Error:
    return Ec2Error(f"The vpc '{vpc_id}' has dependencies and cannot be deleted.", code="DependencyViolation")


def delete_vpc(session: Session, account_id: str, region: str, vpc_id: str) -> None:
    vpc = get_vpc(session, account_id, region, vpc_id)
    blockers = (
        select(Subnet.id).where(Subnet.vpc_id == vpc_id),
        select(InternetGateway.id).where(InternetGateway.vpc_id == vpc_id),
        select(NetworkInterface.id).where(NetworkInterface.vpc_id == vpc_id),
        select(NatGateway.id).where(NatGateway.vpc_id == vpc_id, NatGateway.state != "deleted"),
    )
    for query in blockers:
        if session.scalars(query.limit(1)).first() is not None:
            raise _dependency_error(vpc_id)
    main_id = session.scalars(
        select(RouteTableAssociation.route_table_id).where(
            RouteTableAssociation.vpc_id == vpc_id, RouteTableAssociation.main.is_(True)
        )
    ).first()
    others = session.scalars(
        select(RouteTable.id).where(RouteTable.vpc_id == vpc_id, RouteTable.id != (main_id or ""))
    ).first()
    if others is not None:
        raise _dependency_error(vpc_id)
    if any(check(session, vpc) for check in vpc_dependencies):
        raise _dependency_error(vpc_id)
    for hook in on_vpc_deleted:
        hook(session, vpc)
    routes.delete_vpc_route_tables(session, vpc_id)
    session.delete(vpc)


def describe_vpc_attribute(
    session: Session, account_id: str, region: str, vpc_id: str, attribute: str
) -> dict[str, Any]:
    vpc = get_vpc(session, account_id, region, vpc_id)
    if attribute not in _ATTRIBUTES:
        raise invalid_value(f"Value ({attribute}) for parameter attribute is invalid. Unknown attribute.")
    member, column = _ATTRIBUTES[attribute]
    return {"VpcId": vpc.id, member: {"Value": bool(getattr(vpc, column))}}


def modify_vpc_attribute(session: Session, account_id: str, region: str, params: dict[str, Any]) -> None:
    vpc = get_vpc(session, account_id, region, params["VpcId"])
    given = [(member, column) for member, column in _ATTRIBUTES.values() if member in params]
    if len(given) != 1:
        raise Ec2Error(
            "Fields for multiple attribute types specified: " + ", ".join(m for m, _ in given)
            if given
            else "The request must contain the parameter EnableDnsSupport, EnableDnsHostnames or "
            "EnableNetworkAddressUsageMetrics",
            code="InvalidParameterCombination" if given else "MissingParameter",
        )
    member, column = given[0]
    value = bool((params[member] or {}).get("Value", False))
    setattr(vpc, column, value)


def modify_vpc_tenancy(session: Session, account_id: str, region: str, vpc_id: str, tenancy: str) -> None:
    vpc = get_vpc(session, account_id, region, vpc_id)
    if tenancy != "default":
        raise invalid_value(f"Value ({tenancy}) for parameter InstanceTenancy is invalid. Use default only.")
    vpc.instance_tenancy = tenancy


def _overlaps(a: str, b: str) -> bool:
    return ipaddress.ip_network(a).overlaps(ipaddress.ip_network(b))


def associate_cidr_block(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    vpc = get_vpc(session, account_id, region, params["VpcId"])
    if params.get("AmazonProvidedIpv6CidrBlock"):
        if vpc.ipv6_cidr_blocks:
            raise Ec2Error(
                f"This network '{vpc.id}' has met its maximum number of allowed CIDRs: 1",
                code="CidrLimitExceeded",
            )
        assoc = _ipv6_association(region)
        vpc.ipv6_cidr_blocks = [assoc]
        routes.add_local_route(session, vpc.id, assoc["Ipv6CidrBlock"])
        shown = dict(assoc, Ipv6CidrBlockState={"State": "associating"})
        return {"VpcId": vpc.id, "Ipv6CidrBlockAssociation": shown}
    raw = params.get("CidrBlock")
    if not raw:
        raise Ec2Error(
            "Either 'cidrBlock' or 'amazonProvidedIpv6CidrBlock' must be specified.",
            code="MissingParameter",
        )
    cidr = canonical_cidr(str(raw), "InvalidVpc.Range")
    if len(vpc.cidr_blocks) >= MAX_IPV4_CIDRS:
        raise Ec2Error(
            f"This network '{vpc.id}' has met its maximum number of allowed CIDRs: {MAX_IPV4_CIDRS}",
            code="CidrLimitExceeded",
        )
    for existing in vpc.cidr_blocks:
        if _overlaps(existing["CidrBlock"], cidr):
            raise Ec2Error(
                f"The CIDR '{cidr}' conflicts with another CIDR block of the VPC.",
                code="InvalidVpc.Range",
            )
    if not _allowed_secondary(vpc.cidr_block, cidr):
        raise Ec2Error(f"The CIDR '{cidr}' is restricted for use with this VPC.", code="InvalidVpc.Range")
    assoc = _ipv4_association(cidr)
    vpc.cidr_blocks = [*vpc.cidr_blocks, assoc]
    routes.add_local_route(session, vpc.id, cidr)
    return {"VpcId": vpc.id, "CidrBlockAssociation": dict(assoc, CidrBlockState={"State": "associating"})}


_RFC1918 = [ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


def _allowed_secondary(primary: str, cidr: str) -> bool:
    """AWS's table: a VPC whose primary CIDR is in one RFC 1918 range takes no secondary CIDR from another
    RFC 1918 range (publicly routable and 100.64.0.0/10 blocks are fine); 198.19.0.0/16 never."""
    p = ipaddress.IPv4Network(primary)
    c = ipaddress.IPv4Network(cidr)
    if c.subnet_of(ipaddress.IPv4Network("198.19.0.0/16")):
        return False
    p_range = next((r for r in _RFC1918 if p.subnet_of(r)), None)
    c_range = next((r for r in _RFC1918 if c.subnet_of(r)), None)
    return not (p_range is not None and c_range is not None and p_range != c_range)


def disassociate_cidr_block(
    session: Session, account_id: str, region: str, association_id: str
) -> dict[str, Any]:
    vpc = session.scalars(select(Vpc).where(Vpc.account_id == account_id, Vpc.region == region)).all()
    for candidate in vpc:
        for i, assoc in enumerate(candidate.cidr_blocks):
            if assoc["AssociationId"] == association_id:
                if i == 0:
                    raise Ec2Error(
                        f"The vpc CIDR block with association ID {association_id} may not be disassociated. "
                        "It is the primary IPv4 CIDR block of the VPC",
                        code="OperationNotPermitted",
                    )
                _refuse_if_subnets(session, candidate.id, assoc["CidrBlock"])
                candidate.cidr_blocks = [a for a in candidate.cidr_blocks if a is not assoc]
                routes.remove_local_route(session, candidate.id, assoc["CidrBlock"])
                shown = dict(assoc, CidrBlockState={"State": "disassociating"})
                return {"VpcId": candidate.id, "CidrBlockAssociation": shown}
        for assoc in candidate.ipv6_cidr_blocks:
            if assoc["AssociationId"] == association_id:
                candidate.ipv6_cidr_blocks = []
                routes.remove_local_route(session, candidate.id, assoc["Ipv6CidrBlock"])
                shown = dict(assoc, Ipv6CidrBlockState={"State": "disassociating"})
                return {"VpcId": candidate.id, "Ipv6CidrBlockAssociation": shown}
    raise Ec2Error(
        f"The vpc CIDR block association ID '{association_id}' does not exist",
        code="InvalidVpcCidrBlockAssociationIdError.NotFound",
    )


def _refuse_if_subnets(session: Session, vpc_id: str, cidr: str) -> None:
    net = ipaddress.IPv4Network(cidr)
    for sub in session.scalars(select(Subnet).where(Subnet.vpc_id == vpc_id)):
        if ipaddress.IPv4Network(sub.cidr_block).subnet_of(net):
            raise Ec2Error(
                f"The vpc CIDR block '{cidr}' has dependencies and cannot be disassociated.",
                code="DependencyViolation",
            )
