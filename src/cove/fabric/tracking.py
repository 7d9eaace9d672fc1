"""Untracked flows: the security-group connections a rule change must cut at once.

The router's forward chain accepts `ct state established,related` before the security groups, so
every admitted flow is tracked by Linux conntrack and outlives the rule that admitted it. That is
AWS's rule for tracked flows (reference §1.3): "Rule changes do not interrupt tracked connections;
they persist until idle timeout". AWS does not track every flow, though:

    if a rule permits TCP/UDP for 0.0.0.0/0 (or ::/0) and the opposite direction permits all
    response traffic for 0.0.0.0/0 on all ports, the flow is not tracked; response traffic is
    allowed by rules, and removing/modifying the rule drops the flow immediately. ICMP is always
    tracked. Removing the all-outbound rule makes everything tracked.

and some flows are tracked whatever the rules say: "traffic via … NAT gateways, … PrivateLink
(interface endpoints)". Reference §4.2 maps this onto the kernel: on a rule change, leave the
conntrack entries of tracked flows and delete those "for flows that were only allowed because of
the untracked (all-open both ways) rule pair". `UntrackedFlows.after_apply` does that once the
new table is in place.

Tracking is per network interface, so a flow between two ENIs is judged at each end separately:
at the initiating ENI by its egress rules (forward) and ingress rules (responses), at the
receiving ENI by its ingress rules (forward) and egress rules (responses). A flow is cut when, at
one of its ends, it was untracked under the previous rules and the current rules no longer admit
its packets both ways (forward by a rule of that direction, responses by a rule of the other,
the response's destination port being the initiator's source port). Choices where AWS's text is
silent: a flow counts as untracked when some 0.0.0.0/0 rule admits it, even if a narrower rule
does too; the previous rule set alone decides whether a flow was untracked (a flow opened under
even older, tracked rules is not remembered); a flow routed to a NAT gateway and any flow to or
from an interface endpoint's ENI is tracked.

Conntrack entries are read in the router namespace, where the forward hook sees the inside
addresses: the original source (before the internet gateway's source NAT) and the reply source
(after its destination NAT).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from cove.fabric import netns
from cove.netmodel import EniAttachment, SgChain, SgRule, VpcRouter

__all__ = ["ConntrackEntry", "UntrackedFlows", "flows_to_cut", "parse_conntrack"]

log = logging.getLogger("cove.fabric")

_TCP, _UDP = 6, 17
_ANYWHERE = "0.0.0.0/0"
_LINK_LOCAL = "169.254.0.0/16"


@dataclass(frozen=True, slots=True)
class ConntrackEntry:
    """One connection as the router's forward hook saw it."""

    protocol: int
    initiator: str
    """The original source address."""
    responder: str
    """The reply's source: the original destination after any destination NAT."""
    sport: int
    """The initiator's port."""
    dport: int
    """The responder's port."""
    orig_dst: str
    """The original destination as conntrack keys it (a public IP for inbound internet flows)."""


def parse_conntrack(text: str) -> list[ConntrackEntry]:
    """`conntrack -L` lines → TCP and UDP entries (ICMP is always tracked: never cut here)."""
    entries: list[ConntrackEntry] = []
    for line in text.splitlines():
        words = line.split()
        if len(words) < 2 or not words[1].isdigit() or int(words[1]) not in (_TCP, _UDP):
            continue
        sides: list[dict[str, str]] = [{}, {}]
        for word in words[2:]:
            key, sep, value = word.partition("=")
            if not sep or key not in ("src", "dst", "sport", "dport"):
                continue
            side = sides[0] if key not in sides[0] else sides[1]
            side.setdefault(key, value)
        orig, reply = sides
        if not all(k in orig and k in reply for k in ("src", "dst", "sport", "dport")):
            continue
        entries.append(
            ConntrackEntry(
                int(words[1]), orig["src"], reply["src"], int(orig["sport"]), int(reply["sport"]), orig["dst"]
            )
        )
    return entries


@dataclass(frozen=True, slots=True)
class _Packet:
    protocol: int
    remote: str
    port: int


@functools.lru_cache(maxsize=4096)
def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(cidr, strict=False)


def _contains(cidr: str, address: str) -> bool:
    return ipaddress.ip_address(address) in _network(cidr)


def _owners(router: VpcRouter) -> dict[str, EniAttachment]:
    return {a.split("/")[0]: att for att in router.attachments for a in att.addresses}


def _peer_matches(router: VpcRouter, rule: SgRule, address: str) -> bool:
    if rule.peer_kind == "cidr":
        return ":" not in rule.peer and _contains(rule.peer, address)
    elements = next((s.elements for s in router.address_sets if s.name == rule.peer), ())
    return any(":" not in e and _contains(e, address) for e in elements)


def _admits(router: VpcRouter, rule: SgRule, packet: _Packet) -> bool:
    if rule.protocol not in (-1, packet.protocol):
        return False
    if rule.protocol != -1 and rule.ports is not None and not rule.ports[0] <= packet.port <= rule.ports[1]:
        return False
    return _peer_matches(router, rule, packet.remote)


def _all_open(rule: SgRule, protocol: int) -> bool:
    """A 0.0.0.0/0 rule for every port of the protocol (or for every protocol)."""
    if rule.peer_kind != "cidr" or rule.peer != _ANYWHERE:
        return False
    return rule.protocol == -1 or (rule.protocol == protocol and rule.ports in (None, (0, 65535)))


def _chain(router: VpcRouter, eni_id: str, direction: str) -> SgChain | None:
    return next((c for c in router.sg_chains if c.eni_id == eni_id and c.direction == direction), None)


@dataclass(frozen=True, slots=True)
class _End:
    """One ENI end of a flow: the direction its first packet crossed, and both packets."""

    eni_id: str
    direction: str
    forward: _Packet
    response: _Packet

    @property
    def opposite(self) -> str:
        return "ingress" if self.direction == "egress" else "egress"


def _ends(owner: dict[str, EniAttachment], entry: ConntrackEntry) -> list[_End]:
    ends: list[_End] = []
    initiator, responder = owner.get(entry.initiator), owner.get(entry.responder)
    if initiator is not None:
        ends.append(
            _End(
                initiator.eni_id,
                "egress",
                _Packet(entry.protocol, entry.responder, entry.dport),
                _Packet(entry.protocol, entry.responder, entry.sport),
            )
        )
    if responder is not None:
        ends.append(
            _End(
                responder.eni_id,
                "ingress",
                _Packet(entry.protocol, entry.initiator, entry.dport),
                _Packet(entry.protocol, entry.initiator, entry.sport),
            )
        )
    return ends


def _lpm_next_hop(router: VpcRouter, attachment: EniAttachment, address: str) -> str | None:
    subnet = next((s for s in router.subnets if s.subnet_id == attachment.subnet_id), None)
    table = next((t for t in router.routing_tables if subnet and t.table == subnet.table), None)
    if table is None:
        return None
    best: tuple[int, str] | None = None
    for route in table.routes:
        if ":" in route.destination or not _contains(route.destination, address):
            continue
        length = _network(route.destination).prefixlen
        if best is None or length > best[0]:
            best = (length, route.next_hop)
    return best[1] if best else None


def _exempt(router: VpcRouter, address: str) -> bool:
    """The Amazon DNS server and the router's own link-local services: never security-grouped."""
    return address in {e.address for e in router.exemptions} or _contains(_LINK_LOCAL, address)


def _always_tracked(router: VpcRouter, owner: dict[str, EniAttachment], entry: ConntrackEntry) -> bool:
    """NAT gateway and interface endpoint flows are tracked whatever the rules say."""
    ends = [owner.get(entry.initiator), owner.get(entry.responder)]
    if any(att is not None and att.kind in ("vpc_endpoint", "nat_gateway") for att in ends):
        return True
    initiator = ends[0]
    if initiator is not None and ends[1] is None:
        return _lpm_next_hop(router, initiator, entry.responder) == "nat"
    return False


def _untracked_at(router: VpcRouter, end: _End) -> bool:
    """Whether AWS keeps no state for the flow at this end under these rules (§1.3)."""
    if end.forward.protocol not in (_TCP, _UDP):
        return False
    chain, other = _chain(router, end.eni_id, end.direction), _chain(router, end.eni_id, end.opposite)
    if chain is None or other is None:
        return False
    admitted_by_anywhere = any(
        _admits(router, r, end.forward) and r.peer_kind == "cidr" and r.peer == _ANYWHERE for r in chain.rules
    )
    return admitted_by_anywhere and any(_all_open(r, end.forward.protocol) for r in other.rules)


def _admitted(router: VpcRouter, end: _End) -> bool:
    chain, other = _chain(router, end.eni_id, end.direction), _chain(router, end.eni_id, end.opposite)
    if chain is None or other is None:
        return False
    return any(_admits(router, r, end.forward) for r in chain.rules) and any(
        _admits(router, r, end.response) for r in other.rules
    )


def _untracking_enis(router: VpcRouter) -> set[str]:
    """ENIs whose rules can leave a flow untracked at all: a 0.0.0.0/0 rule one way and an
    all-open rule the other. Everywhere else every flow is tracked and nothing is ever cut."""
    chains = {(c.eni_id, c.direction): c for c in router.sg_chains}
    found: set[str] = set()
    for (eni_id, direction), chain in chains.items():
        other = chains.get((eni_id, "egress" if direction == "ingress" else "ingress"))
        if other is None:
            continue
        anywhere = any(r.peer_kind == "cidr" and r.peer == _ANYWHERE for r in chain.rules)
        if anywhere and any(_all_open(r, p) for r in other.rules for p in (_TCP, _UDP)):
            found.add(eni_id)
    return found


def flows_to_cut(old: VpcRouter, new: VpcRouter, entries: Iterable[ConntrackEntry]) -> list[ConntrackEntry]:
    """The entries of flows that were untracked under `old` and that `new` no longer admits."""
    cut: list[ConntrackEntry] = []
    owner = _owners(old)
    candidates = _untracking_enis(old)
    if not candidates:
        return cut
    for entry in entries:
        ends = [end for end in _ends(owner, entry) if end.eni_id in candidates]
        if not ends or _exempt(old, entry.responder) or _always_tracked(old, owner, entry):
            continue
        for end in ends:
            if _untracked_at(old, end) and not _admitted(new, end):
                cut.append(entry)
                break
    return cut


def _security_state(router: VpcRouter) -> tuple[object, ...]:
    return (router.sg_chains, router.address_sets, router.attachments)


def _delete(namespace: str, entries: list[ConntrackEntry]) -> None:
    """One `conntrack -R` batch of deletions; a flow that ended meanwhile is simply not found."""
    lines = [
        f"-D -f ipv4 -p {'tcp' if e.protocol == _TCP else 'udp'} -s {e.initiator} -d {e.orig_dst} "
        f"--sport {e.sport} --dport {e.dport}"
        for e in entries
    ]
    netns.run(namespace, ["conntrack", "-R", "/dev/stdin"], input="\n".join(lines) + "\n", check=False)


@dataclass
class UntrackedFlows:
    """Remembers each router's previous rules and cuts untracked flows when they change."""

    previous: dict[str, VpcRouter] = field(default_factory=dict)
    """Router namespace → the rules applied there last."""

    def after_apply(self, namespace: str, router: VpcRouter) -> list[ConntrackEntry]:
        """Call once the router's new table is in place; returns the flows cut."""
        old = self.previous.get(namespace)
        self.previous[namespace] = router
        if old is None or _security_state(old) == _security_state(router) or not _untracking_enis(old):
            return []
        listed = netns.run(namespace, ["conntrack", "-L", "-f", "ipv4"], check=False)
        cut = flows_to_cut(old, router, parse_conntrack(listed.stdout))
        if cut:
            _delete(namespace, cut)
            log.info("fabric cut %d untracked flows in %s", len(cut), namespace)
        return cut
