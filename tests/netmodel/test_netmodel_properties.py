"""Property tests over randomly generated security-group and NACL rules on the lab topology."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kernel_interpreter import Kernel, Packet
from netmodel_builders import lab, resources

from cove.netmodel import (
    Flow,
    NaclAction,
    NaclEntry,
    Network,
    SecurityGroup,
    SecurityGroupRule,
    compile_network,
    evaluate,
)

ENIS = ["eni-a1", "eni-a2", "eni-b1", "eni-web", "eni-c1", "eni-pub"]
DESTINATIONS = [*ENIS, "com.amazonaws.us-east-1.s3", "203.0.113.7"]
PEERS = [
    "0.0.0.0/0",
    "10.0.0.0/16",
    "10.0.1.0/24",
    "10.0.2.0/24",
    "10.0.3.10/32",
    "sg-train",
    "sg-web",
    "pl-s3",
]
ACL_CIDRS = ["0.0.0.0/0", "10.0.0.0/16", "10.0.1.0/24", "10.0.2.0/24", "10.0.3.0/24", "198.18.0.0/16"]

ports = st.one_of(
    st.none(), st.tuples(st.integers(0, 2000), st.integers(0, 63535)).map(lambda p: (p[0], p[0] + p[1]))
)
protocols = st.sampled_from(["tcp", "udp", "icmp", "-1"])

sg_rules = st.builds(
    lambda proto, p, peer: SecurityGroupRule(proto, p if proto in ("tcp", "udp") else None, peer),
    protocols,
    ports,
    st.sampled_from(PEERS),
)


def nacl_entries(egress: bool) -> st.SearchStrategy[list[NaclEntry]]:
    entry = st.builds(
        lambda proto, p, cidr, allow: (proto, p if proto in ("tcp", "udp") else None, cidr, allow),
        protocols,
        ports,
        st.sampled_from(ACL_CIDRS),
        st.booleans(),
    )
    return st.lists(entry, max_size=8).flatmap(
        lambda items: st.permutations(list(range(1, 200, 10))[: len(items)]).map(
            lambda numbers: [
                NaclEntry(n, egress, NaclAction.ALLOW if a else NaclAction.DENY, proto, cidr, p)
                for n, (proto, p, cidr, a) in zip(numbers, items, strict=True)
            ]
        )
    )


flows = st.builds(
    lambda src, dst, proto, port: Flow(
        src, dst, proto, port if proto in ("tcp", "udp") else None, source_port=40000
    ),
    st.sampled_from(ENIS),
    st.sampled_from(DESTINATIONS),
    st.sampled_from(["tcp", "udp", "icmp"]),
    st.sampled_from([22, 53, 443, 8080, 29500]),
)


def topology(
    train_in: list[SecurityGroupRule],
    web_in: list[SecurityGroupRule],
    acl_in: list[NaclEntry],
    acl_out: list[NaclEntry],
) -> Network:
    items = resources()
    return lab(
        sg_train=replace(items["sg-train"], ingress=tuple(train_in)),
        sg_web=replace(items["sg-web"], ingress=tuple(web_in)),
        acl_c=replace(items["acl-c"], entries=tuple(acl_in + acl_out)),
    )


topologies = st.builds(
    topology,
    st.lists(sg_rules, max_size=6),
    st.lists(sg_rules, max_size=6),
    nacl_entries(False),
    nacl_entries(True),
)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(topologies, flows, sg_rules)
def test_adding_an_allow_rule_never_denies(network: Network, flow: Flow, extra: SecurityGroupRule) -> None:
    before = evaluate(network, flow)
    for group in ("sg-train", "sg-web"):
        sg = network.security_groups[group]
        grown = _with(network, replace(sg, ingress=(*sg.ingress, extra), egress=(*sg.egress, extra)))
        after = evaluate(grown, flow)
        if before.allowed:
            assert after.allowed, after.to_dict()
        # An allow rule can only remove security-group blockers, never add any.
        assert len(after.blockers) <= len(before.blockers)


def _with(network: Network, sg: SecurityGroup) -> Network:
    groups = [g for g in network.security_groups.values() if g.id != sg.id]
    return Network(
        vpcs=network.vpcs.values(),
        subnets=network.subnets.values(),
        route_tables=network.route_tables.values(),
        network_acls=network.network_acls.values(),
        security_groups=[*groups, sg],
        enis=network.enis.values(),
        internet_gateways=network.internet_gateways.values(),
        nat_gateways=network.nat_gateways.values(),
        prefix_lists=network.prefix_lists.values(),
        vpc_endpoints=network.vpc_endpoints.values(),
        services=network.services.values(),
    )


@SETTINGS
@given(topologies, flows)
def test_no_security_group_rules_deny_every_cross_eni_flow(network: Network, flow: Flow) -> None:
    bare = network
    for sg in list(network.security_groups.values()):
        bare = _with(bare, replace(sg, ingress=(), egress=()))
    verdict = evaluate(bare, flow)
    assert not verdict.allowed
    assert {"SG_HAS_NO_RULES"} <= set(verdict.codes)


@SETTINGS
@given(topologies, flows, st.integers(1, 50))
def test_nacl_order_invariant_under_consistent_renumbering(network: Network, flow: Flow, scale: int) -> None:
    acl = network.network_acls["acl-c"]
    renumbered = replace(
        acl, entries=tuple(replace(e, rule_number=e.rule_number * scale + 7) for e in acl.entries)
    )
    other = Network(
        vpcs=network.vpcs.values(),
        subnets=network.subnets.values(),
        route_tables=network.route_tables.values(),
        network_acls=[a for a in network.network_acls.values() if a.id != "acl-c"] + [renumbered],
        security_groups=network.security_groups.values(),
        enis=network.enis.values(),
        internet_gateways=network.internet_gateways.values(),
        nat_gateways=network.nat_gateways.values(),
        prefix_lists=network.prefix_lists.values(),
        vpc_endpoints=network.vpc_endpoints.values(),
        services=network.services.values(),
    )
    assert evaluate(network, flow).decision == evaluate(other, flow).decision
    assert evaluate(network, flow).codes == evaluate(other, flow).codes


@SETTINGS
@given(topologies, flows)
def test_evaluate_and_compile_are_deterministic(network: Network, flow: Flow) -> None:
    assert evaluate(network, flow) == evaluate(network, flow)
    again = Network(
        vpcs=network.vpcs.values(),
        subnets=network.subnets.values(),
        route_tables=network.route_tables.values(),
        network_acls=network.network_acls.values(),
        security_groups=network.security_groups.values(),
        enis=network.enis.values(),
        internet_gateways=network.internet_gateways.values(),
        nat_gateways=network.nat_gateways.values(),
        prefix_lists=network.prefix_lists.values(),
        vpc_endpoints=network.vpc_endpoints.values(),
        services=network.services.values(),
    )
    assert evaluate(again, flow) == evaluate(network, flow)  # fresh caches, same answer
    assert compile_network(again) == compile_network(network)


@SETTINGS
@given(topologies, flows)
def test_random_rules_compile_to_the_same_decisions(network: Network, flow: Flow) -> None:
    kernel = Kernel(compile_network(network), "vpc-1")
    verdict = evaluate(network, flow)
    dst = flow.destination
    if dst.startswith("eni-"):
        dst = network.enis[dst].private_ips[0]
    elif dst.startswith("com."):
        dst = "198.18.0.1"
    packet = Packet(flow.protocol_number, flow.port or 0, flow.icmp_type or -1, flow.icmp_code or 0)
    if flow.protocol_number == 1:
        packet = Packet(1, 0, 8, 0)
    assert kernel.accepts(flow.source, dst, packet, 40000) == verdict.allowed, verdict.to_dict()
