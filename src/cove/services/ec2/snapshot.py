"""A `netmodel.Network` of one account and region, read from the EC2 tables.

The database is the source of truth; the model is a snapshot of it that `cove explain`, the
SageMaker pre-flight checks and (next) the kernel layer all read, so every consumer sees the same
semantics.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove import netmodel as nm
from cove.services.ec2.endpoints import endpoint_services
from cove.services.ec2.prefix_lists import aws_prefix_lists
from cove.services.ec2.tables.endpoints import FlowLog, ManagedPrefixList, VpcEndpoint
from cove.services.ec2.tables.security import (
    NetworkAcl,
    NetworkAclAssociation,
    NetworkAclEntry,
    SecurityGroup,
    SecurityGroupRule,
)
from cove.services.ec2.tables.topology import (
    Address,
    InternetGateway,
    NatGateway,
    NetworkInterface,
    PrivateIp,
    Route,
    RouteTable,
    RouteTableAssociation,
    Subnet,
    Vpc,
)

__all__ = [
    "INTERFACE_SERVICE_ADDRESSES",
    "free_address",
    "free_address_count",
    "free_addresses",
    "load_network",
    "service_prefix_list_id",
    "with_probes",
]

# Public addresses of the services reachable only through interface endpoints or the internet
# (S3 and DynamoDB have AWS-managed prefix lists of their own). Inside 198.18.0.0/15, Cove's
# simulated "AWS public" space; the network layer serves these addresses.
INTERFACE_SERVICE_ADDRESSES: dict[str, str] = {
    "sagemaker.api": "198.18.64.0/24",
    "sagemaker.runtime": "198.18.65.0/24",
    "sts": "198.18.66.0/24",
    "kms": "198.18.67.0/24",
    "logs": "198.18.68.0/24",
    "monitoring": "198.18.69.0/24",
    "ecr.api": "198.18.70.0/24",
    "ecr.dkr": "198.18.71.0/24",
    "ec2": "198.18.72.0/24",
    "application-autoscaling": "198.18.73.0/24",
}

_SYNTHETIC_PREFIX = "pl-cove-"


def service_prefix_list_id(region: str, service_name: str) -> str | None:
    """The prefix list holding ``service_name``'s public addresses (AWS-managed or Cove's own)."""
    for pl in aws_prefix_lists(region):
        if pl["name"] == service_name:
            return str(pl["id"])
    suffix = service_name.removeprefix(f"com.amazonaws.{region}.")
    return _SYNTHETIC_PREFIX + suffix.replace(".", "-") if suffix in INTERFACE_SERVICE_ADDRESSES else None


def _services(
    region: str, customer: Iterable[ManagedPrefixList]
) -> tuple[list[nm.PrefixList], list[nm.Service]]:
    lists = [
        nm.PrefixList(pl["id"], pl["name"], tuple(pl["cidrs"]))
        for pl in aws_prefix_lists(region)
        if pl["family"] == "IPv4"
    ]
    for suffix, cidr in INTERFACE_SERVICE_ADDRESSES.items():
        name = f"com.amazonaws.{region}.{suffix}"
        lists.append(nm.PrefixList(_SYNTHETIC_PREFIX + suffix.replace(".", "-"), name, (cidr,)))
    known = {pl.name: pl.id for pl in lists}
    services: list[nm.Service] = []
    for svc in endpoint_services(region):
        pl_id = known.get(svc.name)
        if pl_id and all(s.name != svc.name for s in services):
            services.append(
                nm.Service(svc.name, pl_id, svc.host.removeprefix("*.") + f".{region}.amazonaws.com")
            )
    for row in customer:
        cidrs = tuple(e["Cidr"] for e in row.entries if ":" not in e["Cidr"])
        lists.append(nm.PrefixList(row.id, row.name, cidrs))
    return lists, services


def _ports(protocol: str, low: int | None, high: int | None) -> tuple[int, int] | None:
    if protocol in ("tcp", "udp", "6", "17") and low is not None and high is not None and low >= 0:
        return (low, high)
    return None


def _sg_rule(rule: SecurityGroupRule) -> nm.SecurityGroupRule | None:
    peer = rule.cidr_ipv4 or rule.referenced_group_id or rule.prefix_list_id
    if peer is None:
        return None  # IPv6 peers: the model evaluates IPv4 flows
    protocol = rule.protocol
    icmp = protocol in ("icmp", "1")
    return nm.SecurityGroupRule(
        protocol=protocol,
        ports=None if icmp else _ports(protocol, rule.from_port, rule.to_port),
        peer=peer,
        icmp_type=rule.from_port if icmp and rule.from_port is not None else -1,
        icmp_code=rule.to_port if icmp and rule.to_port is not None else -1,
        rule_id=rule.id,
        description=rule.description or "",
    )


def _nacl_entry(entry: NetworkAclEntry) -> nm.NaclEntry | None:
    if entry.rule_number > 32766 or entry.cidr_block is None:
        return None  # the `*` rule is implicit in the model; IPv6 entries do not apply to IPv4 flows
    icmp = entry.protocol in ("1", "icmp")
    return nm.NaclEntry(
        rule_number=entry.rule_number,
        egress=entry.egress,
        action=nm.NaclAction(entry.rule_action),
        protocol=entry.protocol,
        cidr=entry.cidr_block,
        ports=None if icmp else _ports(entry.protocol, entry.port_from, entry.port_to),
        icmp_type=entry.icmp_type if icmp and entry.icmp_type is not None else -1,
        icmp_code=entry.icmp_code if icmp and entry.icmp_code is not None else -1,
    )


_TARGETS = {
    "NatGatewayId": nm.RouteTargetKind.NAT,
    "NetworkInterfaceId": nm.RouteTargetKind.ENI,
    "VpcEndpointId": nm.RouteTargetKind.VPCE,
}


def _route(route: Route, live: set[str]) -> nm.Route | None:
    destination = route.destination_cidr_block or route.destination_prefix_list_id
    if destination is None:
        return None
    if route.target_id == "local":
        return nm.Route(destination, nm.RouteTargetKind.LOCAL, "local")
    if route.target_id not in live:
        return nm.Route(destination, nm.RouteTargetKind.BLACKHOLE, route.target_id)
    if route.target_id.startswith("igw-"):
        kind = nm.RouteTargetKind.IGW
    elif route.target_id.startswith("vpce-"):
        kind = nm.RouteTargetKind.VPCE
    else:
        kind = _TARGETS.get(route.target_type, nm.RouteTargetKind.BLACKHOLE)
    return nm.Route(
        destination, kind, route.target_id, propagated=route.origin == "EnableVgwRoutePropagation"
    )


def _taken(network: nm.Network, subnet_id: str) -> set[str]:
    return {ip for eni in network.enis.values() if eni.subnet_id == subnet_id for ip in eni.private_ips}


def free_addresses(network: nm.Network, subnet_id: str, count: int) -> list[str]:
    """The first ``count`` addresses new interfaces in the subnet would get (the first four and the
    last are reserved); fewer when the subnet is nearly full. They stand for "new instances here"."""
    block = ipaddress.ip_network(network.subnets[subnet_id].cidr)
    taken = _taken(network, subnet_id)
    found: list[str] = []
    for offset in range(4, block.num_addresses - 1):
        address = str(block.network_address + offset)
        if address not in taken:
            found.append(address)
            if len(found) == count:
                break
    return found


def free_address(network: nm.Network, subnet_id: str) -> str | None:
    found = free_addresses(network, subnet_id, 1)
    return found[0] if found else None


def with_probes(network: nm.Network, probes: list[nm.Eni]) -> nm.Network:
    """A copy of ``network`` with hypothetical interfaces added ("a new instance in this subnet with
    these groups"). Asking with an ENI id, not a bare address, keeps the question unambiguous when
    several VPCs use the same CIDRs."""
    return nm.Network(
        region=network.region,
        vpcs=network.vpcs.values(),
        subnets=network.subnets.values(),
        route_tables=network.route_tables.values(),
        network_acls=network.network_acls.values(),
        security_groups=network.security_groups.values(),
        enis=[*network.enis.values(), *probes],
        internet_gateways=network.internet_gateways.values(),
        nat_gateways=network.nat_gateways.values(),
        prefix_lists=network.prefix_lists.values(),
        vpc_endpoints=network.vpc_endpoints.values(),
        services=network.services.values(),
        flow_logs=network.flow_logs.values(),
    )


def free_address_count(network: nm.Network, subnet_id: str) -> int:
    size = ipaddress.ip_network(network.subnets[subnet_id].cidr).num_addresses
    return max(size - 5 - len(_taken(network, subnet_id)), 0)


def load_network(session: Session, account_id: str, region: str) -> nm.Network:
    """Every VPC resource of the account in the region, as one validated model."""

    def rows(table: Any) -> list[Any]:
        return list(
            session.scalars(select(table).where(table.account_id == account_id, table.region == region))
        )

    vpcs = rows(Vpc)
    vpc_ids = {v.id for v in vpcs}
    subnets = rows(Subnet)
    tables = rows(RouteTable)
    table_ids = [t.id for t in tables]
    routes = list(session.scalars(select(Route).where(Route.route_table_id.in_(table_ids))))
    assocs = list(
        session.scalars(
            select(RouteTableAssociation).where(RouteTableAssociation.route_table_id.in_(table_ids))
        )
    )
    igws = rows(InternetGateway)
    nats = [n for n in rows(NatGateway) if n.state not in ("deleting", "deleted", "failed")]
    enis = rows(NetworkInterface)
    ips = list(
        session.scalars(select(PrivateIp).where(PrivateIp.network_interface_id.in_([e.id for e in enis])))
    )
    addresses = rows(Address)
    groups = rows(SecurityGroup)
    sg_rules = list(
        session.scalars(
            select(SecurityGroupRule).where(SecurityGroupRule.group_id.in_([g.id for g in groups]))
        )
    )
    acls = rows(NetworkAcl)
    acl_ids = [a.id for a in acls]
    entries = list(session.scalars(select(NetworkAclEntry).where(NetworkAclEntry.acl_id.in_(acl_ids))))
    acl_assocs = list(
        session.scalars(select(NetworkAclAssociation).where(NetworkAclAssociation.acl_id.in_(acl_ids)))
    )
    endpoints = [e for e in rows(VpcEndpoint) if e.state not in ("deleting", "deleted")]
    flow_logs = rows(FlowLog)
    prefix_lists, services = _services(region, rows(ManagedPrefixList))

    live = (
        {g.id for g in igws if g.vpc_id}
        | {n.id for n in nats}
        | {e.id for e in enis}
        | {e.id for e in endpoints}
    )
    routes_by_table: dict[str, list[nm.Route]] = defaultdict(list)
    for r in sorted(routes, key=lambda r: r.id):
        converted = _route(r, live)
        if converted is not None:
            routes_by_table[r.route_table_id].append(converted)
    main = {a.route_table_id for a in assocs if a.main}
    subnets_of_table: dict[str, list[str]] = defaultdict(list)
    for a in assocs:
        if a.subnet_id:
            subnets_of_table[a.route_table_id].append(a.subnet_id)

    ips_of: dict[str, list[PrivateIp]] = defaultdict(list)
    for ip in ips:
        ips_of[ip.network_interface_id].append(ip)
    public_of = {a.network_interface_id: a.public_ip for a in addresses if a.network_interface_id}

    rules_of: dict[str, list[SecurityGroupRule]] = defaultdict(list)
    for rule in sorted(sg_rules, key=lambda r: (r.position, r.id)):
        rules_of[rule.group_id].append(rule)
    entries_of: dict[str, list[nm.NaclEntry]] = defaultdict(list)
    for entry in entries:
        converted_entry = _nacl_entry(entry)
        if converted_entry is not None:
            entries_of[entry.acl_id].append(converted_entry)
    acl_subnets: dict[str, list[str]] = defaultdict(list)
    for acl_assoc in acl_assocs:
        acl_subnets[acl_assoc.acl_id].append(acl_assoc.subnet_id)

    # A rule naming a prefix list or group that is gone matches nothing; it must not make the
    # whole account's snapshot invalid.
    known_peers = {pl.id for pl in prefix_lists} | {g.id for g in groups}

    def usable(rule: nm.SecurityGroupRule | None) -> nm.SecurityGroupRule | None:
        if rule is None or (rule.peer_kind is not nm.PeerKind.CIDR and rule.peer not in known_peers):
            return None
        return rule

    def sg(group: SecurityGroup) -> nm.SecurityGroup:
        own = [(usable(_sg_rule(r)), r.is_egress) for r in rules_of[group.id]]
        return nm.SecurityGroup(
            group.id,
            group.vpc_id,
            group.name,
            tuple(r for r, egress in own if r is not None and not egress),
            tuple(r for r, egress in own if r is not None and egress),
        )

    def eni(row: NetworkInterface) -> nm.Eni:
        mine = sorted(ips_of[row.id], key=lambda ip: (not ip.primary, ipaddress.IPv4Address(ip.address)))
        kind = {
            "nat_gateway": nm.EniKind.NAT_GATEWAY,
            "vpc_endpoint": nm.EniKind.VPC_ENDPOINT,
            "efa": nm.EniKind.EFA,
        }
        return nm.Eni(
            row.id,
            row.subnet_id,
            tuple(ip.address for ip in mine),
            tuple(row.group_ids),
            kind.get(row.interface_type, nm.EniKind.INTERFACE),
            public_of.get(row.id),
            row.mac_address,
            row.source_dest_check,
        )

    return nm.Network(
        region=region,
        vpcs=[
            nm.Vpc(
                v.id,
                tuple(
                    a["CidrBlock"]
                    for a in v.cidr_blocks
                    if a.get("CidrBlockState", {}).get("State") == "associated"
                ),
                tuple(a["Ipv6CidrBlock"] for a in v.ipv6_cidr_blocks),
                v.enable_dns_support,
                v.enable_dns_hostnames,
                nm.Tenancy(v.instance_tenancy),
            )
            for v in vpcs
        ],
        subnets=[nm.Subnet(s.id, s.vpc_id, s.cidr_block, s.availability_zone) for s in subnets],
        route_tables=[
            nm.RouteTable(
                t.id,
                t.vpc_id,
                t.id in main,
                tuple(routes_by_table[t.id]),
                tuple(sorted(subnets_of_table[t.id])),
            )
            for t in tables
        ],
        network_acls=[
            nm.NetworkAcl(
                a.id, a.vpc_id, a.is_default, tuple(entries_of[a.id]), tuple(sorted(acl_subnets[a.id]))
            )
            for a in acls
        ],
        security_groups=[sg(g) for g in groups],
        enis=[eni(e) for e in enis],
        internet_gateways=[
            nm.InternetGateway(g.id, g.vpc_id if g.vpc_id in vpc_ids else None)
            for g in igws
            if g.kind == "internet"
        ],
        nat_gateways=[
            nm.NatGateway(
                n.id,
                n.subnet_id,
                n.network_interface_id or "",
                nm.NatConnectivity(n.connectivity_type),
                n.public_ip,
            )
            for n in nats
            if n.network_interface_id
        ],
        prefix_lists=prefix_lists,
        vpc_endpoints=[
            nm.VpcEndpoint(
                e.id,
                e.vpc_id,
                nm.EndpointType(e.endpoint_type),
                e.service_name,
                tuple(e.route_table_ids),
                tuple(e.subnet_ids),
                tuple(e.network_interface_ids),
                tuple(e.group_ids),
                e.policy_document or nm.DEFAULT_ENDPOINT_POLICY,
                e.private_dns_enabled,
            )
            for e in endpoints
        ],
        services=services,
        flow_logs=[
            nm.FlowLog(f.id, f.resource_id, nm.TrafficType(f.traffic_type or "ALL")) for f in flow_logs
        ],
    )
