"""A tiny, independent interpreter of a compiled `RuleSet`: what the kernel would do with one flow.

It reads only the RuleSet (never the netmodel evaluator), using `ipaddress` for matching, so an
agreement with `evaluate()` is evidence that the compiled rules carry the model's semantics. It
is the seed of the model-vs-kernel conformance test (reference §3.5).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from cove.netmodel import KernelRoute, NaclChain, RuleSet, SgChain, VpcRouter

REPLIES = {8: 0, 13: 14, 15: 16, 17: 18}


def _net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text, strict=False)


def _in(ip: str, cidr: str) -> bool:
    address = ipaddress.ip_address(ip)
    network = _net(cidr)
    return address.version == network.version and address in network


@dataclass
class Packet:
    proto: int
    port: int
    icmp_type: int
    icmp_code: int


def _proto_ok(rule_proto: int, ports: tuple[int, int] | None, itype: int, icode: int, p: Packet) -> bool:
    if rule_proto == -1:
        return True
    if rule_proto != p.proto:
        return False
    if p.proto in (6, 17):
        return ports is None or ports[0] <= p.port <= ports[1]
    if p.proto == 1:
        return (itype == -1 or itype == p.icmp_type) and (icode == -1 or icode == p.icmp_code)
    return True


class Kernel:
    def __init__(self, ruleset: RuleSet, vpc_id: str) -> None:
        self.r: VpcRouter = ruleset.vpc(vpc_id)
        self.att = {a.eni_id: a for a in self.r.attachments}
        self.by_ip = {addr.split("/")[0]: a for a in self.r.attachments for addr in a.addresses}
        self.subnets = {b.subnet_id: b for b in self.r.subnets}
        self.tables = {t.table: t for t in self.r.routing_tables}
        self.nacl = {(c.network_acl_id, c.direction): c for c in self.r.nacl_chains}
        self.sg = {(c.eni_id, c.direction): c for c in self.r.sg_chains}
        self.sets = {s.name: s for s in self.r.address_sets}
        self.gws = {g.gateway_id: g for g in self.r.gateways}

    def subnet_of(self, ip: str) -> str | None:
        for b in self.r.subnets:
            if _in(ip, b.cidr):
                return b.subnet_id
        return None

    def acl(self, subnet_id: str, direction: str, peer: str, p: Packet) -> bool:
        chain: NaclChain = self.nacl[(self.subnets[subnet_id].network_acl_id, direction)]
        for rule in chain.rules:  # already in rule-number order, `*` last
            if _in(peer, rule.cidr) and _proto_ok(
                rule.protocol, rule.ports, rule.icmp_type, rule.icmp_code, p
            ):
                return rule.action == "accept"
        return False

    def acl_range(self, subnet_id: str, direction: str, peer: str, p: Packet, lo: int, hi: int) -> bool:
        if p.proto not in (6, 17):
            return self.acl(subnet_id, direction, peer, p)
        chain = self.nacl[(self.subnets[subnet_id].network_acl_id, direction)]
        probes = {lo, hi}
        for rule in chain.rules:
            if rule.ports is not None:
                probes.update(q for q in (rule.ports[0] - 1, *rule.ports, rule.ports[1] + 1) if lo <= q <= hi)
        return all(self.acl(subnet_id, direction, peer, Packet(p.proto, q, -1, -1)) for q in probes)

    def sg_ok(self, eni_id: str, direction: str, peer: str, p: Packet) -> bool:
        chain: SgChain | None = self.sg.get((eni_id, direction))
        if chain is None:  # NAT gateway interfaces have no security groups
            return True
        if chain.accept_protocols is not None and p.proto not in chain.accept_protocols:
            return False
        for rule in chain.rules:
            if not _proto_ok(rule.protocol, rule.ports, rule.icmp_type, rule.icmp_code, p):
                continue
            if rule.peer_kind == "cidr" and _in(peer, rule.peer):
                return True
            if rule.peer_kind in ("sg-set", "prefix-set") and any(
                _in(peer, e) for e in self.sets[rule.peer].elements
            ):
                return True
        return False

    def lpm(self, table: int, ip: str) -> KernelRoute | None:
        best: KernelRoute | None = None
        for route in self.tables[table].routes:
            if _in(ip, route.destination) and (
                best is None or _net(route.destination).prefixlen > _net(best.destination).prefixlen
            ):
                best = route
        return best

    def accepts(self, src_eni: str, dst: str, p: Packet, sport: int) -> bool:
        for ex in self.r.exemptions:
            if dst == ex.address:
                return p.proto in ex.protocols and p.port == ex.port
        src = self.att[src_eni]
        src_ip = src.addresses[0].split("/")[0]
        ok = src.kind != "vpc_endpoint" and self.sg_ok(src_eni, "egress", dst, p)
        current = src.subnet_id
        packet_src, ports = src_ip, (sport, sport)
        public = src.public_ip
        crossings: list[tuple[str | None, str | None, str, tuple[int, int]]] = []
        dst_subnet = self.subnet_of(dst)
        for _ in range(4):
            if dst_subnet == current:
                return ok and self._deliver(dst, packet_src, p) and self._replies(crossings, dst, p)
            ok = self.acl(current, "outbound", dst, p) and ok
            route = self.lpm(self.subnets[current].table, dst)
            if route is None or route.next_hop == "blackhole":
                return False
            if route.next_hop == "local":
                if dst_subnet is None:
                    return False
                crossings.append((current, dst_subnet, packet_src, ports))
                ok = self.acl(dst_subnet, "inbound", packet_src, p) and ok
                return ok and self._deliver(dst, packet_src, p) and self._replies(crossings, dst, p)
            if route.next_hop == "igw":
                crossings.append((current, None, packet_src, ports))
                return ok and public is not None and self._replies(crossings, dst, p)
            gateway = self.gws[route.next_hop_id]
            if route.next_hop == "endpoint":
                crossings.append((current, None, packet_src, ports))
                carried = p.proto == 6 or (p.proto == 1 and p.icmp_type == 8)
                return ok and carried and self._replies(crossings, dst, p)
            assert route.next_hop == "nat" and gateway.subnet_id and gateway.address and gateway.source_ports
            ok = ok and gateway.accept_protocols is not None and p.proto in gateway.accept_protocols
            if gateway.subnet_id != current:
                crossings.append((current, gateway.subnet_id, packet_src, ports))
                ok = self.acl(gateway.subnet_id, "inbound", packet_src, p) and ok
            packet_src, ports, public, current = (
                gateway.address,
                gateway.source_ports,
                gateway.public_ip,
                gateway.subnet_id,
            )
        return False

    def _deliver(self, dst: str, packet_src: str, p: Packet) -> bool:
        target = self.by_ip.get(dst)
        return target is not None and self.sg_ok(target.eni_id, "ingress", packet_src, p)

    def _replies(
        self, crossings: list[tuple[str | None, str | None, str, tuple[int, int]]], dst: str, p: Packet
    ) -> bool:
        if p.proto == 1:
            if p.icmp_type not in REPLIES:
                return True
            reply = Packet(1, 0, REPLIES[p.icmp_type], 0)
        else:
            reply = Packet(p.proto, 0, -1, -1)
        for left, entered, packet_src, (lo, hi) in reversed(crossings):
            if entered is not None and not self.acl_range(entered, "outbound", packet_src, reply, lo, hi):
                return False
            if left is not None and not self.acl_range(left, "inbound", dst, reply, lo, hi):
                return False
        return True
