"""Compiled matchers for security groups, network ACLs and route tables.

Each matcher is built once per (network, component) and indexed by prefix length, so a lookup
touches only rules whose CIDR contains the peer address instead of scanning every rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from cove.netmodel.addresses import ALL_PROTOCOLS, ICMP, ICMPV6, TCP, UDP, Address, Cidr, CidrIndex
from cove.netmodel.network import Network
from cove.netmodel.resources import (
    NaclAction,
    NaclEntry,
    PeerKind,
    Route,
    RouteTargetKind,
    SecurityGroupRule,
)

__all__ = [
    "AclMatcher",
    "PortSpan",
    "RouteMatch",
    "RouteMatcher",
    "SgMatch",
    "SgMatcher",
    "acl_matcher",
    "route_matcher",
    "rule_matches",
    "sg_matcher",
]

_PORTED = (TCP, UDP)
_ICMPS = (ICMP, ICMPV6)


def rule_matches(
    rule_proto: int, lo: int, hi: int, itype: int, icode: int, proto: int, port: int, t: int, c: int
) -> bool:
    """Whether a rule's protocol/port/ICMP part covers the packet.

    A flow of protocol -1 ("all traffic") is covered only by an all-protocol rule.
    """
    if rule_proto == ALL_PROTOCOLS:
        return True
    if rule_proto != proto:
        return False
    if proto in _PORTED:
        return lo <= port <= hi
    if proto in _ICMPS:
        return (itype == -1 or itype == t) and (icode == -1 or icode == c)
    return True


@dataclass(frozen=True, slots=True)
class SgMatch:
    sg_id: str
    direction: str
    index: int
    rule: SecurityGroupRule

    @property
    def reference(self) -> str:
        return self.rule.rule_id or f"{self.sg_id}/{self.direction}/{self.index}"


class SgMatcher:
    """The union of the rules of an ENI's security groups in one direction."""

    __slots__ = ("by_cidr", "by_pl", "by_sg", "has_rules", "sg_ids")

    def __init__(self, network: Network, sg_ids: tuple[str, ...], egress: bool) -> None:
        direction = "egress" if egress else "ingress"
        cidr_items: list[tuple[Cidr, tuple[int, int, int, int, int, int, SgMatch]]] = []
        by_sg: dict[str, list[tuple[int, int, int, int, int, int, SgMatch]]] = {}
        by_pl: dict[str, list[tuple[int, int, int, int, int, int, SgMatch]]] = {}
        order = 0
        for sg_id in sg_ids:
            sg = network.security_groups[sg_id]
            for index, rule in enumerate(sg.egress if egress else sg.ingress):
                lo, hi = rule.ports if rule.ports is not None else (0, 65535)
                proto = int(rule.protocol)
                item = (
                    order,
                    proto,
                    lo,
                    hi,
                    rule.icmp_type,
                    rule.icmp_code,
                    SgMatch(sg_id, direction, index, rule),
                )
                order += 1
                kind = rule.peer_kind
                if kind is PeerKind.SECURITY_GROUP:
                    by_sg.setdefault(rule.peer, []).append(item)
                elif kind is PeerKind.PREFIX_LIST:
                    by_pl.setdefault(rule.peer, []).append(item)
                else:
                    cidr_items.append((Cidr.parse(rule.peer), item))
        self.sg_ids = sg_ids
        self.has_rules = order > 0
        self.by_cidr = CidrIndex(cidr_items)
        self.by_sg = by_sg
        self.by_pl = by_pl

    def match(
        self,
        network: Network,
        proto: int,
        port: int,
        t: int,
        c: int,
        peer: Address,
        peer_sg_ids: tuple[str, ...],
    ) -> SgMatch | None:
        """The first rule (in group order, then rule order) that allows the packet, or None."""
        best: tuple[int, int, int, int, int, int, SgMatch] | None = None
        for _, items in self.by_cidr.lookup(peer):
            for item in items:
                if (best is None or item[0] < best[0]) and rule_matches(
                    item[1], item[2], item[3], item[4], item[5], proto, port, t, c
                ):
                    best = item
                    break
        if self.by_sg:
            for sg_id in peer_sg_ids:
                for item in self.by_sg.get(sg_id, ()):
                    if (best is None or item[0] < best[0]) and rule_matches(
                        item[1], item[2], item[3], item[4], item[5], proto, port, t, c
                    ):
                        best = item
                        break
        if self.by_pl:
            for pl_id in network.prefix_lists_containing(peer):
                for item in self.by_pl.get(pl_id, ()):
                    if (best is None or item[0] < best[0]) and rule_matches(
                        item[1], item[2], item[3], item[4], item[5], proto, port, t, c
                    ):
                        best = item
                        break
        return best[6] if best is not None else None


def sg_matcher(network: Network, sg_ids: tuple[str, ...], egress: bool) -> SgMatcher:
    return network.cached(("sg", sg_ids, egress), lambda: SgMatcher(network, sg_ids, egress))


@dataclass(frozen=True, slots=True)
class PortSpan:
    """A decision over a port interval: the entry that decided it, or None for the `*` rule."""

    lo: int
    hi: int
    entry: NaclEntry | None

    @property
    def allowed(self) -> bool:
        return self.entry is not None and self.entry.action is NaclAction.ALLOW


class AclMatcher:
    """One direction of a NACL: ascending rule numbers, first match wins, then `*` denies."""

    __slots__ = ("index",)

    def __init__(self, entries: list[NaclEntry]) -> None:
        items: list[tuple[Cidr, tuple[int, int, int, int, int, int, bool, NaclEntry]]] = []
        for entry in sorted(entries, key=lambda e: e.rule_number):
            lo, hi = entry.ports if entry.ports is not None else (0, 65535)
            allow = entry.action is NaclAction.ALLOW
            items.append(
                (
                    Cidr.parse(entry.cidr),
                    (
                        entry.rule_number,
                        int(entry.protocol),
                        lo,
                        hi,
                        entry.icmp_type,
                        entry.icmp_code,
                        allow,
                        entry,
                    ),
                )
            )
        self.index = CidrIndex(items)

    def decide(self, proto: int, port: int, t: int, c: int, peer: Address) -> NaclEntry | None:
        """The first matching entry, or None when only the `*` rule matches (deny)."""
        best: tuple[int, int, int, int, int, int, bool, NaclEntry] | None = None
        for _, items in self.index.lookup(peer):
            for item in items:
                if best is not None and item[0] >= best[0]:
                    break
                if rule_matches(item[1], item[2], item[3], item[4], item[5], proto, port, t, c) or (
                    # A deny for any protocol cuts into an all-protocol flow.
                    proto == ALL_PROTOCOLS and not item[6]
                ):
                    best = item
                    break
        return best[7] if best is not None else None

    def decide_range(self, proto: int, lo: int, hi: int, peer: Address) -> list[PortSpan]:
        """Decisions over a destination-port interval (used for ephemeral reply ports)."""
        candidates = sorted(
            (
                item
                for _, items in self.index.lookup(peer)
                for item in items
                if item[1] in (ALL_PROTOCOLS, proto)
            ),
            key=lambda item: item[0],
        )
        remaining = [(lo, hi)]
        spans: list[PortSpan] = []
        for number, rproto, rlo, rhi, _, _, _, entry in candidates:
            del number
            if rproto == ALL_PROTOCOLS:
                rlo, rhi = 0, 65535
            left: list[tuple[int, int]] = []
            for a, b in remaining:
                x, y = max(a, rlo), min(b, rhi)
                if x > y:
                    left.append((a, b))
                    continue
                spans.append(PortSpan(x, y, entry))
                if a < x:
                    left.append((a, x - 1))
                if y < b:
                    left.append((y + 1, b))
            remaining = left
            if not remaining:
                break
        spans.extend(PortSpan(a, b, None) for a, b in remaining)
        spans.sort(key=lambda s: s.lo)
        return spans


def acl_matcher(network: Network, acl_id: str, egress: bool) -> AclMatcher:
    def build() -> AclMatcher:
        acl = network.network_acls[acl_id]
        return AclMatcher([e for e in acl.entries if e.egress == egress])

    return network.cached(("acl", acl_id, egress), build)


@dataclass(frozen=True, slots=True)
class RouteMatch:
    route: Route
    cidr: Cidr
    """The block that matched: the route's CIDR, or the prefix-list entry that matched."""


# Tie-break at equal prefix length (reference §1.2): local, then static CIDR, then prefix list,
# then propagated; among prefix lists AWS picks one and sticks to it, we pick the lowest id.
def _rank(route: Route) -> int:
    if route.target is RouteTargetKind.LOCAL:
        return 0
    if route.propagated:
        return 3
    return 2 if route.uses_prefix_list else 1


class RouteMatcher:
    __slots__ = ("index",)

    def __init__(self, network: Network, routes: tuple[Route, ...]) -> None:
        items: list[tuple[Cidr, tuple[int, str, RouteMatch]]] = []
        for route in routes:
            if route.uses_prefix_list:
                blocks = network.prefix_list_cidrs.get(route.destination, ())
            else:
                blocks = (Cidr.parse(route.destination),)
            for block in blocks:
                items.append((block, (_rank(route), route.destination, RouteMatch(route, block))))
        # CidrIndex keeps insertion order inside a bucket, so sorting first puts the winner first.
        items.sort(key=lambda item: (item[1][0], item[1][1]))
        self.index = CidrIndex(items)

    def candidates(self, address: Address) -> list[RouteMatch]:
        """Every route containing `address`, the winner first (longest prefix, then rank)."""
        return [v[2] for _, values in self.index.lookup(address) for v in values]

    def best(self, address: Address) -> RouteMatch | None:
        values = self.index.longest(address)
        return values[0][2] if values else None


def route_matcher(network: Network, route_table_id: str) -> RouteMatcher:
    return network.cached(
        ("routes", route_table_id), lambda: RouteMatcher(network, network.effective_routes[route_table_id])
    )
