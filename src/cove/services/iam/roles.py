"""IAM roles: trust policies, tags, deletion rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from cove.policy import PolicyKind
from cove.services.iam import generation, ids
from cove.services.iam.documents import checked, wire
from cove.services.iam.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from cove.services.iam.holders import ROLE
from cove.services.iam.tables import Role
from cove.services.paging import page

__all__ = [
    "create_role",
    "delete_role",
    "find_role_by_arn",
    "get_role",
    "list_roles",
    "role_view",
    "tag_role",
    "untag_role",
    "update_assume_role_policy",
    "update_role",
]

MAX_TAGS = 50


def role_view(role: Role, *, full: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.id,
        "Arn": role.arn,
        "CreateDate": role.created,
        "AssumeRolePolicyDocument": wire(role.assume_role_policy),
        "MaxSessionDuration": role.max_session_duration,
    }
    if role.description is not None:
        view["Description"] = role.description
    if full:
        if role.tags:
            view["Tags"] = list(role.tags)
        if role.permissions_boundary:
            view["PermissionsBoundary"] = {
                "PermissionsBoundaryType": "Policy",
                "PermissionsBoundaryArn": role.permissions_boundary,
            }
        view["RoleLastUsed"] = last_used_view(role.last_used)
    return view


def last_used_view(moment: datetime | None) -> dict[str, Any]:
    return {"LastUsedDate": moment, "Region": "us-east-1"} if moment else {}


_LAST_USED = select(Role.last_used).where(
    Role.account_id == bindparam("account"), Role.name == bindparam("name")
)


def role_last_used(session: Session, account_id: str, name: str) -> datetime | None:
    """When the role's credentials were last issued. Issuing them does not move the IAM generation
    (it would empty every IAM cache once per job), so a cached role view takes it from here."""
    used: datetime | None = session.scalar(_LAST_USED, {"account": account_id, "name": name})
    return used


# Built once: GetRole is the hottest IAM read (every SDK session expands its role through it).
_ROLE_BY_NAME = select(Role).where(Role.account_id == bindparam("account"), Role.name == bindparam("name"))


def get_role(session: Session, account_id: str, name: str) -> Role:
    role = session.scalars(_ROLE_BY_NAME, {"account": account_id, "name": name}).first()
    if role is None:
        raise NoSuchEntity(f"The role with name {name} cannot be found.")
    return role


def find_role_by_arn(session: Session, arn: str) -> Role | None:
    return session.scalars(select(Role).where(Role.arn == arn)).first()


def _merge_tags(existing: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, str]]:
    merged = {t["Key"]: t["Value"] for t in existing}
    merged.update({t["Key"]: t.get("Value", "") for t in new})
    if len(merged) > MAX_TAGS:
        raise LimitExceeded(f"The number of tags has reached the maximum limit of {MAX_TAGS}.")
    return [{"Key": k, "Value": v} for k, v in merged.items()]


def create_role(session: Session, account_id: str, params: dict[str, Any]) -> Role:
    name = params["RoleName"]
    if session.scalars(select(Role.id).where(Role.account_id == account_id, Role.name == name)).first():
        raise EntityAlreadyExists(f"Role with name {name} already exists.")
    path = params.get("Path", "/")
    role = Role(
        id=ids.unique_id("AROA"),
        account_id=account_id,
        name=name,
        path=path,
        arn=f"arn:aws:iam::{account_id}:role{path}{name}",
        assume_role_policy=checked(params["AssumeRolePolicyDocument"], PolicyKind.TRUST),
        description=params.get("Description"),
        max_session_duration=params.get("MaxSessionDuration", 3600),
        permissions_boundary=params.get("PermissionsBoundary"),
        tags=_merge_tags([], params.get("Tags", [])),
    )
    session.add(role)
    session.flush()
    generation.touch(session)
    return role


def list_roles(session: Session, account_id: str, params: dict[str, Any]) -> dict[str, Any]:
    prefix = params.get("PathPrefix", "/")
    roles = [
        r
        for r in session.scalars(select(Role).where(Role.account_id == account_id))
        if r.path.startswith(prefix)
    ]
    chunk, more = page(
        roles, key=lambda r: r.name, marker=params.get("Marker"), max_items=params.get("MaxItems")
    )
    return {"Roles": [role_view(r, full=False) for r in chunk], **more}


def delete_role(session: Session, account_id: str, name: str) -> None:
    role = get_role(session, account_id, name)
    inline, attached = ROLE.has_policies(session, role.id)
    if inline:
        raise DeleteConflict("Cannot delete entity, must delete policies first.")
    if attached:
        raise DeleteConflict("Cannot delete entity, must detach all policies first.")
    session.delete(role)
    generation.touch(session)


def update_role(session: Session, account_id: str, params: dict[str, Any]) -> None:
    role = get_role(session, account_id, params["RoleName"])
    if "Description" in params:
        role.description = params["Description"]
    if "MaxSessionDuration" in params:
        role.max_session_duration = params["MaxSessionDuration"]
    generation.touch(session)


def update_assume_role_policy(session: Session, account_id: str, name: str, document: str) -> None:
    role = get_role(session, account_id, name)
    role.assume_role_policy = checked(document, PolicyKind.TRUST)
    generation.touch(session)


def tag_role(session: Session, account_id: str, name: str, tags: list[dict[str, str]]) -> None:
    role = get_role(session, account_id, name)
    role.tags = _merge_tags(role.tags, tags)
    generation.touch(session)


def untag_role(session: Session, account_id: str, name: str, keys: list[str]) -> None:
    role = get_role(session, account_id, name)
    role.tags = [t for t in role.tags if t["Key"] not in set(keys)]
    generation.touch(session)
