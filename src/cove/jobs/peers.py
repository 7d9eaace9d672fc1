"""Before a distributed job starts: can its instances reach each other? Asked with real packets.

SageMaker lets a job whose security groups lack the self-referencing rule start, and it then hangs
in rendezvous until MaxRuntimeInSeconds. Cove sends a TCP probe from every instance to the first
one (the master: PyTorch's MASTER_PORT 7777 as the toolkit sets it) through the kernel's rules,
and when one is blocked ends the job at once with the rule that blocks it, as `cove explain` finds it.
"""

from __future__ import annotations

import logging

from cove.db import Database
from cove.fabric.probe import Agent, Probe
from cove.jobs.network import InstanceNet
from cove.services.ec2.explain import ExplainError, explain

__all__ = ["MASTER_PORT", "unreachable_peers"]

log = logging.getLogger("cove.jobs")

MASTER_PORT = 7777


def unreachable_peers(db: Database, region: str, instances: list[InstanceNet]) -> str | None:
    """None when every instance reaches algo-1 on the master port; else a FailureReason."""
    if len(instances) < 2:
        return None
    master, others = instances[0], instances[1:]
    agents: list[Agent] = []
    try:
        server = Agent(master.netns)
        agents.append(server)
        server.serve(tcp=[MASTER_PORT])
        blocked: list[InstanceNet] = []
        for peer in others:
            agent = Agent(peer.netns)
            agents.append(agent)
            # A few tries: the first SYN can race the kernel applying the job's new ENIs.
            for _ in range(3):
                result = agent.probe([Probe("m", "tcp", master.address, MASTER_PORT)], timeout=1.0)
                if result.get("m") == "open":
                    break
            else:
                blocked.append(peer)
    finally:
        for agent in agents:
            agent.close()
    if not blocked:
        return None
    peer = blocked[0]
    why = _why(db, region, peer, master)
    return (
        f"ClientError: The instances of this job cannot reach each other: {peer.host} ({peer.address}) "
        f"cannot connect to {master.host} ({master.address}) on TCP port {MASTER_PORT}{why}. Distributed "
        "training needs a security group rule that allows inbound traffic from the job's security group "
        "itself (a self-referencing rule), and network ACLs that allow the traffic between the subnets."
    )


def _why(db: Database, region: str, source: InstanceNet, destination: InstanceNet) -> str:
    try:
        with db.read() as session:
            found = explain(
                session,
                account_id=source.account_id,
                region=region,
                source=source.eni_id,
                destination=destination.address,
                port=MASTER_PORT,
                protocol="tcp",
            )
    except (ExplainError, LookupError, ValueError) as exc:
        log.info("no explanation for a blocked peer: %s", exc)
        return ""
    blockers = found.verdict.blockers
    if not blockers:
        return ""
    first = blockers[0]
    return f": {first.code.value if hasattr(first.code, 'value') else first.code} — {first.message}"
