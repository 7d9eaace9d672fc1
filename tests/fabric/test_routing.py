"""The router's rules: the ENI table first, the router's own addresses right after it, then the
route table of the packet's subnet (the conformance and DNS suites prove the paths themselves)."""

from __future__ import annotations

import re

from cove.fabric.routing import desired_rules
from cove.netmodel import Network, NetworkAcl, RouteTable, Subnet, Vpc, compile_network

VPC = "vpc-rtg"


def test_local_addresses_come_after_the_eni_table_and_before_every_subnet_table() -> None:
    network = Network(
        vpcs=[Vpc(VPC, ("10.6.0.0/16",))],
        subnets=[Subnet("subnet-rtg-a", VPC, "10.6.1.0/24"), Subnet("subnet-rtg-b", VPC, "10.6.2.0/24")],
        route_tables=[RouteTable("rtb-rtg", VPC, main=True)],
        network_acls=[NetworkAcl.allow_all("acl-rtg", VPC)],
    )
    (router,) = compile_network(network).vpcs
    rules = sorted(
        (int(match.group(1)), rule)
        for rule in desired_rules(router).values()
        if (match := re.match(r"priority (\d+) ", rule))
    )
    lookups = [rule.split(" lookup ")[1] for _, rule in rules]
    assert lookups[:2] == ["200", "local"]
    assert len(lookups) == 4 and all(rule.split()[2] == "from" for _, rule in rules[2:])
    assert 0 not in [priority for priority, _ in rules], "not wanted at 0: the sync removes the kernel's rule"
