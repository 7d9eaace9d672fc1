"""The model-vs-kernel conformance test: for generated VPCs, every (source ENI, destination,
protocol, port) is probed with real packets from inside the source ENI's namespace, by a root
process without CAP_NET_ADMIN, and must agree with `netmodel.evaluate()`. Destinations are the
other ENIs and, outside the VPC, an internet host and two S3 addresses, answered by agents in the
simulated internet and in the S3 gateway endpoint's namespace (which one answers depends on the
route the kernel took). A failure prints the topology and the truth tables (model, kernel) so the
disagreement can be read off.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from cove.fabric.flowlogs import EniInfo, FlowLogCollector, FlowLogSpec
from cove.fabric.kernel import Fabric
from cove.fabric.names import Names
from cove.fabric.probe import Agent, Probe
from cove.netmodel import Flow, compile_network, evaluate
from tests.fabric.fabric_support import fabric_available, worker_tag
from tests.fabric.fabric_topologies import (
    ENIS,
    EXTERNAL,
    S3_ENDPOINT,
    TCP_PORTS,
    UDP_PORTS,
    VPC,
    Topology,
    generate,
)

pytestmark = [pytest.mark.root, pytest.mark.skipif(not fabric_available(), reason="needs root and netns")]

# Seed 5 is left out: every route table it draws refuses everything outside the VPC, which
# `test_generator_covers_both_outcomes` rejects as degenerate.
SEEDS = [seed for seed in range(1, 12) if seed != 5]
_ports = itertools.count(33000)
SERVICES = [("tcp", p) for p in TCP_PORTS] + [("udp", p) for p in UDP_PORTS] + [("icmp", 0)]
DESTINATIONS = {eni_id: address for eni_id, (_, address) in ENIS.items()} | EXTERNAL


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[Fabric, dict[str, Agent]]]:
    fabric = Fabric(Names(worker_tag("tc")))
    fabric.teardown()
    agents: dict[str, Agent] = {}
    try:
        fabric.apply(compile_network(generate(0).network))
        serving = {eni_id: fabric.names.eni(eni_id) for eni_id in ENIS}
        serving |= {"internet": fabric.names.internet(), S3_ENDPOINT: fabric.names.endpoint(S3_ENDPOINT)}
        for name, namespace in serving.items():
            agents[name] = Agent(namespace)
            agents[name].serve(tcp=list(TCP_PORTS), udp=list(UDP_PORTS))
        yield fabric, agents
    finally:
        for agent in agents.values():
            agent.close()
        fabric.teardown()
    assert fabric.owned() == []


def _model(topology: Topology, source: str, probe: Probe) -> bool:
    port = probe.port if probe.proto != "icmp" else None
    flow = Flow(source, probe.dst, probe.proto, port, source_port=probe.sport)
    return evaluate(topology.network, flow).allowed


def _plan(topology: Topology, source: str) -> tuple[list[Probe], dict[str, bool]]:
    probes: list[Probe] = []
    expected: dict[str, bool] = {}
    for destination, address in DESTINATIONS.items():
        if destination == source:
            continue
        for proto, port in SERVICES:
            sport = next(_ports) if proto != "icmp" else None
            probe = Probe(f"{destination} {proto}/{port}", proto, address, port, sport)
            probes.append(probe)
            expected[probe.id] = _model(topology, source, probe)
    return probes, expected


def _table(results: dict[str, dict[str, bool]]) -> str:
    width = len(SERVICES)
    lines = ["           " + " ".join(f"{d.removeprefix('eni-'):<{width}}"[:width] for d in DESTINATIONS)]
    for source in ENIS:
        cells = []
        for destination in DESTINATIONS:
            cells.append(
                "".join(
                    "-"
                    if destination == source
                    else ("." if results[source].get(f"{destination} {p}/{n}") else "X")
                    for p, n in SERVICES
                )
            )
        lines.append(f"  {source:8} " + " ".join(cells))
    return "\n".join(lines) + f"\n  (columns per destination: {' '.join(f'{p}/{n}' for p, n in SERVICES)})"


def _observe(
    agents: dict[str, Agent], topology: Topology, timeout: float
) -> dict[str, tuple[dict[str, bool], dict[str, bool]]]:
    plans = {source: _plan(topology, source) for source in ENIS}

    def run(source: str) -> tuple[str, dict[str, str]]:
        return source, agents[source].probe(plans[source][0], timeout=timeout)

    with ThreadPoolExecutor(len(ENIS)) as pool:
        observed = dict(pool.map(run, ENIS))
    return {
        source: (plans[source][1], {k: v == "open" for k, v in observed[source].items()}) for source in ENIS
    }


@pytest.mark.parametrize("seed", SEEDS)
def test_kernel_agrees_with_model(lab: tuple[Fabric, dict[str, Agent]], seed: int) -> None:
    fabric, agents = lab
    topology = generate(seed)
    fabric.apply(compile_network(topology.network))
    outcome = _observe(agents, topology, timeout=0.5)
    wrong = {s for s, (model, kernel) in outcome.items() if model != kernel}
    if wrong:
        # Retry once with a longer timeout and fresh source ports, to absorb start-up races.
        outcome = _observe(agents, topology, timeout=2.0)
    model = {s: m for s, (m, _) in outcome.items()}
    kernel = {s: k for s, (_, k) in outcome.items()}
    diffs = [
        f"{s} -> {probe}: model {'ALLOW' if model[s][probe] else 'DENY'}, kernel "
        f"{'ALLOW' if kernel[s][probe] else 'DENY'}"
        for s in ENIS
        for probe in model[s]
        if model[s][probe] != kernel[s][probe]
    ]
    assert not diffs, (
        f"{topology.description}\nmodel:\n{_table(model)}\nkernel:\n{_table(kernel)}\n" + "\n".join(diffs)
    )


def test_generator_covers_both_outcomes() -> None:
    """A generator that only produced all-allow or all-deny tables would prove little: every seed
    has both verdicts inside the VPC and outside it, and every outside destination is reached in
    some seed and refused in another."""
    seen: dict[str, set[bool]] = {name: set() for name in EXTERNAL}
    for seed in SEEDS:
        topology = generate(seed)
        internal: set[bool] = set()
        external: set[bool] = set()
        for source in ENIS:
            for probe in _plan(topology, source)[0]:
                verdict = _model(topology, source, probe)
                name = probe.id.split()[0]
                if name in EXTERNAL:
                    external.add(verdict)
                    seen[name].add(verdict)
                else:
                    internal.add(verdict)
        assert internal == {True, False}, f"seed {seed}: degenerate inside the VPC"
        assert external == {True, False}, f"seed {seed}: degenerate outside the VPC"
    assert all(v == {True, False} for v in seen.values()), seen


FLOW_LOG_SEEDS = SEEDS[:4]
_EXEMPT = ["10.0.0.2", "169.254.169.253", "169.254.170.2"]


@pytest.fixture(scope="module")
def flow_records(lab: tuple[Fabric, dict[str, Agent]]) -> Iterator[tuple[FlowLogCollector, list[str]]]:
    fabric, _ = lab
    lines: list[str] = []
    collector = FlowLogCollector(
        fabric.names.router(VPC),
        lambda _log, _eni, batch: lines.extend(text for _, text in batch),
        3600.0,
        exempt=_EXEMPT,
    )
    collector.start()
    try:
        yield collector, lines
    finally:
        collector.stop(flush=False)


def _expected_actions(topology: Topology, source: str, probe: Probe) -> dict[str, str | None]:
    """The flow-log action of the forward 5-tuple on each ENI, as AWS records it: the packet is
    judged by the source's NACL (outbound) and security group (egress) as it leaves, then by the
    destination's NACL (inbound) and security group (ingress); the ENI whose side dropped it
    records REJECT, an ENI the packet passed records ACCEPT, an ENI it never reached nothing."""
    verdict = evaluate(
        topology.network, Flow(source, probe.dst, probe.proto, probe.port, source_port=probe.sport)
    )
    forward = {(b.component_type, b.direction) for b in verdict.blockers if b.path == "forward"}
    destination = next(e for e, (_, address) in ENIS.items() if address == probe.dst)
    if ("network-acl", "outbound") in forward or ("security-group", "egress") in forward:
        return {source: "REJECT", destination: None}
    if ("network-acl", "inbound") in forward or ("security-group", "ingress") in forward:
        return {source: "ACCEPT", destination: "REJECT"}
    return {source: "ACCEPT", destination: "ACCEPT"}


@pytest.mark.parametrize("seed", FLOW_LOG_SEEDS)
def test_flow_log_actions_agree_with_model(
    lab: tuple[Fabric, dict[str, Agent]], flow_records: tuple[FlowLogCollector, list[str]], seed: int
) -> None:
    fabric, agents = lab
    collector, lines = flow_records
    topology = generate(seed)
    ruleset = compile_network(topology.network)
    fabric.apply(ruleset)
    router = ruleset.vpc(VPC)
    collector.update(
        [
            EniInfo(
                a.eni_id,
                a.addresses[0].split("/")[0],
                tuple(x.split("/")[0] for x in a.addresses),
                Names.router_interface(a.eni_id),
                a.subnet_id,
                VPC,
                None,
                "123456789012",
            )
            for a in router.attachments
        ],
        [FlowLogSpec("fl-conf", "ALL", None, tuple(a.eni_id for a in router.attachments), 60)],
        vpc_cidrs=router.cidrs,
    )
    collector.flush()
    lines.clear()
    plans: dict[str, list[Probe]] = {}
    for source in ENIS:
        plans[source] = [
            Probe(f"{destination} {proto}/{port}", proto, address, port, next(_ports))
            for destination, (_, address) in ENIS.items()
            if destination != source
            for proto, port in SERVICES
            if proto != "icmp"
        ]
    with ThreadPoolExecutor(len(ENIS)) as pool:
        list(pool.map(lambda s: agents[s].probe(plans[s], timeout=0.5), ENIS))
    collector.flush()
    observed: dict[tuple[str, int], set[str]] = {}
    for line in lines:
        fields = line.split()
        if fields[13] == "OK" and fields[5].isdigit():
            observed.setdefault((fields[2], int(fields[5])), set()).add(fields[12])
    diffs = []
    for source, probes in plans.items():
        for probe in probes:
            assert probe.sport is not None
            for eni_id, action in _expected_actions(topology, source, probe).items():
                got = observed.get((eni_id, probe.sport), set())
                want = {action} if action else set()
                if got != want:
                    diffs.append(
                        f"{source} -> {probe.id} sport {probe.sport}: on {eni_id} model {want or '-'}, kernel {got or '-'}"
                    )
    assert not diffs, f"{topology.description}\n" + "\n".join(diffs[:40]) + f"\n({len(diffs)} disagreements)"
