"""The answer: ALLOW/DENY, the hop-by-hop path, every blocker with its explanation code, and the
rules that decided each step. Shaped after Reachability Analyzer's `NetworkInsightsAnalysis`."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from enum import StrEnum
from typing import Any, NamedTuple

from cove.netmodel.flow import Flow

__all__ = [
    "Blocker",
    "DecidingRule",
    "Decision",
    "Explanation",
    "ExplanationCode",
    "Fact",
    "Hop",
    "Verdict",
    "emit_blocker",
    "emit_hop",
    "emit_return_hop",
    "emit_return_step",
    "emit_rule",
    "emit_step",
    "explain_facts",
]


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


Explanation = tuple[tuple[Hop, ...], tuple[Blocker, ...], tuple[DecidingRule, ...], tuple[Hop, ...]]
"""(path, blockers, deciding rules, return path)."""
Fact = tuple[Any, ...]
"""What evaluation found, kept compact until someone reads the explanation: `(emit, *args)`, and
`emit(lists, *args)` appends hops, blockers and rules to `lists` (path, blockers, rules, return).
Facts for the common outcomes are built once per network and shared, so recording costs an append."""
_Lists = tuple[list[Hop], list[Blocker], list[DecidingRule], list[Hop]]


def emit_hop(out: _Lists, hop: Hop) -> None:
    out[0].append(hop)


def emit_return_hop(out: _Lists, hop: Hop) -> None:
    out[3].append(hop)


def emit_blocker(out: _Lists, blocker: Blocker) -> None:
    out[1].append(blocker)


def emit_rule(out: _Lists, rule: DecidingRule) -> None:
    out[2].append(rule)


def emit_step(out: _Lists, hop: Hop, rule: DecidingRule) -> None:
    out[0].append(hop)
    out[2].append(rule)


def emit_return_step(out: _Lists, hop: Hop, rule: DecidingRule) -> None:
    out[3].append(hop)
    out[2].append(rule)


def explain_facts(facts: list[Fact]) -> Explanation:
    out: _Lists = ([], [], [], [])
    for emit, *args in facts:
        emit(out, *args)
    return tuple(out[0]), tuple(out[1]), tuple(out[2]), tuple(out[3])


_set = object.__setattr__


class Verdict:
    """Immutable. `path`, `blockers`, `deciding_rules` and `return_path` are built from the
    evaluation's facts on first access: most callers only want the decision."""

    __slots__ = ("_explained", "_facts", "decision", "destination", "flow", "source")

    flow: Flow
    decision: Decision
    source: str
    destination: str
    _explained: Explanation | None
    _facts: list[Fact] | None

    def __init__(
        self,
        flow: Flow,
        decision: Decision,
        source: str,
        destination: str,
        path: tuple[Hop, ...],
        blockers: tuple[Blocker, ...],
        deciding_rules: tuple[DecidingRule, ...],
        return_path: tuple[Hop, ...],
    ) -> None:
        _set(self, "flow", flow)
        _set(self, "decision", decision)
        _set(self, "source", source)
        _set(self, "destination", destination)
        _set(self, "_explained", (tuple(path), tuple(blockers), tuple(deciding_rules), tuple(return_path)))
        _set(self, "_facts", None)

    @classmethod
    def from_facts(
        cls, flow: Flow, decision: Decision, source: str, destination: str, facts: list[Fact]
    ) -> Verdict:
        """A verdict whose explanation is built from `facts` (see `Fact`) when first read."""
        self = object.__new__(cls)
        _set(self, "flow", flow)
        _set(self, "decision", decision)
        _set(self, "source", source)
        _set(self, "destination", destination)
        _set(self, "_explained", None)
        _set(self, "_facts", facts)
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def _explanation(self) -> Explanation:
        found = self._explained
        if found is None:
            assert self._facts is not None
            found = explain_facts(self._facts)
            _set(self, "_explained", found)
            _set(self, "_facts", None)
        return found

    @property
    def path(self) -> tuple[Hop, ...]:
        return self._explanation()[0]

    @property
    def blockers(self) -> tuple[Blocker, ...]:
        return self._explanation()[1]

    @property
    def deciding_rules(self) -> tuple[DecidingRule, ...]:
        return self._explanation()[2]

    @property
    def return_path(self) -> tuple[Hop, ...]:
        return self._explanation()[3]

    def _key(self) -> tuple[Any, ...]:
        return (self.flow, self.decision, self.source, self.destination, self._explanation())

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Verdict)
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Verdict(flow={self.flow!r}, decision={self.decision!r}, source={self.source!r}, "
            f"destination={self.destination!r}, path={self.path!r}, blockers={self.blockers!r}, "
            f"deciding_rules={self.deciding_rules!r}, return_path={self.return_path!r})"
        )

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(b.code.value for b in self.blockers)

    def to_dict(self) -> dict[str, Any]:
        path, blockers, rules, return_path = self._explanation()
        return {
            "flow": self.flow.to_dict(),
            "decision": self.decision.value,
            "source": self.source,
            "destination": self.destination,
            "path": _hops(path),
            "return_path": _hops(return_path),
            "blockers": [
                {
                    "code": b.code.value,
                    "component_id": b.component_id,
                    "component_type": b.component_type,
                    "direction": b.direction,
                    "message": b.message,
                    "rule": b.rule,
                    "path": b.path,
                }
                for b in blockers
            ],
            "deciding_rules": [dict(zip(DecidingRule._fields, d, strict=True)) for d in rules],
        }


def _hops(items: tuple[Hop, ...]) -> list[dict[str, Any]]:
    return [
        {
            "component_id": h.component_id,
            "component_type": h.component_type,
            "action": h.action,
            "direction": h.direction,
            "rule": h.rule,
            "detail": h.detail,
            "sequence": n,
        }
        for n, h in enumerate(items, 1)
    ]
