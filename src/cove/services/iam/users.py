"""IAM users and their long-term access keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cove.keyring import RootKey
from cove.services.iam import generation, ids
from cove.services.iam.accounts import seal_secret
from cove.services.iam.errors import DeleteConflict, EntityAlreadyExists, LimitExceeded, NoSuchEntity
from cove.services.iam.holders import USER
from cove.services.iam.tables import AccessKey, User
from cove.services.paging import page

__all__ = [
    "create_access_key",
    "create_user",
    "delete_access_key",
    "delete_user",
    "get_user",
    "list_access_keys",
    "list_users",
    "update_access_key",
    "user_view",
]

# IAM allows two access keys per user.
MAX_KEYS = 2


def user_view(user: User) -> dict[str, Any]:
    view: dict[str, Any] = {
        "Path": user.path,
        "UserName": user.name,
        "UserId": user.id,
        "Arn": user.arn,
        "CreateDate": user.created,
    }
    if user.tags:
        view["Tags"] = list(user.tags)
    return view


def get_user(session: Session, account_id: str, name: str) -> User:
    user = session.scalars(select(User).where(User.account_id == account_id, User.name == name)).first()
    if user is None:
        raise NoSuchEntity(f"The user with name {name} cannot be found.")
    return user


def create_user(session: Session, account_id: str, params: dict[str, Any]) -> User:
    name = params["UserName"]
    if session.scalars(select(User.id).where(User.account_id == account_id, User.name == name)).first():
        raise EntityAlreadyExists(f"User with name {name} already exists.")
    path = params.get("Path", "/")
    user = User(
        id=ids.unique_id("AIDA"),
        account_id=account_id,
        name=name,
        path=path,
        arn=f"arn:aws:iam::{account_id}:user{path}{name}",
        tags=list(params.get("Tags", [])),
    )
    session.add(user)
    session.flush()
    return user


def list_users(session: Session, account_id: str, params: dict[str, Any]) -> dict[str, Any]:
    prefix = params.get("PathPrefix", "/")
    users = [
        u
        for u in session.scalars(select(User).where(User.account_id == account_id))
        if u.path.startswith(prefix)
    ]
    chunk, more = page(
        users, key=lambda u: u.name, marker=params.get("Marker"), max_items=params.get("MaxItems")
    )
    return {"Users": [user_view(u) for u in chunk], **more}


def delete_user(session: Session, account_id: str, name: str) -> None:
    user = get_user(session, account_id, name)
    keys = session.scalar(select(func.count()).select_from(AccessKey).where(AccessKey.user_id == user.id))
    if keys:
        raise DeleteConflict("Cannot delete entity, must delete access keys first.")
    inline, attached = USER.has_policies(session, user.id)
    if inline:
        raise DeleteConflict("Cannot delete entity, must delete policies first.")
    if attached:
        raise DeleteConflict("Cannot delete entity, must detach all policies first.")
    session.delete(user)
    generation.touch(session)


def create_access_key(
    session: Session, key: RootKey, account_id: str, user_name: str | None
) -> dict[str, Any]:
    """A new key for ``user_name``, or for the account root when no user is named."""
    user = get_user(session, account_id, user_name) if user_name else None
    user_id = user.id if user else None
    count = session.scalar(
        select(func.count())
        .select_from(AccessKey)
        .where(
            AccessKey.account_id == account_id,
            AccessKey.user_id.is_(user_id) if user_id is None else AccessKey.user_id == user_id,
        )
    )
    if user is not None and (count or 0) >= MAX_KEYS:
        raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {MAX_KEYS}")
    key_id = ids.access_key_id()
    secret = ids.secret_access_key()
    row = AccessKey(
        access_key_id=key_id,
        account_id=account_id,
        user_id=user_id,
        secret_sealed=seal_secret(key, key_id, secret),
    )
    session.add(row)
    session.flush()
    generation.touch(session)
    return {
        "UserName": user.name if user else "",
        "AccessKeyId": key_id,
        "Status": "Active",
        "SecretAccessKey": secret,
        "CreateDate": row.created,
    }


def _key(session: Session, account_id: str, user_name: str | None, key_id: str) -> AccessKey:
    row = session.get(AccessKey, key_id)
    user_id = get_user(session, account_id, user_name).id if user_name else None
    if row is None or row.account_id != account_id or row.user_id != user_id:
        raise NoSuchEntity(f"The Access Key with id {key_id} cannot be found.")
    return row


def list_access_keys(session: Session, account_id: str, user_name: str | None) -> dict[str, Any]:
    user_id = get_user(session, account_id, user_name).id if user_name else None
    condition = AccessKey.user_id.is_(None) if user_id is None else AccessKey.user_id == user_id
    rows = session.scalars(select(AccessKey).where(AccessKey.account_id == account_id, condition))
    return {
        "AccessKeyMetadata": [
            {
                "UserName": user_name or "",
                "AccessKeyId": r.access_key_id,
                "Status": r.status,
                "CreateDate": r.created,
            }
            for r in rows
        ],
        "IsTruncated": False,
    }


def update_access_key(
    session: Session, account_id: str, user_name: str | None, key_id: str, status: str
) -> None:
    _key(session, account_id, user_name, key_id).status = status
    generation.touch(session)


def delete_access_key(session: Session, account_id: str, user_name: str | None, key_id: str) -> None:
    session.delete(_key(session, account_id, user_name, key_id))
    generation.touch(session)
