"""IAM policy engine: parse policy documents and decide requests the way AWS does.

Pure standard library; nothing else in Cove is imported here.
"""

from __future__ import annotations

from cove.policy.conditions import CONDITION_OPERATORS
from cove.policy.context import ContextKeys, ContextValue, Principal, PrincipalType, RequestContext
from cove.policy.document import (
    VERSION_2008,
    VERSION_2012,
    ConditionClause,
    Effect,
    Policy,
    PolicyKind,
    PrincipalBlock,
    Statement,
)
from cove.policy.errors import PolicyError
from cove.policy.evaluation import Decision, evaluate
from cove.policy.matching import (
    EvalDecision,
    MatchedStatement,
    PolicyLayer,
    PrincipalMatch,
    StatementResult,
    evaluate_policy,
    is_allowed_by,
)
from cove.policy.parser import parse_policy

__all__ = [
    "CONDITION_OPERATORS",
    "VERSION_2008",
    "VERSION_2012",
    "ConditionClause",
    "ContextKeys",
    "ContextValue",
    "Decision",
    "Effect",
    "EvalDecision",
    "MatchedStatement",
    "Policy",
    "PolicyError",
    "PolicyKind",
    "PolicyLayer",
    "Principal",
    "PrincipalBlock",
    "PrincipalMatch",
    "PrincipalType",
    "RequestContext",
    "Statement",
    "StatementResult",
    "evaluate",
    "evaluate_policy",
    "is_allowed_by",
    "parse_policy",
]
