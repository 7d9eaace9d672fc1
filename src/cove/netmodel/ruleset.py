"""`compile_network(network) -> RuleSet`: the kernel-facing description the fabric layer renders.

Contract (what `fabric/` may rely on):

* One `VpcRouter` per VPC (a router namespace). Every ENI is an `EniAttachment`: routed /32s
  (primary address first) on its own veth, with its subnet, optional MAC and public IP (the
  internet gateway's 1:1 translation).
* `SubnetBinding` selects the kernel routing table (`ip rule` by source subnet) and the NACL.
  `RoutingTable.routes` are final kernel routes: prefix lists are expanded to their CIDRs and
  AWS's priority at equal prefix (local > static CIDR > prefix list > propagated) is already
  resolved, so plain longest-prefix match in the kernel reproduces AWS. A route to an internet
  gateway that is not attached to the VPC compiles to `blackhole`, as AWS marks it.
* `NaclChain`: stateless, evaluated only when a packet crosses the subnet boundary (source and
  destination in different subnets): `outbound` on the source subnet, `inbound` on the
  destination subnet, rules in ascending number, first match accepts or drops, and the final
  `*` rules (32767 IPv4, 32768 IPv6) drop. No conntrack shortcut: replies are re-evaluated.
* `SgChain`: stateful, per ENI and direction: `ct state established,related accept` first,
  then any matching rule accepts, otherwise drop (`implicit_log_prefix`). Peers are a CIDR, a
  named `AddressSet` of SG members (`sg-…`, member /32s, kept in sync) or of a prefix list
  (`pl-…`, interval set). `accept_protocols` restricts an ENI to some protocols (interface
  endpoints: TCP only). NAT gateway ENIs have no chain (no security groups).
* `Gateway`s: internet gateway, NAT gateway (its ENI, subnet, Elastic IP, TCP/UDP/ICMP only,
  source NAT onto ports 1024-65535) and gateway endpoints (prefix list, TCP and ICMP echo only).
* `Exemption`s bypass both chains and are never flow-logged: the Amazon DNS server (VPC base+2
  and 169.254.169.253) on TCP/UDP 53.
* `FlowLogPoint`s: the ENIs whose ACCEPT and/or REJECT records are collected; every drop rule
  carries a `log_prefix` `<component>|<layer>|<rule>` for NFLOG.

Everything is sorted and made of tuples, so two compilations of equal networks are equal and a
diff of `to_dict()` is the change the kernel layer must reconcile.
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass
from typing import Any

from cove.netmodel.addresses import Cidr, format_address, protocol_number
from cove.netmodel.matching import route_rank
from cove.netmodel.network import Network
from cove.netmodel.resources import (
    EndpointType,
    EniKind,
    NaclAction,
    PeerKind,
    Route,
    RouteTargetKind,
    TrafficType,
)

__all__ = [
    "AddressSet",
    "EniAttachment",
    "Exemption",
    "FlowLogPoint",
    "Gateway",
    "KernelRoute",
    "NaclChain",
    "NaclRule",
    "RoutingTable",
    "RuleSet",
    "SgChain",
    "SgRule",
    "SubnetBinding",
    "VpcRouter",
    "compile_network",
]

TABLE_BASE = 1000
TABLE_SPAN = 1 << 20


@dataclass(frozen=True, slots=True)
class EniAttachment:
    eni_id: str
    subnet_id: str
    kind: str
    addresses: tuple[str, ...]
    mac: str | None
    public_ip: str | None
    security_group_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KernelRoute:
    destination: str
    next_hop: str
    """local | igw | nat | endpoint | eni | blackhole"""
    next_hop_id: str
    origin: str
    """The AWS route this came from: its CIDR or prefix-list id."""


@dataclass(frozen=True, slots=True)
class RoutingTable:
    route_table_id: str
    table: int
    routes: tuple[KernelRoute, ...]


@dataclass(frozen=True, slots=True)
class SubnetBinding:
    subnet_id: str
    cidr: str
    availability_zone: str
    route_table_id: str
    table: int
    network_acl_id: str


@dataclass(frozen=True, slots=True)
class NaclRule:
    number: int
    protocol: int
    cidr: str
    ports: tuple[int, int] | None
    icmp_type: int
    icmp_code: int
    action: str
    """accept | drop"""
    log_prefix: str


@dataclass(frozen=True, slots=True)
class NaclChain:
    network_acl_id: str
    direction: str
    """inbound | outbound"""
    subnet_ids: tuple[str, ...]
    rules: tuple[NaclRule, ...]


@dataclass(frozen=True, slots=True)
class SgRule:
    sg_id: str
    rule: str
    protocol: int
    ports: tuple[int, int] | None
    icmp_type: int
    icmp_code: int
    peer_kind: str
    """cidr | sg-set | prefix-set"""
    peer: str


@dataclass(frozen=True, slots=True)
class SgChain:
    eni_id: str
    direction: str
    """ingress | egress"""
    addresses: tuple[str, ...]
    rules: tuple[SgRule, ...]
    accept_protocols: tuple[int, ...] | None
    implicit_log_prefix: str


@dataclass(frozen=True, slots=True)
class AddressSet:
    name: str
    kind: str
    """security-group | prefix-list"""
    elements: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Gateway:
    gateway_id: str
    kind: str
    """igw | nat | gateway-endpoint"""
    subnet_id: str | None
    address: str | None
    public_ip: str | None
    service_name: str | None
    prefix_list_id: str | None
    accept_protocols: tuple[int, ...] | None
    """None = all; gateway endpoints: TCP and ICMP (echo only); NAT: TCP, UDP, ICMP."""
    source_ports: tuple[int, int] | None


@dataclass(frozen=True, slots=True)
class Exemption:
    address: str
    protocols: tuple[int, ...]
    port: int
    reason: str


@dataclass(frozen=True, slots=True)
class FlowLogPoint:
    eni_id: str
    flow_log_id: str
    actions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VpcRouter:
    vpc_id: str
    cidrs: tuple[str, ...]
    attachments: tuple[EniAttachment, ...]
    routing_tables: tuple[RoutingTable, ...]
    subnets: tuple[SubnetBinding, ...]
    nacl_chains: tuple[NaclChain, ...]
    sg_chains: tuple[SgChain, ...]
    address_sets: tuple[AddressSet, ...]
    gateways: tuple[Gateway, ...]
    exemptions: tuple[Exemption, ...]
    flow_log_points: tuple[FlowLogPoint, ...]


@dataclass(frozen=True, slots=True)
class RuleSet:
    vpcs: tuple[VpcRouter, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def vpc(self, vpc_id: str) -> VpcRouter:
        for router in self.vpcs:
            if router.vpc_id == vpc_id:
                return router
        raise KeyError(vpc_id)


def _table_numbers(route_table_ids: list[str]) -> dict[str, int]:
    """Kernel table numbers derived from the id (stable when other tables come and go)."""
    numbers: dict[str, int] = {}
    used: set[int] = set()
    for rt_id in sorted(route_table_ids):
        number = TABLE_BASE + zlib.crc32(rt_id.encode()) % TABLE_SPAN
        while number in used:
            number += 1
        used.add(number)
        numbers[rt_id] = number
    return numbers


def _kernel_routes(network: Network, vpc_id: str, routes: tuple[Route, ...]) -> tuple[KernelRoute, ...]:
    best: dict[Cidr, tuple[tuple[int, str], KernelRoute]] = {}
    igw = network.igw_by_vpc.get(vpc_id)
    for route in routes:
        target = route.target
        hop: str = target.value
        hop_id = route.target_id
        if target is RouteTargetKind.VPCE:
            hop = "endpoint"
        elif target is RouteTargetKind.IGW and (igw is None or igw.id != route.target_id):
            hop = "blackhole"
        blocks = (
            network.prefix_list_cidrs.get(route.destination, ())
            if route.uses_prefix_list
            else (Cidr.parse(route.destination),)
        )
        for block in blocks:
            key = (route_rank(route), route.destination)
            current = best.get(block)
            if current is None or key < current[0]:
                best[block] = (key, KernelRoute(str(block), hop, hop_id, route.destination))
    ordered = sorted(best.items(), key=lambda item: (item[0].version, -item[0].prefix, item[0].network))
    return tuple(route for _, (_, route) in ordered)


def _nacl_chains(network: Network, vpc_id: str) -> tuple[NaclChain, ...]:
    subnets_of: dict[str, list[str]] = {}
    for subnet_id, acl in network.subnet_acl.items():
        subnets_of.setdefault(acl.id, []).append(subnet_id)
    chains: list[NaclChain] = []
    for acl in sorted((a for a in network.network_acls.values() if a.vpc_id == vpc_id), key=lambda a: a.id):
        for egress, direction in ((False, "inbound"), (True, "outbound")):
            rules = [
                NaclRule(
                    e.rule_number,
                    int(e.protocol),
                    str(Cidr.parse(e.cidr)),
                    e.ports,
                    e.icmp_type,
                    e.icmp_code,
                    "accept" if e.action is NaclAction.ALLOW else "drop",
                    f"{acl.id}|nacl-{direction}|{e.rule_number}",
                )
                for e in sorted(acl.entries, key=lambda e: e.rule_number)
                if e.egress == egress
            ]
            for number, cidr in ((32767, "0.0.0.0/0"), (32768, "::/0")):
                rules.append(NaclRule(number, -1, cidr, None, -1, -1, "drop", f"{acl.id}|nacl-{direction}|*"))
            chains.append(
                NaclChain(acl.id, direction, tuple(sorted(subnets_of.get(acl.id, []))), tuple(rules))
            )
    return tuple(chains)


def _sg_chains(network: Network, vpc_id: str) -> tuple[tuple[SgChain, ...], set[str], set[str]]:
    chains: list[SgChain] = []
    sg_sets: set[str] = set()
    pl_sets: set[str] = set()
    for eni in sorted(network.enis.values(), key=lambda e: e.id):
        if network.eni_vpc.get(eni.id) != vpc_id or eni.kind is EniKind.NAT_GATEWAY:
            continue
        sg_ids = network.security_groups_of(eni)
        accept = (protocol_number("tcp"),) if eni.id in network.endpoint_by_eni else None
        addresses = tuple(format_address(a) for a in network.eni_addresses[eni.id])
        for egress, direction in ((False, "ingress"), (True, "egress")):
            rules: list[SgRule] = []
            for sg_id in sg_ids:
                sg = network.security_groups[sg_id]
                for index, rule in enumerate(sg.egress if egress else sg.ingress):
                    kind = rule.peer_kind
                    if kind is PeerKind.SECURITY_GROUP:
                        peer_kind, peer = "sg-set", rule.peer
                        sg_sets.add(rule.peer)
                    elif kind is PeerKind.PREFIX_LIST:
                        peer_kind, peer = "prefix-set", rule.peer
                        pl_sets.add(rule.peer)
                    else:
                        peer_kind, peer = "cidr", str(Cidr.parse(rule.peer))
                    rules.append(
                        SgRule(
                            sg_id,
                            rule.rule_id or f"{sg_id}/{direction}/{index}",
                            int(rule.protocol),
                            rule.ports,
                            rule.icmp_type,
                            rule.icmp_code,
                            peer_kind,
                            peer,
                        )
                    )
            chains.append(
                SgChain(
                    eni.id, direction, addresses, tuple(rules), accept, f"{eni.id}|sg-{direction}|implicit"
                )
            )
    return tuple(chains), sg_sets, pl_sets


def _gateways(network: Network, vpc_id: str) -> tuple[Gateway, ...]:
    found: list[Gateway] = []
    igw = network.igw_by_vpc.get(vpc_id)
    if igw is not None:
        found.append(Gateway(igw.id, "igw", None, None, None, None, None, None, None))
    for nat in network.nat_gateways.values():
        if network.subnets[nat.subnet_id].vpc_id != vpc_id:
            continue
        found.append(
            Gateway(
                nat.id,
                "nat",
                nat.subnet_id,
                format_address(network.primary_address(nat.eni_id)),
                nat.elastic_ip if nat.connectivity.value == "public" else None,
                None,
                None,
                (6, 17, 1),
                (1024, 65535),
            )
        )
    for ep in network.vpc_endpoints.values():
        if ep.vpc_id != vpc_id or ep.type is not EndpointType.GATEWAY:
            continue
        service = network.services.get(ep.service_name)
        found.append(
            Gateway(
                ep.id,
                "gateway-endpoint",
                None,
                None,
                None,
                ep.service_name,
                service.prefix_list_id if service else None,
                (6, 1),
                None,
            )
        )
    return tuple(sorted(found, key=lambda g: g.gateway_id))


def _flow_log_points(network: Network, vpc_id: str) -> tuple[FlowLogPoint, ...]:
    points: list[FlowLogPoint] = []
    for log in sorted(network.flow_logs.values(), key=lambda f: f.id):
        actions = ("ACCEPT", "REJECT") if log.traffic_type is TrafficType.ALL else (log.traffic_type.value,)
        for eni in sorted(network.enis.values(), key=lambda e: e.id):
            if network.eni_vpc.get(eni.id) != vpc_id:
                continue
            if log.resource_id in (eni.id, eni.subnet_id, vpc_id):
                points.append(FlowLogPoint(eni.id, log.id, actions))
    return tuple(points)


def compile_network(network: Network) -> RuleSet:
    """Compile every VPC of `network` into a deterministic, kernel-facing rule set."""
    routers: list[VpcRouter] = []
    for vpc_id in sorted(network.vpcs):
        tables = sorted(rt.id for rt in network.route_tables.values() if rt.vpc_id == vpc_id)
        numbers = _table_numbers(tables)
        routing = tuple(
            RoutingTable(
                rt_id, numbers[rt_id], _kernel_routes(network, vpc_id, network.effective_routes[rt_id])
            )
            for rt_id in tables
        )
        subnets = tuple(
            SubnetBinding(
                s.id,
                str(network.subnet_cidrs[s.id]),
                s.availability_zone,
                network.subnet_route_table[s.id].id,
                numbers[network.subnet_route_table[s.id].id],
                network.subnet_acl[s.id].id,
            )
            for s in sorted(network.subnets.values(), key=lambda s: s.id)
            if s.vpc_id == vpc_id
        )
        attachments = tuple(
            EniAttachment(
                e.id,
                e.subnet_id,
                e.kind.value,
                tuple(f"{format_address(a)}/{32 if a[0] == 4 else 128}" for a in network.eni_addresses[e.id]),
                e.mac,
                e.public_ip,
                network.security_groups_of(e),
            )
            for e in sorted(network.enis.values(), key=lambda e: e.id)
            if network.eni_vpc.get(e.id) == vpc_id
        )
        sg_chains, sg_sets, pl_sets = _sg_chains(network, vpc_id)
        sets = [
            AddressSet(
                sg_id,
                "security-group",
                tuple(
                    sorted(
                        (
                            f"{format_address(a)}/{32 if a[0] == 4 else 128}"
                            for e in network.members_of(sg_id)
                            for a in network.eni_addresses[e.id]
                        ),
                        key=lambda text: Cidr.parse(text),
                    )
                ),
            )
            for sg_id in sorted(sg_sets)
        ]
        sets.extend(
            AddressSet(pl_id, "prefix-list", tuple(str(c) for c in sorted(network.prefix_list_cidrs[pl_id])))
            for pl_id in sorted(pl_sets)
        )
        resolvers = sorted(network.resolver_addresses.get(vpc_id, frozenset()))
        exemptions = tuple(
            Exemption(
                format_address(a), (6, 17), 53, "Amazon DNS server: exempt from security groups and NACLs"
            )
            for a in resolvers
        )
        routers.append(
            VpcRouter(
                vpc_id,
                tuple(str(c) for c in network.vpc_cidrs[vpc_id]),
                attachments,
                routing,
                subnets,
                _nacl_chains(network, vpc_id),
                sg_chains,
                tuple(sets),
                _gateways(network, vpc_id),
                exemptions if network.vpcs[vpc_id].enable_dns_support else (),
                _flow_log_points(network, vpc_id),
            )
        )
    return RuleSet(tuple(routers))
