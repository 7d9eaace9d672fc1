"""Render one VPC router's NACLs and security groups as an nftables table.

The table `inet cove` in the router namespace sees every packet between two ENIs (routed /32
veths, so even traffic within a subnet crosses the router) and between an ENI and a gateway. Its
forward chain does, in order:

0. EC2's source/destination check on every packet an ENI sends (one map lookup on the incoming
   veth, then a compare with the ENI's address), before any conntrack shortcut.
1. NACLs, stateless, before any conntrack shortcut: the outbound chain of the source subnet and
   the inbound chain of the destination subnet, each only when the packet crosses that subnet's
   boundary (the subnet's interface group out means "stays inside"). Allow rules `return`, deny rules and
   the final `*` rule log and drop. NACLs are evaluated on every packet, so a NACL chain does
   not try its rules one by one: one interval-map lookup on the address sends the packet to a
   chain holding, in their order, only the rules whose CIDR contains that address
   (`_address_classes`), or straight back when the first of them allows everything.
2. Security groups, stateful: the sending ENI's egress chain for packets that open a flow, then
   (after the receiving subnet's NACL) `ct state established,related accept`, then the receiving
   ENI's ingress chain; a matching allow rule `return`s, the end of the chain logs and drops
   (`<eni>|sg-<dir>|implicit`). Security-group rules only ever allow, so their order does not
   matter: the CIDR rules are matched by a few set lookups (`_Split`) rather than one nft rule
   each, which keeps a new connection's cost and the table's load time flat in the rule count.

The NACL verdict of an established flow's packet is remembered in its conntrack mark, so that
the packets after a flow's first in each direction skip the lookups while getting the verdict the
chains would give them. What a NACL chain decides depends only on what conntrack keys a flow by
(protocol, addresses, ports, ICMP type and code) and on the interfaces in and out (the subnets),
all fixed for one direction of one flow, and on the table's contents. So the mark holds a
generation, a digest of the rendered table (`_generation`), and a bit per direction: "a packet of
this direction passed both NACL stages under this table". The first rule of the forward chain
accepts an established packet whose mark has this table's generation and both bits, which is
exactly the verdict the NACL chains and then `ct state established accept` would reach. Any
change to the table (a NACL entry, an association, an interface) changes the generation in the
same atomic replace, so the next packet of every flow meets the new NACL chains: a NACL change
cuts an established flow at once. Related packets (ICMP errors) never use or set the mark.

The input chain guards the router itself: only the exempt services (Amazon DNS at VPC+2 and
169.254.169.253, the credentials endpoint) answer there; they are exempt from NACLs and security
groups and never reach the forward chain, so they are never flow-logged.

Every drop logs to NFLOG group `NFLOG_GROUP` with the rule set's `<component>|<layer>|<rule>`
prefix, which the flow-log collector turns into REJECT records.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from cove.fabric.gateways import GatewayPlan
from cove.fabric.names import NFLOG_GROUP, NFT_TABLE, Names, subnet_group
from cove.netmodel import NaclChain, NaclRule, SgChain, SgRule, VpcRouter

__all__ = ["CREDENTIALS_ADDRESS", "render_table", "set_name"]

CREDENTIALS_ADDRESS = "169.254.170.2"
_PROTOCOL_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "ipv6-icmp"}

_NACL_PASSED = "nacl_passed"
"""The chain that records in the conntrack mark that a packet passed the NACL stages."""
_ORIGINAL, _REPLY = 0x1, 0x2
"""Conntrack mark bits: a packet of this direction passed the NACL stages (the rest of the mark
is the table's generation)."""
_GENERATION, _PASSED = "@generation@", "@passed@"
"""Placeholders for the generation, and for the mark of a flow that passed both ways under it."""


def set_name(component_id: str) -> str:
    return "s_" + component_id.replace("-", "_")


def _chain(component_id: str, suffix: str) -> str:
    return "c_" + component_id.replace("-", "_") + "_" + suffix


def _quote(text: str) -> str:
    return json.dumps(text)


def _family_of(cidr: str) -> str:
    return "ip6" if ":" in cidr else "ip"


def _address_match(field: str, cidr: str) -> str:
    family = _family_of(cidr)
    if cidr in ("0.0.0.0/0", "::/0"):
        return f"meta nfproto {'ipv6' if family == 'ip6' else 'ipv4'}"
    return f"{family} {field} {cidr}"


def _protocol_match(protocol: int, ports: tuple[int, int] | None, icmp_type: int, icmp_code: int) -> str:
    if protocol == -1:
        return ""
    name = _PROTOCOL_NAMES.get(protocol, str(protocol))
    parts = [f"meta l4proto {name}"]
    if protocol in (6, 17) and ports is not None and ports != (0, 65535):
        low, high = ports
        parts.append(f"th dport {low}" if low == high else f"th dport {low}-{high}")
    if protocol == 1:
        if icmp_type != -1:
            parts.append(f"icmp type {icmp_type}")
        if icmp_code != -1:
            parts.append(f"icmp code {icmp_code}")
    return " ".join(parts)


def _drop(prefix: str) -> str:
    return f"log prefix {_quote(prefix)} group {NFLOG_GROUP} drop"


def _nacl_rule(rule: NaclRule, field: str | None) -> str:
    """The rule; without its address match when `field` is None (the address is known to match)."""
    match = " ".join(
        part
        for part in (
            _address_match(field, rule.cidr) if field else "",
            _protocol_match(rule.protocol, rule.ports, rule.icmp_type, rule.icmp_code),
        )
        if part
    )
    verdict = "return" if rule.action == "accept" else _drop(rule.log_prefix)
    return f"{match} {verdict}" if match else verdict


def _address_classes(cidrs: list[str]) -> list[tuple[int, int, tuple[int, ...]]]:
    """The IPv4 space cut where any of `cidrs` starts or ends: (first, last, indexes of the CIDRs
    containing that stretch), adjacent stretches with the same CIDRs merged, uncovered ones left out."""
    nets = [ipaddress.IPv4Network(cidr, strict=False) for cidr in cidrs]
    spans = [(int(n.network_address), int(n.broadcast_address)) for n in nets]
    bounds = sorted({low for low, _ in spans} | {high + 1 for _, high in spans})
    classes: list[tuple[int, int, tuple[int, ...]]] = []
    for low, after in itertools.pairwise(bounds):
        members = tuple(i for i, (first, last) in enumerate(spans) if first <= low and after - 1 <= last)
        if not members:
            continue
        if classes and classes[-1][2] == members and classes[-1][1] + 1 == low:
            classes[-1] = (classes[-1][0], after - 1, members)
        else:
            classes.append((low, after - 1, members))
    return classes


def _span(low: int, high: int) -> str:
    first, last = ipaddress.IPv4Address(low), ipaddress.IPv4Address(high)
    return str(first) if low == high else f"{first}-{last}"


def _nacl_chain(chain: NaclChain, vpc_cidrs: Iterable[str] = ()) -> list[str]:
    """The NACL chain, an address lookup into one chain per class of addresses (the rules in
    number order that can match there, up to the first that matches every protocol), and the
    IPv6 rules as they are. First match wins as in the plain list: a rule skipped for an address
    is one whose CIDR does not contain it. A VPC CIDR whose every address the chain allows whatever
    the packet is answered by a prefix compare before the lookup (traffic between ENIs, mostly)."""
    field = "daddr" if chain.direction == "outbound" else "saddr"
    name = _chain(chain.network_acl_id, chain.direction)
    v4 = [rule for rule in chain.rules if ":" not in rule.cidr]
    targets: dict[tuple[int, ...], str] = {}
    classes: list[list[str]] = []
    entries: list[str] = []
    allowed: list[tuple[int, int]] = []
    for low, high, members in _address_classes([rule.cidr for rule in v4]):
        if members not in targets:
            rules: list[str] = []
            for index in members:
                rules.append(_nacl_rule(v4[index], None))
                if v4[index].protocol == -1:
                    break  # matches every packet that gets here: the rules after it never decide
            # A class whose first rule allows everything needs no chain of its own.
            targets[members] = "return" if rules == ["return"] else f"goto {name}_{len(classes)}"
            if rules != ["return"]:
                classes.append(rules)
        entries.append(f"{_span(low, high)} : {targets[members]}")
        if targets[members] == "return":
            if allowed and allowed[-1][1] + 1 == low:
                allowed[-1] = (allowed[-1][0], high)
            else:
                allowed.append((low, high))
    nets = [ipaddress.IPv4Network(cidr, strict=False) for cidr in vpc_cidrs if ":" not in cidr]
    body = [
        f"ip {field} {net} return"
        for net in nets
        if any(
            low <= int(net.network_address) and int(net.broadcast_address) <= high for low, high in allowed
        )
    ]
    body += [f"ip {field} vmap {{ {', '.join(entries)} }}"] if entries else []
    body += [_nacl_rule(rule, field) for rule in chain.rules if ":" in rule.cidr]
    lines = _block(name, body)
    for number, rules in enumerate(classes):
        lines += _block(f"{name}_{number}", rules)
    return lines


def _sg_rule(rule: SgRule, field: str) -> str:
    if rule.peer_kind == "cidr":
        peer = _address_match(field, rule.peer)
    else:
        peer = f"ip {field} @{set_name(rule.peer)}"
    protocol = _protocol_match(rule.protocol, rule.ports, rule.icmp_type, rule.icmp_code)
    return " ".join(part for part in (peer, protocol, "return") if part)


_WHOLE = (0, 65535)


@dataclass(frozen=True, slots=True)
class _Split:
    """A chain's rules as set contents, plus the rules that stay one nft rule each.

    * `any_protocol`: CIDRs allowed for everything (`ipv4_addr`, interval, auto-merged);
    * `protocols`: layers of `cidr . protocol` for rules that allow a whole protocol;
    * `ports`: layers of `cidr . protocol . port range` for TCP/UDP port rules;
    * `linear`: peers that are named sets (groups, prefix lists), IPv6 CIDRs, ICMP type/code.

    The kernel refuses overlapping elements in a concatenated interval set, so the CIDRs of one
    protocol within a layer are disjoint: a CIDR's layer is the number of the other CIDRs (same
    protocol) that contain it, CIDRs never overlapping partially. The port ranges of one CIDR and
    protocol are merged.
    """

    any_protocol: tuple[str, ...]
    protocols: tuple[tuple[str, ...], ...]
    ports: tuple[tuple[str, ...], ...]
    linear: tuple[SgRule, ...]


def _merged(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(ranges):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def _layers(keys: Iterable[tuple[str, int]]) -> list[list[tuple[str, int]]]:
    """(IPv4 CIDR, protocol) keys grouped so that within a group a protocol's CIDRs are disjoint."""
    parsed = {key: ipaddress.IPv4Network(key[0]) for key in keys}
    present = {(int(net.network_address), net.prefixlen, key[1]) for key, net in parsed.items()}
    layers: list[list[tuple[str, int]]] = []
    for key, net in sorted(parsed.items(), key=lambda item: (item[1].prefixlen, item[0])):
        address = int(net.network_address)
        depth = sum(
            1
            for length in range(net.prefixlen)
            if (address & (0xFFFFFFFF << (32 - length)) & 0xFFFFFFFF, length, key[1]) in present
        )
        while len(layers) <= depth:
            layers.append([])
        layers[depth].append(key)
    return layers


def _protocol_name(protocol: int) -> str:
    return _PROTOCOL_NAMES.get(protocol, str(protocol))


@lru_cache(maxsize=512)
def _split(rules: tuple[SgRule, ...]) -> _Split:
    any_protocol: set[str] = set()
    whole: set[tuple[str, int]] = set()
    ports: dict[tuple[str, int], list[tuple[int, int]]] = {}
    linear: list[SgRule] = []
    for rule in rules:
        if rule.peer_kind != "cidr" or ":" in rule.peer:
            linear.append(rule)
            continue
        cidr = str(ipaddress.IPv4Network(rule.peer, strict=False))
        if rule.protocol == -1:
            any_protocol.add(cidr)
        elif rule.protocol == 1 and (rule.icmp_type, rule.icmp_code) != (-1, -1):
            linear.append(rule)
        elif rule.protocol in (6, 17) and rule.ports is not None and rule.ports != _WHOLE:
            ports.setdefault((cidr, rule.protocol), []).append(rule.ports)
        else:
            # What `_protocol_match` renders as `meta l4proto <protocol>` alone.
            whole.add((cidr, rule.protocol))
    port_layers = tuple(
        tuple(
            f"{cidr} . {_protocol_name(proto)} . {low if low == high else f'{low}-{high}'}"
            for cidr, proto in layer
            for low, high in _merged(ports[(cidr, proto)])
        )
        for layer in _layers(ports)
    )
    protocol_layers = tuple(
        tuple(f"{cidr} . {_protocol_name(proto)}" for cidr, proto in layer) for layer in _layers(whole)
    )
    return _Split(tuple(sorted(any_protocol)), protocol_layers, port_layers, tuple(linear))


@dataclass
class _MatchSets:
    """The sets the security-group chains look up, one per distinct content: ENIs with the same
    groups share them, so a group's rules are loaded once whatever the number of its ENIs."""

    declared: dict[tuple[str, tuple[str, ...]], str] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def lookup(self, kind: str, elements: tuple[str, ...]) -> str:
        key = (kind, elements)
        if key not in self.declared:
            # Named after the content, so an unchanged group keeps its set's name across renders.
            digest = zlib.crc32("\n".join((kind, *elements)).encode())
            while (name := f"m_{digest:08x}") in self.declared.values():
                digest = (digest + 1) & 0xFFFFFFFF
            self.declared[key] = name
            flags = "flags interval; auto-merge" if kind == "ipv4_addr" else "flags interval"
            self.lines += [
                f"  set {name} {{",
                f"    type {kind}; {flags}",
                f"    elements = {{ {', '.join(elements)} }}",
                "  }",
            ]
        return "@" + self.declared[key]


def _set_rules(chain: SgChain, field: str, sets: _MatchSets) -> list[str]:
    split = _split(chain.rules)
    linear = [_sg_rule(rule, field) for rule in split.linear]
    if "0.0.0.0/0" in split.any_protocol:
        # Every IPv4 packet (the default egress rule): no set lookup could decide more for IPv4.
        return ["meta nfproto ipv4 return", *linear]
    rules: list[str] = []
    if split.any_protocol:
        rules.append(f"ip {field} {sets.lookup('ipv4_addr', split.any_protocol)} return")
    for elements in split.protocols:
        found = sets.lookup("ipv4_addr . inet_proto", elements)
        rules.append(f"ip {field} . meta l4proto {found} return")
    for elements in split.ports:
        found = sets.lookup("ipv4_addr . inet_proto . inet_service", elements)
        rules.append(f"ip {field} . meta l4proto . th dport {found} return")
    return rules + linear


def _sg_chain(chain: SgChain, kind: str, sets: _MatchSets) -> list[str]:
    body: list[str] = []
    egress = chain.direction == "egress"
    if egress and kind == "vpc_endpoint":
        # Interface endpoints answer; they never open connections.
        body.append(_drop(chain.implicit_log_prefix))
    if chain.accept_protocols is not None:
        allowed = ", ".join(_PROTOCOL_NAMES.get(p, str(p)) for p in chain.accept_protocols)
        body.append(f"meta l4proto != {{ {allowed} }} {_drop(chain.implicit_log_prefix)}")
    body += _set_rules(chain, "daddr" if egress else "saddr", sets)
    body.append(_drop(chain.implicit_log_prefix))
    return _block(_chain(chain.eni_id, chain.direction), body)


def _source_check(chain: SgChain) -> list[str]:
    """EC2's source/destination check, on every packet an ENI sends: it sends only from its own
    addresses. Checking only the packets that open flows would let an ENI slip a datagram, with a
    peer's address and port (IP_FREEBIND needs no privilege), into that peer's established flow."""
    sources = [a for a in chain.addresses if ":" not in a]
    if not sources:
        return []
    # One address (most ENIs) is a compare; more are a set lookup.
    own = sources[0] if len(sources) == 1 else f"{{ {', '.join(sources)} }}"
    return _block(_chain(chain.eni_id, "source"), [f"meta nfproto ipv4 ip saddr != {own} drop"])


def _block(name: str, body: Iterable[str]) -> list[str]:
    return [f"  chain {name} {{", *(f"    {line}" for line in body), "  }"]


def _vmap(selector: str, entries: dict[str, str], quoted: bool = True) -> list[str]:
    if not entries:
        return []
    items = ", ".join(
        f"{_quote(key) if quoted else key} : jump {chain}" for key, chain in sorted(entries.items())
    )
    return [f"{selector} vmap {{ {items} }}"]


def _gateway_rules(plan: GatewayPlan) -> list[str]:
    rules: list[str] = []
    if plan.igw_interface is not None:
        # Only an address with a public IP (or a NAT gateway's) leaves through the internet gateway.
        privates = ", ".join(sorted(plan.public))
        name = _quote(plan.igw_interface)
        rules.append(
            f"oifname {name} ip saddr != {{ {privates} }} drop" if privates else f"oifname {name} drop"
        )
    for interface in plan.endpoint_interfaces.values():
        name = _quote(interface)
        rules.append(f"oifname {name} meta l4proto != {{ tcp, icmp }} drop")
        rules.append(f"oifname {name} meta l4proto icmp icmp type != echo-request drop")
    for interface in plan.nat_interfaces.values():
        rules.append(f"oifname {_quote(interface)} meta l4proto != {{ tcp, udp, icmp }} drop")
    return rules


def _one_to_one_nat(plan: GatewayPlan) -> list[str]:
    if plan.igw_interface is None or not plan.public:
        return [f"add table ip {NFT_TABLE}_nat", f"delete table ip {NFT_TABLE}_nat"]
    name = _quote(plan.igw_interface)
    inbound = ", ".join(f"{public} : {private}" for private, public in sorted(plan.public.items()))
    outbound = ", ".join(f"{private} : {public}" for private, public in sorted(plan.public.items()))
    return [
        f"add table ip {NFT_TABLE}_nat",
        f"delete table ip {NFT_TABLE}_nat",
        f"table ip {NFT_TABLE}_nat {{",
        *_block(
            "pre",
            [
                "type nat hook prerouting priority dstnat; policy accept;",
                f"iifname {name} dnat to ip daddr map {{ {inbound} }}",
            ],
        ),
        *_block(
            "post",
            [
                "type nat hook postrouting priority srcnat; policy accept;",
                f"oifname {name} snat to ip saddr map {{ {outbound} }}",
            ],
        ),
        "}",
    ]


def render_table(
    router: VpcRouter,
    exempt_services: Iterable[tuple[str, int, int]] = (),
    plan: GatewayPlan | None = None,
) -> str:
    """The nft script that replaces the router's table atomically (one transaction).

    `exempt_services`: extra (address, l4proto, port) the router itself serves, such as the
    credentials endpoint; the resolver exemptions come from the rule set.
    """
    iface = {a.eni_id: Names.router_interface(a.eni_id) for a in router.attachments}
    kind = {a.eni_id: a.kind for a in router.attachments}
    acl_of = {s.subnet_id: s.network_acl_id for s in router.subnets}
    lines = [f"add table inet {NFT_TABLE}", f"delete table inet {NFT_TABLE}", f"table inet {NFT_TABLE} {{"]

    for address_set in router.address_sets:
        elements = ", ".join(e for e in address_set.elements if ":" not in e)
        lines.append(f"  set {set_name(address_set.name)} {{")
        lines.append("    type ipv4_addr; flags interval; auto-merge")
        if elements:
            lines.append(f"    elements = {{ {elements} }}")
        lines.append("  }")

    group = {s.subnet_id: subnet_group(s.cidr) for s in router.subnets}
    for subnet in router.subnets:
        # Leaving the subnet: its outbound NACL; entering it: its inbound NACL. The router's veths
        # of a subnet's ENIs carry the subnet's interface group, so "stays inside" is a compare.
        lines += _block(
            _chain(subnet.subnet_id, "leave"),
            [
                f"meta oifgroup {group[subnet.subnet_id]} return",
                f"jump {_chain(acl_of[subnet.subnet_id], 'outbound')}",
            ],
        )
        lines += _block(
            _chain(subnet.subnet_id, "enter"),
            [
                f"meta iifgroup {group[subnet.subnet_id]} return",
                f"jump {_chain(acl_of[subnet.subnet_id], 'inbound')}",
            ],
        )

    for nacl in router.nacl_chains:
        lines += _nacl_chain(nacl, router.cidrs)
    sets = _MatchSets()
    chains = [
        line for sg in router.sg_chains for line in _sg_chain(sg, kind.get(sg.eni_id, "interface"), sets)
    ]
    lines += sets.lines + chains
    checks = {c.eni_id: _source_check(c) for c in router.sg_chains if c.direction == "egress"}
    checked = [eni_id for eni_id, block in checks.items() if block]
    for eni_id in checked:
        lines += checks[eni_id]

    occupied = {a.subnet_id for a in router.attachments}
    leave = {str(group[s]): _chain(s, "leave") for s in sorted(occupied)}
    enter = {str(group[s]): _chain(s, "enter") for s in sorted(occupied)}
    egress = {
        iface[c.eni_id]: _chain(c.eni_id, "egress") for c in router.sg_chains if c.direction == "egress"
    }
    ingress = {
        iface[c.eni_id]: _chain(c.eni_id, "ingress") for c in router.sg_chains if c.direction == "ingress"
    }
    # The order a packet meets the rules in AWS: the sender's side (NACL out, security group
    # egress) before the receiver's (NACL in, security group ingress), so a flow log records
    # ACCEPT on a sender whose packet the receiver's NACL then drops. NACLs see every packet (the
    # first rule gives an established flow's packet the verdict they gave both its directions
    # under this very table); security groups only packets that open a flow.
    sources = {iface[eni_id]: _chain(eni_id, "source") for eni_id in checked}
    forward = [
        "type filter hook forward priority filter; policy drop;",
        *_vmap("iifname", sources),
        f"ct state established ct mark {_PASSED} accept",
        *_vmap("meta iifgroup", leave, quoted=False),
        *_vmap("ct state != { established, related } iifname", egress),
        *_vmap("meta oifgroup", enter, quoted=False),
        f"ct state {{ new, established }} jump {_NACL_PASSED}",
        "ct state established,related accept",
        *(_gateway_rules(plan) if plan else []),
        *_vmap("oifname", ingress),
        "accept",
    ]
    lines += _block(
        _NACL_PASSED,
        [
            f"ct mark and {~(_ORIGINAL | _REPLY) & 0xFFFFFFFF:#010x} != {_GENERATION} ct mark set {_GENERATION}",
            f"ct direction original ct mark set ct mark or {_ORIGINAL:#x} return",
            f"ct mark set ct mark or {_REPLY:#x}",
        ],
    )
    lines += _block("forward", forward)

    services = [(e.address, p, e.port) for e in router.exemptions for p in e.protocols]
    services += list(exempt_services)
    accepted = [
        f"{_family_of(address)} daddr {address} meta l4proto {_PROTOCOL_NAMES.get(proto, str(proto))} "
        f"th dport {port} accept"
        for address, proto, port in services
    ]
    lines += _block(
        "input",
        [
            "type filter hook input priority filter; policy drop;",
            "iifname lo accept",
            "ct state established,related accept",
            *accepted,
        ],
    )
    lines.append("}")
    if plan is not None:
        lines += _one_to_one_nat(plan)
    return _generation("\n".join(lines) + "\n")


def _generation(script: str) -> str:
    """The script with its generation filled in: a digest of everything else in it, the two mark
    bits clear. Two scripts that differ in anything get different generations but for a digest
    collision (one chance in 2**30); the same script always gets the same one, which is right:
    the verdict a flow's packets got under it is still the verdict it gives."""
    generation = zlib.crc32(script.encode()) & ~(_ORIGINAL | _REPLY) & 0xFFFFFFFF
    passed = generation | _ORIGINAL | _REPLY
    return script.replace(_GENERATION, f"{generation:#010x}").replace(_PASSED, f"{passed:#010x}")
