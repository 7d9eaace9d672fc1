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
from cove.netmodel.matching import PortSpan, RouteMatch, acl_matcher, route_matcher, sg_matcher
from cove.netmodel.network import Network
from cove.netmodel.resources import (
    EndpointType,
    Eni,
    EniKind,
    NatConnectivity,
    NatGateway,
    NetworkAcl,
    RouteTargetKind,
    Service,
    Subnet,
    VpcEndpoint,
)
from cove.netmodel.verdict import Blocker, DecidingRule, Decision, ExplanationCode, Hop, Verdict

__all__ = ["ICMP_REPLIES", "MAX_TRANSIT_HOPS", "evaluate"]

C = ExplanationCode
MAX_TRANSIT_HOPS = 4
ICMP_REPLIES = {8: 0, 13: 14, 15: 16, 17: 18, 128: 129}
_NAT_PROTOCOLS = (TCP, UDP, ICMP)
_DNS_PORT = 53


def evaluate(network: Network, flow: Flow) -> Verdict:
    """Decide one flow; raises FlowError when its source or destination does not exist."""
    return _Evaluation(network, flow).run()


class _Side:
    __slots__ = ("address", "eni", "label", "sg_ids", "subnet", "vpc_id")

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


# One NACL crossing on the forward path, replayed backwards for the reply:
# (subnet left, subnet entered, packet source, packet destination, source-port range).
_Boundary = tuple[Subnet | None, Subnet | None, Address, Address, tuple[int, int]]


class _Evaluation:
    def __init__(self, network: Network, flow: Flow) -> None:
        self.net = network
        self.flow = flow
        self.proto = flow.protocol_number
        self.port = flow.port if flow.port is not None else 0
        self.t = flow.icmp_type if flow.icmp_type is not None else -1
        self.c = flow.icmp_code if flow.icmp_code is not None else -1
        self.hops: list[Hop] = []
        self.ret: list[Hop] = []
        self.blockers: list[Blocker] = []
        self.rules: list[DecidingRule] = []
        self.boundaries: list[_Boundary] = []
        self.service: Service | None = None
        self.endpoint: VpcEndpoint | None = None
        self.nat: NatGateway | None = None

    # -- entry -------------------------------------------------------------------------------

    def run(self) -> Verdict:
        src = self._source()
        dst = self._destination(src)
        if self.blockers:  # the two ends cannot meet at all (different VPCs)
            return self._verdict(src, dst)
        self.hops.insert(
            0,
            Hop(
                src.label,
                "network-interface" if src.eni else "subnet",
                "forward",
                "",
                "",
                f"source {format_address(src.address)} in {src.subnet.id if src.subnet else '?'}",
            ),
        )
        if dst.address in self.net.resolver_addresses.get(src.vpc_id or "", frozenset()):
            self._resolver(src, dst)
            return self._verdict(src, dst)
        if src.eni is not None and src.eni.kind is EniKind.VPC_ENDPOINT:
            self._block(
                C.VPCE_INTRA_VPC_TRAFFIC,
                src.label,
                "network-interface",
                "egress",
                f"{src.label} is an interface endpoint's network interface; endpoints only answer, "
                "they never initiate connections",
            )
        if src.eni is None or src.eni.kind is not EniKind.NAT_GATEWAY:
            peer_sgs = dst.sg_ids if dst.eni is not None and dst.vpc_id == src.vpc_id else ()
            self._security_groups(src, True, dst.address, peer_sgs)
        self._walk(src, dst)
        self._return_path(src, dst)
        return self._verdict(src, dst)

    def _verdict(self, src: _Side, dst: _Side) -> Verdict:
        return Verdict(
            self.flow,
            Decision.DENY if self.blockers else Decision.ALLOW,
            src.label,
            dst.label,
            tuple(self.hops),
            tuple(self.blockers),
            tuple(self.rules),
            tuple(self.ret),
        )

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
        self.blockers.append(Blocker(code, component, kind, direction, message, rule, path))

    # -- resolving the two ends --------------------------------------------------------------

    def _source(self) -> _Side:
        net, text = self.net, self.flow.source
        if text.startswith("eni-"):
            eni = net.enis.get(text)
            if eni is None:
                raise FlowError(f"unknown source network interface {text}")
            return self._eni_side(eni, net.primary_address(eni.id))
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
        net = self.net
        key = ("side", eni.id, address)
        side = net.derived.get(key)
        if side is None:
            side = net.derived[key] = self._new_eni_side(eni, address)
        return side  # type: ignore[no-any-return]

    def _new_eni_side(self, eni: Eni, address: Address) -> _Side:
        net = self.net
        return _Side(
            address, eni.id, net.eni_vpc[eni.id], net.subnets[eni.subnet_id], eni, net.security_groups_of(eni)
        )

    def _destination(self, src: _Side) -> _Side:
        net, text = self.net, self.flow.destination
        vpc_id = src.vpc_id or ""
        if text.startswith("eni-"):
            eni = net.enis.get(text)
            if eni is None:
                raise FlowError(f"unknown destination network interface {text}")
            side = self._eni_side(eni, net.primary_address(eni.id))
            if side.vpc_id != vpc_id:
                self._block(
                    C.DISCONNECTED_VPCS,
                    eni.id,
                    "network-interface",
                    "",
                    f"{src.label} is in {vpc_id} and {eni.id} in {side.vpc_id}; no peering or transit "
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
        net = self.net
        self.service = service
        vpc = net.vpcs[src.vpc_id or ""]
        endpoints = sorted(net.interface_endpoints.get((vpc.id, service.name), ()), key=lambda e: e.id)
        private = [e for e in endpoints if e.private_dns_enabled and e.eni_ids]
        if private and vpc.enable_dns_support and vpc.enable_dns_hostnames:
            endpoint = private[0]
            enis = sorted((net.enis[i] for i in endpoint.eni_ids), key=lambda e: e.id)
            az = src.subnet.availability_zone if src.subnet else ""
            same_az = [e for e in enis if net.subnets[e.subnet_id].availability_zone == az]
            eni = (same_az or enis)[0]
            side = self._eni_side(eni, net.primary_address(eni.id))
            self.hops.append(
                Hop(
                    "AmazonProvidedDNS",
                    "dns",
                    "forward",
                    "",
                    "",
                    f"private DNS of {endpoint.id} resolves {service.name} to "
                    f"{format_address(side.address)} ({eni.id})",
                )
            )
            return side
        if endpoints:
            why = (
                "private DNS is disabled"
                if not private
                else "the VPC needs enableDnsSupport and enableDnsHostnames"
            )
            self.hops.append(
                Hop(
                    endpoints[0].id,
                    "vpc-endpoint",
                    "forward",
                    "",
                    "",
                    f"{service.name} resolves to its public addresses: {why}",
                )
            )
        blocks = net.prefix_list_cidrs[service.prefix_list_id]
        if not blocks:
            raise FlowError(f"service {service.name} has no address blocks")
        block = blocks[0]
        return _Side(block.address(1 if block.size > 1 else 0), service.name)

    # -- layers ------------------------------------------------------------------------------

    def _security_groups(
        self, side: _Side, egress: bool, peer: Address, peer_sgs: tuple[str, ...], path: str = "forward"
    ) -> bool:
        direction = "egress" if egress else "ingress"
        matcher = sg_matcher(self.net, side.sg_ids, egress)
        match = matcher.match(self.net, self.proto, self.port, self.t, self.c, peer, peer_sgs)
        if match is not None:
            ref = match.reference
            self.hops.append(Hop(match.sg_id, "security-group", "allow", direction, ref, ""))
            self.rules.append(DecidingRule(match.sg_id, "security-group", direction, ref, "allow", path))
            return True
        groups = ",".join(side.sg_ids) or "(none)"
        what = f"{protocol_name(self.proto)}{'/' + str(self.port) if self.proto in (TCP, UDP) else ''}"
        if not matcher.has_rules:
            code = C.SG_HAS_NO_RULES
            message = f"security groups {groups} of {side.label} have no {direction} rules"
        else:
            code = C.ENI_SG_RULES_MISMATCH
            peer_text = format_address(peer)
            message = (
                f"no {direction} rule of {groups} on {side.label} allows {what} "
                f"{'to' if egress else 'from'} {peer_text}"
            )
        self._block(code, groups, "security-group", direction, message, "implicit-deny", path)
        self.hops.append(Hop(groups, "security-group", "deny", direction, "implicit-deny", message))
        self.rules.append(DecidingRule(groups, "security-group", direction, "implicit-deny", "deny", path))
        return False

    def _acl(self, subnet: Subnet, egress: bool, peer: Address) -> bool:
        acl = self.net.subnet_acl[subnet.id]
        decision = acl_matcher(self.net, acl.id, egress).decide(self.proto, self.port, self.t, self.c, peer)
        direction = "outbound" if egress else "inbound"
        rule = decision.rule
        if decision.allowed:
            self.rules.append(DecidingRule(acl.id, "network-acl", direction, rule, "allow"))
            self.hops.append(Hop(acl.id, "network-acl", "allow", direction, rule, ""))
            return True
        self.rules.append(DecidingRule(acl.id, "network-acl", direction, rule, "deny"))
        message = (
            f"{direction} rule {rule} of {acl.id} ({subnet.id}) denies {protocol_name(self.proto)} "
            f"{'to' if egress else 'from'} {format_address(peer)}"
        )
        self._block(C.SUBNET_ACL_RESTRICTION, acl.id, "network-acl", direction, message, rule)
        self.hops.append(Hop(acl.id, "network-acl", "deny", direction, rule, message))
        return False

    def _resolver(self, src: _Side, dst: _Side) -> None:
        vpc = self.net.vpcs[src.vpc_id or ""]
        self.hops.append(
            Hop(
                "AmazonProvidedDNS",
                "resolver",
                "exempt",
                "",
                "",
                "the Amazon DNS server is exempt from security groups and network ACLs",
            )
        )
        self.rules.append(DecidingRule("AmazonProvidedDNS", "resolver", "", "exemption", "allow"))
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
        net = self.net
        vpc_id = src.vpc_id or ""
        current = src.subnet
        assert current is not None
        dst_subnet = dst.subnet if dst.vpc_id == vpc_id else None
        packet_src = src.address
        ports = (self.flow.source_port,) * 2 if self.flow.source_port is not None else DEFAULT_EPHEMERAL_PORTS
        peer_sgs = src.sg_ids
        seen: set[tuple[str, str]] = set()
        for _ in range(MAX_TRANSIT_HOPS):
            if dst_subnet is not None and dst_subnet.id == current.id:
                self.hops.append(
                    Hop(
                        current.id,
                        "subnet",
                        "forward",
                        "",
                        "",
                        "same subnet: delivered at layer 2, no route table or network ACL applies",
                    )
                )
                self._deliver(dst, packet_src, peer_sgs)
                return
            self._acl(current, True, dst.address)
            rt = net.subnet_route_table[current.id]
            routes = route_matcher(net, rt.id)
            match = routes.best(dst.address)
            if match is None:
                message = f"{rt.id} has no route to {format_address(dst.address)}"
                self._block(C.NO_ROUTE_TO_DESTINATION, rt.id, "route-table", "", message)
                self.hops.append(Hop(rt.id, "route-table", "deny", "", "", message))
                if dst_subnet is not None:
                    self._arrive(dst_subnet, dst, packet_src, peer_sgs)
                return
            route = match.route
            self.hops.append(
                Hop(rt.id, "route-table", "forward", "", route.describe(), f"matched {match.cidr}")
            )
            self.rules.append(DecidingRule(rt.id, "route-table", "", route.describe(), "route"))
            key = (current.id, route.target_id)
            if key in seen:
                break
            seen.add(key)
            target = route.target
            if target is RouteTargetKind.LOCAL:
                if dst_subnet is None:
                    message = f"no subnet of {vpc_id} contains {format_address(dst.address)}"
                    self._block(C.NO_ROUTE_TO_DESTINATION, rt.id, "route-table", "", message)
                    return
                self.boundaries.append((current, dst_subnet, packet_src, dst.address, ports))
                self._arrive(dst_subnet, dst, packet_src, peer_sgs)
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
                self._overridden(rt.id, routes.candidates(dst.address))
                if dst_subnet is not None:
                    self._arrive(dst_subnet, dst, packet_src, peer_sgs)
                return
            if target is RouteTargetKind.IGW:
                self.boundaries.append((current, None, packet_src, dst.address, ports))
                self._internet_gateway(route.target_id, src, dst, vpc_id)
                return
            if target is RouteTargetKind.VPCE:
                self.boundaries.append((current, None, packet_src, dst.address, ports))
                self._gateway_endpoint(route.target_id, dst, vpc_id)
                return
            if target is RouteTargetKind.NAT:
                nat = net.nat_gateways[route.target_id]
                self.nat = nat
                nat_subnet = net.subnets[nat.subnet_id]
                nat_address = net.primary_address(nat.eni_id)
                if self.proto not in _NAT_PROTOCOLS:
                    self._block(
                        C.PROTOCOL_RESTRICTION,
                        nat.id,
                        "nat-gateway",
                        "",
                        f"{nat.id} forwards only TCP, UDP and ICMP, not {protocol_name(self.proto)}",
                    )
                if nat_subnet.id != current.id:
                    self.boundaries.append((current, nat_subnet, packet_src, dst.address, ports))
                    self._acl(nat_subnet, False, packet_src)
                self.hops.append(
                    Hop(
                        nat.id,
                        "nat-gateway",
                        "forward",
                        "",
                        "",
                        f"translates source {format_address(packet_src)} to {format_address(nat_address)}",
                    )
                )
                packet_src, ports, peer_sgs, current = nat_address, NAT_EPHEMERAL_PORTS, (), nat_subnet
                continue
            # An appliance ENI (route target eni-…): it must have source/destination checking off.
            appliance = net.enis[route.target_id]
            app_side = self._eni_side(appliance, net.primary_address(appliance.id))
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
            if app_side.subnet.id != current.id:
                self.boundaries.append((current, app_side.subnet, packet_src, dst.address, ports))
                self._acl(app_side.subnet, False, packet_src)
            # Security-group references do not match traffic relayed through a middlebox.
            self._security_groups(app_side, False, packet_src, ())
            self._security_groups(app_side, True, dst.address, ())
            self.hops.append(
                Hop(appliance.id, "network-interface", "forward", "", "", "forwarded by appliance")
            )
            peer_sgs, current = (), app_side.subnet
        self._block(
            C.CANNOT_ROUTE,
            current.id,
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

    def _arrive(self, subnet: Subnet, dst: _Side, packet_src: Address, peer_sgs: tuple[str, ...]) -> None:
        self._acl(subnet, False, packet_src)
        self._deliver(dst, packet_src, peer_sgs)

    def _deliver(self, dst: _Side, packet_src: Address, peer_sgs: tuple[str, ...]) -> None:
        eni = dst.eni
        if eni is None:
            message = f"no network interface has the address {format_address(dst.address)}"
            self._block(C.NO_SOURCE_OR_DESTINATION, dst.label, "subnet", "", message)
            self.hops.append(Hop(dst.label, "subnet", "deny", "", "", message))
            return
        endpoint = self.net.endpoint_by_eni.get(eni.id)
        if endpoint is not None:
            self.endpoint = endpoint
            if self.proto != TCP:
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
            self.hops.append(Hop(endpoint.id, "vpc-endpoint", "deliver", "", "", detail))
        else:
            self.hops.append(
                Hop(
                    eni.id,
                    "network-interface",
                    "deliver",
                    "",
                    "",
                    f"destination {format_address(dst.address)}",
                )
            )

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
        self.hops.append(Hop(igw.id, "internet-gateway", "forward", "", "", f"public address {public}"))
        self._exit(dst)

    def _gateway_endpoint(self, vpce_id: str, dst: _Side, vpc_id: str) -> None:
        net = self.net
        endpoint = net.vpc_endpoints[vpce_id]
        self.endpoint = endpoint
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
        self.hops.append(
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
            self.hops.append(
                Hop(self.service.name, "service", "deliver", "", "", format_address(dst.address))
            )
        else:
            self.hops.append(Hop(dst.label, "internet", "deliver", "", "", format_address(dst.address)))

    # -- the reply ---------------------------------------------------------------------------

    def _return_path(self, src: _Side, dst: _Side) -> None:
        proto = self.proto
        t = c = -1
        if proto in (ICMP, ICMPV6):
            reply = ICMP_REPLIES.get(self.t)
            if reply is None:
                self.ret.append(
                    Hop(dst.label, "icmp", "forward", "", "", f"ICMP type {self.t} expects no reply")
                )
                return
            t, c = reply, 0
        for left, entered, packet_src, packet_dst, ports in reversed(self.boundaries):
            if entered is not None:
                self._reply_acl(entered, True, packet_src, ports, t, c)
            if left is not None:
                self._reply_acl(left, False, packet_dst, ports, t, c)
        self.ret.append(
            Hop(
                ",".join(src.sg_ids),
                "security-group",
                "allow",
                "",
                "",
                "security groups are stateful: the reply belongs to the tracked connection",
            )
        )

    def _reply_acl(
        self, subnet: Subnet, egress: bool, peer: Address, ports: tuple[int, int], t: int, c: int
    ) -> None:
        acl: NetworkAcl = self.net.subnet_acl[subnet.id]
        matcher = acl_matcher(self.net, acl.id, egress)
        direction = "outbound" if egress else "inbound"
        if self.proto in (TCP, UDP):
            spans = matcher.decide_range(self.proto, ports[0], ports[1], peer)
        else:
            spans = (PortSpan(0, 0, matcher.decide(self.proto, 0, t, c, peer)),)
        if len(spans) == 1 and spans[0].decision.allowed:
            rule = spans[0].decision.rule
            self.rules.append(DecidingRule(acl.id, "network-acl", direction, rule, "allow", "return"))
            self.ret.append(Hop(acl.id, "network-acl", "allow", direction, rule, ""))
            return
        decided: dict[str, str] = {}
        for span in spans:
            decided.setdefault(span.rule, "allow" if span.allowed else "deny")
        for rule, action in decided.items():
            self.rules.append(DecidingRule(acl.id, "network-acl", direction, rule, action, "return"))
        denied = [s for s in spans if not s.allowed]
        if not denied:
            rule = ",".join(decided)
            self.ret.append(Hop(acl.id, "network-acl", "allow", direction, rule, ""))
            return
        rules = ",".join(dict.fromkeys(s.rule for s in denied))
        if self.proto in (TCP, UDP):
            where = ", ".join(f"{s.lo}-{s.hi}" if s.lo != s.hi else str(s.lo) for s in denied)
            partial = " (part of the ephemeral range)" if len(denied) < len(spans) else ""
            what = f"the reply to ports {where}{partial}"
        else:
            what = f"the {protocol_name(self.proto)} reply"
        message = (
            f"{direction} rule {rules} of {acl.id} ({subnet.id}) denies {what} "
            f"{'to' if egress else 'from'} {format_address(peer)}; network ACLs are stateless"
        )
        self._block(C.SUBNET_ACL_RESTRICTION, acl.id, "network-acl", direction, message, rules, "return")
        self.ret.append(Hop(acl.id, "network-acl", "deny", direction, rules, message))
