"""`Network`: every VPC resource, validated once, with the indexes evaluation and compilation need."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from cove.netmodel.addresses import Address, Cidr, CidrIndex, parse_address
from cove.netmodel.resources import (
    EndpointType,
    Eni,
    EniKind,
    FlowLog,
    InternetGateway,
    NatGateway,
    NetworkAcl,
    PeerKind,
    PrefixList,
    Route,
    RouteTable,
    RouteTargetKind,
    SecurityGroup,
    Service,
    Subnet,
    Vpc,
    VpcEndpoint,
)

__all__ = ["RESOLVER_LINK_LOCAL", "Network", "NetworkValidationError"]

RESOLVER_LINK_LOCAL = "169.254.169.253"

R = TypeVar("R")


class NetworkValidationError(ValueError):
    """Every problem found in a topology, not only the first."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("invalid network: " + "; ".join(self.problems))


def _by_id(kind: str, items: Iterable[R], problems: list[str]) -> dict[str, R]:
    found: dict[str, R] = {}
    for item in items:
        ident = str(getattr(item, "id", None) or getattr(item, "name", ""))
        if ident in found:
            problems.append(f"duplicate {kind} id {ident}")
        found[ident] = item
    return found


class Network:
    """An immutable topology. Construction validates references and builds lookup indexes.

    Caches for compiled matchers live on the instance; they are safe because nothing here changes
    after construction (build a new `Network` to change the topology).
    """

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        vpcs: Iterable[Vpc] = (),
        subnets: Iterable[Subnet] = (),
        route_tables: Iterable[RouteTable] = (),
        network_acls: Iterable[NetworkAcl] = (),
        security_groups: Iterable[SecurityGroup] = (),
        enis: Iterable[Eni] = (),
        internet_gateways: Iterable[InternetGateway] = (),
        nat_gateways: Iterable[NatGateway] = (),
        prefix_lists: Iterable[PrefixList] = (),
        vpc_endpoints: Iterable[VpcEndpoint] = (),
        services: Iterable[Service] = (),
        flow_logs: Iterable[FlowLog] = (),
    ) -> None:
        problems: list[str] = []
        self.region = region
        self.vpcs = _by_id("vpc", vpcs, problems)
        self.subnets = _by_id("subnet", subnets, problems)
        self.route_tables = _by_id("route table", route_tables, problems)
        self.network_acls = _by_id("network ACL", network_acls, problems)
        self.security_groups = _by_id("security group", security_groups, problems)
        self.enis = _by_id("network interface", enis, problems)
        self.internet_gateways = _by_id("internet gateway", internet_gateways, problems)
        self.nat_gateways = _by_id("NAT gateway", nat_gateways, problems)
        self.prefix_lists = _by_id("prefix list", prefix_lists, problems)
        self.vpc_endpoints = _by_id("VPC endpoint", vpc_endpoints, problems)
        self.services = _by_id("service", services, problems)
        self.flow_logs = _by_id("flow log", flow_logs, problems)
        self.derived: dict[Any, Any] = {}
        """Structures derived from this immutable topology (compiled matchers, memberships)."""
        self._index(problems)
        if problems:
            raise NetworkValidationError(problems)

    # -- construction ------------------------------------------------------------------------

    def _cidr(self, text: str, where: str, problems: list[str]) -> Cidr | None:
        try:
            return Cidr.parse(text)
        except ValueError:
            problems.append(f"{where}: {text!r} is not a CIDR block")
            return None

    def _index(self, problems: list[str]) -> None:
        self.vpc_cidrs: dict[str, tuple[Cidr, ...]] = {}
        self.resolver_addresses: dict[str, frozenset[Address]] = {}
        for vpc in self.vpcs.values():
            blocks = [c for t in (*vpc.cidrs, *vpc.ipv6_cidrs) if (c := self._cidr(t, vpc.id, problems))]
            if not vpc.cidrs:
                problems.append(f"{vpc.id}: a VPC needs a primary IPv4 CIDR")
            self.vpc_cidrs[vpc.id] = tuple(blocks)
            if blocks and blocks[0].version == 4:
                self.resolver_addresses[vpc.id] = frozenset(
                    {blocks[0].address(2), parse_address(RESOLVER_LINK_LOCAL)}
                )

        self.prefix_list_cidrs: dict[str, tuple[Cidr, ...]] = {}
        for pl in self.prefix_lists.values():
            self.prefix_list_cidrs[pl.id] = tuple(
                c for t in pl.cidrs if (c := self._cidr(t, pl.id, problems))
            )
        self.prefix_list_index: CidrIndex[str] = CidrIndex(
            (cidr, pl_id) for pl_id, cidrs in sorted(self.prefix_list_cidrs.items()) for cidr in cidrs
        )
        self.service_by_prefix_list: dict[str, Service] = {}
        for service in self.services.values():
            if service.prefix_list_id not in self.prefix_lists:
                problems.append(f"service {service.name}: unknown prefix list {service.prefix_list_id}")
            self.service_by_prefix_list[service.prefix_list_id] = service

        self._index_subnets(problems)
        self._index_enis(problems)
        self._index_gateways(problems)
        self._index_route_tables(problems)
        self._index_acls(problems)
        self._index_security_groups(problems)
        for log in self.flow_logs.values():
            if not any(log.resource_id in d for d in (self.vpcs, self.subnets, self.enis)):
                problems.append(f"{log.id}: unknown resource {log.resource_id}")

    def _index_subnets(self, problems: list[str]) -> None:
        self.subnet_cidrs: dict[str, Cidr] = {}
        per_vpc: dict[str, list[tuple[Cidr, Subnet]]] = {}
        for subnet in self.subnets.values():
            cidr = self._cidr(subnet.cidr, subnet.id, problems)
            if subnet.vpc_id not in self.vpcs:
                problems.append(f"{subnet.id}: unknown VPC {subnet.vpc_id}")
                continue
            if cidr is None:
                continue
            if not any(block.covers(cidr) for block in self.vpc_cidrs[subnet.vpc_id]):
                problems.append(f"{subnet.id}: {cidr} is not inside a CIDR of {subnet.vpc_id}")
            for other_cidr, other in per_vpc.get(subnet.vpc_id, []):
                if other_cidr.overlaps(cidr):
                    problems.append(f"{subnet.id}: {cidr} overlaps {other.id} ({other_cidr})")
            self.subnet_cidrs[subnet.id] = cidr
            per_vpc.setdefault(subnet.vpc_id, []).append((cidr, subnet))
        self.subnet_index: dict[str, CidrIndex[Subnet]] = {
            vpc_id: CidrIndex(pairs) for vpc_id, pairs in per_vpc.items()
        }

    def _index_enis(self, problems: list[str]) -> None:
        self.eni_addresses: dict[str, tuple[Address, ...]] = {}
        self.eni_by_address: dict[tuple[str, Address], Eni] = {}
        self.eni_vpc: dict[str, str] = {}
        for eni in self.enis.values():
            subnet = self.subnets.get(eni.subnet_id)
            cidr = self.subnet_cidrs.get(eni.subnet_id)
            if subnet is None or cidr is None:
                problems.append(f"{eni.id}: unknown subnet {eni.subnet_id}")
                continue
            if not eni.private_ips:
                problems.append(f"{eni.id}: a network interface needs a primary private IP")
            addresses: list[Address] = []
            for text in eni.private_ips:
                try:
                    address = parse_address(text)
                except ValueError:
                    problems.append(f"{eni.id}: {text!r} is not an IP address")
                    continue
                if not cidr.contains(address):
                    problems.append(f"{eni.id}: {text} is not inside {subnet.id} ({cidr})")
                elif address[0] == 4 and address[1] - cidr.network in (0, 1, 2, 3, cidr.size - 1):
                    problems.append(f"{eni.id}: {text} is one of the five addresses AWS reserves in {cidr}")
                key = (subnet.vpc_id, address)
                if key in self.eni_by_address:
                    problems.append(f"{eni.id}: {text} is already used by {self.eni_by_address[key].id}")
                self.eni_by_address[key] = eni
                addresses.append(address)
            if eni.public_ip is not None:
                try:
                    parse_address(eni.public_ip)
                except ValueError:
                    problems.append(f"{eni.id}: public IP {eni.public_ip!r} is not an IP address")
            for sg_id in eni.security_group_ids:
                sg = self.security_groups.get(sg_id)
                if sg is None:
                    problems.append(f"{eni.id}: unknown security group {sg_id}")
                elif sg.vpc_id != subnet.vpc_id:
                    problems.append(f"{eni.id}: security group {sg_id} belongs to {sg.vpc_id}")
            self.eni_addresses[eni.id] = tuple(addresses)
            self.eni_vpc[eni.id] = subnet.vpc_id

    def _index_gateways(self, problems: list[str]) -> None:
        self.igw_by_vpc: dict[str, InternetGateway] = {}
        for igw in self.internet_gateways.values():
            if igw.vpc_id is None:
                continue
            if igw.vpc_id not in self.vpcs:
                problems.append(f"{igw.id}: unknown VPC {igw.vpc_id}")
            elif igw.vpc_id in self.igw_by_vpc:
                problems.append(f"{igw.id}: {igw.vpc_id} already has {self.igw_by_vpc[igw.vpc_id].id}")
            else:
                self.igw_by_vpc[igw.vpc_id] = igw
        for nat in self.nat_gateways.values():
            eni = self.enis.get(nat.eni_id)
            if nat.subnet_id not in self.subnets:
                problems.append(f"{nat.id}: unknown subnet {nat.subnet_id}")
            if eni is None:
                problems.append(f"{nat.id}: unknown network interface {nat.eni_id}")
            elif eni.subnet_id != nat.subnet_id or eni.kind is not EniKind.NAT_GATEWAY:
                problems.append(f"{nat.id}: {eni.id} must be a nat_gateway interface in {nat.subnet_id}")
        self.endpoint_by_eni: dict[str, VpcEndpoint] = {}
        self.interface_endpoints: dict[tuple[str, str], list[VpcEndpoint]] = {}
        for ep in self.vpc_endpoints.values():
            if ep.vpc_id not in self.vpcs:
                problems.append(f"{ep.id}: unknown VPC {ep.vpc_id}")
            service = self.services.get(ep.service_name)
            if service is None:
                problems.append(f"{ep.id}: unknown service {ep.service_name}")
            elif service.region and service.region != self.region:
                problems.append(f"{ep.id}: {ep.service_name} is not in this Region ({self.region})")
            for rt_id in ep.route_table_ids:
                rt = self.route_tables.get(rt_id)
                if rt is None or rt.vpc_id != ep.vpc_id:
                    problems.append(f"{ep.id}: route table {rt_id} is not in {ep.vpc_id}")
            if ep.type is EndpointType.INTERFACE:
                azs: set[str] = set()
                for subnet_id in ep.subnet_ids:
                    subnet = self.subnets.get(subnet_id)
                    if subnet is None or subnet.vpc_id != ep.vpc_id:
                        problems.append(f"{ep.id}: subnet {subnet_id} is not in {ep.vpc_id}")
                    elif subnet.availability_zone in azs:
                        problems.append(f"{ep.id}: two subnets in {subnet.availability_zone} (one per AZ)")
                    else:
                        azs.add(subnet.availability_zone)
                for eni_id in ep.eni_ids:
                    eni = self.enis.get(eni_id)
                    if eni is None or eni.kind is not EniKind.VPC_ENDPOINT:
                        problems.append(f"{ep.id}: {eni_id} is not a vpc_endpoint network interface")
                    else:
                        self.endpoint_by_eni[eni_id] = ep
                self.interface_endpoints.setdefault((ep.vpc_id, ep.service_name), []).append(ep)
            for sg_id in ep.security_group_ids:
                if sg_id not in self.security_groups:
                    problems.append(f"{ep.id}: unknown security group {sg_id}")

    def _index_route_tables(self, problems: list[str]) -> None:
        main: dict[str, RouteTable] = {}
        self.subnet_route_table: dict[str, RouteTable] = {}
        gateway_routes: dict[str, list[Route]] = {}
        for ep in self.vpc_endpoints.values():
            service = self.services.get(ep.service_name)
            if ep.type is EndpointType.GATEWAY and service is not None:
                for rt_id in ep.route_table_ids:
                    gateway_routes.setdefault(rt_id, []).append(
                        Route(service.prefix_list_id, RouteTargetKind.VPCE, ep.id)
                    )
        self.effective_routes: dict[str, tuple[Route, ...]] = {}
        for rt in self.route_tables.values():
            if rt.vpc_id not in self.vpcs:
                problems.append(f"{rt.id}: unknown VPC {rt.vpc_id}")
                continue
            if rt.main:
                if rt.vpc_id in main:
                    problems.append(f"{rt.id}: {rt.vpc_id} already has main route table {main[rt.vpc_id].id}")
                main[rt.vpc_id] = rt
            for subnet_id in rt.subnet_ids:
                subnet = self.subnets.get(subnet_id)
                if subnet is None or subnet.vpc_id != rt.vpc_id:
                    problems.append(f"{rt.id}: subnet {subnet_id} is not in {rt.vpc_id}")
                elif subnet_id in self.subnet_route_table:
                    problems.append(f"{subnet_id}: associated with two route tables")
                else:
                    self.subnet_route_table[subnet_id] = rt
            routes = list(rt.routes)
            # Every table carries a local route per VPC CIDR even when the caller leaves it out.
            present = {r.destination for r in routes if r.target is RouteTargetKind.LOCAL}
            for cidr in self.vpc_cidrs[rt.vpc_id]:
                if str(cidr) not in present:
                    routes.append(Route(str(cidr), RouteTargetKind.LOCAL, "local"))
            existing = {(r.destination, r.target_id) for r in routes}
            routes.extend(
                r for r in gateway_routes.get(rt.id, []) if (r.destination, r.target_id) not in existing
            )
            for route in routes:
                self._check_route(rt, route, problems)
            self.effective_routes[rt.id] = tuple(routes)
        for subnet in self.subnets.values():
            if subnet.id not in self.subnet_route_table:
                if subnet.vpc_id in main:
                    self.subnet_route_table[subnet.id] = main[subnet.vpc_id]
                elif subnet.vpc_id in self.vpcs:
                    problems.append(
                        f"{subnet.id}: no route table association and {subnet.vpc_id} has no main table"
                    )

    def _check_route(self, rt: RouteTable, route: Route, problems: list[str]) -> None:
        if route.uses_prefix_list:
            if route.destination not in self.prefix_lists:
                problems.append(f"{rt.id}: unknown prefix list {route.destination}")
        else:
            self._cidr(route.destination, rt.id, problems)
        targets: dict[RouteTargetKind, dict[str, Any]] = {
            RouteTargetKind.IGW: self.internet_gateways,
            RouteTargetKind.NAT: self.nat_gateways,
            RouteTargetKind.VPCE: self.vpc_endpoints,
            RouteTargetKind.ENI: self.enis,
        }
        table = targets.get(route.target)
        if table is not None and route.target_id not in table:
            problems.append(
                f"{rt.id}: route {route.describe()} targets unknown {route.target.value} {route.target_id}"
            )

    def _index_acls(self, problems: list[str]) -> None:
        default: dict[str, NetworkAcl] = {}
        self.subnet_acl: dict[str, NetworkAcl] = {}
        for acl in self.network_acls.values():
            if acl.vpc_id not in self.vpcs:
                problems.append(f"{acl.id}: unknown VPC {acl.vpc_id}")
                continue
            if acl.default:
                if acl.vpc_id in default:
                    problems.append(
                        f"{acl.id}: {acl.vpc_id} already has default NACL {default[acl.vpc_id].id}"
                    )
                default[acl.vpc_id] = acl
            seen: set[tuple[int, bool]] = set()
            for entry in acl.entries:
                if (entry.rule_number, entry.egress) in seen:
                    direction = "egress" if entry.egress else "ingress"
                    problems.append(f"{acl.id}: two {direction} entries numbered {entry.rule_number}")
                seen.add((entry.rule_number, entry.egress))
                self._cidr(entry.cidr, f"{acl.id} rule {entry.rule_number}", problems)
            for subnet_id in acl.subnet_ids:
                subnet = self.subnets.get(subnet_id)
                if subnet is None or subnet.vpc_id != acl.vpc_id:
                    problems.append(f"{acl.id}: subnet {subnet_id} is not in {acl.vpc_id}")
                elif subnet_id in self.subnet_acl:
                    problems.append(f"{subnet_id}: associated with two network ACLs")
                else:
                    self.subnet_acl[subnet_id] = acl
        for subnet in self.subnets.values():
            if subnet.id not in self.subnet_acl:
                if subnet.vpc_id in default:
                    self.subnet_acl[subnet.id] = default[subnet.vpc_id]
                elif subnet.vpc_id in self.vpcs:
                    problems.append(
                        f"{subnet.id}: no network ACL association and {subnet.vpc_id} has no default"
                    )

    def _index_security_groups(self, problems: list[str]) -> None:
        self.default_security_group: dict[str, SecurityGroup] = {}
        for sg in self.security_groups.values():
            if sg.vpc_id not in self.vpcs:
                problems.append(f"{sg.id}: unknown VPC {sg.vpc_id}")
            if sg.name == "default":
                self.default_security_group[sg.vpc_id] = sg
            for rule in (*sg.ingress, *sg.egress):
                kind = rule.peer_kind
                if kind is PeerKind.SECURITY_GROUP and rule.peer not in self.security_groups:
                    problems.append(f"{sg.id}: rule references unknown security group {rule.peer}")
                elif kind is PeerKind.PREFIX_LIST and rule.peer not in self.prefix_lists:
                    problems.append(f"{sg.id}: rule references unknown prefix list {rule.peer}")
                elif kind is PeerKind.CIDR:
                    self._cidr(rule.peer, sg.id, problems)

    # -- lookups -----------------------------------------------------------------------------

    def subnet_of(self, vpc_id: str, address: Address) -> Subnet | None:
        index = self.subnet_index.get(vpc_id)
        hit = index.longest(address) if index is not None else None
        return hit[0] if hit else None

    def vpc_containing(self, vpc_id: str, address: Address) -> bool:
        return any(block.contains(address) for block in self.vpc_cidrs.get(vpc_id, ()))

    def eni_at(self, vpc_id: str, address: Address) -> Eni | None:
        return self.eni_by_address.get((vpc_id, address))

    def primary_address(self, eni_id: str) -> Address:
        return self.eni_addresses[eni_id][0]

    def security_groups_of(self, eni: Eni) -> tuple[str, ...]:
        """An interface endpoint's groups are the endpoint's; NAT gateway interfaces have none."""
        if eni.kind is EniKind.NAT_GATEWAY:
            return ()
        endpoint = self.endpoint_by_eni.get(eni.id)
        if endpoint is not None and endpoint.security_group_ids:
            return endpoint.security_group_ids
        return eni.security_group_ids

    def members_of(self, sg_id: str) -> tuple[Eni, ...]:
        key = ("members", sg_id)
        found = self.derived.get(key)
        if found is None:
            found = tuple(
                sorted(
                    (e for e in self.enis.values() if sg_id in self.security_groups_of(e)), key=lambda e: e.id
                )
            )
            self.derived[key] = found
        return found  # type: ignore[no-any-return]

    def prefix_lists_containing(self, address: Address) -> list[str]:
        return self.prefix_list_index.values_containing(address)

    def service_at(self, address: Address) -> Service | None:
        for pl_id in self.prefix_list_index.values_containing(address):
            service = self.service_by_prefix_list.get(pl_id)
            if service is not None:
                return service
        return None

    def cached(self, key: Any, build: Callable[[], R]) -> R:
        """Memoise a derived structure for this (immutable) network."""
        try:
            return self.derived[key]  # type: ignore[no-any-return]
        except KeyError:
            value = self.derived[key] = build()
            return value
