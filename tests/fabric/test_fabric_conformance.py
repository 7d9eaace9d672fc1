"""The model-vs-kernel conformance test: for generated VPCs, every (source ENI, destination,
protocol, port) is probed with real packets from inside the source ENI's namespace, by a root
process without CAP_NET_ADMIN, and must agree with `netmodel.evaluate()`. A failure prints the
topology and the truth tables (model, kernel) so the disagreement can be read off.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from cove.fabric.kernel import Fabric
from cove.fabric.names import Names
from cove.fabric.probe import Agent, Probe
from cove.netmodel import Flow, compile_network, evaluate
from tests.fabric.fabric_support import fabric_available
from tests.fabric.fabric_topologies import ENIS, TCP_PORTS, UDP_PORTS, Topology, generate

pytestmark = [pytest.mark.root, pytest.mark.skipif(not fabric_available(), reason="needs root and netns")]

SEEDS = list(range(1, 9))
_ports = itertools.count(33000)
SERVICES = [("tcp", p) for p in TCP_PORTS] + [("udp", p) for p in UDP_PORTS] + [("icmp", 0)]


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[Fabric, dict[str, Agent]]]:
    fabric = Fabric(Names("tc01"))
    fabric.teardown()
    agents: dict[str, Agent] = {}
    try:
        fabric.apply(compile_network(generate(0).network))
        for eni_id in ENIS:
            agents[eni_id] = Agent(fabric.names.eni(eni_id))
            agents[eni_id].serve(tcp=list(TCP_PORTS), udp=list(UDP_PORTS))
        yield fabric, agents
    finally:
        for agent in agents.values():
            agent.close()
        fabric.teardown()
    assert fabric.owned() == []


def _plan(topology: Topology, source: str) -> tuple[list[Probe], dict[str, bool]]:
    probes: list[Probe] = []
    expected: dict[str, bool] = {}
    for destination, (_, address) in ENIS.items():
        if destination == source:
            continue
        for proto, port in SERVICES:
            sport = next(_ports) if proto != "icmp" else None
            probe_id = f"{destination} {proto}/{port}"
            probes.append(Probe(probe_id, proto, address, port, sport))
            flow = Flow(source, address, proto, port if proto != "icmp" else None, source_port=sport)
            expected[probe_id] = evaluate(topology.network, flow).allowed
    return probes, expected


def _table(results: dict[str, dict[str, bool]]) -> str:
    columns = [f"{d} {p}/{n}" for d in ENIS for p, n in SERVICES]
    lines = []
    for source in ENIS:
        row = "".join(
            "-" if c.split()[0] == source else ("." if results[source].get(c) else "X") for c in columns
        )
        lines.append(f"  {source:8} {row}")
    return "\n".join(lines)


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
    # A generator that only produced all-allow or all-deny tables would prove little.
    verdicts = {v for table in model.values() for v in table.values()}
    assert len(verdicts) == 2 or seed == SEEDS[0], "degenerate topology"
