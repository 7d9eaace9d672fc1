"""Seeded random VPCs for the model-vs-kernel conformance test (cyclonus-style, reference §3.5).

The skeleton is fixed so the kernel objects (namespaces, veths, probe agents) are reused from one
topology to the next, which also exercises live rule changes:

    vpc-conf 10.0.0.0/16, igw-conf attached, igw-gone detached (routes to it are blackholes)
      subnet-c0 10.0.0.0/24 public: nat-conf (eni-cnat 10.0.0.10, Elastic IP 198.19.7.10) and
                eni-c01 10.0.0.20 (public IP 198.19.7.20 in most seeds)
      subnet-c1..c3 10.0.{1,2,3}.0/24 with two ENIs each
    S3 (com.amazonaws.us-east-1.s3, pl-conf-s3 = 198.18.16.0/20) through gateway endpoint vpce-conf-s3

Everything that decides a verdict is drawn at random: security-group rules (CIDR, security-group
reference and prefix-list peers, internal and external; single ports, ranges and all ports; TCP,
UDP, ICMP and all protocols), group membership, network ACL entries (allow/deny, overlapping
matches under different numbers, partial ephemeral ranges) and which subnets they guard, and the
route tables: which table each private subnet uses, its default route (NAT gateway, internet
gateway, a blackhole through the detached gateway or a deleted NAT gateway, or none), whether the
S3 endpoint's prefix-list route is in it, and more specific or equal-prefix routes that collide
with the prefix-list route (198.18.16.0/24 or 198.18.16.0/20 to the NAT gateway) or the default
route (203.0.113.0/24).

One restriction keeps the model and the kernel comparable rather than merely both right: a NAT
gateway picks its source port anywhere in 1024-65535, so the model checks the reply from the
internet against the NAT subnet's inbound ACL over that whole range, while the kernel keeps the
client's port. An ACL guarding the public subnet therefore never splits 1024-65535 for addresses
outside the VPC (see `_nat_safe`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from cove.netmodel import (
    EndpointType,
    Eni,
    EniKind,
    InternetGateway,
    NaclAction,
    NaclEntry,
    NatGateway,
    Network,
    NetworkAcl,
    PrefixList,
    Route,
    RouteTable,
    RouteTargetKind,
    SecurityGroup,
    SecurityGroupRule,
    Service,
    Subnet,
    Vpc,
    VpcEndpoint,
)

__all__ = [
    "ENIS",
    "EXTERNAL",
    "GROUPS",
    "IGW",
    "NAT",
    "NAT_ENI",
    "S3_ENDPOINT",
    "TCP_PORTS",
    "UDP_PORTS",
    "Topology",
    "generate",
]

VPC = "vpc-conf"
PUBLIC_SUBNET = "subnet-c0"
SUBNETS = {
    PUBLIC_SUBNET: "10.0.0.0/24",
    "subnet-c1": "10.0.1.0/24",
    "subnet-c2": "10.0.2.0/24",
    "subnet-c3": "10.0.3.0/24",
}
PRIVATE_SUBNETS = ("subnet-c1", "subnet-c2", "subnet-c3")
ENIS = {
    "eni-c01": (PUBLIC_SUBNET, "10.0.0.20"),
    "eni-c11": ("subnet-c1", "10.0.1.10"),
    "eni-c12": ("subnet-c1", "10.0.1.20"),
    "eni-c21": ("subnet-c2", "10.0.2.10"),
    "eni-c22": ("subnet-c2", "10.0.2.20"),
    "eni-c31": ("subnet-c3", "10.0.3.10"),
    "eni-c32": ("subnet-c3", "10.0.3.20"),
}
"""The ENIs that probe and serve (the NAT gateway's ENI does neither)."""
NAT_ENI = ("eni-cnat", "10.0.0.10")
NAT = "nat-conf"
NAT_EIP = "198.19.7.10"
PUBLIC_IP = "198.19.7.20"
IGW = "igw-conf"
IGW_DETACHED = "igw-gone"
S3 = "com.amazonaws.us-east-1.s3"
S3_PREFIX_LIST = "pl-conf-s3"
S3_BLOCK = "198.18.16.0/20"
S3_ENDPOINT = "vpce-conf-s3"
EXTERNAL = {
    "inet": "203.0.113.7",
    "s3-lo": "198.18.16.10",
    "s3-hi": "198.18.20.10",
}
"""Destinations outside the VPC: an internet host, and two S3 addresses, the first inside the
198.18.16.0/24 that some route tables send to the NAT gateway instead of the endpoint."""
TCP_PORTS = (22, 443, 8080)
UDP_PORTS = (5000, 5353)
GROUPS = ("sg-c1", "sg-c2", "sg-c3")
PREFIX_LIST = "pl-conf"
_CIDRS = (
    "0.0.0.0/0",
    "10.0.0.0/16",
    "10.0.2.0/24",
    "10.0.1.10/32",
    "10.0.3.0/25",
    "10.0.1.0/28",
    "10.0.0.0/24",
    "203.0.113.0/24",
    "198.18.16.0/22",
)
_EXTERNAL_CIDRS = ("0.0.0.0/0", "203.0.113.0/24", "198.18.16.0/22")
_EPHEMERAL = ((1024, 65535), (32768, 45000), (45001, 65535), (32768, 60999))
_NAT_RANGE = (1024, 65535)
_TABLES = ("rtb-conf-main", "rtb-conf-a", "rtb-conf-b")


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
    elif kind < 0.75:
        peer = rng.choice(GROUPS)
    else:
        peer = rng.choice((PREFIX_LIST, S3_PREFIX_LIST))
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
        egress = tuple(_sg_rule(rng, i, group, "out") for i in range(rng.randint(0, 3)))
    return SecurityGroup(group, VPC, group, ingress, egress)


def _nat_safe(cidr: str, ports: tuple[int, int] | None) -> bool:
    """Whether an entry decides every NAT source port alike for replies from outside the VPC."""
    if ports is None or cidr not in _EXTERNAL_CIDRS:
        return True
    low, high = ports
    return high < _NAT_RANGE[0] or (low <= _NAT_RANGE[0] and high >= _NAT_RANGE[1])


def _nacl_entry(rng: random.Random, number: int, egress: bool, public: bool) -> NaclEntry:
    action = NaclAction.ALLOW if rng.random() < 0.65 else NaclAction.DENY
    protocol = rng.choice(("-1", "tcp", "tcp", "udp", "icmp"))
    cidr = rng.choice(_CIDRS)
    if protocol in ("tcp", "udp"):
        ports = rng.choice(_EPHEMERAL) if rng.random() < 0.4 else _ports(rng, protocol)
        if public and not egress and not _nat_safe(cidr, ports):
            ports = rng.choice((None, _NAT_RANGE, (22, 22), (443, 443)))
        return NaclEntry(number, egress, action, protocol, cidr, ports)
    if protocol == "icmp":
        return NaclEntry(number, egress, action, "icmp", cidr, icmp_type=rng.choice((-1, 0, 8)), icmp_code=-1)
    return NaclEntry(number, egress, action, "-1", cidr)


def _acl(rng: random.Random, acl_id: str, subnets: tuple[str, ...]) -> NetworkAcl:
    public = PUBLIC_SUBNET in subnets
    entries: list[NaclEntry] = []
    for egress in (False, True):
        numbers = sorted(rng.sample(range(1, 200), rng.randint(1, 5)))
        entries += [_nacl_entry(rng, n, egress, public) for n in numbers]
        if rng.random() < 0.7:
            entries.append(NaclEntry(500, egress, NaclAction.ALLOW, "-1", "10.0.0.0/16"))
        if rng.random() < 0.5:
            # Replies from outside come back on ephemeral ports.
            entries.append(NaclEntry(600, egress, NaclAction.ALLOW, "-1", "0.0.0.0/0"))
    return NetworkAcl(acl_id, VPC, entries=tuple(entries), subnet_ids=subnets)


def _default_route(rng: random.Random, public: bool) -> Route | None:
    choice = rng.random()
    if public:
        if choice < 0.8:
            return Route("0.0.0.0/0", RouteTargetKind.IGW, IGW)
        if choice < 0.9:
            return Route("0.0.0.0/0", RouteTargetKind.IGW, IGW_DETACHED)
        return None
    if choice < 0.45:
        return Route("0.0.0.0/0", RouteTargetKind.NAT, NAT)
    if choice < 0.6:
        return Route("0.0.0.0/0", RouteTargetKind.IGW, IGW)
    if choice < 0.7:
        return Route("0.0.0.0/0", RouteTargetKind.IGW, IGW_DETACHED)
    if choice < 0.75:
        # What EC2 shows once the target is deleted: state blackhole, the old id kept.
        return Route("0.0.0.0/0", RouteTargetKind.BLACKHOLE, "nat-0deleted")
    return None


def _private_routes(rng: random.Random) -> tuple[Route, ...]:
    routes: list[Route] = []
    default = _default_route(rng, public=False)
    if default is not None:
        routes.append(default)
    if rng.random() < 0.3:
        # More specific than the prefix-list route: wins for 198.18.16.0/24 only.
        target = rng.choice((NAT, NAT, IGW_DETACHED))
        kind = RouteTargetKind.NAT if target == NAT else RouteTargetKind.IGW
        routes.append(Route("198.18.16.0/24", kind, target))
    if rng.random() < 0.15:
        # The prefix list's own CIDR as a static route: a static route wins at equal prefix.
        routes.append(Route(S3_BLOCK, RouteTargetKind.NAT, NAT))
    if rng.random() < 0.2:
        routes.append(
            rng.choice(
                (
                    Route("203.0.113.0/24", RouteTargetKind.NAT, NAT),
                    Route("203.0.113.0/24", RouteTargetKind.IGW, IGW_DETACHED),
                )
            )
        )
    return tuple(routes)


def _route_tables(rng: random.Random) -> tuple[list[RouteTable], tuple[str, ...], dict[str, str]]:
    """The tables, those the S3 endpoint is associated with, and each private subnet's table."""
    public_default = _default_route(rng, public=True)
    tables = [
        RouteTable(
            "rtb-conf-pub",
            VPC,
            routes=(public_default,) if public_default else (),
            subnet_ids=(PUBLIC_SUBNET,),
        )
    ]
    chosen = {subnet: rng.choice(_TABLES) for subnet in PRIVATE_SUBNETS}
    for table in _TABLES:
        subnets = tuple(s for s in PRIVATE_SUBNETS if chosen[s] == table and table != "rtb-conf-main")
        tables.append(RouteTable(table, VPC, table == "rtb-conf-main", _private_routes(rng), subnets))
    endpoint_tables = tuple(t.id for t in tables if rng.random() < (0.25 if t.id == "rtb-conf-pub" else 0.6))
    return tables, endpoint_tables, chosen


def generate(seed: int) -> Topology:
    rng = random.Random(seed)
    groups = [_group(rng, g) for g in GROUPS]
    public_ip = PUBLIC_IP if rng.random() < 0.75 else None
    enis = [
        Eni(
            eni_id,
            subnet,
            (address,),
            tuple(sorted(rng.sample(GROUPS, rng.randint(1, 2)))),
            public_ip=public_ip if subnet == PUBLIC_SUBNET else None,
        )
        for eni_id, (subnet, address) in ENIS.items()
    ]
    enis.append(Eni(NAT_ENI[0], PUBLIC_SUBNET, (NAT_ENI[1],), kind=EniKind.NAT_GATEWAY))
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
        tuple(sorted(rng.sample(("10.0.2.0/24", "10.0.3.20/32", "10.0.1.0/25", "10.0.0.0/27"), 2))),
    )
    tables, endpoint_tables, chosen = _route_tables(rng)
    network = Network(
        vpcs=[Vpc(VPC, ("10.0.0.0/16",), enable_dns_support=True)],
        subnets=[Subnet(s, VPC, cidr, "us-east-1a") for s, cidr in SUBNETS.items()],
        route_tables=tables,
        network_acls=acls,
        security_groups=groups,
        enis=enis,
        internet_gateways=[InternetGateway(IGW, VPC), InternetGateway(IGW_DETACHED, None)],
        nat_gateways=[NatGateway(NAT, PUBLIC_SUBNET, NAT_ENI[0], elastic_ip=NAT_EIP)],
        prefix_lists=[prefix, PrefixList(S3_PREFIX_LIST, S3, (S3_BLOCK,))],
        vpc_endpoints=[
            VpcEndpoint(S3_ENDPOINT, VPC, EndpointType.GATEWAY, S3, route_table_ids=endpoint_tables)
        ],
        services=[Service(S3, S3_PREFIX_LIST, "s3.us-east-1.amazonaws.com")],
    )
    description = "\n".join(
        [f"seed {seed}"]
        + [f"  {g.id}: in={g.ingress} out={g.egress}" for g in groups]
        + [f"  {e.id} {e.private_ips[0]} sgs={e.security_group_ids} public={e.public_ip}" for e in enis]
        + [f"  {a.id} subnets={a.subnet_ids} entries={a.entries}" for a in acls[1:]]
        + [f"  {prefix.id}: {prefix.cidrs}"]
        + [f"  {t.id} main={t.main} subnets={t.subnet_ids} routes={t.routes}" for t in tables]
        + [f"  private subnets -> tables: {chosen}", f"  {S3_ENDPOINT} route tables: {endpoint_tables}"]
    )
    return Topology(seed, network, description)
