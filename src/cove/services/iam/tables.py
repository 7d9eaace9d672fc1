"""IAM and STS state: accounts, users, access keys, roles, policies, temporary credentials."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cove.db.base import Base, utcnow

__all__ = [
    "AccessKey",
    "Account",
    "ManagedPolicy",
    "Role",
    "RoleInlinePolicy",
    "RolePolicyAttachment",
    "TemporaryCredential",
    "User",
    "UserInlinePolicy",
    "UserPolicyAttachment",
]


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    local: Mapped[bool] = mapped_column(default=False)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "iam_users"
    __table_args__ = (UniqueConstraint("account_id", "name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(512), default="/")
    arn: Mapped[str] = mapped_column(String(2048), unique=True)
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class AccessKey(Base):
    """Long-term keys. ``user_id`` is None for the account root's keys. The secret is sealed
    under the root key so a database dump does not reveal it."""

    __tablename__ = "iam_access_keys"
    access_key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("iam_users.id"), index=True)
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="Active")
    created: Mapped[datetime] = mapped_column(default=utcnow)


class Role(Base):
    __tablename__ = "iam_roles"
    __table_args__ = (UniqueConstraint("account_id", "name"),)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(512), default="/")
    arn: Mapped[str] = mapped_column(String(2048), unique=True)
    assume_role_policy: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(1000))
    max_session_duration: Mapped[int] = mapped_column(Integer, default=3600)
    permissions_boundary: Mapped[str | None] = mapped_column(String(2048))
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    last_used: Mapped[datetime | None] = mapped_column(default=None)


class ManagedPolicy(Base):
    """Customer managed policies (``account_id`` set) and AWS managed ones (``account_id`` None)."""

    __tablename__ = "iam_managed_policies"
    arn: Mapped[str] = mapped_column(String(2048), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), unique=True)
    account_id: Mapped[str | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    path: Mapped[str] = mapped_column(String(512), default="/")
    description: Mapped[str | None] = mapped_column(String(1000))
    document: Mapped[str] = mapped_column(Text)
    default_version_id: Mapped[str] = mapped_column(String(16), default="v1")
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    updated: Mapped[datetime] = mapped_column(default=utcnow)


class RoleInlinePolicy(Base):
    __tablename__ = "iam_role_policies"
    __table_args__ = (UniqueConstraint("role_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    role_id: Mapped[str] = mapped_column(ForeignKey("iam_roles.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    document: Mapped[str] = mapped_column(Text)


class RolePolicyAttachment(Base):
    __tablename__ = "iam_role_attachments"
    __table_args__ = (UniqueConstraint("role_id", "policy_arn"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    role_id: Mapped[str] = mapped_column(ForeignKey("iam_roles.id"), index=True)
    policy_arn: Mapped[str] = mapped_column(ForeignKey("iam_managed_policies.arn"), index=True)


class UserInlinePolicy(Base):
    __tablename__ = "iam_user_policies"
    __table_args__ = (UniqueConstraint("user_id", "name"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("iam_users.id"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    document: Mapped[str] = mapped_column(Text)


class UserPolicyAttachment(Base):
    __tablename__ = "iam_user_attachments"
    __table_args__ = (UniqueConstraint("user_id", "policy_arn"),)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("iam_users.id"), index=True)
    policy_arn: Mapped[str] = mapped_column(ForeignKey("iam_managed_policies.arn"), index=True)


class TemporaryCredential(Base):
    """STS session credentials. Only a hash of the session token is kept."""

    __tablename__ = "sts_credentials"
    access_key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    token_sha256: Mapped[str] = mapped_column(String(64))
    # Role sessions name their role; GetSessionToken sessions name the user (or root when both None).
    role_id: Mapped[str | None] = mapped_column(ForeignKey("iam_roles.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[str | None] = mapped_column(ForeignKey("iam_users.id", ondelete="CASCADE"), index=True)
    session_name: Mapped[str | None] = mapped_column(String(64))
    session_policy: Mapped[str | None] = mapped_column(Text)
    source_identity: Mapped[str | None] = mapped_column(String(64))
    expires: Mapped[datetime] = mapped_column(index=True)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    extra: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
