"""KMS state: keys, their key material versions (sealed under the root key), aliases and grants."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cove.db.base import Base, utcnow

__all__ = ["KmsAlias", "KmsGrant", "KmsKey", "KmsKeyMaterial"]


class KmsKey(Base):
    __tablename__ = "kms_keys"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    region: Mapped[str] = mapped_column(String(32), index=True)
    arn: Mapped[str] = mapped_column(String(2048), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    key_spec: Mapped[str] = mapped_column(String(32))
    key_usage: Mapped[str] = mapped_column(String(32))
    key_manager: Mapped[str] = mapped_column(String(16), default="CUSTOMER")
    state: Mapped[str] = mapped_column(String(32), default="Enabled")
    policy: Mapped[str] = mapped_column(Text)
    deletion_date: Mapped[datetime | None] = mapped_column(default=None)
    pending_window_days: Mapped[int | None] = mapped_column(Integer, default=None)
    rotation_enabled: Mapped[bool] = mapped_column(default=False)
    rotation_period_days: Mapped[int | None] = mapped_column(Integer, default=None)
    next_rotation: Mapped[datetime | None] = mapped_column(default=None)
    on_demand_rotation_start: Mapped[datetime | None] = mapped_column(default=None)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class KmsKeyMaterial(Base):
    """One version of a key's material; ``sealed`` is bound to key id + version by the root key."""

    __tablename__ = "kms_key_material"
    key_id: Mapped[str] = mapped_column(ForeignKey("kms_keys.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    material_id: Mapped[str] = mapped_column(String(64))
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    # None for the original material; AUTOMATIC or ON_DEMAND for the versions rotation made.
    rotation_type: Mapped[str | None] = mapped_column(String(16), default=None)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class KmsAlias(Base):
    __tablename__ = "kms_aliases"
    __table_args__ = (UniqueConstraint("account_id", "region", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    region: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(256))
    key_id: Mapped[str] = mapped_column(ForeignKey("kms_keys.id"), index=True)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    updated: Mapped[datetime] = mapped_column(default=utcnow)


class KmsGrant(Base):
    __tablename__ = "kms_grants"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key_id: Mapped[str] = mapped_column(ForeignKey("kms_keys.id"), index=True)
    token: Mapped[str] = mapped_column(String(128))
    name: Mapped[str | None] = mapped_column(String(256), default=None)
    grantee_principal: Mapped[str] = mapped_column(String(2048))
    retiring_principal: Mapped[str | None] = mapped_column(String(2048), default=None)
    issuing_account: Mapped[str] = mapped_column(String(2048))
    operations: Mapped[list[str]] = mapped_column(JSON, default=list)
    constraints: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created: Mapped[datetime] = mapped_column(default=utcnow)
