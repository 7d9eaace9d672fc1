"""Aliases: friendly names (``alias/…``) that point at a key in the same account and Region."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.aws.errors import ValidationException
from cove.services.kms.errors import AlreadyExistsException, KMSInvalidStateException, NotFoundException
from cove.services.kms.tables import KmsAlias, KmsKey

__all__ = [
    "alias_arn",
    "alias_view",
    "check_name",
    "create_alias",
    "delete_alias",
    "get_alias",
    "list_aliases",
    "update_alias",
]

_NAME = re.compile(r"^alias/[a-zA-Z0-9/_-]+$")


def alias_arn(account_id: str, region: str, name: str) -> str:
    return f"arn:aws:kms:{region}:{account_id}:{name}"


def check_name(name: str) -> None:
    if not name.startswith("alias/"):
        raise ValidationException(
            'Alias must start with the prefix "alias/". Please see '
            "https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html"
        )
    if name.startswith("alias/aws/"):
        raise ValidationException(
            f"Alias {name} is reserved for AWS managed keys: alias names beginning with alias/aws/ cannot be used."
        )
    if not _NAME.match(name) or len(name) > 256:
        raise ValidationException(
            f"1 validation error detected: Value '{name}' at 'aliasName' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: ^[a-zA-Z0-9:/_-]+$"
        )


def alias_view(alias: KmsAlias) -> dict[str, Any]:
    return {
        "AliasName": alias.name,
        "AliasArn": alias_arn(alias.account_id, alias.region, alias.name),
        "TargetKeyId": alias.key_id,
        "CreationDate": alias.created,
        "LastUpdatedDate": alias.updated,
    }


def get_alias(session: Session, account_id: str, region: str, name: str) -> KmsAlias:
    alias = session.scalars(
        select(KmsAlias).where(
            KmsAlias.account_id == account_id, KmsAlias.region == region, KmsAlias.name == name
        )
    ).first()
    if alias is None:
        raise NotFoundException(f"Alias {alias_arn(account_id, region, name)} is not found.")
    return alias


def _check_target(key: KmsKey) -> None:
    if key.state == "PendingDeletion":
        raise KMSInvalidStateException(f"{key.arn} is pending deletion.")


def create_alias(session: Session, key: KmsKey, name: str, now: datetime) -> KmsAlias:
    check_name(name)
    _check_target(key)
    taken = session.scalars(
        select(KmsAlias).where(
            KmsAlias.account_id == key.account_id, KmsAlias.region == key.region, KmsAlias.name == name
        )
    ).first()
    if taken is not None:
        raise AlreadyExistsException(
            f"An alias with the name {alias_arn(key.account_id, key.region, name)} already exists"
        )
    alias = KmsAlias(
        account_id=key.account_id, region=key.region, name=name, key_id=key.id, created=now, updated=now
    )
    session.add(alias)
    return alias


def update_alias(session: Session, alias: KmsAlias, key: KmsKey, now: datetime) -> None:
    _check_target(key)
    alias.key_id = key.id
    alias.updated = now


def delete_alias(session: Session, alias: KmsAlias) -> None:
    session.delete(alias)


def list_aliases(session: Session, account_id: str, region: str, key_id: str | None) -> list[KmsAlias]:
    query = select(KmsAlias).where(KmsAlias.account_id == account_id, KmsAlias.region == region)
    if key_id is not None:
        query = query.where(KmsAlias.key_id == key_id)
    return list(session.scalars(query).all())
