"""compile_network: determinism, the contract's details, and agreement with evaluate() through an
independent interpreter of the compiled rules (seed of the model-vs-kernel conformance test)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from kernel_interpreter import Kernel, Packet
from netmodel_builders import S3, build, edit, lab, resources
from test_netmodel_scenarios import CASES

from cove.netmodel import (
    Flow,
    FlowLog,
    Network,
    Route,
    RouteTargetKind,
    TrafficType,
    compile_network,
    evaluate,
    format_address,
)

PROBES = [
    ("tcp", 22, None, None),
    ("tcp", 443, None, None),
    ("tcp", 25, None, None),
    ("udp", 53, None, None),
    ("udp", 4789, None, None),
    ("icmp", None, 8, 0),
    ("icmp", None, 3, 4),
    (47, None, None, None),
]
EXTERNAL = ["198.18.0.1", "198.19.0.1", "203.0.113.7", "10.0.0.2", "10.0.2.99"]
SOURCE_PORT = 40000


def conformance_networks() -> Iterator[tuple[str, Network]]:
    seen: set[int] = set()
    for case in CASES:
        # Appliance forwarding and a second VPC are outside the interpreter's scope.
        if case.name.startswith(("appliance", "disconnected")) or id(case.net) in seen:
            continue
        seen.add(id(case.net))
        yield case.name, case.net()


def disagreements(network: Network) -> list[str]:
    kernel = Kernel(compile_network(network), "vpc-1")
    wrong: list[str] = []
    sources = sorted(e.id for e in network.enis.values() if e.kind.value == "interface")
    targets = [format_address(network.primary_address(e)) for e in sorted(network.enis) if e != "eni-nat"]
    for src in sources:
        for dst in targets + EXTERNAL:
            for proto, port, t, c in PROBES:
                flow = Flow(src, dst, proto, port, t, c, SOURCE_PORT)
                model = evaluate(network, flow).allowed
                packet = Packet(
                    flow.protocol_number, port or 0, t if t is not None else -1, c if c is not None else -1
                )
                if kernel.accepts(src, dst, packet, SOURCE_PORT) != model:
                    wrong.append(f"{src}->{dst} {proto}/{port or t}: model {'ALLOW' if model else 'DENY'}")
    return wrong


@pytest.mark.parametrize(
    "name,network", list(conformance_networks()), ids=lambda v: v if isinstance(v, str) else ""
)
def test_compiled_rules_agree_with_evaluate(name: str, network: Network) -> None:
    assert disagreements(network) == []


def test_truth_table_has_both_outcomes() -> None:
    # Guards the conformance test against a vacuous pass.
    network = lab()
    kernel = Kernel(compile_network(network), "vpc-1")
    outcomes = {
        kernel.accepts("eni-a1", dst, Packet(6, port, -1, -1), SOURCE_PORT)
        for dst in ("10.0.1.11", "10.0.3.10", "198.18.0.1")
        for port in (22, 443, 25)
    }
    assert outcomes == {True, False}


def test_compile_is_deterministic_and_serialisable() -> None:
    first, second = compile_network(lab()), compile_network(lab())
    assert first == second
    text = json.dumps(first.to_dict(), sort_keys=True)
    assert text == json.dumps(second.to_dict(), sort_keys=True)
    # Resource order in the input does not change the output.
    items = resources()
    reversed_lab = dict(reversed(list(items.items())))
    assert compile_network(build(reversed_lab)) == first


def test_prefix_lists_expand_and_priorities_resolve() -> None:
    network = lab(**edit("rtb-priv", routes=(Route("198.18.0.0/16", RouteTargetKind.NAT, "nat-1"),)))
    table = {t.route_table_id: t for t in compile_network(network).vpc("vpc-1").routing_tables}["rtb-priv"]
    by_destination = {r.destination: r for r in table.routes}
    # Equal prefix: the static CIDR route wins over the gateway endpoint's prefix-list route.
    assert by_destination["198.18.0.0/16"].next_hop == "nat"
    assert by_destination["10.0.0.0/16"].next_hop == "local"
    default = compile_network(lab()).vpc("vpc-1")
    priv = {t.route_table_id: t for t in default.routing_tables}["rtb-priv"]
    assert [(r.destination, r.next_hop, r.origin) for r in priv.routes] == [
        ("10.0.0.0/16", "local", "10.0.0.0/16"),
        ("198.18.0.0/16", "endpoint", "pl-s3"),
        ("0.0.0.0/0", "nat", "0.0.0.0/0"),
    ]


def test_detached_igw_compiles_to_blackhole() -> None:
    network = lab(**edit("igw-1", vpc_id=None))
    pub = {t.route_table_id: t for t in compile_network(network).vpc("vpc-1").routing_tables}["rtb-pub"]
    assert [r.next_hop for r in pub.routes if r.destination == "0.0.0.0/0"] == ["blackhole"]


def test_chains_sets_and_exemptions() -> None:
    network = lab()
    router = compile_network(network).vpc("vpc-1")
    acl_c_in = next(c for c in router.nacl_chains if c.network_acl_id == "acl-c" and c.direction == "inbound")
    assert [r.number for r in acl_c_in.rules] == [90, 100, 110, 120, 130, 32767, 32768]
    assert acl_c_in.rules[-1].action == "drop" and acl_c_in.subnet_ids == ("subnet-c",)
    sets = {s.name: s.elements for s in router.address_sets}
    assert sets["sg-train"] == ("10.0.1.10/32", "10.0.1.11/32", "10.0.2.10/32")
    endpoint_chain = next(c for c in router.sg_chains if c.eni_id == "eni-vpce" and c.direction == "ingress")
    assert endpoint_chain.accept_protocols == (6,) and endpoint_chain.rules[0].sg_id == "sg-vpce"
    assert not any(c.eni_id == "eni-nat" for c in router.sg_chains)
    assert {e.address for e in router.exemptions} == {"10.0.0.2", "169.254.169.253"}


def test_flow_log_points() -> None:
    base = lab()
    network = Network(
        vpcs=base.vpcs.values(),
        subnets=base.subnets.values(),
        route_tables=base.route_tables.values(),
        network_acls=base.network_acls.values(),
        security_groups=base.security_groups.values(),
        enis=base.enis.values(),
        internet_gateways=base.internet_gateways.values(),
        nat_gateways=base.nat_gateways.values(),
        prefix_lists=base.prefix_lists.values(),
        vpc_endpoints=base.vpc_endpoints.values(),
        services=base.services.values(),
        flow_logs=[FlowLog("fl-1", "subnet-a", TrafficType.REJECT), FlowLog("fl-2", "eni-web")],
    )
    points = compile_network(network).vpc("vpc-1").flow_log_points
    assert [(p.eni_id, p.flow_log_id, p.actions) for p in points] == [
        ("eni-a1", "fl-1", ("REJECT",)),
        ("eni-a2", "fl-1", ("REJECT",)),
        ("eni-vpce", "fl-1", ("REJECT",)),
        ("eni-web", "fl-2", ("ACCEPT", "REJECT")),
    ]


def test_s3_flow_agrees_in_lab() -> None:
    network = lab()
    kernel = Kernel(compile_network(network), "vpc-1")
    assert evaluate(network, Flow("eni-a1", S3, "tcp", 443, source_port=SOURCE_PORT)).allowed
    assert kernel.accepts("eni-a1", "198.18.0.1", Packet(6, 443, -1, -1), SOURCE_PORT)
