"""`cove explain`: can this source reach that destination, and if not, everything that blocks it.

The network verdict comes from `netmodel.evaluate` over a snapshot of the account's VPCs. When the
destination is a service reached through a VPC endpoint (S3 through a gateway endpoint, SageMaker
Runtime through an interface endpoint, …), the request would also be authorized by the endpoint
policy and, for S3, the bucket policy: those are evaluated with the policy engine and the deciding
statements reported, as no network tool does.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from cove import netmodel as nm
from cove import policy
from cove.aws.errors import ServiceError
from cove.services.ec2.snapshot import free_address, load_network, with_probes
from cove.services.iam.simulate import source_policies

__all__ = ["ExplainError", "Explanation", "PolicyCheck", "Target", "explain", "parse_target"]

BucketPolicyLookup = Callable[[str], str | None]


class ExplainError(ValueError):
    """The question cannot be asked: unknown source, destination or malformed arguments."""


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed destination: where packets go, and what request the service would authorize."""

    destination: str
    service: str | None = None
    action: str | None = None
    resource: str | None = None
    bucket: str | None = None


def parse_target(text: str, region: str) -> Target:
    """``s3://bucket/key``, a service (``s3``, ``sagemaker.runtime``, ``com.amazonaws.<region>.sts``),
    an IP address or an ENI id."""
    if text.startswith("s3://"):
        bucket, _, key = text[5:].partition("/")
        if not bucket:
            raise ExplainError(f"{text!r} names no bucket")
        return Target(
            f"com.amazonaws.{region}.s3",
            "s3",
            "s3:GetObject" if key else "s3:ListBucket",
            f"arn:aws:s3:::{bucket}/{key}" if key else f"arn:aws:s3:::{bucket}",
            bucket,
        )
    if text.startswith("eni-"):
        return Target(text)
    try:
        ipaddress.ip_address(text)
        return Target(text)
    except ValueError:
        pass
    name = text if text.startswith("com.amazonaws.") else f"com.amazonaws.{region}.{text}"
    return Target(name, name.split(".", 3)[3])


@dataclass(frozen=True, slots=True)
class PolicyCheck:
    """One policy layer's verdict on the request the flow would carry."""

    layer: str
    policy_id: str
    decision: str
    statements: tuple[str, ...]
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.layer,
            "policy": self.policy_id,
            "decision": self.decision,
            "statements": list(self.statements),
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    source: str
    target: Target
    verdict: nm.Verdict
    policies: tuple[PolicyCheck, ...] = field(default=())
    # The combined decision of identity, endpoint and bucket policies, as the service would make it.
    authorization: str | None = None
    denial: str | None = None

    @property
    def allowed(self) -> bool:
        return self.verdict.allowed and self.authorization in (None, "allowed")

    def to_dict(self) -> dict[str, Any]:
        out = self.verdict.to_dict()
        out["source"] = self.source
        out["network_decision"] = out.pop("decision")
        out["decision"] = "ALLOW" if self.allowed else "DENY"
        out["policies"] = [p.to_dict() for p in self.policies]
        if self.target.action:
            out["request"] = {"action": self.target.action, "resource": self.target.resource}
            out["authorization"] = {"decision": self.authorization, "message": self.denial}
        return out


def _source(network: nm.Network, source: str) -> tuple[nm.Network, str, str]:
    """(network to ask, flow source, source address). ENIs and addresses stand for themselves; a
    subnet stands for a new instance in it with the VPC's default group (a probe interface)."""
    if source.startswith("eni-"):
        if source not in network.enis:
            raise ExplainError(f"The network interface '{source}' does not exist")
        return network, source, nm.format_address(network.primary_address(source))
    if source.startswith("subnet-"):
        subnet = network.subnets.get(source)
        if subnet is None:
            raise ExplainError(f"The subnet '{source}' does not exist")
        address = free_address(network, source)
        if address is None:
            raise ExplainError(f"The subnet '{source}' has no free address")
        default = network.default_security_group.get(subnet.vpc_id)
        probe = nm.Eni("eni-explain-probe", source, (address,), (default.id,) if default else ())
        return with_probes(network, [probe]), probe.id, address
    try:
        ipaddress.ip_address(source)
    except ValueError:
        raise ExplainError(
            f"Unknown source {source!r}: give a network interface (eni-…), a subnet (subnet-…) or an address"
        ) from None
    return network, source, source


def _endpoint_on_path(network: nm.Network, verdict: nm.Verdict) -> nm.VpcEndpoint | None:
    for hop in verdict.path:
        if hop.component_id.startswith("vpce-"):
            return network.vpc_endpoints.get(hop.component_id)
        if hop.component_id.startswith("eni-"):
            for endpoint in network.vpc_endpoints.values():
                if hop.component_id in endpoint.eni_ids:
                    return endpoint
    return None


def explain(
    session: Session,
    *,
    account_id: str,
    region: str,
    source: str,
    destination: str,
    port: int | None = None,
    protocol: str = "tcp",
    principal_arn: str | None = None,
    bucket_policy: BucketPolicyLookup | None = None,
) -> Explanation:
    network = load_network(session, account_id, region)
    target = parse_target(destination, region)
    if target.service and port is None:
        port = 443  # every AWS service endpoint Cove serves speaks HTTPS
    network, flow_source, address = _source(network, source)
    try:
        flow = nm.Flow(flow_source, target.destination, protocol, port)
        verdict = nm.evaluate(network, flow)
    except nm.FlowError as exc:
        raise ExplainError(str(exc)) from None
    endpoint = _endpoint_on_path(network, verdict)
    if not (target.action and target.resource):
        return Explanation(source, target, verdict)
    principal = policy.Principal.root(account_id)
    identity: list[policy.Policy] = []
    if principal_arn:
        try:
            principal, documents = source_policies(session, principal_arn)
        except ServiceError as exc:
            raise ExplainError(exc.message) from None
        identity = [
            d for d in (_parsed(doc, policy.PolicyKind.IDENTITY, name) for name, doc in documents) if d
        ]
    keys: dict[str, policy.ContextValue] = {"aws:SecureTransport": "true"}
    if endpoint is not None:
        keys |= {"aws:SourceVpce": endpoint.id, "aws:SourceVpc": endpoint.vpc_id, "aws:VpcSourceIp": address}
    ctx = policy.RequestContext(
        action=target.action, resource=target.resource, principal=principal, keys=keys
    )
    checks = [_layer("identity policy", p, ctx) for p in identity]
    endpoint_policy = None
    if endpoint is not None:
        endpoint_policy = _parsed(endpoint.policy_document, policy.PolicyKind.ENDPOINT, endpoint.id)
        checks.append(_layer("VPC endpoint policy", endpoint_policy, ctx, endpoint.id))
    resource_policy = None
    if target.bucket is not None and bucket_policy is not None:
        document = bucket_policy(target.bucket)
        if document:
            resource_policy = _parsed(document, policy.PolicyKind.RESOURCE, target.bucket)
            checks.append(_layer("bucket policy", resource_policy, ctx, target.bucket))
    decision = policy.evaluate(
        ctx,
        identity_policies=identity,
        resource_policy=resource_policy,
        endpoint_policy=endpoint_policy,
        resource_account=account_id,
    )
    denial = None
    if not decision.allowed:
        denial = decision.access_denied_message(principal.arn or "anonymous", target.action, target.resource)
    return Explanation(source, target, verdict, tuple(checks), decision.result.value, denial)


def _parsed(document: str, kind: policy.PolicyKind, name: str) -> policy.Policy | None:
    try:
        return policy.parse_policy(document, kind=kind, name=name)
    except policy.PolicyError:
        return None


def _layer(
    layer: str, parsed: policy.Policy | None, ctx: policy.RequestContext, name: str = ""
) -> PolicyCheck:
    if parsed is None:
        return PolicyCheck(layer, name, "implicitDeny", (), "the policy does not parse, so it allows nothing")
    result = policy.evaluate_policy(parsed, ctx)
    statements = tuple(s.sid or f"statement {s.statement_index + 1}" for s in result.matched_statements)
    note = ""
    if result.missing_context_keys:
        note = "context keys absent from the request: " + ", ".join(result.missing_context_keys)
    return PolicyCheck(layer, name or parsed.label, result.decision.value, statements, note)
