"""Security-group rules rendered as set lookups: for random rule lists, a packet matches the sets
(or a rule left linear) exactly when it matches one of the rules, and no set holds two elements
that overlap, which the kernel would refuse for a concatenated interval set."""

from __future__ import annotations

import ipaddress
import itertools
import random

import pytest

from cove.fabric.nftables import _address_classes, _split
from cove.netmodel import SgRule

_CIDRS = (
    "0.0.0.0/0",
    "10.0.0.0/8",
    "10.0.0.0/16",
    "10.0.1.0/24",
    "10.0.1.7/32",
    "10.0.2.0/25",
    "192.0.2.9/32",
)
_PORTS = (None, (0, 65535), (22, 22), (20, 30), (25, 25), (31, 40), (443, 443), (1024, 65535))
_NUMBERS = {"tcp": 6, "udp": 17, "icmp": 1, "47": 47}
Box = tuple[ipaddress.IPv4Network, int, tuple[int, int]]


def _rule(rng: random.Random, index: int) -> SgRule:
    protocol = rng.choice((-1, 6, 6, 17, 1, 47))
    ports = rng.choice(_PORTS) if protocol in (6, 17) else None
    icmp = rng.choice((-1, 8)) if protocol == 1 else -1
    return SgRule("sg-x", f"r{index}", protocol, ports, icmp, -1, "cidr", rng.choice(_CIDRS))


def _matches(rule: SgRule, address: str, protocol: int, port: int, icmp_type: int) -> bool:
    if ipaddress.IPv4Address(address) not in ipaddress.IPv4Network(rule.peer):
        return False
    if rule.protocol == -1:
        return True
    if rule.protocol != protocol:
        return False
    if protocol == 1:
        return rule.icmp_type in (-1, icmp_type)
    low, high = rule.ports if rule.ports is not None and protocol in (6, 17) else (0, 65535)
    return low <= port <= high


def _boxes(elements: tuple[str, ...]) -> list[Box]:
    boxes: list[Box] = []
    for element in elements:
        parts = [p.strip() for p in element.split(" . ")]
        low, _, high = (parts[2] if len(parts) > 2 else "0-65535").partition("-")
        boxes.append((ipaddress.IPv4Network(parts[0]), _NUMBERS[parts[1]], (int(low), int(high or low))))
    return boxes


def _inside(box: Box, address: str, protocol: int, port: int) -> bool:
    network, proto, (low, high) = box
    return ipaddress.IPv4Address(address) in network and proto == protocol and low <= port <= high


@pytest.mark.parametrize("seed", range(40))
def test_sets_match_exactly_the_rules(seed: int) -> None:
    rng = random.Random(seed)
    rules = tuple(_rule(rng, i) for i in range(rng.randint(1, 30)))
    split = _split(rules)
    layers = [_boxes(layer) for layer in (*split.protocols, *split.ports)]
    for boxes in layers:
        for i, (net_a, proto_a, (lo_a, hi_a)) in enumerate(boxes):
            for net_b, proto_b, (lo_b, hi_b) in boxes[i + 1 :]:
                overlap = proto_a == proto_b and net_a.overlaps(net_b) and lo_a <= hi_b and lo_b <= hi_a
                assert not overlap, f"{net_a} {proto_a} {lo_a}-{hi_a} overlaps {net_b} {lo_b}-{hi_b}"
    any_protocol = [ipaddress.IPv4Network(c) for c in split.any_protocol]
    addresses = ("10.0.1.7", "10.0.1.8", "10.0.2.1", "10.0.2.200", "10.9.0.1", "192.0.2.9", "203.0.113.1")
    for address in addresses:
        for protocol in (6, 17, 1, 47, 50):
            for port in (
                (0, 19, 20, 21, 22, 23, 24, 25, 26, 30, 31, 40, 41, 442, 443, 444, 1023, 1024, 65535)
                if protocol in (6, 17)
                else (8, 0)
            ):
                icmp_type = port if protocol == 1 else -1
                expected = any(_matches(r, address, protocol, port, icmp_type) for r in rules)
                via_sets = any(ipaddress.IPv4Address(address) in n for n in any_protocol) or any(
                    _inside(box, address, protocol, port if protocol in (6, 17) else 0)
                    for boxes in layers
                    for box in boxes
                )
                via_linear = any(_matches(r, address, protocol, port, icmp_type) for r in split.linear)
                assert (via_sets or via_linear) == expected, (address, protocol, port, rules)


def test_icmp_type_rules_and_named_sets_stay_rules() -> None:
    icmp = SgRule("sg-x", "a", 1, None, 8, -1, "cidr", "10.0.0.0/16")
    group = SgRule("sg-x", "b", 6, (22, 22), -1, -1, "sg-set", "sg-y")
    split = _split((icmp, group))
    assert split.linear == (icmp, group)
    assert not split.any_protocol and not split.protocols and not split.ports


@pytest.mark.parametrize("seed", range(20))
def test_address_classes_hold_exactly_the_containing_cidrs(seed: int) -> None:
    """A NACL chain sends an address to the chain of its class: the class must list every CIDR
    that contains the address and no other, or first-match order would change."""
    rng = random.Random(seed)
    cidrs = [rng.choice((*_CIDRS, "172.16.3.0/24", "10.0.1.0/28")) for _ in range(rng.randint(1, 12))]
    classes = _address_classes(cidrs)
    for (_, high, _), (low, _, _) in itertools.pairwise(classes):
        assert high < low
    probes = [
        int(ipaddress.IPv4Network(c).network_address) + d for c in cidrs for d in (-1, 0, 1, 15, 16, 255)
    ]
    probes += [0, 2**32 - 1, int(ipaddress.IPv4Address("203.0.113.1"))]
    for value in (p for p in probes if 0 <= p < 2**32):
        address = ipaddress.IPv4Address(value)
        containing = tuple(i for i, c in enumerate(cidrs) if address in ipaddress.IPv4Network(c))
        found = [members for low, high, members in classes if low <= value <= high]
        assert found == ([containing] if containing else []), (str(address), cidrs, classes)
