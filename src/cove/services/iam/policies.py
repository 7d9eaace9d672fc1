"""Managed policies: customer managed ones per account and the AWS managed catalogue."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cove.policy import PolicyKind
from cove.services.iam import generation, ids
from cove.services.iam.documents import checked, wire
from cove.services.iam.errors import DeleteConflict, EntityAlreadyExists, NoSuchEntity
from cove.services.iam.tables import ManagedPolicy, RolePolicyAttachment, UserPolicyAttachment
from cove.services.paging import page

__all__ = [
    "create_policy",
    "delete_policy",
    "get_policy",
    "get_policy_version",
    "list_policies",
    "policy_view",
]


def _attachments(session: Session, arn: str) -> int:
    roles = session.scalar(
        select(func.count()).select_from(RolePolicyAttachment).where(RolePolicyAttachment.policy_arn == arn)
    )
    users = session.scalar(
        select(func.count()).select_from(UserPolicyAttachment).where(UserPolicyAttachment.policy_arn == arn)
    )
    return (roles or 0) + (users or 0)


def policy_view(session: Session, policy: ManagedPolicy) -> dict[str, Any]:
    view: dict[str, Any] = {
        "PolicyName": policy.name,
        "PolicyId": policy.id,
        "Arn": policy.arn,
        "Path": policy.path,
        "DefaultVersionId": policy.default_version_id,
        "AttachmentCount": _attachments(session, policy.arn),
        "PermissionsBoundaryUsageCount": 0,
        "IsAttachable": True,
        "CreateDate": policy.created,
        "UpdateDate": policy.updated,
    }
    if policy.description:
        view["Description"] = policy.description
    if policy.tags:
        view["Tags"] = list(policy.tags)
    return view


def get_policy(session: Session, account_id: str, arn: str) -> ManagedPolicy:
    policy = session.get(ManagedPolicy, arn)
    if policy is None or policy.account_id not in (None, account_id):
        raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
    return policy


def create_policy(session: Session, account_id: str, params: dict[str, Any]) -> ManagedPolicy:
    name = params["PolicyName"]
    path = params.get("Path", "/")
    arn = f"arn:aws:iam::{account_id}:policy{path}{name}"
    if (
        session.get(ManagedPolicy, arn) is not None
        or session.scalars(
            select(ManagedPolicy.arn).where(
                ManagedPolicy.account_id == account_id, ManagedPolicy.name == name
            )
        ).first()
    ):
        raise EntityAlreadyExists(f"A policy called {name} already exists. Duplicate names are not allowed.")
    policy = ManagedPolicy(
        arn=arn,
        id=ids.unique_id("ANPA"),
        account_id=account_id,
        name=name,
        path=path,
        description=params.get("Description"),
        document=checked(params["PolicyDocument"], PolicyKind.IDENTITY),
        tags=list(params.get("Tags", [])),
    )
    session.add(policy)
    session.flush()
    return policy


def get_policy_version(session: Session, account_id: str, arn: str, version_id: str) -> dict[str, Any]:
    policy = get_policy(session, account_id, arn)
    if version_id != policy.default_version_id:
        raise NoSuchEntity(f"Policy {arn} version {version_id} does not exist or is not attachable.")
    return {
        "Document": wire(policy.document),
        "VersionId": version_id,
        "IsDefaultVersion": True,
        "CreateDate": policy.updated,
    }


def list_policies(session: Session, account_id: str, params: dict[str, Any]) -> dict[str, Any]:
    scope = params.get("Scope", "All")
    query = select(ManagedPolicy)
    if scope == "AWS":
        query = query.where(ManagedPolicy.account_id.is_(None))
    elif scope == "Local":
        query = query.where(ManagedPolicy.account_id == account_id)
    else:
        query = query.where(or_(ManagedPolicy.account_id.is_(None), ManagedPolicy.account_id == account_id))
    prefix = params.get("PathPrefix", "/")
    views = [policy_view(session, p) for p in session.scalars(query) if p.path.startswith(prefix)]
    if params.get("OnlyAttached"):
        views = [v for v in views if v["AttachmentCount"]]
    chunk, more = page(
        views, key=lambda v: v["Arn"], marker=params.get("Marker"), max_items=params.get("MaxItems")
    )
    return {"Policies": chunk, **more}


def delete_policy(session: Session, account_id: str, arn: str) -> None:
    policy = get_policy(session, account_id, arn)
    if policy.account_id is None:
        raise NoSuchEntity(f"Policy {arn} does not exist or is not attachable.")
    if _attachments(session, arn):
        raise DeleteConflict("Cannot delete a policy attached to entities.")
    session.delete(policy)
    generation.touch(session)
