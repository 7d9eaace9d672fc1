"""Compiled matchers for security groups, network ACLs and route tables.

Each matcher is built once per (network, component) and indexed by prefix length, so a lookup
touches only rules whose CIDR contains the peer address instead of scanning every rule.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import NamedTuple

from cove.netmodel.addresses import (
    ALL_PROTOCOLS,
    ICMP,
    ICMPV6,
    TCP,
    UDP,
    Address,
    Cidr,
    CidrIndex,
    RegionIndex,
)
from cove.netmodel.network import Network
from cove.netmodel.resources import (
    NaclAction,
    NaclEntry,
    PeerKind,
    Route,
    RouteTargetKind,
    SecurityGroupRule,
)
from cove.netmodel.verdict import DecidingRule, Fact, Hop, emit_return_step, emit_step

__all__ = [
    "STAR_DENY",
    "AclDecision",
    "AclMatcher",
    "PortSpan",
    "RouteMatch",
    "RouteMatcher",
    "SgMatch",
    "SgMatcher",
    "acl_matcher",
    "route_matcher",
    "route_rank",
    "rule_matches",
    "sg_matcher",
]

_PORTED = (TCP, UDP)
_MEMO_LIMIT = 1 << 16
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


class SgMatch(NamedTuple):
    sg_id: str
    direction: str
    position: int
    rule: SecurityGroupRule
    reference: str
    """The rule's `sgr-…` id, else `sg-…/direction/index`."""
    fact: Fact
    """How the evaluation explains this rule allowing a forward packet (built once)."""


def _sg_match(sg_id: str, direction: str, index: int, rule: SecurityGroupRule) -> SgMatch:
    ref = rule.rule_id or f"{sg_id}/{direction}/{index}"
    hop = Hop(sg_id, "security-group", "allow", direction, ref, "")
    deciding = DecidingRule(sg_id, "security-group", direction, ref, "allow", "forward")
    return SgMatch(sg_id, direction, index, rule, ref, (emit_step, hop, deciding))


_SgItem = tuple[int, int, int, int, int, int, SgMatch]
# One group's rules in one direction, compiled once per network and shared by every matcher whose
# ENI carries that group: (protocol, port lo, port hi, ICMP type, ICMP code, match, referenced
# group id or "", CIDR blocks).
_SgRule = tuple[int, int, int, int, int, SgMatch, str, tuple[Cidr, ...]]


def _sg_rules(network: Network, sg_id: str, egress: bool) -> tuple[_SgRule, ...]:
    key = ("sg-rules", sg_id, egress)
    found = network.derived.get(key)
    if found is not None:
        return found  # type: ignore[no-any-return]
    direction = "egress" if egress else "ingress"
    sg = network.security_groups[sg_id]
    compiled: list[_SgRule] = []
    for index, rule in enumerate(sg.egress if egress else sg.ingress):
        lo, hi = rule.ports if rule.ports is not None else (0, 65535)
        kind = rule.peer_kind
        group = ""
        blocks: tuple[Cidr, ...] = ()
        if kind is PeerKind.SECURITY_GROUP:
            group = rule.peer
        elif kind is PeerKind.PREFIX_LIST:
            # A prefix-list rule is the same rule once per block of the list: indexing the blocks
            # lets the region memo answer for it too.
            blocks = network.prefix_list_cidrs.get(rule.peer, ())
        else:
            blocks = (Cidr.parse(rule.peer),)
        match = _sg_match(sg_id, direction, index, rule)
        compiled.append((int(rule.protocol), lo, hi, rule.icmp_type, rule.icmp_code, match, group, blocks))
    result = network.derived[key] = tuple(compiled)
    return result


def _sg_select(item: _SgItem, proto: int) -> bool:
    return item[1] == ALL_PROTOCOLS or item[1] == proto


# C-level key functions: sorting candidates is most of a first-pass lookup.
_sg_order: Callable[[_SgItem], int] = itemgetter(0)


class SgMatcher:
    """The union of the rules of an ENI's security groups in one direction."""

    __slots__ = ("by_cidr", "by_sg", "has_rules", "memo", "sg_ids")

    def __init__(self, network: Network, sg_ids: tuple[str, ...], egress: bool) -> None:
        cidr_items: list[tuple[Cidr, _SgItem]] = []
        by_sg: dict[str, list[_SgItem]] = {}
        order = 0
        for sg_id in sg_ids:
            for proto, lo, hi, itype, icode, match, group, blocks in _sg_rules(network, sg_id, egress):
                item = (order, proto, lo, hi, itype, icode, match)
                order += 1
                if group:
                    by_sg.setdefault(group, []).append(item)
                else:
                    cidr_items.extend((block, item) for block in blocks)
        self.sg_ids = sg_ids
        self.has_rules = order > 0
        self.by_cidr: RegionIndex[_SgItem] = RegionIndex(cidr_items, _sg_order, _sg_select)
        self.by_sg = {k: tuple(v) for k, v in by_sg.items()}
        # CIDR-rule decisions per (address region, protocol, port, ICMP type/code): bounded by the
        # rules and the ports in use, not by the number of flows asked.
        self.memo: dict[tuple[int, int, int, int, int], _SgItem | None] = {}

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
        starts = self.by_cidr.starts.get(peer[0])
        key = (bisect_right(starts, peer[1]) * 2 + (peer[0] == 6) if starts else -1, proto, port, t, c)
        try:
            best = self.memo[key]
        except KeyError:
            best = None
            for item in self.by_cidr.candidates(peer, proto):
                if rule_matches(item[1], item[2], item[3], item[4], item[5], proto, port, t, c):
                    best = item
                    break
            if len(self.memo) > _MEMO_LIMIT:
                self.memo.clear()
            self.memo[key] = best
        if self.by_sg:
            for sg_id in peer_sg_ids:
                for item in self.by_sg.get(sg_id, ()):
                    if best is not None and item[0] >= best[0]:
                        break
                    if rule_matches(item[1], item[2], item[3], item[4], item[5], proto, port, t, c):
                        best = item
                        break
        return best[6] if best is not None else None


def sg_matcher(network: Network, sg_ids: tuple[str, ...], egress: bool) -> SgMatcher:
    key = ("sg", sg_ids, egress)
    found = network.derived.get(key)
    if found is None:
        found = network.derived[key] = SgMatcher(network, sg_ids, egress)
    return found  # type: ignore[no-any-return]


class AclDecision(NamedTuple):
    """The entry that decided (None for the `*` rule), its number as text, and the outcome."""

    entry: NaclEntry | None
    rule: str
    allowed: bool
    deciding: DecidingRule | None = None
    """The forward-path deciding rule, when the matcher knows its ACL."""
    fact: Fact | None = None
    """How an allowed forward crossing is explained (built once per entry)."""
    reply_fact: Fact | None = None
    """How an allowed reply crossing is explained."""


STAR_DENY = AclDecision(None, "*", False)


def _decision(entry: NaclEntry | None, acl_id: str, egress: bool) -> AclDecision:
    rule = str(entry.rule_number) if entry is not None else "*"
    allowed = entry is not None and entry.action is NaclAction.ALLOW
    if not acl_id:
        return AclDecision(entry, rule, allowed)
    direction = "outbound" if egress else "inbound"
    action = "allow" if allowed else "deny"
    deciding = DecidingRule(acl_id, "network-acl", direction, rule, action)
    if not allowed:
        return AclDecision(entry, rule, allowed, deciding)
    hop = Hop(acl_id, "network-acl", "allow", direction, rule, "")
    reply = DecidingRule(acl_id, "network-acl", direction, rule, "allow", "return")
    return AclDecision(
        entry, rule, allowed, deciding, (emit_step, hop, deciding), (emit_return_step, hop, reply)
    )


class PortSpan(NamedTuple):
    """A decision over a destination-port interval."""

    lo: int
    hi: int
    decision: AclDecision

    @property
    def allowed(self) -> bool:
        return self.decision.allowed

    @property
    def rule(self) -> str:
        return self.decision.rule


_AclItem = tuple[int, int, int, int, int, int, bool, AclDecision]


def _acl_select(item: _AclItem, proto: int) -> bool:
    # For an all-protocol flow every entry is a candidate: any deny cuts into it.
    return proto == ALL_PROTOCOLS or item[1] == ALL_PROTOCOLS or item[1] == proto


_acl_order: Callable[[_AclItem], int] = itemgetter(0)


class AclMatcher:
    """One direction of a NACL: ascending rule numbers, first match wins, then `*` denies."""

    __slots__ = ("index", "memo", "range_memo", "star")

    def __init__(self, entries: list[NaclEntry], acl_id: str = "", egress: bool = False) -> None:
        self.star = _decision(None, acl_id, egress) if acl_id else STAR_DENY
        items: list[tuple[Cidr, _AclItem]] = []
        for entry in entries:
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
                        _decision(entry, acl_id, egress),
                    ),
                )
            )
        self.index: RegionIndex[_AclItem] = RegionIndex(items, _acl_order, _acl_select)
        self.memo: dict[tuple[int, int, int, int, int], AclDecision] = {}
        self.range_memo: dict[tuple[int, int, int, int], tuple[tuple[PortSpan, ...], bool]] = {}

    def decide(self, proto: int, port: int, t: int, c: int, peer: Address) -> AclDecision:
        """The first matching entry, or STAR_DENY when only the `*` rule matches."""
        starts = self.index.starts.get(peer[0])
        key = (bisect_right(starts, peer[1]) * 2 + (peer[0] == 6) if starts else -1, proto, port, t, c)
        try:
            return self.memo[key]
        except KeyError:
            pass
        found = self.star
        for item in self.index.candidates(peer, proto):
            if rule_matches(item[1], item[2], item[3], item[4], item[5], proto, port, t, c) or (
                proto == ALL_PROTOCOLS and not item[6]
            ):
                found = item[7]
                break
        if len(self.memo) > _MEMO_LIMIT:
            self.memo.clear()
        self.memo[key] = found
        return found

    def decide_range(self, proto: int, lo: int, hi: int, peer: Address) -> tuple[PortSpan, ...]:
        """Decisions over a destination-port interval (used for ephemeral reply ports)."""
        return self.decide_reply(proto, lo, hi, peer)[0]

    def decide_reply(self, proto: int, lo: int, hi: int, peer: Address) -> tuple[tuple[PortSpan, ...], bool]:
        """`decide_range`, and whether any part of the interval is denied."""
        starts = self.index.starts.get(peer[0])
        key = (bisect_right(starts, peer[1]) * 2 + (peer[0] == 6) if starts else -1, proto, lo, hi)
        try:
            return self.range_memo[key]
        except KeyError:
            pass
        spans = self._decide_range(proto, lo, hi, peer)
        found = spans, any(not span.decision.allowed for span in spans)
        if len(self.range_memo) > _MEMO_LIMIT:
            self.range_memo.clear()
        self.range_memo[key] = found
        return found

    def _decide_range(self, proto: int, lo: int, hi: int, peer: Address) -> tuple[PortSpan, ...]:
        remaining = [(lo, hi)]
        spans: list[PortSpan] = []
        for _, rproto, rlo, rhi, _, _, _, entry in self.index.candidates(peer, proto):
            if rproto == ALL_PROTOCOLS:
                rlo, rhi = 0, 65535
            if len(remaining) == 1 and rlo <= remaining[0][0] and remaining[0][1] <= rhi:
                spans.append(PortSpan(remaining[0][0], remaining[0][1], entry))
                remaining = []
                break
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
        spans.extend(PortSpan(a, b, self.star) for a, b in remaining)
        spans.sort(key=lambda s: s.lo)
        return tuple(spans)


def acl_matcher(network: Network, acl_id: str, egress: bool) -> AclMatcher:
    key = ("acl", acl_id, egress)
    found = network.derived.get(key)
    if found is None:
        entries = [e for e in network.network_acls[acl_id].entries if e.egress == egress]
        found = network.derived[key] = AclMatcher(entries, acl_id, egress)
    return found  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class RouteMatch:
    route: Route
    cidr: Cidr
    """The block that matched: the route's CIDR, or the prefix-list entry that matched."""
    fact: Fact | None = None
    """How forwarding by this route is explained, when the matcher knows its table."""


def _route_match(route: Route, block: Cidr, route_table_id: str) -> RouteMatch:
    if not route_table_id:
        return RouteMatch(route, block)
    described = route.describe()
    hop = Hop(route_table_id, "route-table", "forward", "", described, f"matched {block}")
    deciding = DecidingRule(route_table_id, "route-table", "", described, "route")
    return RouteMatch(route, block, (emit_step, hop, deciding))


# Tie-break at equal prefix length (reference §1.2): local, then static CIDR, then prefix list,
# then propagated; among prefix lists AWS picks one and sticks to it, we pick the lowest id.
def route_rank(route: Route) -> int:
    if route.target is RouteTargetKind.LOCAL:
        return 0
    if route.propagated:
        return 3
    return 2 if route.uses_prefix_list else 1


class RouteMatcher:
    __slots__ = ("index",)

    def __init__(self, network: Network, routes: tuple[Route, ...], route_table_id: str = "") -> None:
        items: list[tuple[Cidr, tuple[int, str, RouteMatch]]] = []
        for route in routes:
            if route.uses_prefix_list:
                blocks = network.prefix_list_cidrs.get(route.destination, ())
            else:
                blocks = (Cidr.parse(route.destination),)
            for block in blocks:
                match = _route_match(route, block, route_table_id)
                items.append((block, (route_rank(route), route.destination, match)))
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
    key = ("routes", route_table_id)
    found = network.derived.get(key)
    if found is None:
        routes = network.effective_routes[route_table_id]
        found = network.derived[key] = RouteMatcher(network, routes, route_table_id)
    return found  # type: ignore[no-any-return]
