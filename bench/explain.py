"""`evaluate()` throughput on one core, at a realistic size and at 10x the rules.

Base: one VPC, 50 subnets, 200 ENIs, 20 security groups x 60 rules per direction, 10 network
ACLs x 40 entries (20 per direction). Grown: the same topology with 600 rules per group and 400
entries per ACL (beyond AWS quotas, on purpose). The same seeded flow mix (allowed and denied:
ENI to ENI, to S3, to the internet) runs against both; the ratio says how cost grows with rules.

A verdict builds its path, blockers and deciding rules on first access, so the headline rate is
"decide"; the "explained" rate also reads every verdict's full explanation (`to_dict()`).

    python bench/explain.py [--flows 20000] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
import time

from cove.netmodel import (
    EndpointType,
    Eni,
    EniKind,
    Flow,
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
    evaluate,
)

S3 = "com.amazonaws.us-east-1.s3"
SUBNETS = 50
ENIS_PER_SUBNET = 4
GROUPS = 20
ACLS = 10
PORTS = (22, 53, 80, 443, 2049, 3306, 5432, 6379, 8080, 8443, 9000, 27017)


def _peer(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.15:
        return f"sg-{rng.randrange(GROUPS):02d}"
    if roll < 0.2:
        return "pl-s3"
    prefix = rng.choice((16, 20, 24, 24, 28, 32))
    third, fourth = rng.randrange(1, SUBNETS + 1), rng.randrange(256)
    base = f"10.0.{third}.{fourth}" if rng.random() < 0.9 else f"172.{rng.randrange(16, 32)}.{third}.{fourth}"
    return f"{base}/{prefix}"


def _sg_rule(rng: random.Random, n: int, sg: int, direction: str) -> SecurityGroupRule:
    roll = rng.random()
    rule_id = f"sgr-{sg:02d}-{direction}-{n}"
    if roll < 0.05:
        return SecurityGroupRule("-1", None, _peer(rng), rule_id=rule_id)
    if roll < 0.12:
        return SecurityGroupRule(
            "icmp", None, _peer(rng), icmp_type=rng.choice((-1, 0, 3, 8)), rule_id=rule_id
        )
    proto = "udp" if roll < 0.25 else "tcp"
    lo = rng.choice(PORTS) if rng.random() < 0.7 else rng.randrange(1024, 60000)
    hi = lo if rng.random() < 0.7 else min(65535, lo + rng.randrange(1, 2000))
    return SecurityGroupRule(proto, (lo, hi), _peer(rng), rule_id=rule_id)


def _acl_entries(rng: random.Random, per_direction: int) -> tuple[NaclEntry, ...]:
    entries: list[NaclEntry] = []
    for egress in (False, True):
        numbers = rng.sample(range(1, 32000), per_direction - 2)
        for number in numbers:
            action = NaclAction.DENY if rng.random() < 0.3 else NaclAction.ALLOW
            proto = rng.choice(("tcp", "tcp", "udp", "icmp", "-1"))
            cidr = _peer(rng)
            if not cidr[0].isdigit():
                cidr = "10.0.0.0/16"
            ports = None
            if proto in ("tcp", "udp"):
                lo = rng.choice(PORTS)
                ports = (lo, lo if rng.random() < 0.6 else min(65535, lo + rng.randrange(1, 5000)))
            entries.append(NaclEntry(number, egress, action, proto, cidr, ports))
        # Most ACLs still let replies and the bulk of traffic through, as real ones do.
        entries.append(NaclEntry(32000, egress, NaclAction.ALLOW, "tcp", "0.0.0.0/0", (1024, 65535)))
        entries.append(NaclEntry(32001, egress, NaclAction.ALLOW, "-1", "10.0.0.0/16"))
    return tuple(entries)


def build_network(seed: int, sg_rules: int, acl_entries: int) -> Network:
    rng = random.Random(seed)
    vpc = Vpc("vpc-bench", ("10.0.0.0/16",), enable_dns_hostnames=True)
    subnets = [
        Subnet(f"subnet-{i:02d}", vpc.id, f"10.0.{i}.0/24", f"us-east-1{'abc'[i % 3]}") for i in range(1, 51)
    ]
    public = Subnet("subnet-pub", vpc.id, "10.0.0.0/24", "us-east-1a")
    groups = [
        SecurityGroup(
            f"sg-{g:02d}",
            vpc.id,
            f"group-{g}",
            tuple(_sg_rule(rng, n, g, "in") for n in range(sg_rules)),
            tuple(_sg_rule(rng, n, g, "out") for n in range(sg_rules)),
        )
        for g in range(GROUPS)
    ]
    acls = [
        NetworkAcl(
            f"acl-{a:02d}",
            vpc.id,
            entries=_acl_entries(rng, acl_entries // 2),
            subnet_ids=tuple(s.id for s in subnets[a * 5 : a * 5 + 5]),
        )
        for a in range(ACLS)
    ]
    enis = [
        Eni(
            f"eni-{s:02d}-{k}",
            subnet.id,
            (f"10.0.{s}.{10 + k}",),
            tuple(sorted({f"sg-{rng.randrange(GROUPS):02d}" for _ in range(rng.randrange(1, 4))})),
        )
        for s, subnet in enumerate(subnets, 1)
        for k in range(ENIS_PER_SUBNET)
    ]
    enis.append(Eni("eni-nat", public.id, ("10.0.0.10",), kind=EniKind.NAT_GATEWAY))
    private_routes = (
        Route("0.0.0.0/0", RouteTargetKind.NAT, "nat-1"),
        Route("172.16.0.0/12", RouteTargetKind.BLACKHOLE, "pcx-gone"),
    )
    tables = [
        RouteTable("rtb-main", vpc.id, main=True),
        RouteTable(
            "rtb-pub",
            vpc.id,
            routes=(Route("0.0.0.0/0", RouteTargetKind.IGW, "igw-1"),),
            subnet_ids=(public.id,),
        ),
        RouteTable("rtb-priv", vpc.id, routes=private_routes, subnet_ids=tuple(s.id for s in subnets[:40])),
    ]
    return Network(
        vpcs=[vpc],
        subnets=[public, *subnets],
        route_tables=tables,
        network_acls=[NetworkAcl.allow_all("acl-default", vpc.id), *acls],
        security_groups=groups,
        enis=enis,
        internet_gateways=[InternetGateway("igw-1", vpc.id)],
        nat_gateways=[NatGateway("nat-1", public.id, "eni-nat", elastic_ip="203.0.113.10")],
        prefix_lists=[PrefixList("pl-s3", S3, ("198.18.0.0/16",))],
        vpc_endpoints=[
            VpcEndpoint("vpce-s3", vpc.id, EndpointType.GATEWAY, S3, route_table_ids=("rtb-priv",))
        ],
        services=[Service(S3, "pl-s3")],
    )


def flow_mix(seed: int, count: int) -> list[Flow]:
    rng = random.Random(seed + 1)
    enis = [f"eni-{s:02d}-{k}" for s in range(1, SUBNETS + 1) for k in range(ENIS_PER_SUBNET)]
    flows: list[Flow] = []
    for _ in range(count):
        src = rng.choice(enis)
        roll = rng.random()
        if roll < 0.1:
            flows.append(Flow(src, S3, "tcp", 443))
        elif roll < 0.15:
            flows.append(Flow(src, f"203.0.113.{rng.randrange(1, 255)}", "tcp", rng.choice(PORTS)))
        elif roll < 0.2:
            flows.append(Flow(src, rng.choice(enis), "icmp"))
        else:
            proto = "udp" if roll < 0.3 else "tcp"
            flows.append(Flow(src, rng.choice(enis), proto, rng.choice(PORTS)))
    return flows


def measure(network: Network, flows: list[Flow], seconds: float = 2.0) -> tuple[float, float, float, float]:
    """(steady flows/s, first-pass flows/s, explained flows/s, share allowed). The first pass on a
    fresh network includes compiling the matchers and filling the per-region decision memos."""
    cold_start = time.process_time()
    allowed = sum(evaluate(network, f).allowed for f in flows)
    cold = len(flows) / (time.process_time() - cold_start)
    done = 0
    start = time.process_time()
    while time.process_time() - start < seconds:
        for flow in flows:
            evaluate(network, flow)
        done += len(flows)
    rate = done / (time.process_time() - start)
    done = 0
    start = time.process_time()
    while time.process_time() - start < seconds / 2:
        for flow in flows:
            evaluate(network, flow).to_dict()
        done += len(flows)
    return rate, cold, done / (time.process_time() - start), allowed / len(flows)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--flows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    flows = flow_mix(args.seed, args.flows)
    results = []
    for label, sg_rules, acl_entries in (("base", 60, 40), ("10x rules", 600, 400)):
        started = time.process_time()
        network = build_network(args.seed, sg_rules, acl_entries)
        built = time.process_time() - started
        rate, cold, explained, allowed = measure(network, flows, args.seconds)
        results.append(rate)
        print(
            f"{label:>10}: {sg_rules} rules/SG/direction, {acl_entries} entries/ACL: {rate:,.0f} flows/s steady, "
            f"{cold:,.0f} flows/s first pass, {explained:,.0f} flows/s explained "
            f"({allowed:.0%} allowed, network built in {built * 1000:.0f} ms)"
        )
    print("(one core, CPU time, the same seeded mix of flows for both sizes)")
    ratio = results[0] / results[1]
    print(
        f"slowdown at 10x rules: {ratio:.2f}x -> growth is {'sub-linear' if ratio < 10 else 'linear or worse'}"
    )
    print(f"target >= 50,000 flows/s at base size: {'met' if results[0] >= 50_000 else 'NOT met'}")


if __name__ == "__main__":
    main()
