"""`evaluate(network, flow)`: walk a flow through every layer AWS applies and explain the outcome.

Order (reference §1): source ENI security groups (egress) → network ACL outbound of the source
subnet (only when the packet leaves the subnet) → the subnet's route table (longest prefix match)
→ the target (local delivery, NAT gateway, internet gateway, gateway endpoint, appliance ENI) →
network ACL inbound of the destination subnet → destination ENI security groups (ingress). The
walk never stops at the first failure: like Reachability Analyzer's blocked paths, every layer is
evaluated and every blocking finding reported. The reply is checked against the stateless NACLs
on the ephemeral ports (security groups are stateful, so they never block a reply).
"""

from __future__ import annotations

from cove.netmodel.addresses import (
    ICMP,
    ICMPV6,
    TCP,
    UDP,
    Address,
    format_address,
    parse_address,
    protocol_name,
)
from cove.netmodel.flow import DEFAULT_EPHEMERAL_PORTS, NAT_EPHEMERAL_PORTS, Flow, FlowError
from cove.netmodel.matching import (
    AclMatcher,
    PortSpan,
    RouteMatch,
    RouteMatcher,
    SgMatcher,
    acl_matcher,
    route_matcher,
    sg_matcher,
)
from cove.netmodel.network import Network
from cove.netmodel.resources import (
    EndpointType,
    Eni,
    EniKind,
    NatConnectivity,
    NatGateway,
    RouteTargetKind,
    Service,
    Subnet,
)
from cove.netmodel.verdict import (
    Blocker,
    DecidingRule,
    Decision,
    ExplanationCode,
    Fact,
    Hop,
    Verdict,
    emit_blocker,
    emit_hop,
    emit_return_hop,
    emit_rule,
)

__all__ = ["ICMP_REPLIES", "MAX_TRANSIT_HOPS", "evaluate"]

C = ExplanationCode
MAX_TRANSIT_HOPS = 4
ICMP_REPLIES = {8: 0, 13: 14, 15: 16, 17: 18, 128: 129}
_NAT_PROTOCOLS = (TCP, UDP, ICMP)
_Lists = tuple[list[Hop], list[Blocker], list[DecidingRule], list[Hop]]
_DNS_PORT = 53


_CONTEXT = "evaluation"
_NO_ADDRESSES: frozenset[Address] = frozenset()


def evaluate(network: Network, flow: Flow) -> Verdict:
    """Decide one flow; raises FlowError when its source or destination does not exist."""
    context = network.derived.get(_CONTEXT)
    if context is None:
        context = network.derived[_CONTEXT] = _Context(network)
    return _Evaluation(network, context, flow).run()


class _Context:
    """Per-network state the evaluation derives once: ENI ends, subnet views, service ends."""

    __slots__ = ("net", "services", "sides", "subnets")

    def __init__(self, network: Network) -> None:
        self.net = network
        self.sides: dict[str, _Side] = {}
        self.subnets: dict[str, _SubnetView] = {}
        self.services: dict[tuple[str, str, str], tuple[_Side, Fact | None]] = {}

    def eni_side(self, eni: Eni) -> _Side:
        """The side of an ENI at its primary address."""
        side = self.sides.get(eni.id)
        if side is None:
            side = self.sides[eni.id] = self.new_eni_side(eni, self.net.primary_address(eni.id))
        return side

    def new_eni_side(self, eni: Eni, address: Address) -> _Side:
        net = self.net
        return _Side(
            address, eni.id, net.eni_vpc[eni.id], net.subnets[eni.subnet_id], eni, net.security_groups_of(eni)
        )

    def resolvers(self, vpc_id: str | None) -> frozenset[Address]:
        return self.net.resolver_addresses.get(vpc_id or "", _NO_ADDRESSES)

    def subnet(self, subnet: Subnet) -> _SubnetView:
        view = self.subnets.get(subnet.id)
        if view is None:
            view = self.subnets[subnet.id] = _SubnetView(self.net, subnet)
        return view

    def side_view(self, side: _Side) -> _SubnetView:
        assert side.subnet is not None
        view = side.view = self.subnet(side.subnet)
        return view


class _SubnetView:
    """A subnet with its network ACL's two compiled directions and its route table."""

    __slots__ = ("acl", "inbound", "outbound", "route_table", "routes", "subnet")

    def __init__(self, network: Network, subnet: Subnet) -> None:
        self.subnet = subnet
        self.acl = network.subnet_acl[subnet.id]
        self.outbound: AclMatcher = acl_matcher(network, self.acl.id, True)
        self.inbound: AclMatcher = acl_matcher(network, self.acl.id, False)
        self.route_table = network.subnet_route_table.get(subnet.id)
        self.routes: RouteMatcher | None = (
            route_matcher(network, self.route_table.id) if self.route_table is not None else None
        )


class _Side:
    __slots__ = (
        "_deliver",
        "_source",
        "_stateful",
        "address",
        "eni",
        "label",
        "sg_egress",
        "sg_ids",
        "sg_ingress",
        "subnet",
        "view",
        "vpc_id",
    )

    def __init__(
        self,
        address: Address,
        label: str,
        vpc_id: str | None = None,
        subnet: Subnet | None = None,
        eni: Eni | None = None,
        sg_ids: tuple[str, ...] = (),
    ) -> None:
        self.address = address
        self.label = label
        self.vpc_id = vpc_id
        self.subnet = subnet
        self.eni = eni
        self.sg_ids = sg_ids
        self.view: _SubnetView | None = None
        self.sg_egress: SgMatcher | None = None
        self.sg_ingress: SgMatcher | None = None
        self._source: Fact | None = None
        self._deliver: Fact | None = None
        self._stateful: Fact | None = None

    def source_fact(self) -> Fact:
        fact = self._source
        if fact is None:
            detail = f"source {format_address(self.address)} in {self.subnet.id if self.subnet else '?'}"
            kind = "network-interface" if self.eni else "subnet"
            fact = self._source = (emit_hop, Hop(self.label, kind, "forward", "", "", detail))
        return fact

    def deliver_fact(self) -> Fact:
        fact = self._deliver
        if fact is None:
            assert self.eni is not None
            detail = f"destination {format_address(self.address)}"
            fact = self._deliver = (
                emit_hop,
                Hop(self.eni.id, "network-interface", "deliver", "", "", detail),
            )
        return fact

    def stateful_fact(self) -> Fact:
        fact = self._stateful
        if fact is None:
            hop = Hop(
                ",".join(self.sg_ids),
                "security-group",
                "allow",
                "",
                "",
                "security groups are stateful: the reply belongs to the tracked connection",
            )
            fact = self._stateful = (emit_return_hop, hop)
        return fact


# One NACL crossing on the forward path, replayed backwards for the reply:
# (subnet left, subnet entered, packet source, packet destination, source-port range).
_Boundary = tuple["_SubnetView", "_SubnetView | None", Address, Address, tuple[int, int]]


class _Evaluation:
    # Set only on the paths that need them.
    service: Service | None = None
    nat: NatGateway | None = None

    def __init__(self, network: Network, context: _Context, flow: Flow) -> None:
        self.net = network
        self.ctx = context
        self.flow = flow
        self.proto = flow.protocol_number
        port = flow.port
        self.port = port if port is not None else 0
        t, c = flow.icmp_type, flow.icmp_code
        self.t = t if t is not None else -1
        self.c = c if c is not None else -1
        self.facts: list[Fact] = []
        self.blocked = False
        self.boundaries: list[_Boundary] = []

    # -- entry -------------------------------------------------------------------------------

    def run(self) -> Verdict:
        src = self._source()
        dst = self._destination(src)
        if self.blocked:  # the two ends cannot meet at all (different VPCs)
            return self._verdict(src, dst)
        self.facts.insert(0, src.source_fact())
        if dst.address in self.ctx.resolvers(src.vpc_id):
            self._resolver(src, dst)
            return self._verdict(src, dst)
        eni = src.eni
        if eni is not None and eni.kind is EniKind.VPC_ENDPOINT:
            self._block(
                C.VPCE_INTRA_VPC_TRAFFIC,
                src.label,
                "network-interface",
                "egress",
                f"{src.label} is an interface endpoint's network interface; endpoints only answer, "
                "they never initiate connections",
            )
        if eni is None or eni.kind is not EniKind.NAT_GATEWAY:
            peer_sgs = dst.sg_ids if dst.eni is not None and dst.vpc_id == src.vpc_id else ()
            self._security_groups(src, True, dst.address, peer_sgs)
        self._walk(src, dst)
        self._return_path(src, dst)
        return self._verdict(src, dst)

    def _verdict(self, src: _Side, dst: _Side) -> Verdict:
        return Verdict.from_facts(
            self.flow, Decision.DENY if self.blocked else Decision.ALLOW, src.label, dst.label, self.facts
        )

    def _hop(self, hop: Hop) -> None:
        self.facts.append((emit_hop, hop))

    def _rule(self, rule: DecidingRule) -> None:
        self.facts.append((emit_rule, rule))

    def _block(
        self,
        code: ExplanationCode,
        component: str,
        kind: str,
        direction: str,
        message: str,
        rule: str = "",
        path: str = "forward",
    ) -> None:
        self.blocked = True
        self.facts.append((emit_blocker, Blocker(code, component, kind, direction, message, rule, path)))

    # -- resolving the two ends --------------------------------------------------------------

    def _source(self) -> _Side:
        net, text = self.net, self.flow.source
        if text.startswith("eni-"):
            side = self.ctx.sides.get(text)
            if side is not None:
                return side
            eni = net.enis.get(text)
            if eni is None:
                raise FlowError(f"unknown source network interface {text}")
            return self.ctx.eni_side(eni)
        try:
            address = parse_address(text)
        except ValueError:
            raise FlowError(f"source {text!r} is neither a network interface id nor an IP address") from None
        for vpc_id in sorted(net.subnet_index):
            subnet = net.subnet_of(vpc_id, address)
            if subnet is None:
                continue
            eni = net.eni_at(vpc_id, address)
            if eni is not None:
                return self._eni_side(eni, address)
            sg_ids = self.flow.source_security_group_ids
            if sg_ids is None:
                default = net.default_security_group.get(vpc_id)
                sg_ids = (default.id,) if default is not None else ()
            for sg_id in sg_ids:
                if sg_id not in net.security_groups:
                    raise FlowError(f"unknown security group {sg_id}")
            return _Side(address, text, vpc_id, subnet, None, sg_ids)
        raise FlowError(f"source {text} is not inside any subnet")

    def _eni_side(self, eni: Eni, address: Address) -> _Side:
        if address == self.net.primary_address(eni.id):
            return self.ctx.eni_side(eni)
        key = ("side", eni.id, address)
        side = self.net.derived.get(key)
        if side is None:
            side = self.net.derived[key] = self.ctx.new_eni_side(eni, address)
        return side  # type: ignore[no-any-return]

    def _destination(self, src: _Side) -> _Side:
        net, text = self.net, self.flow.destination
        vpc_id = src.vpc_id or ""
        if text.startswith("eni-"):
            side = self.ctx.sides.get(text)
            if side is None:
                eni = net.enis.get(text)
                if eni is None:
                    raise FlowError(f"unknown destination network interface {text}")
                side = self.ctx.eni_side(eni)
            if side.vpc_id != vpc_id:
                self._block(
                    C.DISCONNECTED_VPCS,
                    side.label,
                    "network-interface",
                    "",
                    f"{src.label} is in {vpc_id} and {side.label} in {side.vpc_id}; no peering or transit "
                    "gateway connects them",
                )
            return side
        try:
            address = parse_address(text)
        except ValueError:
            service = net.services.get(text)
            if service is None:
                raise FlowError(
                    f"destination {text!r} is not an IP, a network interface or a known service"
                ) from None
            return self._service_side(src, service)
        if net.vpc_containing(vpc_id, address):
            eni = net.eni_at(vpc_id, address)
            if eni is not None:
                return self._eni_side(eni, address)
            return _Side(address, text, vpc_id, net.subnet_of(vpc_id, address))
        self.service = net.service_at(address)
        return _Side(address, text)

    def _service_side(self, src: _Side, service: Service) -> _Side:
        self.service = service
        az = src.subnet.availability_zone if src.subnet else ""
        key = (src.vpc_id or "", az, service.name)
        found = self.ctx.services.get(key)
        if found is None:
            found = self.ctx.services[key] = self._new_service_side(src, service)
        side, fact = found
        if fact is not None:
            self.facts.append(fact)
        return side

    def _new_service_side(self, src: _Side, service: Service) -> tuple[_Side, Fact | None]:
        net = self.net
        vpc = net.vpcs[src.vpc_id or ""]
        endpoints = sorted(net.interface_endpoints.get((vpc.id, service.name), ()), key=lambda e: e.id)
        private = [e for e in endpoints if e.private_dns_enabled and e.eni_ids]
        if private and vpc.enable_dns_support and vpc.enable_dns_hostnames:
            endpoint = private[0]
            enis = sorted((net.enis[i] for i in endpoint.eni_ids), key=lambda e: e.id)
            az = src.subnet.availability_zone if src.subnet else ""
            same_az = [e for e in enis if net.subnets[e.subnet_id].availability_zone == az]
            eni = (same_az or enis)[0]
            side = self.ctx.eni_side(eni)
            hop = Hop(
                "AmazonProvidedDNS",
                "dns",
                "forward",
                "",
                "",
                f"private DNS of {endpoint.id} resolves {service.name} to "
                f"{format_address(side.address)} ({eni.id})",
            )
            return side, (emit_hop, hop)
        fact: Fact | None = None
        if endpoints:
            why = (
                "private DNS is disabled"
                if not private
                else "the VPC needs enableDnsSupport and enableDnsHostnames"
            )
            hop = Hop(
                endpoints[0].id,
                "vpc-endpoint",
                "forward",
                "",
                "",
                f"{service.name} resolves to its public addresses: {why}",
            )
            fact = (emit_hop, hop)
        blocks = net.prefix_list_cidrs[service.prefix_list_id]
        if not blocks:
            raise FlowError(f"service {service.name} has no address blocks")
        block = blocks[0]
        return _Side(block.address(1 if block.size > 1 else 0), service.name), fact

    # -- layers ------------------------------------------------------------------------------

    def _security_groups(self, side: _Side, egress: bool, peer: Address, peer_sgs: tuple[str, ...]) -> bool:
        if egress:
            matcher = side.sg_egress
            if matcher is None:
                matcher = side.sg_egress = sg_matcher(self.net, side.sg_ids, True)
        else:
            matcher = side.sg_ingress
            if matcher is None:
                matcher = side.sg_ingress = sg_matcher(self.net, side.sg_ids, False)
        match = matcher.match(self.net, self.proto, self.port, self.t, self.c, peer, peer_sgs)
        if match is not None:
            self.facts.append(match.fact)
            return True
        self.blocked = True
        self.facts.append(
            (_emit_sg_deny, side.label, side.sg_ids, matcher.has_rules, egress, self.proto, self.port, peer)
        )
        return False

    def _acl(self, view: _SubnetView, egress: bool, peer: Address) -> bool:
        decision = (view.outbound if egress else view.inbound).decide(
            self.proto, self.port, self.t, self.c, peer
        )
        if decision.allowed:
            assert decision.fact is not None
            self.facts.append(decision.fact)
            return True
        self.blocked = True
        self.facts.append((_emit_acl_deny, view, egress, decision.rule, self.proto, peer))
        return False

    def _resolver(self, src: _Side, dst: _Side) -> None:
        vpc = self.net.vpcs[src.vpc_id or ""]
        self._hop(
            Hop(
                "AmazonProvidedDNS",
                "resolver",
                "exempt",
                "",
                "",
                "the Amazon DNS server is exempt from security groups and network ACLs",
            )
        )
        self._rule(DecidingRule("AmazonProvidedDNS", "resolver", "", "exemption", "allow"))
        if not vpc.enable_dns_support:
            self._block(
                C.NO_SOURCE_OR_DESTINATION,
                vpc.id,
                "vpc",
                "",
                f"enableDnsSupport is false in {vpc.id}: the Amazon DNS server does not answer",
            )
        if self.proto not in (TCP, UDP) or self.port != _DNS_PORT:
            self._block(
                C.PROTOCOL_RESTRICTION,
                "AmazonProvidedDNS",
                "resolver",
                "",
                "the Amazon DNS server only answers DNS on TCP or UDP port 53",
            )

    # -- the forwarding walk -----------------------------------------------------------------

    def _walk(self, src: _Side, dst: _Side) -> None:
        net, ctx = self.net, self.ctx
        vpc_id = src.vpc_id or ""
        current = src.view or ctx.side_view(src)
        dst_view = (
            (dst.view or ctx.side_view(dst)) if dst.vpc_id == vpc_id and dst.subnet is not None else None
        )
        packet_src = src.address
        dst_address = dst.address
        source_port = self.flow.source_port
        ports = (source_port, source_port) if source_port is not None else DEFAULT_EPHEMERAL_PORTS
        peer_sgs = src.sg_ids
        seen: set[tuple[str, str]] = set()
        for _ in range(MAX_TRANSIT_HOPS):
            if dst_view is not None and dst_view is current:
                self._hop(
                    Hop(
                        current.subnet.id,
                        "subnet",
                        "forward",
                        "",
                        "",
                        "same subnet: delivered at layer 2, no route table or network ACL applies",
                    )
                )
                self._deliver(dst, packet_src, peer_sgs)
                return
            self._acl(current, True, dst_address)
            rt, routes = current.route_table, current.routes
            assert rt is not None and routes is not None
            match = routes.best(dst_address)
            if match is None:
                message = f"{rt.id} has no route to {format_address(dst_address)}"
                self._block(C.NO_ROUTE_TO_DESTINATION, rt.id, "route-table", "", message)
                self._hop(Hop(rt.id, "route-table", "deny", "", "", message))
                if dst_view is not None:
                    self._arrive(dst_view, dst, packet_src, peer_sgs)
                return
            route = match.route
            assert match.fact is not None
            self.facts.append(match.fact)
            key = (current.subnet.id, route.target_id)
            if key in seen:
                break
            seen.add(key)
            target = route.target
            if target is RouteTargetKind.LOCAL:
                if dst_view is None:
                    message = f"no subnet of {vpc_id} contains {format_address(dst_address)}"
                    self._block(C.NO_ROUTE_TO_DESTINATION, rt.id, "route-table", "", message)
                    return
                self.boundaries.append((current, dst_view, packet_src, dst_address, ports))
                self._arrive(dst_view, dst, packet_src, peer_sgs)
                return
            if target is RouteTargetKind.BLACKHOLE:
                self._block(
                    C.BAD_STATE_ROUTE,
                    rt.id,
                    "route-table",
                    "",
                    f"route {route.describe()} in {rt.id} is a blackhole (its target no longer exists)",
                    route.describe(),
                )
                self._overridden(rt.id, routes.candidates(dst_address))
                if dst_view is not None:
                    self._arrive(dst_view, dst, packet_src, peer_sgs)
                return
            if target is RouteTargetKind.IGW:
                self.boundaries.append((current, None, packet_src, dst_address, ports))
                self._internet_gateway(route.target_id, src, dst, vpc_id)
                return
            if target is RouteTargetKind.VPCE:
                self.boundaries.append((current, None, packet_src, dst_address, ports))
                self._gateway_endpoint(route.target_id, dst, vpc_id)
                return
            if target is RouteTargetKind.NAT:
                nat = net.nat_gateways[route.target_id]
                self.nat = nat
                nat_view = ctx.subnet(net.subnets[nat.subnet_id])
                nat_address = net.primary_address(nat.eni_id)
                if self.proto not in _NAT_PROTOCOLS:
                    self._block(
                        C.PROTOCOL_RESTRICTION,
                        nat.id,
                        "nat-gateway",
                        "",
                        f"{nat.id} forwards only TCP, UDP and ICMP, not {protocol_name(self.proto)}",
                    )
                if nat_view is not current:
                    self.boundaries.append((current, nat_view, packet_src, dst_address, ports))
                    self._acl(nat_view, False, packet_src)
                self.facts.append((_emit_nat_hop, nat.id, packet_src, nat_address))
                packet_src, ports, peer_sgs, current = nat_address, NAT_EPHEMERAL_PORTS, (), nat_view
                continue
            # An appliance ENI (route target eni-…): it must have source/destination checking off.
            appliance = net.enis[route.target_id]
            app_side = ctx.eni_side(appliance)
            if appliance.source_dest_check:
                self._block(
                    C.ENI_SOURCE_DEST_CHECK_RESTRICTION,
                    appliance.id,
                    "network-interface",
                    "",
                    f"{appliance.id} has source/destination checking enabled, so it drops traffic "
                    "not addressed to itself",
                )
            assert app_side.subnet is not None
            app_view = ctx.subnet(app_side.subnet)
            if app_view is not current:
                self.boundaries.append((current, app_view, packet_src, dst_address, ports))
                self._acl(app_view, False, packet_src)
            # Security-group references do not match traffic relayed through a middlebox.
            self._security_groups(app_side, False, packet_src, ())
            self._security_groups(app_side, True, dst_address, ())
            self._hop(Hop(appliance.id, "network-interface", "forward", "", "", "forwarded by appliance"))
            peer_sgs, current = (), app_view
        self._block(
            C.CANNOT_ROUTE,
            current.subnet.id,
            "subnet",
            "",
            f"the path loops or crosses more than {MAX_TRANSIT_HOPS} gateways/appliances",
        )

    def _overridden(self, rt_id: str, candidates: list[RouteMatch]) -> None:
        winner = candidates[0]
        for other in candidates[1:]:
            if other.route.target is not RouteTargetKind.BLACKHOLE and other.route is not winner.route:
                more = other.cidr.prefix < winner.cidr.prefix
                self._block(
                    C.MORE_SPECIFIC_ROUTE if more else C.HIGHER_PRIORITY_ROUTE,
                    rt_id,
                    "route-table",
                    "",
                    f"route {winner.route.describe()} takes precedence over {other.route.describe()}",
                    winner.route.describe(),
                )
                return

    def _arrive(self, view: _SubnetView, dst: _Side, packet_src: Address, peer_sgs: tuple[str, ...]) -> None:
        self._acl(view, False, packet_src)
        self._deliver(dst, packet_src, peer_sgs)

    def _deliver(self, dst: _Side, packet_src: Address, peer_sgs: tuple[str, ...]) -> None:
        eni = dst.eni
        if eni is None:
            message = f"no network interface has the address {format_address(dst.address)}"
            self._block(C.NO_SOURCE_OR_DESTINATION, dst.label, "subnet", "", message)
            self._hop(Hop(dst.label, "subnet", "deny", "", "", message))
            return
        endpoint = self.net.endpoint_by_eni.get(eni.id) if self.net.endpoint_by_eni else None
        if endpoint is not None and self.proto != TCP:
            self._block(
                C.PROTOCOL_RESTRICTION,
                endpoint.id,
                "vpc-endpoint",
                "ingress",
                f"interface endpoint {endpoint.id} accepts only TCP, not {protocol_name(self.proto)}",
            )
        if eni.kind is not EniKind.NAT_GATEWAY:
            self._security_groups(dst, False, packet_src, peer_sgs)
        if endpoint is not None:
            detail = (
                f"interface endpoint for {endpoint.service_name} at {format_address(dst.address)} ({eni.id})"
            )
            self._hop(Hop(endpoint.id, "vpc-endpoint", "deliver", "", "", detail))
        else:
            self.facts.append(dst.deliver_fact())

    def _internet_gateway(self, igw_id: str, src: _Side, dst: _Side, vpc_id: str) -> None:
        igw = self.net.internet_gateways[igw_id]
        if igw.vpc_id != vpc_id:
            self._block(
                C.IGW_NOT_ATTACHED,
                igw.id,
                "internet-gateway",
                "",
                f"{igw.id} is not attached to {vpc_id}",
                igw.id,
            )
        if self.nat is not None:
            if self.nat.connectivity is NatConnectivity.PRIVATE or self.nat.elastic_ip is None:
                self._block(
                    C.IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS,
                    self.nat.id,
                    "nat-gateway",
                    "",
                    f"{self.nat.id} is a private NAT gateway (no Elastic IP); it cannot reach the internet",
                )
            public: str | None = self.nat.elastic_ip or "-"
        else:
            public = src.eni.public_ip if src.eni is not None else None
            if public is None and dst.address[0] == 4:
                self._block(
                    C.IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS,
                    src.label,
                    "network-interface",
                    "",
                    f"{src.label} has no public IPv4 address, so {igw.id} cannot translate its traffic",
                )
                public = "-"
        self._hop(Hop(igw.id, "internet-gateway", "forward", "", "", f"public address {public}"))
        self._exit(dst)

    def _gateway_endpoint(self, vpce_id: str, dst: _Side, vpc_id: str) -> None:
        net = self.net
        endpoint = net.vpc_endpoints[vpce_id]
        service = net.services.get(endpoint.service_name)
        if endpoint.type is not EndpointType.GATEWAY or endpoint.vpc_id != vpc_id:
            self._block(
                C.CANNOT_ROUTE,
                endpoint.id,
                "vpc-endpoint",
                "",
                f"{endpoint.id} is not a gateway endpoint of {vpc_id}",
            )
        elif service is None or service.prefix_list_id not in net.prefix_lists_containing(dst.address):
            self._block(
                C.CANNOT_ROUTE,
                endpoint.id,
                "vpc-endpoint",
                "",
                f"{endpoint.id} serves {endpoint.service_name}, not {format_address(dst.address)}",
            )
        if not (self.proto == TCP or (self.proto == ICMP and self.t == 8)):
            self._block(
                C.VPCE_GATEWAY_PROTOCOL_RESTRICTION,
                endpoint.id,
                "vpc-endpoint",
                "",
                f"gateway endpoint {endpoint.id} accepts only TCP or ICMP echo, not {protocol_name(self.proto)}",
            )
        self._hop(
            Hop(
                endpoint.id,
                "vpc-endpoint",
                "forward",
                "",
                "",
                f"gateway endpoint for {endpoint.service_name}; its policy is evaluated per request",
            )
        )
        self._exit(dst)

    def _exit(self, dst: _Side) -> None:
        if self.service is not None:
            self.facts.append((_emit_exit, self.service.name, "service", dst.address))
        else:
            self.facts.append((_emit_exit, dst.label, "internet", dst.address))

    # -- the reply ---------------------------------------------------------------------------

    def _return_path(self, src: _Side, dst: _Side) -> None:
        proto = self.proto
        t = c = -1
        if proto in (ICMP, ICMPV6):
            reply = ICMP_REPLIES.get(self.t)
            if reply is None:
                detail = f"ICMP type {self.t} expects no reply"
                self.facts.append((emit_return_hop, Hop(dst.label, "icmp", "forward", "", "", detail)))
                return
            t, c = reply, 0
        boundaries = self.boundaries
        if len(boundaries) == 1:
            left, entered, packet_src, packet_dst, ports = boundaries[0]
            if entered is not None:
                self._reply_acl(entered, True, packet_src, ports, t, c)
            self._reply_acl(left, False, packet_dst, ports, t, c)
        else:
            for left, entered, packet_src, packet_dst, ports in reversed(boundaries):
                if entered is not None:
                    self._reply_acl(entered, True, packet_src, ports, t, c)
                self._reply_acl(left, False, packet_dst, ports, t, c)
        self.facts.append(src.stateful_fact())

    def _reply_acl(
        self, view: _SubnetView, egress: bool, peer: Address, ports: tuple[int, int], t: int, c: int
    ) -> None:
        matcher = view.outbound if egress else view.inbound
        proto = self.proto
        if proto in (TCP, UDP):
            spans, denied = matcher.decide_reply(proto, ports[0], ports[1], peer)
        else:
            decision = matcher.decide(proto, 0, t, c, peer)
            spans, denied = (PortSpan(0, 0, decision),), not decision.allowed
        if len(spans) == 1 and not denied:
            fact = spans[0].decision.reply_fact
            assert fact is not None
            self.facts.append(fact)
            return
        self.blocked = self.blocked or denied
        self.facts.append((_emit_reply_acl, view, egress, peer, proto, spans))


def _emit_sg_deny(
    out: _Lists,
    label: str,
    sg_ids: tuple[str, ...],
    has_rules: bool,
    egress: bool,
    proto: int,
    port: int,
    peer: Address,
) -> None:
    direction = "egress" if egress else "ingress"
    groups = ",".join(sg_ids) or "(none)"
    what = f"{protocol_name(proto)}{'/' + str(port) if proto in (TCP, UDP) else ''}"
    if not has_rules:
        code = C.SG_HAS_NO_RULES
        message = f"security groups {groups} of {label} have no {direction} rules"
    else:
        code = C.ENI_SG_RULES_MISMATCH
        message = (
            f"no {direction} rule of {groups} on {label} allows {what} "
            f"{'to' if egress else 'from'} {format_address(peer)}"
        )
    out[1].append(Blocker(code, groups, "security-group", direction, message, "implicit-deny", "forward"))
    out[0].append(Hop(groups, "security-group", "deny", direction, "implicit-deny", message))
    out[2].append(DecidingRule(groups, "security-group", direction, "implicit-deny", "deny", "forward"))


def _emit_acl_deny(
    out: _Lists, view: _SubnetView, egress: bool, rule: str, proto: int, peer: Address
) -> None:
    acl_id = view.acl.id
    direction = "outbound" if egress else "inbound"
    out[2].append(DecidingRule(acl_id, "network-acl", direction, rule, "deny"))
    message = (
        f"{direction} rule {rule} of {acl_id} ({view.subnet.id}) denies {protocol_name(proto)} "
        f"{'to' if egress else 'from'} {format_address(peer)}"
    )
    out[1].append(Blocker(C.SUBNET_ACL_RESTRICTION, acl_id, "network-acl", direction, message, rule))
    out[0].append(Hop(acl_id, "network-acl", "deny", direction, rule, message))


def _emit_nat_hop(out: _Lists, nat_id: str, packet_src: Address, nat_address: Address) -> None:
    detail = f"translates source {format_address(packet_src)} to {format_address(nat_address)}"
    out[0].append(Hop(nat_id, "nat-gateway", "forward", "", "", detail))


def _emit_exit(out: _Lists, label: str, kind: str, address: Address) -> None:
    out[0].append(Hop(label, kind, "deliver", "", "", format_address(address)))


def _emit_reply_acl(
    out: _Lists, view: _SubnetView, egress: bool, peer: Address, proto: int, spans: tuple[PortSpan, ...]
) -> None:
    acl_id = view.acl.id
    direction = "outbound" if egress else "inbound"
    decided: dict[str, str] = {}
    for span in spans:
        decided.setdefault(span.rule, "allow" if span.allowed else "deny")
    for rule, action in decided.items():
        out[2].append(DecidingRule(acl_id, "network-acl", direction, rule, action, "return"))
    denied = [s for s in spans if not s.allowed]
    if not denied:
        rule = ",".join(decided)
        out[3].append(Hop(acl_id, "network-acl", "allow", direction, rule, ""))
        return
    rules = ",".join(dict.fromkeys(s.rule for s in denied))
    if proto in (TCP, UDP):
        where = ", ".join(f"{s.lo}-{s.hi}" if s.lo != s.hi else str(s.lo) for s in denied)
        partial = " (part of the ephemeral range)" if len(denied) < len(spans) else ""
        what = f"the reply to ports {where}{partial}"
    else:
        what = f"the {protocol_name(proto)} reply"
    message = (
        f"{direction} rule {rules} of {acl_id} ({view.subnet.id}) denies {what} "
        f"{'to' if egress else 'from'} {format_address(peer)}; network ACLs are stateless"
    )
    out[1].append(
        Blocker(C.SUBNET_ACL_RESTRICTION, acl_id, "network-acl", direction, message, rules, "return")
    )
    out[3].append(Hop(acl_id, "network-acl", "deny", direction, rules, message))
