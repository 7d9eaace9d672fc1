"""Seeded random VPCs for the model-vs-kernel conformance test (cyclonus-style, reference §3.5).

The skeleton is fixed so the kernel objects (namespaces, veths, probe agents) are reused from one
topology to the next, which also exercises live rule changes; everything that decides a verdict
is drawn at random: security-group rules (CIDR, security-group reference and prefix-list peers;
single ports, ranges and all ports; TCP, UDP, ICMP and all protocols), group membership, network
ACL entries (allow/deny, overlapping matches under different numbers, partial ephemeral ranges)
and which subnets the ACLs guard.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from cove.netmodel import (
    Eni,
    NaclAction,
    NaclEntry,
    Network,
    NetworkAcl,
    PrefixList,
    RouteTable,
    SecurityGroup,
    SecurityGroupRule,
    Subnet,
    Vpc,
)

VPC = "vpc-conf"
SUBNETS = {"subnet-c1": "10.0.1.0/24", "subnet-c2": "10.0.2.0/24", "subnet-c3": "10.0.3.0/24"}
ENIS = {
    "eni-c11": ("subnet-c1", "10.0.1.10"),
    "eni-c12": ("subnet-c1", "10.0.1.20"),
    "eni-c21": ("subnet-c2", "10.0.2.10"),
    "eni-c22": ("subnet-c2", "10.0.2.20"),
    "eni-c31": ("subnet-c3", "10.0.3.10"),
    "eni-c32": ("subnet-c3", "10.0.3.20"),
}
TCP_PORTS = (22, 443, 8080)
UDP_PORTS = (5000, 5353)
GROUPS = ("sg-c1", "sg-c2", "sg-c3")
PREFIX_LIST = "pl-conf"
_CIDRS = ("0.0.0.0/0", "10.0.0.0/16", "10.0.2.0/24", "10.0.1.10/32", "10.0.3.0/25", "10.0.1.0/28")
_EPHEMERAL = ((1024, 65535), (32768, 45000), (45001, 65535), (32768, 60999))


@dataclass(frozen=True)
class Topology:
    seed: int
    network: Network
    description: str


def _ports(rng: random.Random, protocol: str) -> tuple[int, int] | None:
    pool = TCP_PORTS if protocol == "tcp" else UDP_PORTS
    choice = rng.random()
    if choice < 0.5:
        port = rng.choice(pool)
        return (port, port)
    if choice < 0.8:
        low = rng.choice(pool)
        return (low, low + rng.choice((0, 100, 10000)))
    return (0, 65535)


def _sg_rule(rng: random.Random, index: int, group: str, direction: str) -> SecurityGroupRule:
    protocol = rng.choice(("-1", "tcp", "tcp", "udp", "icmp"))
    kind = rng.random()
    if kind < 0.5:
        peer = rng.choice(_CIDRS)
    elif kind < 0.8:
        peer = rng.choice(GROUPS)
    else:
        peer = PREFIX_LIST
    rule_id = f"sgr-{group}-{direction}-{index}"
    if protocol == "icmp":
        return SecurityGroupRule(
            "icmp", None, peer, icmp_type=rng.choice((8, -1)), icmp_code=-1, rule_id=rule_id
        )
    ports = None if protocol == "-1" else _ports(rng, protocol)
    return SecurityGroupRule(protocol, ports, peer, rule_id=rule_id)


def _group(rng: random.Random, group: str) -> SecurityGroup:
    ingress = tuple(_sg_rule(rng, i, group, "in") for i in range(rng.randint(0, 3)))
    if rng.random() < 0.6:
        egress: tuple[SecurityGroupRule, ...] = (SecurityGroupRule(rule_id=f"sgr-{group}-out-all"),)
    else:
        egress = tuple(_sg_rule(rng, i, group, "out") for i in range(rng.randint(0, 2)))
    return SecurityGroup(group, VPC, group, ingress, egress)


def _nacl_entry(rng: random.Random, number: int, egress: bool) -> NaclEntry:
    action = NaclAction.ALLOW if rng.random() < 0.65 else NaclAction.DENY
    protocol = rng.choice(("-1", "tcp", "tcp", "udp", "icmp"))
    cidr = rng.choice(_CIDRS)
    if protocol in ("tcp", "udp"):
        ports = rng.choice(_EPHEMERAL) if rng.random() < 0.4 else _ports(rng, protocol)
        return NaclEntry(number, egress, action, protocol, cidr, ports)
    if protocol == "icmp":
        return NaclEntry(number, egress, action, "icmp", cidr, icmp_type=rng.choice((-1, 0, 8)), icmp_code=-1)
    return NaclEntry(number, egress, action, "-1", cidr)


def _acl(rng: random.Random, acl_id: str, subnets: tuple[str, ...]) -> NetworkAcl:
    entries: list[NaclEntry] = []
    for egress in (False, True):
        numbers = sorted(rng.sample(range(1, 200), rng.randint(1, 5)))
        entries += [_nacl_entry(rng, n, egress) for n in numbers]
        if rng.random() < 0.7:
            entries.append(NaclEntry(500, egress, NaclAction.ALLOW, "-1", "10.0.0.0/16"))
    return NetworkAcl(acl_id, VPC, entries=tuple(entries), subnet_ids=subnets)


def generate(seed: int) -> Topology:
    rng = random.Random(seed)
    groups = [_group(rng, g) for g in GROUPS]
    enis = [
        Eni(eni_id, subnet, (address,), tuple(sorted(rng.sample(GROUPS, rng.randint(1, 2)))))
        for eni_id, (subnet, address) in ENIS.items()
    ]
    guarded = [s for s in SUBNETS if rng.random() < 0.6]
    split = rng.randint(0, len(guarded))
    acls = [NetworkAcl.allow_all("acl-conf-default", VPC)]
    if guarded[:split]:
        acls.append(_acl(rng, "acl-conf-1", tuple(guarded[:split])))
    if guarded[split:]:
        acls.append(_acl(rng, "acl-conf-2", tuple(guarded[split:])))
    prefix = PrefixList(
        PREFIX_LIST,
        "conformance",
        tuple(sorted(rng.sample(("10.0.2.0/24", "10.0.3.20/32", "10.0.1.0/25"), 2))),
    )
    network = Network(
        vpcs=[Vpc(VPC, ("10.0.0.0/16",), enable_dns_support=True)],
        subnets=[Subnet(s, VPC, cidr, "us-east-1a") for s, cidr in SUBNETS.items()],
        route_tables=[RouteTable("rtb-conf-main", VPC, main=True)],
        network_acls=acls,
        security_groups=groups,
        enis=enis,
        prefix_lists=[prefix],
    )
    description = "\n".join(
        [f"seed {seed}"]
        + [f"  {g.id}: in={g.ingress} out={g.egress}" for g in groups]
        + [f"  {e.id} {e.private_ips[0]} sgs={e.security_group_ids}" for e in enis]
        + [f"  {a.id} subnets={a.subnet_ids} entries={a.entries}" for a in acls[1:]]
        + [f"  {prefix.id}: {prefix.cidrs}"]
    )
    return Topology(seed, network, description)
