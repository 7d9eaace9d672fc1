"""Security groups: allow rules, one row per (direction, protocol, ports, peer), aggregated back into
``IpPermissions`` for DescribeSecurityGroups as AWS does.

The default group of every VPC is created through the VPC hooks registered at the bottom.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cove.services.ec2 import ip_protocols, network_acls, vpcs
from cove.services.ec2.errors import Ec2Error, invalid_value, not_found
from cove.services.ec2.filters import FilterSpec, apply_filters, field, path
from cove.services.ec2.ids import new_id
from cove.services.ec2.paging import paginate
from cove.services.ec2.tables.security import SecurityGroup, SecurityGroupRule
from cove.services.ec2.tables.topology import NetworkInterface, Vpc
from cove.services.ec2.tags import tags_from_specifications

__all__ = [
    "MAX_GROUPS_PER_REGION",
    "MAX_RULES_PER_DIRECTION",
    "RuleSpec",
    "authorize",
    "check_security_groups",
    "create_default_security_group",
    "create_security_group",
    "default_security_group_id",
    "delete_security_group",
    "delete_vpc_security",
    "describe_security_group_references",
    "describe_security_group_rules",
    "describe_security_groups",
    "get_group",
    "get_security_groups_for_vpc",
    "group_arn",
    "group_view",
    "modify_security_group_rules",
    "resolve_group",
    "revoke",
    "rule_specs",
    "rule_view",
    "update_rule_descriptions",
    "vpc_has_security_dependencies",
]

MAX_RULES_PER_DIRECTION = 60
MAX_GROUPS_PER_REGION = 2500
DEFAULT_NAME = "default"
DEFAULT_DESCRIPTION = "default VPC security group"


@dataclass(frozen=True)
class RuleSpec:
    """A rule as requested: exactly one of the four peers is set."""

    protocol: str
    from_port: int | None
    to_port: int | None
    cidr_ipv4: str | None = None
    cidr_ipv6: str | None = None
    prefix_list_id: str | None = None
    referenced_group_id: str | None = None
    referenced_user_id: str | None = None
    description: str | None = None

    def key(self) -> tuple[Any, ...]:
        return (
            self.protocol,
            self.from_port,
            self.to_port,
            self.cidr_ipv4,
            self.cidr_ipv6,
            self.prefix_list_id,
            self.referenced_group_id,
        )

    @property
    def peer(self) -> str:
        return self.cidr_ipv4 or self.cidr_ipv6 or self.prefix_list_id or self.referenced_group_id or ""


def _spec_of(rule: SecurityGroupRule) -> RuleSpec:
    return RuleSpec(
        protocol=rule.protocol,
        from_port=rule.from_port,
        to_port=rule.to_port,
        cidr_ipv4=rule.cidr_ipv4,
        cidr_ipv6=rule.cidr_ipv6,
        prefix_list_id=rule.prefix_list_id,
        referenced_group_id=rule.referenced_group_id,
        referenced_user_id=rule.referenced_user_id,
        description=rule.description,
    )


# Views -------------------------------------------------------------------------------------------


def group_arn(group: SecurityGroup) -> str:
    return f"arn:aws:ec2:{group.region}:{group.account_id}:security-group/{group.id}"


def _permissions(rules: Iterable[SecurityGroupRule]) -> list[dict[str, Any]]:
    """Rules grouped by (protocol, from, to) in the order they were first added, as AWS lists them."""
    grouped: dict[tuple[str, int | None, int | None], dict[str, Any]] = {}
    for rule in sorted(rules, key=lambda r: (r.position, r.id)):
        key = (rule.protocol, rule.from_port, rule.to_port)
        perm = grouped.get(key)
        if perm is None:
            perm = {"IpProtocol": rule.protocol}
            if rule.from_port is not None:
                perm["FromPort"] = rule.from_port
            if rule.to_port is not None:
                perm["ToPort"] = rule.to_port
            perm.update({"IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []})
            grouped[key] = perm
        described = {"Description": rule.description} if rule.description is not None else {}
        if rule.cidr_ipv4 is not None:
            perm["IpRanges"].append({"CidrIp": rule.cidr_ipv4, **described})
        elif rule.cidr_ipv6 is not None:
            perm["Ipv6Ranges"].append({"CidrIpv6": rule.cidr_ipv6, **described})
        elif rule.prefix_list_id is not None:
            perm["PrefixListIds"].append({"PrefixListId": rule.prefix_list_id, **described})
        elif rule.referenced_group_id is not None:
            perm["UserIdGroupPairs"].append(
                {"UserId": rule.referenced_user_id or "", "GroupId": rule.referenced_group_id, **described}
            )
    return list(grouped.values())


def group_view(group: SecurityGroup, rules: list[SecurityGroupRule]) -> dict[str, Any]:
    view: dict[str, Any] = {
        "GroupId": group.id,
        "GroupName": group.name,
        "Description": group.description,
        "OwnerId": group.account_id,
        "VpcId": group.vpc_id,
        "SecurityGroupArn": group_arn(group),
        "IpPermissions": _permissions(r for r in rules if not r.is_egress),
        "IpPermissionsEgress": _permissions(r for r in rules if r.is_egress),
    }
    if group.tags:
        view["Tags"] = list(group.tags)
    return view


def rule_view(rule: SecurityGroupRule) -> dict[str, Any]:
    view: dict[str, Any] = {
        "SecurityGroupRuleId": rule.id,
        "GroupId": rule.group_id,
        "GroupOwnerId": rule.account_id,
        "IsEgress": rule.is_egress,
        "IpProtocol": rule.protocol,
        "FromPort": -1 if rule.from_port is None else rule.from_port,
        "ToPort": -1 if rule.to_port is None else rule.to_port,
        "SecurityGroupRuleArn": f"arn:aws:ec2:{rule.region}:{rule.account_id}:security-group-rule/{rule.id}",
        "Tags": list(rule.tags or []),
    }
    if rule.cidr_ipv4 is not None:
        view["CidrIpv4"] = rule.cidr_ipv4
    if rule.cidr_ipv6 is not None:
        view["CidrIpv6"] = rule.cidr_ipv6
    if rule.prefix_list_id is not None:
        view["PrefixListId"] = rule.prefix_list_id
    if rule.referenced_group_id is not None:
        view["ReferencedGroupInfo"] = {
            "GroupId": rule.referenced_group_id,
            "UserId": rule.referenced_user_id or rule.account_id,
        }
    if rule.description is not None:
        view["Description"] = rule.description
    return view


def _spec_permission(spec: RuleSpec) -> dict[str, Any]:
    """One requested rule as an ``IpPermission`` (for ``UnknownIpPermissions``)."""
    perm: dict[str, Any] = {"IpProtocol": spec.protocol}
    if spec.from_port is not None:
        perm["FromPort"] = spec.from_port
    if spec.to_port is not None:
        perm["ToPort"] = spec.to_port
    perm["IpRanges"] = [{"CidrIp": spec.cidr_ipv4}] if spec.cidr_ipv4 else []
    perm["Ipv6Ranges"] = [{"CidrIpv6": spec.cidr_ipv6}] if spec.cidr_ipv6 else []
    perm["PrefixListIds"] = [{"PrefixListId": spec.prefix_list_id}] if spec.prefix_list_id else []
    perm["UserIdGroupPairs"] = (
        [{"GroupId": spec.referenced_group_id, "UserId": spec.referenced_user_id or ""}]
        if spec.referenced_group_id
        else []
    )
    return perm


# Lookups -----------------------------------------------------------------------------------------


def _group_not_found(group: str) -> Ec2Error:
    return not_found("InvalidGroup.NotFound", "security group", group)


def get_group(session: Session, account_id: str, region: str, group_id: str) -> SecurityGroup:
    group = session.get(SecurityGroup, group_id)
    if group is None or group.account_id != account_id or group.region != region:
        raise _group_not_found(group_id)
    return group


def _groups_named(session: Session, account_id: str, region: str, name: str) -> list[SecurityGroup]:
    """Groups called ``name``, those of the default VPC first (names address the default VPC)."""
    rows = list(
        session.scalars(
            select(SecurityGroup)
            .join(Vpc, Vpc.id == SecurityGroup.vpc_id)
            .where(
                SecurityGroup.account_id == account_id,
                SecurityGroup.region == region,
                SecurityGroup.name == name,
            )
            .order_by(Vpc.is_default.desc(), SecurityGroup.created, SecurityGroup.id)
        )
    )
    return rows


def resolve_group(
    session: Session, account_id: str, region: str, group_id: str | None, group_name: str | None
) -> SecurityGroup:
    """The group a request names by ``GroupId`` or (default VPC) ``GroupName``."""
    if group_id:
        return get_group(session, account_id, region, group_id)
    if group_name:
        found = _groups_named(session, account_id, region, group_name)
        if not found:
            raise _group_not_found(group_name)
        return found[0]
    raise Ec2Error("The request must contain the parameter groupName or groupId", code="MissingParameter")


def _rules(session: Session, group_ids: list[str]) -> dict[str, list[SecurityGroupRule]]:
    out: dict[str, list[SecurityGroupRule]] = {gid: [] for gid in group_ids}
    if not group_ids:
        return out
    for rule in session.scalars(select(SecurityGroupRule).where(SecurityGroupRule.group_id.in_(group_ids))):
        out.setdefault(rule.group_id, []).append(rule)
    return out


def default_security_group_id(session: Session, vpc_id: str) -> str | None:
    """The id of the VPC's ``default`` group (what resources created without a group get)."""
    return session.scalars(
        select(SecurityGroup.id).where(SecurityGroup.vpc_id == vpc_id, SecurityGroup.is_default.is_(True))
    ).first()


def check_security_groups(
    session: Session, *, account_id: str, region: str, vpc_id: str, group_ids: list[str]
) -> None:
    """Every id names a group of this account and region in ``vpc_id`` (for ENIs and endpoints)."""
    for group_id in group_ids:
        group = get_group(session, account_id, region, group_id)
        if group.vpc_id != vpc_id:
            raise Ec2Error(
                f"Security group {group_id} and subnet belong to different networks.", code="InvalidParameter"
            )


# Creation and deletion ---------------------------------------------------------------------------


def _vpc_has_ipv6(vpc: Vpc) -> bool:
    return bool(vpc.ipv6_cidr_blocks)


def _next_position(session: Session, group_id: str) -> int:
    current = session.scalar(
        select(func.max(SecurityGroupRule.position)).where(SecurityGroupRule.group_id == group_id)
    )
    return 0 if current is None else int(current) + 1


def _add_rules(
    session: Session,
    group: SecurityGroup,
    specs: list[RuleSpec],
    *,
    egress: bool,
    tags: list[dict[str, str]] | None = None,
) -> list[SecurityGroupRule]:
    position = _next_position(session, group.id)
    added = []
    for offset, spec in enumerate(specs):
        rule = SecurityGroupRule(
            id=new_id("sgr"),
            group_id=group.id,
            account_id=group.account_id,
            region=group.region,
            is_egress=egress,
            protocol=spec.protocol,
            from_port=spec.from_port,
            to_port=spec.to_port,
            cidr_ipv4=spec.cidr_ipv4,
            cidr_ipv6=spec.cidr_ipv6,
            prefix_list_id=spec.prefix_list_id,
            referenced_group_id=spec.referenced_group_id,
            referenced_user_id=spec.referenced_user_id,
            description=spec.description,
            tags=list(tags or []),
            position=position + offset,
        )
        session.add(rule)
        added.append(rule)
    session.flush()
    return added


def _new_group(
    session: Session,
    vpc: Vpc,
    name: str,
    description: str,
    *,
    is_default: bool = False,
    tags: list[dict[str, str]] | None = None,
) -> SecurityGroup:
    group = SecurityGroup(
        id=new_id("sg"),
        account_id=vpc.account_id,
        region=vpc.region,
        vpc_id=vpc.id,
        name=name,
        description=description,
        is_default=is_default,
        tags=tags or [],
    )
    session.add(group)
    session.flush()
    egress = [RuleSpec(ip_protocols.ALL, None, None, cidr_ipv4="0.0.0.0/0")]
    if _vpc_has_ipv6(vpc):
        egress.append(RuleSpec(ip_protocols.ALL, None, None, cidr_ipv6="::/0"))
    _add_rules(session, group, egress, egress=True)
    return group


def create_default_security_group(session: Session, *, account_id: str, region: str, vpc_id: str) -> str:
    """The VPC's ``default`` group: all traffic in from itself, all traffic out."""
    vpc = vpcs.get_vpc(session, account_id, region, vpc_id)
    existing = default_security_group_id(session, vpc_id)
    if existing is not None:
        return existing
    group = _new_group(session, vpc, DEFAULT_NAME, DEFAULT_DESCRIPTION, is_default=True)
    own = RuleSpec(ip_protocols.ALL, None, None, referenced_group_id=group.id, referenced_user_id=account_id)
    _add_rules(session, group, [own], egress=False)
    return group.id


def create_security_group(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> SecurityGroup:
    name = str(params.get("GroupName") or "")
    description = str(params.get("Description") or "")
    if not name:
        raise Ec2Error("The request must contain the parameter GroupName", code="MissingParameter")
    if not description:
        raise Ec2Error("The request must contain the parameter GroupDescription", code="MissingParameter")
    name = name.rstrip(" ")
    if len(name) > 255:
        raise invalid_value(f"Invalid value '{name}' for groupName. Length exceeds maximum of 255")
    if len(description) > 255:
        raise invalid_value("Invalid value for parameter GroupDescription. Length exceeds maximum of 255")
    if name.lower().startswith("sg-"):
        raise invalid_value("Group names may not be in the format sg-*.")
    if name == DEFAULT_NAME:
        raise Ec2Error(
            "The security group name 'default' is reserved and cannot be used.", code="InvalidGroup.Reserved"
        )
    vpc_id = params.get("VpcId")
    if vpc_id:
        vpc = vpcs.get_vpc(session, account_id, region, str(vpc_id))
    else:
        default = vpcs.find_default_vpc(session, account_id, region)
        if default is None:
            raise Ec2Error(
                "No default VPC for this user. GroupName is only supported for EC2-Classic and default VPC.",
                code="VPCIdNotSpecified",
            )
        vpc = default
    tags = tags_from_specifications(params.get("TagSpecifications"), "security-group")
    duplicate = session.scalars(
        select(SecurityGroup.id).where(SecurityGroup.vpc_id == vpc.id, SecurityGroup.name == name)
    ).first()
    if duplicate is not None:
        raise Ec2Error(
            f"The security group '{name}' already exists for VPC '{vpc.id}'", code="InvalidGroup.Duplicate"
        )
    count = session.scalar(
        select(func.count(SecurityGroup.id)).where(
            SecurityGroup.account_id == account_id, SecurityGroup.region == region
        )
    )
    if int(count or 0) >= MAX_GROUPS_PER_REGION:
        raise Ec2Error(
            "The maximum number of security groups has been reached.", code="SecurityGroupLimitExceeded"
        )
    return _new_group(session, vpc, name, description, tags=tags)


def _dependents(session: Session, group: SecurityGroup) -> bool:
    referenced = session.scalars(
        select(SecurityGroupRule.id)
        .where(SecurityGroupRule.referenced_group_id == group.id, SecurityGroupRule.group_id != group.id)
        .limit(1)
    ).first()
    if referenced is not None:
        return True
    enis = session.scalars(select(NetworkInterface.group_ids).where(NetworkInterface.vpc_id == group.vpc_id))
    return any(group.id in (ids or []) for ids in enis)


def delete_security_group(session: Session, account_id: str, region: str, params: dict[str, Any]) -> str:
    group = resolve_group(session, account_id, region, params.get("GroupId"), params.get("GroupName"))
    if group.is_default:
        raise Ec2Error(
            f'the specified group: "{group.id}" name: "{group.name}" cannot be deleted by a user',
            code="CannotDelete",
        )
    if _dependents(session, group):
        raise Ec2Error(f"resource {group.id} has a dependent object", code="DependencyViolation")
    for rule in session.scalars(select(SecurityGroupRule).where(SecurityGroupRule.group_id == group.id)):
        session.delete(rule)
    session.flush()
    session.delete(group)
    return group.id


def vpc_has_security_dependencies(session: Session, vpc_id: str) -> bool:
    """Non-default security groups or network ACLs keep a VPC from being deleted."""
    custom_group = session.scalars(
        select(SecurityGroup.id).where(SecurityGroup.vpc_id == vpc_id, SecurityGroup.is_default.is_(False))
    ).first()
    return custom_group is not None or network_acls.vpc_has_custom_acls(session, vpc_id)


def delete_vpc_security(session: Session, vpc_id: str) -> None:
    """Remove the VPC's security groups and network ACLs (the defaults, when DeleteVpc goes ahead)."""
    groups = list(session.scalars(select(SecurityGroup).where(SecurityGroup.vpc_id == vpc_id)))
    ids = [g.id for g in groups]
    if ids:
        for rule in session.scalars(select(SecurityGroupRule).where(SecurityGroupRule.group_id.in_(ids))):
            session.delete(rule)
        session.flush()
        for group in groups:
            session.delete(group)
    network_acls.delete_vpc_acls(session, vpc_id)
    session.flush()


# Describe ----------------------------------------------------------------------------------------


def _no_pair_names(view: dict[str, Any]) -> list[str]:
    """VPC groups' pairs carry no GroupName in AWS's answers, so AWS's group-name filters match none."""
    return []


def _permission_filters(prefix: str, key: str) -> dict[str, Any]:
    return {
        f"{prefix}ip-permission.cidr": path(key, "IpRanges", "CidrIp"),
        f"{prefix}ip-permission.from-port": path(key, "FromPort"),
        f"{prefix}ip-permission.group-id": path(key, "UserIdGroupPairs", "GroupId"),
        f"{prefix}ip-permission.group-name": _no_pair_names,
        f"{prefix}ip-permission.ipv6-cidr": path(key, "Ipv6Ranges", "CidrIpv6"),
        f"{prefix}ip-permission.prefix-list-id": path(key, "PrefixListIds", "PrefixListId"),
        f"{prefix}ip-permission.protocol": path(key, "IpProtocol"),
        f"{prefix}ip-permission.to-port": path(key, "ToPort"),
        f"{prefix}ip-permission.user-id": path(key, "UserIdGroupPairs", "UserId"),
    }


_GROUP_FILTERS: FilterSpec = {
    "description": field("Description"),
    "group-id": field("GroupId"),
    "group-name": field("GroupName"),
    "owner-id": field("OwnerId"),
    "vpc-id": field("VpcId"),
    **_permission_filters("", "IpPermissions"),
    **_permission_filters("egress.", "IpPermissionsEgress"),
}


def describe_security_groups(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    query = (
        select(SecurityGroup)
        .where(SecurityGroup.account_id == account_id, SecurityGroup.region == region)
        .order_by(SecurityGroup.created, SecurityGroup.id)
    )
    groups = list(session.scalars(query))
    ids = params.get("GroupIds") or []
    names = params.get("GroupNames") or []
    if ids or names:
        by_id = {g.id: g for g in groups}
        wanted: set[str] = set()
        for group_id in ids:
            if group_id not in by_id:
                raise _group_not_found(group_id)
            wanted.add(group_id)
        for name in names:
            found = _groups_named(session, account_id, region, name)
            if not found:
                default = vpcs.find_default_vpc(session, account_id, region)
                if default is not None:
                    raise Ec2Error(
                        f"The security group '{name}' does not exist in default VPC '{default.id}'",
                        code="InvalidGroup.NotFound",
                    )
                raise _group_not_found(name)
            wanted.add(found[0].id)
        groups = [g for g in groups if g.id in wanted]
    rules = _rules(session, [g.id for g in groups])
    views = [group_view(g, rules.get(g.id, [])) for g in groups]
    kept = apply_filters(views, params.get("Filters"), _GROUP_FILTERS)
    page, extra = paginate(kept, params.get("MaxResults"), params.get("NextToken"))
    return {"SecurityGroups": page, **extra}


_RULE_FILTERS: FilterSpec = {
    "group-id": field("GroupId"),
    "security-group-rule-id": field("SecurityGroupRuleId"),
}


def describe_security_group_rules(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    query = (
        select(SecurityGroupRule)
        .where(SecurityGroupRule.account_id == account_id, SecurityGroupRule.region == region)
        .order_by(SecurityGroupRule.group_id, SecurityGroupRule.position, SecurityGroupRule.id)
    )
    for flt in params.get("Filters") or []:
        if flt.get("Name") == "group-id":
            for value in flt.get("Values") or []:
                # AWS validates group ids given to this filter (not mere absence: that matches nothing).
                if not str(value).startswith("sg-"):
                    raise Ec2Error(
                        f"The security group ID '{value}' is malformed", code="InvalidGroupId.Malformed"
                    )
    ids = params.get("SecurityGroupRuleIds") or []
    if ids:
        query = query.where(SecurityGroupRule.id.in_(ids))
    rules = list(session.scalars(query))
    found = {r.id for r in rules}
    for rule_id in ids:
        if rule_id not in found:
            raise not_found("InvalidSecurityGroupRuleId.NotFound", "security group rule ID", rule_id)
    views = apply_filters([rule_view(r) for r in rules], params.get("Filters"), _RULE_FILTERS)
    page, extra = paginate(views, params.get("MaxResults"), params.get("NextToken"))
    return {"SecurityGroupRules": page, **extra}


_FOR_VPC_FILTERS: FilterSpec = {
    "group-id": field("GroupId"),
    "group-name": field("GroupName"),
    "owner-id": field("OwnerId"),
    "description": field("Description"),
}


def get_security_groups_for_vpc(
    session: Session, account_id: str, region: str, params: dict[str, Any]
) -> dict[str, Any]:
    vpc = vpcs.get_vpc(session, account_id, region, str(params["VpcId"]))
    groups = session.scalars(
        select(SecurityGroup)
        .where(SecurityGroup.vpc_id == vpc.id)
        .order_by(SecurityGroup.created, SecurityGroup.id)
    )
    views = []
    for group in groups:
        view: dict[str, Any] = {
            "Description": group.description,
            "GroupName": group.name,
            "OwnerId": group.account_id,
            "GroupId": group.id,
            "PrimaryVpcId": group.vpc_id,
        }
        if group.tags:
            view["Tags"] = list(group.tags)
        views.append(view)
    kept = apply_filters(views, params.get("Filters"), _FOR_VPC_FILTERS)
    page, extra = paginate(kept, params.get("MaxResults"), params.get("NextToken"))
    return {"SecurityGroupForVpcs": page, **extra}


def describe_security_group_references(
    session: Session, account_id: str, region: str, group_ids: list[str]
) -> list[dict[str, Any]]:
    """Groups in *other* VPCs whose rules reference these (peering): none unless peering exists."""
    out: list[dict[str, Any]] = []
    for group_id in group_ids:
        group = get_group(session, account_id, region, group_id)
        rows = session.execute(
            select(SecurityGroup.vpc_id)
            .join(SecurityGroupRule, SecurityGroupRule.group_id == SecurityGroup.id)
            .where(SecurityGroupRule.referenced_group_id == group.id, SecurityGroup.vpc_id != group.vpc_id)
            .distinct()
        )
        out.extend({"GroupId": group.id, "ReferencingVpcId": vpc_id} for (vpc_id,) in rows)
    return out


# Rule requests -----------------------------------------------------------------------------------


def _cidr(value: Any, version: int) -> str:
    text = str(value)
    member = "cidrIp" if version == 4 else "cidrIpv6"
    try:
        if "/" not in text:
            raise ValueError(text)
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        network = None
    if network is None or network.version != version:
        kind = "CIDR block" if version == 4 else "IPv6 CIDR block"
        raise invalid_value(f"Value ({text}) for parameter {member} is invalid. This is not a valid {kind}.")
    return text


def _port_bound(value: Any) -> int | None:
    return None if value is None else int(value)


def _ports(protocol: str, from_port: Any, to_port: Any) -> tuple[int | None, int | None]:
    """Validated (from, to) for ``protocol``: ports for TCP/UDP, type/code for ICMP, none otherwise."""
    start, end = _port_bound(from_port), _port_bound(to_port)
    if protocol in ("tcp", "udp"):
        if start is None or end is None:
            raise invalid_value(
                f"Invalid value 'Must specify both from and to ports with TCP/UDP.' for portRange ({protocol})"
            )
        if (start, end) == (-1, -1):
            return start, end
        for port in (start, end):
            if not 0 <= port <= 65535:
                raise invalid_value(f"Invalid value '{port}' for portRange. Must be between 0 and 65535")
        if start > end:
            raise invalid_value(
                f"Invalid TCP/UDP port range: from port ({start}) is greater than to port ({end})"
            )
        return start, end
    if protocol in ("icmp", "icmpv6"):
        icmp_type = -1 if start is None else start
        code = -1 if end is None else end
        if not -1 <= icmp_type <= 255:
            raise invalid_value(f"Invalid value '{icmp_type}' for ICMP type. Must be between -1 and 255")
        if not -1 <= code <= 255:
            raise invalid_value(f"Invalid value '{code}' for ICMP code. Must be between -1 and 255")
        if icmp_type == -1 and code != -1:
            raise invalid_value(
                f"Invalid ICMP code {code}: when the type is -1 (all types), the code must be -1"
            )
        return icmp_type, code
    return None, None


def _protocol(value: Any) -> str:
    protocol = ip_protocols.sg_protocol(value)
    if protocol is None:
        raise invalid_value(f"Invalid value '{value}' for IP protocol. Unknown protocol.")
    return protocol


def _referenced_group(session: Session, group: SecurityGroup, pair: dict[str, Any]) -> tuple[str, str]:
    user_id = str(pair.get("UserId") or group.account_id)
    if pair.get("GroupId"):
        ref_id = str(pair["GroupId"])
        if user_id != group.account_id:
            return ref_id, user_id  # another account's group: not ours to check
        ref = session.get(SecurityGroup, ref_id)
        if ref is None or ref.account_id != group.account_id or ref.region != group.region:
            raise _group_not_found(ref_id)
        return ref.id, user_id
    name = pair.get("GroupName")
    if not name:
        raise invalid_value("Either GroupId or GroupName must be specified in UserIdGroupPairs")
    ref_by_name = session.scalars(
        select(SecurityGroup).where(SecurityGroup.vpc_id == group.vpc_id, SecurityGroup.name == str(name))
    ).first()
    if ref_by_name is None:
        raise _group_not_found(str(name))
    return ref_by_name.id, user_id


def _prefix_list(value: Any) -> str:
    # Prefix lists belong to the endpoints family; any well-formed pl- id is accepted here so that
    # AWS-managed lists (which need no row) work as rule peers.
    text = str(value)
    if not text.startswith("pl-") or len(text) <= 3:
        raise not_found("InvalidPrefixListId.NotFound", "prefix list ID", text)
    return text


def _legacy_permissions(params: dict[str, Any]) -> list[dict[str, Any]]:
    """The flat (pre-IpPermissions) parameters as one permission."""
    if params.get("IpPermissions"):
        return list(params["IpPermissions"])
    if not any(params.get(k) is not None for k in ("IpProtocol", "CidrIp", "SourceSecurityGroupName")):
        return []
    perm: dict[str, Any] = {"IpProtocol": params.get("IpProtocol") or ip_protocols.ALL}
    for key in ("FromPort", "ToPort"):
        if params.get(key) is not None:
            perm[key] = params[key]
    if params.get("CidrIp"):
        perm["IpRanges"] = [{"CidrIp": params["CidrIp"]}]
    if params.get("SourceSecurityGroupName"):
        pair = {"GroupName": params["SourceSecurityGroupName"]}
        if params.get("SourceSecurityGroupOwnerId"):
            pair["UserId"] = params["SourceSecurityGroupOwnerId"]
        perm["UserIdGroupPairs"] = [pair]
    return [perm]


def rule_specs(session: Session, group: SecurityGroup, permissions: list[dict[str, Any]]) -> list[RuleSpec]:
    """One spec per peer of every permission, validated."""
    specs: list[RuleSpec] = []
    for perm in permissions:
        protocol = _protocol(perm.get("IpProtocol"))
        start, end = _ports(protocol, perm.get("FromPort"), perm.get("ToPort"))
        base = RuleSpec(protocol, start, end)
        for item in perm.get("IpRanges") or []:
            specs.append(
                replace(base, cidr_ipv4=_cidr(item.get("CidrIp"), 4), description=item.get("Description"))
            )
        for item in perm.get("Ipv6Ranges") or []:
            specs.append(
                replace(base, cidr_ipv6=_cidr(item.get("CidrIpv6"), 6), description=item.get("Description"))
            )
        for item in perm.get("PrefixListIds") or []:
            specs.append(
                replace(
                    base,
                    prefix_list_id=_prefix_list(item.get("PrefixListId")),
                    description=item.get("Description"),
                )
            )
        for item in perm.get("UserIdGroupPairs") or []:
            ref_id, user_id = _referenced_group(session, group, item)
            specs.append(
                replace(
                    base,
                    referenced_group_id=ref_id,
                    referenced_user_id=user_id,
                    description=item.get("Description"),
                )
            )
    return specs


def _describe_rule(spec: RuleSpec) -> str:
    """AWS's rendering of a rule in InvalidPermission.Duplicate."""
    peer = f"peer: {spec.peer}"
    if spec.protocol == ip_protocols.ALL:
        return f"{peer}, ALL, ALLOW"
    if spec.protocol in ("tcp", "udp"):
        return f"{peer}, {spec.protocol.upper()}, from port: {spec.from_port}, to port: {spec.to_port}, ALLOW"
    if spec.protocol in ("icmp", "icmpv6"):
        return f"{peer}, {spec.protocol.upper()}, type: {spec.from_port}, code: {spec.to_port}, ALLOW"
    return f"{peer}, {spec.protocol}, ALLOW"


def _check_limit(existing: list[RuleSpec], new: list[RuleSpec]) -> None:
    """At most 60 rules per direction, counted separately for IPv4 and IPv6; a rule whose peer is a
    group or a prefix list counts in both."""
    every = existing + new
    ipv4 = sum(1 for s in every if s.cidr_ipv6 is None)
    ipv6 = sum(1 for s in every if s.cidr_ipv4 is None)
    if max(ipv4, ipv6) > MAX_RULES_PER_DIRECTION:
        raise Ec2Error(
            "The maximum number of rules per security group has been reached.",
            code="RulesPerSecurityGroupLimitExceeded",
        )


def _direction_rules(session: Session, group_id: str, egress: bool) -> list[SecurityGroupRule]:
    return list(
        session.scalars(
            select(SecurityGroupRule)
            .where(SecurityGroupRule.group_id == group_id, SecurityGroupRule.is_egress.is_(egress))
            .order_by(SecurityGroupRule.position, SecurityGroupRule.id)
        )
    )


def authorize(
    session: Session, group: SecurityGroup, params: dict[str, Any], *, egress: bool
) -> list[SecurityGroupRule]:
    permissions = _legacy_permissions(params)
    specs = rule_specs(session, group, permissions)
    if not specs:
        raise Ec2Error("The request must contain the parameter ipPermissions", code="MissingParameter")
    current = [_spec_of(r) for r in _direction_rules(session, group.id, egress)]
    _check_limit(current, specs)
    seen = {s.key() for s in current}
    for spec in specs:
        if spec.key() in seen:
            raise Ec2Error(
                f'the specified rule "{_describe_rule(spec)}" already exists',
                code="InvalidPermission.Duplicate",
            )
        seen.add(spec.key())
    tags = tags_from_specifications(params.get("TagSpecifications"), "security-group-rule")
    return _add_rules(session, group, specs, egress=egress, tags=tags)


def _revoked_view(rule: SecurityGroupRule) -> dict[str, Any]:
    view: dict[str, Any] = {
        "SecurityGroupRuleId": rule.id,
        "GroupId": rule.group_id,
        "IsEgress": rule.is_egress,
        "IpProtocol": rule.protocol,
        "FromPort": -1 if rule.from_port is None else rule.from_port,
        "ToPort": -1 if rule.to_port is None else rule.to_port,
    }
    for key, value in (
        ("CidrIpv4", rule.cidr_ipv4),
        ("CidrIpv6", rule.cidr_ipv6),
        ("PrefixListId", rule.prefix_list_id),
        ("ReferencedGroupId", rule.referenced_group_id),
        ("Description", rule.description),
    ):
        if value is not None:
            view[key] = value
    return view


def revoke(session: Session, group: SecurityGroup, params: dict[str, Any], *, egress: bool) -> dict[str, Any]:
    rules = _direction_rules(session, group.id, egress)
    rule_ids = params.get("SecurityGroupRuleIds") or []
    gone: list[SecurityGroupRule] = []
    unknown: list[dict[str, Any]] = []
    if rule_ids:
        by_id = {r.id: r for r in rules}
        for rule_id in rule_ids:
            if rule_id not in by_id:
                raise not_found("InvalidSecurityGroupRuleId.NotFound", "security group rule ID", rule_id)
            gone.append(by_id[rule_id])
    else:
        specs = rule_specs(session, group, _legacy_permissions(params))
        if not specs:
            raise Ec2Error("The request must contain the parameter ipPermissions", code="MissingParameter")
        by_key = {_spec_of(r).key(): r for r in rules}
        for spec in specs:
            match = by_key.get(spec.key())
            if match is None:
                unknown.append(_spec_permission(spec))
            elif match not in gone:
                gone.append(match)
        if not gone:
            raise Ec2Error(
                "The specified rule does not exist in this security group.", code="InvalidPermission.NotFound"
            )
    revoked = [_revoked_view(r) for r in gone]
    for rule in gone:
        session.delete(rule)
    session.flush()
    out: dict[str, Any] = {"Return": True, "RevokedSecurityGroupRules": revoked}
    if unknown:
        out["UnknownIpPermissions"] = unknown
    return out


def update_rule_descriptions(
    session: Session, group: SecurityGroup, params: dict[str, Any], *, egress: bool
) -> None:
    rules = _direction_rules(session, group.id, egress)
    by_id = {r.id: r for r in rules}
    for item in params.get("SecurityGroupRuleDescriptions") or []:
        rule = by_id.get(str(item.get("SecurityGroupRuleId")))
        if rule is None:
            raise not_found(
                "InvalidSecurityGroupRuleId.NotFound",
                "security group rule ID",
                str(item.get("SecurityGroupRuleId")),
            )
        rule.description = item.get("Description")
    if params.get("IpPermissions"):
        by_key = {_spec_of(r).key(): r for r in rules}
        for spec in rule_specs(session, group, list(params["IpPermissions"])):
            match = by_key.get(spec.key())
            if match is None:
                raise Ec2Error(
                    "The specified rule does not exist in this security group.",
                    code="InvalidPermission.NotFound",
                )
            match.description = spec.description


def modify_security_group_rules(
    session: Session, group: SecurityGroup, updates: list[dict[str, Any]]
) -> None:
    rules = {
        r.id: r
        for r in session.scalars(select(SecurityGroupRule).where(SecurityGroupRule.group_id == group.id))
    }
    for update in updates:
        rule_id = str(update.get("SecurityGroupRuleId"))
        rule = rules.get(rule_id)
        if rule is None:
            raise not_found("InvalidSecurityGroupRuleId.NotFound", "security group rule ID", rule_id)
        request = update.get("SecurityGroupRule") or {}
        perm: dict[str, Any] = {"IpProtocol": request.get("IpProtocol", rule.protocol)}
        for key in ("FromPort", "ToPort"):
            if request.get(key) is not None:
                perm[key] = request[key]
        if request.get("CidrIpv4"):
            perm["IpRanges"] = [{"CidrIp": request["CidrIpv4"]}]
        elif request.get("CidrIpv6"):
            perm["Ipv6Ranges"] = [{"CidrIpv6": request["CidrIpv6"]}]
        elif request.get("PrefixListId"):
            perm["PrefixListIds"] = [{"PrefixListId": request["PrefixListId"]}]
        elif request.get("ReferencedGroupId"):
            perm["UserIdGroupPairs"] = [{"GroupId": request["ReferencedGroupId"]}]
        else:
            raise Ec2Error(
                "You must specify exactly one of CidrIpv4, CidrIpv6, PrefixListId or ReferencedGroupId.",
                code="MissingParameter",
            )
        (spec,) = rule_specs(session, group, [perm])
        others = {
            _spec_of(r).key() for r in rules.values() if r.is_egress == rule.is_egress and r.id != rule.id
        }
        if spec.key() in others:
            raise Ec2Error(
                f'the specified rule "{_describe_rule(spec)}" already exists',
                code="InvalidPermission.Duplicate",
            )
        rule.protocol, rule.from_port, rule.to_port = spec.protocol, spec.from_port, spec.to_port
        rule.cidr_ipv4, rule.cidr_ipv6 = spec.cidr_ipv4, spec.cidr_ipv6
        rule.prefix_list_id = spec.prefix_list_id
        rule.referenced_group_id, rule.referenced_user_id = spec.referenced_group_id, spec.referenced_user_id
        if "Description" in request:
            rule.description = request["Description"]
    session.flush()


# VPC hooks: the topology family creates and deletes VPCs without importing this module. ---------


def _on_vpc_created(session: Session, vpc: Vpc) -> None:
    create_default_security_group(session, account_id=vpc.account_id, region=vpc.region, vpc_id=vpc.id)
    network_acls.create_default_network_acl(
        session, account_id=vpc.account_id, region=vpc.region, vpc_id=vpc.id
    )


def _on_vpc_deleted(session: Session, vpc: Vpc) -> None:
    delete_vpc_security(session, vpc.id)


def _blocks_vpc_deletion(session: Session, vpc: Vpc) -> bool:
    return vpc_has_security_dependencies(session, vpc.id)


vpcs.on_vpc_created.append(_on_vpc_created)
vpcs.on_vpc_deleted.append(_on_vpc_deleted)
vpcs.vpc_dependencies.append(_blocks_vpc_deletion)
