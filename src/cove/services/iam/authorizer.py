"""IAM enforcement for every request: the caller's identity policies (plus resource policies that
a provider passes in), decided by the policy engine."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from cove import policy
from cove.aws.context import Principal, RequestContext
from cove.db import Database
from cove.services.iam import generation
from cove.services.iam.holders import ROLE, USER
from cove.services.iam.tables import ManagedPolicy, Role

__all__ = [
    "IamAuthorizer",
    "IdentityPolicies",
    "engine_principal",
    "global_condition_keys",
    "identity_policies",
]


@dataclass(frozen=True, slots=True)
class IdentityPolicies:
    policies: tuple[policy.Policy, ...]
    boundary: policy.Policy | None = None


def global_condition_keys(ctx: RequestContext, region: str | None = None) -> dict[str, policy.ContextValue]:
    """The global condition keys every request carries: where it came from (the listener's trusted
    source context), when, and for which region."""
    keys: dict[str, policy.ContextValue] = dict(ctx.source.condition_keys())
    keys["aws:CurrentTime"] = ctx.now.strftime("%Y-%m-%dT%H:%M:%SZ")
    keys["aws:EpochTime"] = str(int(ctx.now.timestamp()))
    keys["aws:RequestedRegion"] = region or ctx.region
    return keys


def engine_principal(principal: Principal) -> policy.Principal:
    if principal.kind == "root":
        return policy.Principal.root(principal.account_id)
    if principal.kind == "user":
        return policy.Principal.user(principal.arn, user_id=principal.user_id)
    if principal.kind == "assumed-role":
        return policy.Principal.assumed_role(
            principal.arn, role_arn=principal.role_arn, user_id=principal.user_id
        )
    return policy.Principal.anonymous()


def identity_policies(session: Session, principal: Principal) -> IdentityPolicies:
    """Every identity-based policy in force for ``principal`` (inline and attached), parsed."""
    if principal.kind == "user":
        holder, owner = USER, principal.user_id
        boundary_arn = None
    elif principal.kind == "assumed-role" and principal.role_id:
        holder, owner = ROLE, principal.role_id
        role = session.get(Role, principal.role_id)
        boundary_arn = role.permissions_boundary if role else None
    else:
        return IdentityPolicies(())
    documents = holder.inline_documents(session, owner) + holder.attached_documents(session, owner)
    parsed = tuple(
        policy.parse_policy(doc, kind=policy.PolicyKind.IDENTITY, name=name) for name, doc in documents
    )
    boundary = None
    if boundary_arn:
        row = session.get(ManagedPolicy, boundary_arn)
        if row is not None:
            boundary = policy.parse_policy(row.document, kind=policy.PolicyKind.BOUNDARY, name=row.arn)
    return IdentityPolicies(parsed, boundary)


class IamAuthorizer:
    """Caches parsed identity policies per principal until the next IAM write."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: generation.GenerationCache[str, IdentityPolicies] = generation.GenerationCache()

    def _policies(self, principal: Principal) -> IdentityPolicies:
        def load() -> IdentityPolicies:
            with self.db.read() as session:
                return identity_policies(session, principal)

        return self._cache.get(principal.arn, load)

    def decide(
        self,
        ctx: RequestContext,
        action: str,
        resource: str,
        *,
        resource_policy: policy.Policy | None = None,
        endpoint_policy: policy.Policy | None = None,
        resource_account: str | None = None,
        extra_keys: dict[str, str | list[str]] | None = None,
    ) -> policy.Decision:
        principal = ctx.principal
        keys = global_condition_keys(ctx)
        if extra_keys:
            keys.update(extra_keys)
        request = policy.RequestContext(
            action=action, resource=resource, principal=engine_principal(principal), keys=keys
        )
        loaded = (
            self._policies(principal) if principal.kind in ("user", "assumed-role") else IdentityPolicies(())
        )
        sessions: tuple[policy.Policy, ...] = ()
        if ctx.credential is not None and ctx.credential.session_policy:
            sessions = (policy.parse_policy(ctx.credential.session_policy, kind=policy.PolicyKind.SESSION),)
        return policy.evaluate(
            request,
            identity_policies=loaded.policies,
            resource_policy=resource_policy,
            endpoint_policy=endpoint_policy,
            permissions_boundary=loaded.boundary,
            session_policies=sessions,
            resource_account=resource_account,
        )

    def authorize(self, ctx: RequestContext, action: str, resource: str) -> str | None:
        if ctx.principal.is_root:
            return None  # the local account's root is allowed everything in its own account
        decision = self.decide(ctx, action, resource)
        if decision.allowed:
            return None
        return decision.access_denied_message(
            ctx.principal.arn, action, resource if resource != "*" else None
        )
