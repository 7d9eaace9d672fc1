"""The answer: ALLOW/DENY, the hop-by-hop path, every blocker with its explanation code, and the
rules that decided each step. Shaped after Reachability Analyzer's `NetworkInsightsAnalysis`."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from cove.netmodel.flow import Flow

__all__ = ["Blocker", "DecidingRule", "Decision", "ExplanationCode", "Hop", "Verdict"]


class Decision(StrEnum):
    ALLOW = "ALLOW"
    DENY = "DENY"


class ExplanationCode(StrEnum):
    """Reachability Analyzer explanation codes (reference §3.1), spelled exactly as AWS does."""

    ENI_SG_RULES_MISMATCH = "ENI_SG_RULES_MISMATCH"
    SG_HAS_NO_RULES = "SG_HAS_NO_RULES"
    SUBNET_ACL_RESTRICTION = "SUBNET_ACL_RESTRICTION"
    NO_ROUTE_TO_DESTINATION = "NO_ROUTE_TO_DESTINATION"
    CANNOT_ROUTE = "CANNOT_ROUTE"
    MORE_SPECIFIC_ROUTE = "MORE_SPECIFIC_ROUTE"
    HIGHER_PRIORITY_ROUTE = "HIGHER_PRIORITY_ROUTE"
    VPC_LOCAL_ROUTE_CIDR_RESTRICTION = "VPC_LOCAL_ROUTE_CIDR_RESTRICTION"
    ENI_SOURCE_DEST_CHECK_RESTRICTION = "ENI_SOURCE_DEST_CHECK_RESTRICTION"
    PROTOCOL_RESTRICTION = "PROTOCOL_RESTRICTION"
    NGW_SOURCE_ADDRESS_REASSIGN = "NGW_SOURCE_ADDRESS_REASSIGN"
    NGW_REQUIRES_SOURCE_IN_VPC = "NGW_REQUIRES_SOURCE_IN_VPC"
    REMAP_EPHEMERAL_PORT = "REMAP_EPHEMERAL_PORT"
    IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS = "IGW_PUBLIC_IP_ASSOCIATION_FOR_EGRESS"
    IGW_NOT_ATTACHED = "IGW_NOT_ATTACHED"
    BAD_STATE_ROUTE = "BAD_STATE_ROUTE"
    VPCE_GATEWAY_PROTOCOL_RESTRICTION = "VPCE_GATEWAY_PROTOCOL_RESTRICTION"
    VPCE_GATEWAY_EGRESS_SOURCE_ADDRESS_RESTRICTION = "VPCE_GATEWAY_EGRESS_SOURCE_ADDRESS_RESTRICTION"
    VPCE_INTRA_VPC_TRAFFIC = "VPCE_INTRA_VPC_TRAFFIC"
    VPCE_SERVICE_NOT_INSTALLED_IN_AZ = "VPCE_SERVICE_NOT_INSTALLED_IN_AZ"
    NO_PATH = "NO_PATH"
    DISCONNECTED_VPCS = "DISCONNECTED_VPCS"
    NO_SOURCE_OR_DESTINATION = "NO_SOURCE_OR_DESTINATION"


# NamedTuples, not dataclasses: a verdict holds a dozen of these and evaluate() must stay cheap.
class Hop(NamedTuple):
    """One step of a path: a component and what it did with the packet."""

    component_id: str
    component_type: str
    action: str
    """forward | allow | deny | deliver | exempt"""
    direction: str = ""
    rule: str = ""
    detail: str = ""


class Blocker(NamedTuple):
    code: ExplanationCode
    component_id: str
    component_type: str
    direction: str
    message: str
    rule: str = ""
    path: str = "forward"


class DecidingRule(NamedTuple):
    """The rule that allowed or denied one step (SG rule, NACL entry number, route)."""

    component_id: str
    component_type: str
    direction: str
    rule: str
    action: str
    path: str = "forward"


@dataclass(frozen=True, slots=True)
class Verdict:
    flow: Flow
    decision: Decision
    source: str
    destination: str
    path: tuple[Hop, ...]
    blockers: tuple[Blocker, ...]
    deciding_rules: tuple[DecidingRule, ...]
    return_path: tuple[Hop, ...]

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(b.code.value for b in self.blockers)

    def to_dict(self) -> dict[str, Any]:
        def hops(items: tuple[Hop, ...]) -> list[dict[str, Any]]:
            return [dict(h._asdict(), sequence=n) for n, h in enumerate(items, 1)]

        return {
            "flow": self.flow.to_dict(),
            "decision": self.decision.value,
            "source": self.source,
            "destination": self.destination,
            "path": hops(self.path),
            "return_path": hops(self.return_path),
            "blockers": [dict(b._asdict(), code=b.code.value) for b in self.blockers],
            "deciding_rules": [d._asdict() for d in self.deciding_rules],
        }
