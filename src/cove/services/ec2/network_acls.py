"""Network ACLs: numbered, stateless allow/deny entries per direction and their subnet associations.

Every subnet has exactly one association. A subnet that never had one explicitly (created before any
association row, e.g. by the default-VPC build) is associated with its VPC's default ACL under an id
derived from the subnet id, so that the association id is stable across calls.
"""

from __future__ import annotations

import hashlib
import ipaddress
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cove.services.ec2 import ip_protocols, vpcs
from cove.services.ec2.errors import Ec2Error, invalid_value, not_found
from cove.services.ec2.filters import FilterSpec, apply_filters, field, path
from cove.services.ec2.ids import new_id
from cove.services.ec2.paging import paginate
from cove.services.ec2.tables.security import NetworkAcl, NetworkAclAssociation, NetworkAclEntry
from cove.services.ec2.tables.topology import Subnet, Vpc
from cove.services.ec2.tags import tags_from_specifications

__all__ = [
    "MAX_ACLS_PER_VPC",
    "MAX_ENTRIES_PER_DIRECTION",
    "STAR_RULE_IPV4",
    "STAR_RULE_IPV6",
    "acl_view",
    "associate_default_network_acl",
    "create_default_network_acl",
    "create_network_acl",
    "delete_entry",
    "delete_network_acl",
    "delete_vpc_acls",
    "describe_network_acls",
    "put_entry",
    "replace_association",
    "subnet_network_acl_id",
    "vpc_has_custom_acls",
]

MAX_ACLS_PER_VPC = 200
MAX_ENTRIES_PER_DIRECTION = 20
STAR_RULE_IPV4 = 32767
STAR_RULE_IPV6 = 32768


def _not_found(acl_id: str) -> Ec2Error:
    return not_found("InvalidNetworkAclID.NotFound", "networkAcl ID", acl_id)


def get_acl(session: Session, account_id: str, region: str, acl_id: str) -> NetworkAcl:
    acl = session.get(NetworkAcl, acl_id)
    if acl is None or acl.account_id != account_id or acl.region != region:
        raise _not_found(acl_id)
    return acl


def _default_acl_id(session: Session, vpc_id: str) -> str | None:
    return session.scalars(
        select(NetworkAcl.id).where(NetworkAcl.vpc_id == vpc_id, NetworkAcl.is_default.is_(True))
    ).first()


def _implicit_association_id(subnet_id: str) -> str:
    return "aclassoc-" + hashlib.sha256(subnet_id.encode()).hexdigest()[:17]


# Views -------------------------------------------------------------------------------------------


def _entry_view(entry: NetworkAclEntry) -> dict[str, Any]:
    view: dict[str, Any] = {
        "Egress": entry.egress,
        "Protocol": entry.protocol,
        "RuleAction": entry.rule_action,
        "RuleNumber": entry.rule_number,
    }
    if entry.cidr_block is not None:
        view["CidrBlock"] = entry.cidr_block
    if entry.ipv6_cidr_block is not None:
        view["Ipv6CidrBlock"] = entry.ipv6_cidr_block
    if entry.port_from is not None or entry.port_to is not None:
        view["PortRange"] = {"From": entry.port_from, "To": entry.port_to}
    if entry.icmp_type is not None or entry.icmp_code is not None:
        view["IcmpTypeCode"] = {"Type": entry.icmp_type, "Code": entry.icmp_code}
    return view


def _star_entries(ipv6: bool) -> list[dict[str, Any]]:
    """The unmodifiable ``*`` deny rules, listed by AWS as 32767 (IPv4) and 32768 (IPv6)."""
    out = []
    for egress in (True, False):
        out.append(
            {
                "CidrBlock": "0.0.0.0/0",
                "Egress": egress,
                "Protocol": "-1",
                "RuleAction": "deny",
                "RuleNumber": STAR_RULE_IPV4,
            }
        )
        if ipv6:
            out.append(
                {
                    "Ipv6CidrBlock": "::/0",
                    "Egress": egress,
                    "Protocol": "-1",
                    "RuleAction": "deny",
                    "RuleNumber": STAR_RULE_IPV6,
                }
            )
    return out


def acl_view(
    acl: NetworkAcl, entries: list[NetworkAclEntry], associations: list[dict[str, str]], ipv6: bool
) -> dict[str, Any]:
    rows = [_entry_view(e) for e in entries] + _star_entries(ipv6)
    # AWS lists egress entries first, each direction by ascending rule number.
    rows.sort(key=lambda e: (not e["Egress"], e["RuleNumber"]))
    view: dict[str, Any] = {
        "Associations": associations,
        "Entries": rows,
        "IsDefault": acl.is_default,
        "NetworkAclId": acl.id,
        "VpcId": acl.vpc_id,
        "OwnerId": acl.account_id,
        "Tags": list(acl.tags or []),
    }
    return view


# Creation, associations and deletion -------------------------------------------------------------


def _new_acl(
    session: Session, vpc: Vpc, *, is_default: bool, tags: list[dict[str, str]] | None = None
) -> NetworkAcl:
    acl = NetworkAcl(
        id=new_id("acl"),
        account_id=vpc.account_id,
        region=vpc.region,
        vpc_id=vpc.id,
        is_default=is_default,
        tags=tags or [],
    )
    session.add(acl)
    session.flush()
    return acl


def create_default_network_acl(session: Session, *, account_id: str, region: str, vpc_id: str) -> str:
    """The VPC's default ACL: rule 100 allows everything both ways (101 for ``::/0`` with IPv6);
    every subnet of the VPC is associated with it."""
    vpc = vpcs.get_vpc(session, account_id, region, vpc_id)
    existing = _default_acl_id(session, vpc_id)
    if existing is not None:
        return existing
    acl = _new_acl(session, vpc, is_default=True)
    for egress in (True, False):
        session.add(
            NetworkAclEntry(
                acl_id=acl.id,
                egress=egress,
                rule_number=100,
                protocol="-1",
                rule_action="allow",
                cidr_block="0.0.0.0/0",
            )
        )
        if vpc.ipv6_cidr_blocks:
            session.add(
                NetworkAclEntry(
                    acl_id=acl.id,
                    egress=egress,
                    rule_number=101,
                    protocol="-1",
                    rule_action="allow",
                    ipv6_cidr_block="::/0",
                )
            )
    for subnet_id in session.scalars(select(Subnet.id).where(Subnet.vpc_id == vpc_id)):
        associate_default_network_acl(session, vpc_id, subnet_id)
    session.flush()
    return acl.id


def associate_default_network_acl(session: Session, vpc_id: str, subnet_id: str) -> str:
    """Associate a (new) subnet with its VPC's default ACL; the association id."""
    acl_id = _default_acl_id(session, vpc_id)
    if acl_id is None:
        raise Ec2Error(f"The vpc '{vpc_id}' has no default network ACL", code="InternalFailure")
    current = session.scalars(
        select(NetworkAclAssociation).where(NetworkAclAssociation.subnet_id == subnet_id)
    ).first()
    if current is not None:
        return current.id
    acl = session.get(NetworkAcl, acl_id)
    assert acl is not None
    assoc = NetworkAclAssociation(
        id=new_id("aclassoc"),
        acl_id=acl_id,
        subnet_id=subnet_id,
        account_id=acl.account_id,
        region=acl.region,
    )
    session.add(assoc)
    session.flush()
    return assoc.id


def _associations(session: Session, acls: list[NetworkAcl]) -> dict[str, list[dict[str, str]]]:
    """Each ACL's associations: explicit rows, plus implicit ones of subnets without a row (default ACL)."""
    out: dict[str, list[dict[str, str]]] = {a.id: [] for a in acls}
    if not acls:
        return out
    acl_ids = [a.id for a in acls]
    explicit = list(
        session.scalars(select(NetworkAclAssociation).where(NetworkAclAssociation.acl_id.in_(acl_ids)))
    )
    for assoc in explicit:
        out[assoc.acl_id].append(
            {"NetworkAclAssociationId": assoc.id, "NetworkAclId": assoc.acl_id, "SubnetId": assoc.subnet_id}
        )
    defaults = {a.vpc_id: a.id for a in acls if a.is_default}
    if defaults:
        rows = session.execute(
            select(Subnet.id, Subnet.vpc_id)
            .outerjoin(NetworkAclAssociation, NetworkAclAssociation.subnet_id == Subnet.id)
            .where(Subnet.vpc_id.in_(list(defaults)), NetworkAclAssociation.id.is_(None))
            .order_by(Subnet.created, Subnet.id)
        )
        for subnet_id, vpc_id in rows:
            acl_id = defaults[vpc_id]
            out[acl_id].append(
                {
                    "NetworkAclAssociationId": _implicit_association_id(subnet_id),
                    "NetworkAclId": acl_id,
                    "SubnetId": subnet_id,
                }
            )
    return out


def subnet_network_acl_id(session: Session, subnet_id: str) -> str | None:
    """The ACL that governs a subnet (for the network model and DescribeSubnets-like callers)."""
    explicit = session.scalars(
        select(NetworkAclAssociation.acl_id).where(NetworkAclAssociation.subnet_id == subnet_id)
    ).first()
    if explicit is not None:
        return explicit
    subnet = session.get(Subnet, subnet_id)
    return None if subnet is None else _default_acl_id(session, subnet.vpc_id)


def create_network_acl(session: Session, account_id: str, region: str, params: dict[str, Any]) -> NetworkAcl:
    vpc = vpcs.get_vpc(session, account_id, region, str(params["VpcId"]))
    tags = tags_from_specifications(params.get("TagSpecifications"), "network-acl")
    count = session.scalar(select(func.count(NetworkAcl.id)).where(NetworkAcl.vpc_id == vpc.id))
    if int(count or 0) >= MAX_ACLS_PER_VPC:
        raise Ec2Error("The maximum number of network ACLs has been reached.", code="NetworkAclLimitExceeded")
    return _new_acl(session, vpc, is_default=False, tags=tags)


def delete_network_acl(session: Session, account_id: str, region: str, acl_id: str) -> None:
    acl = get_acl(session, account_id, region, acl_id)
    if acl.is_default:
        raise Ec2Error(f"cannot delete default network ACL {acl_id}", code="InvalidParameterValue")
    used = session.scalars(
        select(NetworkAclAssociation.id).where(NetworkAclAssociation.acl_id == acl_id).limit(1)
    ).first()
    if used is not None:
        raise Ec2Error(
            f"The networkAcl '{acl_id}' has dependencies and cannot be deleted.", code="DependencyViolation"
        )
    for entry in session.scalars(select(NetworkAclEntry).where(NetworkAclEntry.acl_id == acl_id)):
        session.delete(entry)
    session.flush()
    session.delete(acl)


def vpc_has_custom_acls(session: Session, vpc_id: str) -> bool:
    return (
        session.scalars(
            select(NetworkAcl.id)
            .where(NetworkAcl.vpc_id == vpc_id, NetworkAcl.is_default.is_(False))
            .limit(1)
        ).first()
        is not None
    )


def delete_vpc_acls(session: Session, vpc_id: str) -> None:
    acls = list(session.scalars(select(NetworkAcl).where(NetworkAcl.vpc_id == vpc_id)))
    ids = [a.id for a in acls]
    if not ids:
        return
    for assoc in session.scalars(select(NetworkAclAssociation).where(NetworkAclAssociation.acl_id.in_(ids))):
        session.delete(assoc)
    for entry in session.scalars(select(NetworkAclEntry).where(NetworkAclEntry.acl_id.in_(ids))):
        session.delete(entry)
    session.flush()
    for acl in acls:
        session.delete(acl)
    session.flush()


def replace_association(
    session: Session, account_id: str, region: str, association_id: str, acl_id: str
) -> str:
    """Move a subnet to another ACL of its VPC; the new association id."""
    acl = get_acl(session, account_id, region, acl_id)
    current = session.get(NetworkAclAssociation, association_id)
    subnet_id: str | None = None
    if current is not None and current.account_id == account_id and current.region == region:
        subnet_id = current.subnet_id
    else:
        current = None
        # An implicit association: find the subnet whose derived id this is.
        for sid in session.scalars(
            select(Subnet.id)
            .outerjoin(NetworkAclAssociation, NetworkAclAssociation.subnet_id == Subnet.id)
            .where(
                Subnet.account_id == account_id, Subnet.region == region, NetworkAclAssociation.id.is_(None)
            )
        ):
            if _implicit_association_id(sid) == association_id:
                subnet_id = sid
                break
    if subnet_id is None:
        raise not_found("InvalidAssociationID.NotFound", "association ID", association_id)
    subnet = session.get(Subnet, subnet_id)
    if subnet is None or subnet.vpc_id != acl.vpc_id:
        raise invalid_value(f"Network ACL {acl_id} and subnet {subnet_id} belong to different networks")
    if current is not None:
        session.delete(current)
        session.flush()
    new = NetworkAclAssociation(
        id=new_id("aclassoc"), acl_id=acl.id, subnet_id=subnet_id, account_id=account_id, region=region
    )
    session.add(new)
    session.flush()
    return new.id


# Entries -----------------------------------------------------------------------------------------


def _acl_cidr(value: Any, version: int) -> str:
    text = str(value)
    member = "cidrBlock" if version == 4 else "ipv6CidrBlock"
    try:
        network = ipaddress.ip_network(text, strict=False) if "/" in text else None
    except ValueError:
        network = None
    if network is None or network.version != version:
        raise invalid_value(
            f"Value ({text}) for parameter {member} is invalid. This is not a valid CIDR block."
        )
    # NACL CIDRs are canonicalised: 100.68.0.18/18 is stored as 100.68.0.0/18.
    return str(network)


def _entry_fields(params: dict[str, Any]) -> dict[str, Any]:
    number = int(params["RuleNumber"])
    if not 1 <= number <= 32766:
        raise invalid_value(
            f"Value ({number}) for parameter ruleNumber is invalid. Must be between 1 and 32766."
        )
    protocol = ip_protocols.acl_protocol(params.get("Protocol"))
    if protocol is None:
        raise invalid_value(f"Invalid value '{params.get('Protocol')}' for protocol.")
    action = str(params.get("RuleAction", "")).lower()
    if action not in ("allow", "deny"):
        raise invalid_value(f"Value ({params.get('RuleAction')}) for parameter ruleAction is invalid.")
    cidr, ipv6 = params.get("CidrBlock"), params.get("Ipv6CidrBlock")
    if cidr and ipv6:
        raise Ec2Error(
            "The parameter cidrBlock cannot be used with the parameter ipv6CidrBlock",
            code="InvalidParameterCombination",
        )
    if not cidr and not ipv6:
        raise Ec2Error(
            "The request must contain the parameter cidrBlock or ipv6CidrBlock", code="MissingParameter"
        )
    fields: dict[str, Any] = {
        "rule_number": number,
        "egress": bool(params["Egress"]),
        "protocol": protocol,
        "rule_action": action,
        "cidr_block": _acl_cidr(cidr, 4) if cidr else None,
        "ipv6_cidr_block": _acl_cidr(ipv6, 6) if ipv6 else None,
        "port_from": None,
        "port_to": None,
        "icmp_type": None,
        "icmp_code": None,
    }
    if ip_protocols.has_ports(protocol):
        ports = params.get("PortRange") or {}
        if ports.get("From") is None or ports.get("To") is None:
            raise Ec2Error("The request must contain the parameter portRange", code="MissingParameter")
        start, end = int(ports["From"]), int(ports["To"])
        for port in (start, end):
            if not 0 <= port <= 65535:
                raise invalid_value(f"Invalid value '{port}' for portRange. Must be between 0 and 65535")
        if start > end:
            raise invalid_value(f"Invalid port range: from port ({start}) is greater than to port ({end})")
        fields["port_from"], fields["port_to"] = start, end
    elif ip_protocols.is_icmp(protocol):
        icmp = params.get("IcmpTypeCode")
        if not icmp:
            if protocol == "1":
                raise Ec2Error("The request must contain the parameter icmpTypeCode", code="MissingParameter")
        else:
            fields["icmp_type"] = int(icmp.get("Type", -1))
            fields["icmp_code"] = int(icmp.get("Code", -1))
    return fields


def _check_entry_limit(session: Session, acl_id: str, egress: bool, ipv6: bool) -> None:
    family = NetworkAclEntry.ipv6_cidr_block.is_not(None) if ipv6 else NetworkAclEntry.cidr_block.is_not(None)
    count = session.scalar(
        select(func.count())
        .select_from(NetworkAclEntry)
        .where(NetworkAclEntry.acl_id == acl_id, NetworkAclEntry.egress.is_(egress), family)
    )
    if int(count or 0) >= MAX_ENTRIES_PER_DIRECTION:
        raise Ec2Error(
            "The maximum number of network ACL entries has been reached.", code="NetworkAclEntryLimitExceeded"
        )


def put_entry(
    session: Session, account_id: str, region: str, params: dict[str, Any], *, replace: bool
) -> None:
    """CreateNetworkAclEntry (``replace=False``) or ReplaceNetworkAclEntry."""
    acl = get_acl(session, account_id, region, str(params["NetworkAclId"]))
    fields = _entry_fields(params)
    existing = session.get(NetworkAclEntry, (acl.id, fields["egress"], fields["rule_number"]))
    if replace:
        if existing is None:
            raise Ec2Error(
                f"The network acl entry identified by {fields['rule_number']} does not exist.",
                code="InvalidNetworkAclEntry.NotFound",
            )
        for key, value in fields.items():
            setattr(existing, key, value)
        session.flush()
        return
    if existing is not None:
        raise Ec2Error(
            f"The network acl entry identified by {fields['rule_number']} already exists.",
            code="NetworkAclEntryAlreadyExists",
        )
    _check_entry_limit(session, acl.id, fields["egress"], fields["ipv6_cidr_block"] is not None)
    session.add(NetworkAclEntry(acl_id=acl.id, **fields))
    session.flush()


def delete_entry(
    session: Session, account_id: str, region: str, acl_id: str, rule_number: int, egress: bool
) -> None:
    acl = get_acl(session, account_id, region, acl_id)
    entry = session.get(NetworkAclEntry, (acl.id, egress, rule_number))
    if entry is None:
        raise Ec2Error(
            f"The network acl entry identified by {rule_number} does not exist.",
            code="InvalidNetworkAclEntry.NotFound",
        )
    session.delete(entry)
    session.flush()


# Describe ----------------------------------------------------------------------------------------

_FILTERS: FilterSpec = {
    "association.association-id": path("Associations", "NetworkAclAssociationId"),
    "association.network-acl-id": path("Associations", "NetworkAclId"),
    "association.subnet-id": path("Associations", "SubnetId"),
    "default": field("IsDefault"),
    "entry.cidr": path("Entries", "CidrBlock"),
    "entry.egress": path("Entries", "Egress"),
    "entry.icmp.code": path("Entries", "IcmpTypeCode", "Code"),
    "entry.icmp.type": path("Entries", "IcmpTypeCode", "Type"),
    "entry.ipv6-cidr": path("Entries", "Ipv6CidrBlock"),
    "entry.port-range.from": path("Entries", "PortRange", "From"),
    "entry.port-range.to": path("Entries", "PortRange", "To"),
    "entry.protocol": path("Entries", "Protocol"),
    "entry.rule-action": path("Entries", "RuleAction"),
    "entry.rule-number": path("Entries", "RuleNumber"),
    "network-acl-id": field("NetworkAclId"),
    "owner-id": field("OwnerId"),
    "vpc-id": field("VpcId"),
}


def describe_network_acls(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    query = (
        select(NetworkAcl)
        .where(NetworkAcl.account_id == account_id, NetworkAcl.region == region)
        .order_by(NetworkAcl.created, NetworkAcl.id)
    )
    ids = params.get("NetworkAclIds") or []
    if ids:
        query = query.where(NetworkAcl.id.in_(ids))
    acls = list(session.scalars(query))
    found = {a.id for a in acls}
    for acl_id in ids:
        if acl_id not in found:
            raise _not_found(acl_id)
    entries: dict[str, list[NetworkAclEntry]] = {a.id: [] for a in acls}
    if acls:
        for entry in session.scalars(
            select(NetworkAclEntry).where(NetworkAclEntry.acl_id.in_(list(entries)))
        ):
            entries[entry.acl_id].append(entry)
    ipv6_vpcs = {
        vpc.id
        for vpc in session.scalars(select(Vpc).where(Vpc.id.in_({a.vpc_id for a in acls})))
        if vpc.ipv6_cidr_blocks
    }
    associations = _associations(session, acls)
    views = [acl_view(a, entries[a.id], associations[a.id], a.vpc_id in ipv6_vpcs) for a in acls]
    kept = apply_filters(views, params.get("Filters"), _FILTERS)
    page, extra = paginate(kept, params.get("MaxResults"), params.get("NextToken"))
    return {"NetworkAcls": page, **extra}
