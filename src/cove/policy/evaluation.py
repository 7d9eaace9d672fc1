"""Combine every policy that applies to a request into one decision (IAM's evaluation logic)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cove.policy.context import PrincipalType, RequestContext
from cove.policy.document import Effect, Policy
from cove.policy.matching import (
    EvalDecision,
    MatchedStatement,
    PolicyLayer,
    PrincipalMatch,
    StatementResult,
    evaluate_policy,
)

__all__ = ["Decision", "evaluate"]

_WITH_ARTICLE = {
    PolicyLayer.IDENTITY: "an identity-based policy",
    PolicyLayer.RESOURCE: "a resource-based policy",
    PolicyLayer.ENDPOINT: "a VPC endpoint policy",
    PolicyLayer.BOUNDARY: "a permissions boundary",
    PolicyLayer.SESSION: "a session policy",
}
_WITHOUT_ARTICLE = {
    PolicyLayer.IDENTITY: "identity-based policy",
    PolicyLayer.RESOURCE: "resource-based policy",
    PolicyLayer.ENDPOINT: "VPC endpoint policy",
    PolicyLayer.BOUNDARY: "permissions boundary",
    PolicyLayer.SESSION: "session policy",
}
# Principals no identity policy can be attached to: only a resource-based policy can let them in.
_POLICYLESS = (PrincipalType.ANONYMOUS, PrincipalType.SERVICE, PrincipalType.FEDERATED)
# A same-account resource policy grants on its own when it names the caller, a wildcard or the
# role; naming only the account delegates to the account's identity policies.
_GRANTS_IN_ACCOUNT = (PrincipalMatch.WILDCARD, PrincipalMatch.ROLE, PrincipalMatch.DIRECT)


@dataclass(frozen=True)
class Decision:
    """The outcome, the statements that decided it, and which policy type denied (if any)."""

    result: EvalDecision
    matched_statements: tuple[MatchedStatement, ...] = ()
    missing_context_keys: tuple[str, ...] = ()
    denied_by: PolicyLayer | None = None

    @property
    def allowed(self) -> bool:
        return self.result is EvalDecision.ALLOWED

    def access_denied_message(self, principal_arn: str, action: str, resource: str | None = None) -> str:
        """AWS's AccessDenied wording for this decision (``resource`` omitted when None or empty)."""
        if self.allowed or self.denied_by is None:
            raise ValueError("the request is allowed; there is no AccessDenied message")
        text = f"User: {principal_arn} is not authorized to perform: {action}"
        if resource:
            text += f' on resource: "{resource}"'
        if self.result is EvalDecision.EXPLICIT_DENY:
            return f"{text} with an explicit deny in {_WITH_ARTICLE[self.denied_by]}"
        return f"{text} because no {_WITHOUT_ARTICLE[self.denied_by]} allows the {action} action"


def _allows(results: Sequence[StatementResult]) -> list[MatchedStatement]:
    return [s for r in results for s in r.matched_statements if s.effect is Effect.ALLOW]


def evaluate(
    ctx: RequestContext,
    *,
    identity_policies: Sequence[Policy] = (),
    resource_policy: Policy | None = None,
    endpoint_policy: Policy | None = None,
    permissions_boundary: Policy | None = None,
    session_policies: Sequence[Policy] = (),
    resource_account: str | None = None,
) -> Decision:
    """Decide ``ctx`` against every policy in play.

    ``resource_account`` is the account owning the resource; ``None`` means the caller's own.
    Several session policies (inline plus managed) are one session layer: any of them may allow.
    """
    identity = [evaluate_policy(p, ctx, PolicyLayer.IDENTITY) for p in identity_policies]
    resource = [evaluate_policy(resource_policy, ctx, PolicyLayer.RESOURCE)] if resource_policy else []
    endpoint = [evaluate_policy(endpoint_policy, ctx, PolicyLayer.ENDPOINT)] if endpoint_policy else []
    boundary = (
        [evaluate_policy(permissions_boundary, ctx, PolicyLayer.BOUNDARY)] if permissions_boundary else []
    )
    session = [evaluate_policy(p, ctx, PolicyLayer.SESSION) for p in session_policies]

    # Deny precedence when several layers deny: the first one here is named in the message.
    ordered = [*resource, *identity, *boundary, *session, *endpoint]
    missing: dict[str, str] = {}
    for outcome in ordered:
        for key in outcome.missing_context_keys:
            missing.setdefault(key.lower(), key)
    missing_keys = tuple(missing.values())

    def deny(layer: PolicyLayer) -> Decision:
        return Decision(EvalDecision.IMPLICIT_DENY, (), missing_keys, layer)

    denies = [s for r in ordered if r.decision is EvalDecision.EXPLICIT_DENY for s in r.matched_statements]
    if denies:
        return Decision(EvalDecision.EXPLICIT_DENY, tuple(denies), missing_keys, denies[0].policy_type)
    if endpoint_policy is not None and not endpoint[0].allowed:
        return deny(PolicyLayer.ENDPOINT)

    principal = ctx.principal
    gate = _allows(endpoint)
    resource_allows = _allows(resource)
    same_account = resource_account is None or resource_account == principal.account

    def allow(*groups: list[MatchedStatement]) -> Decision:
        matched = tuple(s for group in groups for s in group)
        return Decision(EvalDecision.ALLOWED, matched, missing_keys, None)

    if principal.type is PrincipalType.ROOT:
        # The root user needs no identity policy, but another account's resource must grant it.
        if same_account:
            return allow(resource_allows, gate)
        return allow(resource_allows, gate) if resource_allows else deny(PolicyLayer.RESOURCE)
    if principal.type in _POLICYLESS:
        return allow(resource_allows, gate) if resource_allows else deny(PolicyLayer.RESOURCE)

    identity_allows = _allows(identity)
    if same_account:
        direct = [s for s in resource_allows if s.principal_match is PrincipalMatch.DIRECT]
        if direct:
            # Granted to the user or the role session itself: boundaries and session policies
            # do not limit it.
            return allow(direct, gate)
        resource_grants = [s for s in resource_allows if s.principal_match in _GRANTS_IN_ACCOUNT]
        if not (identity_allows or resource_grants):
            return deny(PolicyLayer.IDENTITY)
        granted = identity_allows + resource_grants
    else:
        if not identity_allows:
            return deny(PolicyLayer.IDENTITY)
        if not resource_allows:
            return deny(PolicyLayer.RESOURCE)
        granted = identity_allows + resource_allows

    if permissions_boundary is not None and not boundary[0].allowed:
        return deny(PolicyLayer.BOUNDARY)
    if session_policies and not any(r.allowed for r in session):
        return deny(PolicyLayer.SESSION)
    return allow(granted, _allows(boundary), _allows(session), gate)
