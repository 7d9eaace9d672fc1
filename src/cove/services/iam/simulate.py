"""SimulatePrincipalPolicy and SimulateCustomPolicy over the policy engine."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove import policy
from cove.services.iam.errors import InvalidInput, NoSuchEntity
from cove.services.iam.holders import ROLE, USER
from cove.services.iam.tables import Role, User

__all__ = ["simulate"]

_POLICY_TYPE = {
    policy.PolicyLayer.IDENTITY: "IAM Policy",
    policy.PolicyLayer.RESOURCE: "Resource Policy",
    policy.PolicyLayer.BOUNDARY: "Permissions Boundary Policy",
    policy.PolicyLayer.SESSION: "IAM Policy",
    policy.PolicyLayer.ENDPOINT: "Resource Policy",
}


def source_policies(session: Session, source_arn: str) -> tuple[policy.Principal, list[tuple[str, str]]]:
    """The principal named by ``PolicySourceArn`` and its identity policy documents."""
    if ":user/" in source_arn:
        user = session.scalars(select(User).where(User.arn == source_arn)).first()
        if user is None:
            raise NoSuchEntity(f"The user with name {source_arn.rsplit('/', 1)[-1]} cannot be found.")
        docs = USER.inline_documents(session, user.id) + USER.attached_documents(session, user.id)
        return policy.Principal.user(user.arn, user_id=user.id), docs
    if ":role/" in source_arn:
        role = session.scalars(select(Role).where(Role.arn == source_arn)).first()
        if role is None:
            raise NoSuchEntity(f"The role with name {source_arn.rsplit('/', 1)[-1]} cannot be found.")
        docs = ROLE.inline_documents(session, role.id) + ROLE.attached_documents(session, role.id)
        return policy.Principal.role(role.arn, user_id=role.id), docs
    raise InvalidInput(f"Invalid ARN: {source_arn}. The ARN must name an IAM user or role.")


def _context_entries(entries: list[dict[str, Any]]) -> dict[str, policy.ContextValue]:
    keys: dict[str, policy.ContextValue] = {}
    for entry in entries:
        values = list(entry.get("ContextKeyValues", []))
        list_type = str(entry.get("ContextKeyType", "string")).endswith("List")
        keys[entry["ContextKeyName"]] = values if list_type else (values[0] if values else "")
    return keys


def _parse(documents: list[tuple[str, str]], kind: policy.PolicyKind) -> list[policy.Policy]:
    parsed = []
    for name, doc in documents:
        try:
            parsed.append(policy.parse_policy(doc, kind=kind, name=name))
        except policy.PolicyError as exc:
            raise InvalidInput(f"Invalid policy {name}: {exc}") from None
    return parsed


def simulate(
    principal: policy.Principal,
    identity_documents: list[tuple[str, str]],
    params: dict[str, Any],
) -> dict[str, Any]:
    identity = _parse(identity_documents, policy.PolicyKind.IDENTITY)
    resource_doc = params.get("ResourcePolicy")
    resource = (
        _parse([("ResourcePolicy", resource_doc)], policy.PolicyKind.RESOURCE)[0] if resource_doc else None
    )
    boundaries = _parse(
        [
            (f"PermissionsBoundaryPolicyInputList.{i + 1}", d)
            for i, d in enumerate(params.get("PermissionsBoundaryPolicyInputList", []))
        ],
        policy.PolicyKind.BOUNDARY,
    )
    keys = _context_entries(params.get("ContextEntries", []))
    caller = principal
    if params.get("CallerArn"):
        caller = policy.Principal.from_arn(params["CallerArn"])
    results = []
    for action in params["ActionNames"]:
        for resource_arn in params.get("ResourceArns") or ["*"]:
            ctx = policy.RequestContext(action=action, resource=resource_arn, principal=caller, keys=keys)
            decision = policy.evaluate(
                ctx,
                identity_policies=identity,
                resource_policy=resource,
                permissions_boundary=boundaries[0] if boundaries else None,
                resource_account=params.get("ResourceOwner", "").split(":")[4]
                if params.get("ResourceOwner")
                else None,
            )
            results.append(
                {
                    "EvalActionName": action,
                    "EvalResourceName": resource_arn,
                    "EvalDecision": decision.result.value,
                    "MatchedStatements": [
                        {
                            "SourcePolicyId": s.policy_name or s.policy_id or "",
                            "SourcePolicyType": _POLICY_TYPE[s.policy_type],
                        }
                        for s in decision.matched_statements
                    ],
                    "MissingContextValues": list(decision.missing_context_keys),
                }
            )
    return {"EvaluationResults": results, "IsTruncated": False}
