"""Match one policy's statements against a request: Action, Resource, Principal and Condition."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from cove.policy.conditions import evaluate_clause
from cove.policy.context import Principal, PrincipalType, RequestContext
from cove.policy.document import Effect, Policy, PolicyKind, PrincipalBlock, Statement
from cove.policy.patterns import arn_matches, expand, glob_matches, raw_glob

__all__ = [
    "EvalDecision",
    "MatchedStatement",
    "PolicyLayer",
    "PrincipalMatch",
    "StatementResult",
    "evaluate_policy",
    "is_allowed_by",
    "principal_matches",
]


class EvalDecision(enum.StrEnum):
    """IAM's EvalDecision strings."""

    ALLOWED = "allowed"
    EXPLICIT_DENY = "explicitDeny"
    IMPLICIT_DENY = "implicitDeny"


class PolicyLayer(enum.StrEnum):
    """The policy types named in AccessDenied messages."""

    IDENTITY = "identity-based"
    RESOURCE = "resource-based"
    ENDPOINT = "VPC endpoint"
    BOUNDARY = "permissions boundary"
    SESSION = "session"


_LAYER_OF_KIND = {
    PolicyKind.IDENTITY: PolicyLayer.IDENTITY,
    PolicyKind.RESOURCE: PolicyLayer.RESOURCE,
    PolicyKind.TRUST: PolicyLayer.RESOURCE,
    PolicyKind.ENDPOINT: PolicyLayer.ENDPOINT,
    PolicyKind.BOUNDARY: PolicyLayer.BOUNDARY,
    PolicyKind.SESSION: PolicyLayer.SESSION,
}


class PrincipalMatch(enum.IntEnum):
    """How a Principal element named the caller, weakest first.

    The strength matters: naming only the account delegates to the account's identity policies,
    and only naming the user or the role session itself bypasses boundaries and session policies.
    """

    ACCOUNT = 1
    WILDCARD = 2
    ROLE = 3
    DIRECT = 4


@dataclass(frozen=True)
class MatchedStatement:
    policy_type: PolicyLayer
    policy_id: str | None
    policy_name: str | None
    sid: str | None
    statement_index: int
    effect: Effect
    principal_match: PrincipalMatch | None = None


@dataclass(frozen=True)
class StatementResult:
    """One policy's verdict on a request, modelled on SimulateCustomPolicy's result."""

    decision: EvalDecision
    matched_statements: tuple[MatchedStatement, ...]
    missing_context_keys: tuple[str, ...]

    @property
    def allowed(self) -> bool:
        return self.decision is EvalDecision.ALLOWED

    @property
    def result(self) -> str:
        return self.decision.value


def _account_of(value: str) -> str | None:
    if value.isdigit() and len(value) == 12:
        return value
    parts = value.split(":", 5)
    if len(parts) == 6 and parts[2] == "iam" and parts[5] == "root":
        return parts[4]
    return None


def _same_role(policy_role_arn: str, principal: Principal) -> bool:
    if principal.role_arn == policy_role_arn:
        return True
    # Session ARNs drop the role path; role names are unique per account whatever the path.
    if principal.role_arn is None or principal.account is None:
        return False
    wanted = policy_role_arn.split(":", 5)
    return wanted[4] == principal.account and (
        wanted[5].rsplit("/", 1)[-1] == principal.role_arn.rsplit("/", 1)[-1]
    )


def _aws_value_matches(value: str, principal: Principal) -> PrincipalMatch | None:
    if value == "*":
        return PrincipalMatch.WILDCARD
    if principal.type in (PrincipalType.ANONYMOUS, PrincipalType.SERVICE, PrincipalType.FEDERATED):
        return None
    account = _account_of(value)
    if account is not None:
        if principal.account != account:
            return None
        return PrincipalMatch.DIRECT if principal.type is PrincipalType.ROOT else PrincipalMatch.ACCOUNT
    if value == principal.arn:
        return PrincipalMatch.DIRECT
    is_role_arn = value.split(":", 5)[-1].startswith("role/") and ":iam:" in value
    if is_role_arn and principal.type is PrincipalType.ASSUMED_ROLE and _same_role(value, principal):
        return PrincipalMatch.ROLE
    return None


def _value_matches(principal_type: str, value: str, principal: Principal) -> PrincipalMatch | None:
    if principal_type == "AWS":
        return _aws_value_matches(value, principal)
    if principal_type == "Service":
        same = principal.type is PrincipalType.SERVICE and (principal.arn or "").lower() == value.lower()
        return PrincipalMatch.DIRECT if same else None
    if principal_type == "Federated":
        same = principal.type is PrincipalType.FEDERATED and principal.arn == value
        return PrincipalMatch.DIRECT if same else None
    return PrincipalMatch.DIRECT if principal.arn == value else None


def _matches(block: PrincipalBlock, principal: Principal) -> set[PrincipalMatch]:
    found: set[PrincipalMatch] = set()
    for principal_type, values in block.entries:
        for value in values:
            match = _value_matches(principal_type, value, principal)
            if match is not None:
                found.add(match)
    return found


def principal_matches(block: PrincipalBlock, principal: Principal) -> PrincipalMatch | None:
    """The strongest way ``block`` names ``principal``, or None."""
    found = _matches(block, principal)
    return max(found) if found else None


def _excluded_by_not_principal(block: PrincipalBlock, principal: Principal) -> bool:
    """NotPrincipal excludes a caller only when every identity it acts as is listed.

    IAM's documented consequence: to exempt a user or role session from a Deny, list both its own
    ARN (the session ARN for roles) and its account.
    """
    found = _matches(block, principal)
    if PrincipalMatch.WILDCARD in found:
        return True
    if principal.type is PrincipalType.ANONYMOUS:
        return False
    if principal.type in (PrincipalType.ROOT, PrincipalType.SERVICE, PrincipalType.FEDERATED):
        return PrincipalMatch.DIRECT in found
    return {PrincipalMatch.ACCOUNT, PrincipalMatch.DIRECT} <= found


def _resource_matches(pattern: str, resource: str) -> bool:
    if resource.startswith("arn:"):
        return arn_matches(pattern, resource)
    return glob_matches(pattern, resource)


def _statement_applies(
    statement: Statement, ctx: RequestContext, *, variables: bool, missing: list[str]
) -> tuple[bool, PrincipalMatch | None]:
    if statement.actions is not None:
        action_ok = any(glob_matches(raw_glob(a), ctx.action, ignore_case=True) for a in statement.actions)
    else:
        not_actions = statement.not_actions or ()
        action_ok = not any(glob_matches(raw_glob(a), ctx.action, ignore_case=True) for a in not_actions)
    if not action_ok:
        return False, None

    how: PrincipalMatch | None = None
    if statement.principal is not None:
        how = principal_matches(statement.principal, ctx.principal)
        if how is None:
            return False, None
    elif statement.not_principal is not None:
        if _excluded_by_not_principal(statement.not_principal, ctx.principal):
            return False, None
        how = PrincipalMatch.WILDCARD

    lookup = ctx.single_value if variables else None
    patterns = statement.resources if statement.resources is not None else statement.not_resources
    if patterns is not None:
        expanded = [found for p in patterns if (found := expand(p, lookup, missing)) is not None]
        hit = any(_resource_matches(found.glob, ctx.resource) for found in expanded)
        if hit == (statement.resources is None):
            return False, None

    # Every clause is evaluated (no short cut) so all missing keys are reported.
    results = [evaluate_clause(c, ctx, variables=variables, missing=missing) for c in statement.conditions]
    return all(results), how


def _dedupe(keys: list[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for key in keys:
        seen.setdefault(key.lower(), key)
    return tuple(seen.values())


def evaluate_policy(policy: Policy, ctx: RequestContext, layer: PolicyLayer | None = None) -> StatementResult:
    """Evaluate one policy on its own: explicit Deny, else Allow, else implicit deny."""
    layer = layer or _LAYER_OF_KIND[policy.kind]
    missing: list[str] = []
    allows: list[MatchedStatement] = []
    denies: list[MatchedStatement] = []
    for statement in policy.statements:
        applies, how = _statement_applies(statement, ctx, variables=policy.variables_enabled, missing=missing)
        if not applies:
            continue
        matched = MatchedStatement(
            layer, policy.id, policy.name, statement.sid, statement.index, statement.effect, how
        )
        (denies if statement.effect is Effect.DENY else allows).append(matched)
    if denies:
        return StatementResult(EvalDecision.EXPLICIT_DENY, tuple(denies), _dedupe(missing))
    if allows:
        return StatementResult(EvalDecision.ALLOWED, tuple(allows), _dedupe(missing))
    return StatementResult(EvalDecision.IMPLICIT_DENY, (), _dedupe(missing))


def is_allowed_by(policy: Policy, ctx: RequestContext) -> StatementResult:
    """Single-policy check (a trust policy for AssumeRole, SimulatePrincipalPolicy, ...)."""
    return evaluate_policy(policy, ctx)
