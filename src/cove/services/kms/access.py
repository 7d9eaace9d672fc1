"""Who may use a key: the key policy together with IAM, grants, and the VPC endpoint policy.

KMS differs from most services: a same-account identity policy alone never suffices. The key
policy must allow, either naming the caller (or ``*``) itself or delegating to IAM by naming the
account, in which case an identity policy must allow too. Grants allow on their own. An explicit
deny anywhere wins. Even the account root needs the key policy.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove import policy
from cove.aws.context import RequestContext
from cove.policy import Decision, EvalDecision, PolicyLayer
from cove.services.ec2.tables.endpoints import VpcEndpoint
from cove.services.iam.authorizer import engine_principal, global_condition_keys, identity_policies
from cove.services.kms.errors import KmsAccessDenied
from cove.services.kms.keys import parse_key_policy
from cove.services.kms.tables import KmsGrant, KmsKey

__all__ = ["Verdict", "authorize", "check", "endpoint_policy", "grant_matches", "grantee_names"]

_WITH_ARTICLE = {
    PolicyLayer.IDENTITY: "an identity-based policy",
    PolicyLayer.RESOURCE: "a resource-based policy",
    PolicyLayer.ENDPOINT: "a VPC endpoint policy",
    PolicyLayer.BOUNDARY: "a permissions boundary",
    PolicyLayer.SESSION: "a session policy",
}


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    decision: Decision
    denied_by: PolicyLayer | None = None
    explicit: bool = False
    grant_id: str | None = None

    def message(self, principal_arn: str, action: str, resource: str) -> str:
        text = f"User: {principal_arn} is not authorized to perform: {action} on resource: {resource}"
        layer = self.denied_by or PolicyLayer.RESOURCE
        if self.explicit:
            return f"{text} with an explicit deny in {_WITH_ARTICLE[layer]}"
        return f"{text} because no {layer.value} policy allows the {action} action"


def endpoint_policy(session: Session, ctx: RequestContext) -> policy.Policy | None:
    """The policy of the KMS interface endpoint the request came through, if any."""
    vpce = ctx.source.vpce_id
    if not vpce or ctx.service != "kms":
        return None
    row = session.get(VpcEndpoint, vpce)
    if row is None or not row.service_name.endswith(".kms") or not row.policy_document:
        return None
    return policy.parse_policy(row.policy_document, kind=policy.PolicyKind.ENDPOINT, name=row.id)


def grantee_names(ctx: RequestContext) -> set[str]:
    """The ARNs a grant may name the caller by."""
    principal = ctx.principal
    names = {principal.arn}
    if principal.role_arn:
        names.add(principal.role_arn)
    return names


def grant_matches(grant: KmsGrant, operation: str, context: dict[str, str] | None) -> bool:
    if operation not in grant.operations:
        return False
    constraints = grant.constraints or {}
    given = context or {}
    subset = constraints.get("EncryptionContextSubset")
    if subset is not None and any(given.get(k) != v for k, v in subset.items()):
        return False
    equals = constraints.get("EncryptionContextEquals")
    return equals is None or dict(equals) == given


def _request(
    ctx: RequestContext, key: KmsKey, action: str, context: dict[str, str] | None, via_service: str | None
) -> policy.RequestContext:
    keys = global_condition_keys(ctx, key.region)
    keys["kms:CallerAccount"] = ctx.principal.account_id
    keys["kms:KeySpec"] = key.key_spec
    keys["kms:KeyUsage"] = key.key_usage
    keys["kms:KeyOrigin"] = "AWS_KMS"
    if via_service:
        keys["kms:ViaService"] = via_service
    if context is not None:
        for name, value in context.items():
            keys[f"kms:EncryptionContext:{name}"] = value
        keys["kms:EncryptionContextKeys"] = sorted(context)
    return policy.RequestContext(
        action=action, resource=key.arn, principal=engine_principal(ctx.principal), keys=keys
    )


def authorize(
    session: Session,
    ctx: RequestContext,
    key: KmsKey,
    action: str,
    *,
    context: dict[str, str] | None = None,
    via_service: str | None = None,
) -> Verdict:
    """The verdict on ``ctx`` performing ``action`` (``kms:Decrypt``…) on ``key``."""
    request = _request(ctx, key, action, context, via_service)
    key_policy = parse_key_policy(key)
    endpoint = endpoint_policy(session, ctx)
    loaded = identity_policies(session, ctx.principal)
    sessions: tuple[policy.Policy, ...] = ()
    if ctx.credential is not None and ctx.credential.session_policy:
        sessions = (policy.parse_policy(ctx.credential.session_policy, kind=policy.PolicyKind.SESSION),)
    decision = policy.evaluate(
        request,
        identity_policies=loaded.policies,
        resource_policy=key_policy,
        endpoint_policy=endpoint,
        permissions_boundary=loaded.boundary,
        session_policies=sessions,
        resource_account=key.account_id,
    )
    if decision.result is EvalDecision.EXPLICIT_DENY:
        return Verdict(False, decision, decision.denied_by, explicit=True)
    if endpoint is not None and not policy.evaluate_policy(endpoint, request, PolicyLayer.ENDPOINT).allowed:
        return Verdict(False, decision, PolicyLayer.ENDPOINT)
    key_allows = policy.evaluate_policy(key_policy, request, PolicyLayer.RESOURCE).allowed
    if decision.allowed and key_allows:
        return Verdict(True, decision)
    operation = action.removeprefix("kms:")
    names = grantee_names(ctx)
    for grant in session.scalars(select(KmsGrant).where(KmsGrant.key_id == key.id)).all():
        if grant.grantee_principal in names and grant_matches(grant, operation, context):
            return Verdict(True, decision, grant_id=grant.id)
    if not key_allows:
        return Verdict(False, decision, PolicyLayer.RESOURCE)
    return Verdict(False, decision, decision.denied_by or PolicyLayer.IDENTITY)


def check(
    session: Session,
    ctx: RequestContext,
    key: KmsKey,
    action: str,
    *,
    context: dict[str, str] | None = None,
    via_service: str | None = None,
) -> Verdict:
    """Like :func:`authorize`, raising AccessDeniedException with AWS's wording when denied."""
    verdict = authorize(session, ctx, key, action, context=context, via_service=via_service)
    if not verdict.allowed:
        raise KmsAccessDenied(verdict.message(ctx.principal.arn, action, key.arn))
    return verdict
