"""The checks SageMaker makes (or should make) on a job's ``VpcConfig`` before anything runs.

Errors refuse the request with a message that says what to change; warnings are returned for the
job to record, because AWS lets such jobs start and they then fail or hang (a training job whose
instances cannot talk to each other waits until ``MaxRuntimeInSeconds``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session

from cove import netmodel as nm
from cove.aws.errors import ValidationException
from cove.services.ec2.snapshot import free_address_count, free_addresses, load_network, with_probes

__all__ = ["EFA_INSTANCE_TYPES", "Finding", "Preflight", "vpc_preflight"]

JobKind = Literal["training", "processing", "transform", "endpoint"]

# Instance types with an Elastic Fabric Adapter: each instance needs 5 private addresses, not 2.
EFA_INSTANCE_TYPES = frozenset(
    {
        "ml.p4d.24xlarge",
        "ml.p4de.24xlarge",
        "ml.p5.48xlarge",
        "ml.p5e.48xlarge",
        "ml.p5en.48xlarge",
        "ml.trn1.32xlarge",
        "ml.trn1n.32xlarge",
        "ml.trn2.48xlarge",
        "ml.g5.48xlarge",
        "ml.g6.48xlarge",
        "ml.c5n.18xlarge",
    }
)
# The port PyTorch's distributed rendezvous listens on by default: what peers must reach.
_PEER_PORT = 29500


@dataclass(frozen=True, slots=True)
class Finding:
    severity: Literal["error", "warning"]
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Preflight:
    findings: tuple[Finding, ...]

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    def raise_for_errors(self) -> None:
        """SageMaker refuses the Create call with the first problem, as a ValidationException."""
        if self.errors:
            raise ValidationException(" ".join(f.message for f in self.errors))


def _ids(values: list[str]) -> str:
    return "[" + ", ".join(values) + "]"


def vpc_preflight(
    session: Session,
    *,
    account_id: str,
    region: str,
    subnets: list[str],
    security_group_ids: list[str],
    instance_type: str,
    instance_count: int = 1,
    job: JobKind = "training",
) -> Preflight:
    found: list[Finding] = []

    def error(code: str, message: str) -> None:
        found.append(Finding("error", code, message))

    def warn(code: str, message: str) -> None:
        found.append(Finding("warning", code, message))

    if not 1 <= len(subnets) <= 16:
        error("SubnetCount", f"VpcConfig.Subnets must name 1 to 16 subnets; {len(subnets)} given.")
    if not 1 <= len(security_group_ids) <= 5:
        error(
            "SecurityGroupCount",
            f"VpcConfig.SecurityGroupIds must name 1 to 5 security groups; {len(security_group_ids)} given.",
        )
    network = load_network(session, account_id, region)
    missing = [s for s in subnets if s not in network.subnets]
    if missing:
        error(
            "SubnetNotFound",
            f"The subnet(s) {_ids(missing)} do not exist in account {account_id} in {region}.",
        )
    present = [network.subnets[s] for s in subnets if s in network.subnets]
    vpc_ids = sorted({s.vpc_id for s in present})
    if len(vpc_ids) > 1:
        error(
            "SubnetsInDifferentVpcs",
            f"The subnets {_ids(subnets)} belong to different VPCs ({', '.join(vpc_ids)}); "
            "all subnets of a VpcConfig must be in one VPC.",
        )
    vpc = network.vpcs[vpc_ids[0]] if len(vpc_ids) == 1 else None
    missing_groups = [g for g in security_group_ids if g not in network.security_groups]
    if missing_groups:
        error(
            "SecurityGroupNotFound",
            f"The security group(s) {_ids(missing_groups)} do not exist in account {account_id} in {region}.",
        )
    if vpc is not None:
        foreign = [
            g
            for g in security_group_ids
            if g in network.security_groups and network.security_groups[g].vpc_id != vpc.id
        ]
        if foreign:
            error(
                "SecurityGroupInOtherVpc",
                f"The security group(s) {_ids(foreign)} do not belong to {vpc.id}, the VPC of the subnets.",
            )
        if job == "training" and vpc.tenancy is not nm.Tenancy.DEFAULT:
            error(
                "VpcTenancy",
                f"Training jobs can use only subnets of a VPC with default tenancy; {vpc.id} has "
                f"{vpc.tenancy.value} tenancy.",
            )
    per_instance = 5 if instance_type in EFA_INSTANCE_TYPES else 2
    needed = per_instance * instance_count
    free = sum(free_address_count(network, s.id) for s in present)
    if present and free < needed:
        error(
            "InsufficientFreeAddresses",
            f"The subnets {_ids([s.id for s in present])} have {free} free IP addresses, but {instance_count} "
            f"{instance_type} instance(s) need {needed} ({per_instance} each). Use larger subnets, more "
            "subnets, or fewer instances.",
        )
    if found and any(f.severity == "error" for f in found):
        return Preflight(tuple(found))

    groups = tuple(security_group_ids)
    # One hypothetical instance per subnet, and a second one beside the first for the peer check.
    probes: list[nm.Eni] = []
    for n, subnet in enumerate(present):
        wanted = 2 if n == 0 else 1
        for k, address in enumerate(free_addresses(network, subnet.id, wanted)):
            probes.append(nm.Eni(f"eni-preflight-{n}-{k}", subnet.id, (address,), groups))
    if not probes:
        return Preflight(tuple(found))
    probe_net = with_probes(network, probes)
    firsts = [p for p in probes if p.id.endswith("-0")]
    if instance_count > 1:
        # Two instances: in two subnets when there are two, else side by side in one.
        peer = (
            firsts[1] if len(firsts) > 1 else next((p for p in probes if p.id == "eni-preflight-0-1"), None)
        )
        if peer is not None:
            verdict = nm.evaluate(probe_net, nm.Flow(firsts[0].id, peer.id, "tcp", _PEER_PORT))
            if not verdict.allowed:
                where = "; ".join(f"{b.code.value} at {b.component_id}" for b in verdict.blockers)
                warn(
                    "PeersUnreachable",
                    f"The security groups {_ids(list(groups))} do not let the job's {instance_count} instances "
                    f"reach each other ({where}). Distributed jobs need an inbound rule allowing all traffic "
                    "from the same security group; without it they hang until MaxRuntimeInSeconds.",
                )
    s3 = f"com.amazonaws.{region}.s3"
    if s3 in network.services:
        for probe in firsts:
            verdict = nm.evaluate(probe_net, nm.Flow(probe.id, s3, "tcp", 443))
            if not verdict.allowed:
                where = "; ".join(f"{b.code.value} at {b.component_id}" for b in verdict.blockers)
                warn(
                    "NoPathToS3",
                    f"Subnet {probe.subnet_id} has no path to S3 ({where}). Add an S3 gateway endpoint to its "
                    "route table, an S3 interface endpoint, or a route to a NAT gateway, and let the security "
                    "groups and the network ACL allow outbound HTTPS; otherwise the job fails with "
                    "'ClientError: Data download failed'.",
                )
    return Preflight(tuple(found))
