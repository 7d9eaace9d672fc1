"""Grants: a grantee principal may use a key for the listed operations, within constraints."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.aws.context import RequestContext
from cove.aws.errors import ValidationException
from cove.services.kms.errors import InvalidGrantIdException, InvalidGrantTokenException, NotFoundException
from cove.services.kms.tables import KmsGrant, KmsKey

__all__ = ["create_grant", "find_by_token", "get_grant", "grant_view", "list_grants", "retirable_grants"]


def grant_view(grant: KmsGrant) -> dict[str, Any]:
    view: dict[str, Any] = {
        "KeyId": grant.key_id,
        "GrantId": grant.id,
        "CreationDate": grant.created,
        "GranteePrincipal": grant.grantee_principal,
        "IssuingAccount": grant.issuing_account,
        "Operations": list(grant.operations),
    }
    if grant.name:
        view["Name"] = grant.name
    if grant.retiring_principal:
        view["RetiringPrincipal"] = grant.retiring_principal
    if grant.constraints:
        view["Constraints"] = dict(grant.constraints)
    return view


def create_grant(session: Session, ctx: RequestContext, key: KmsKey, params: dict[str, Any]) -> KmsGrant:
    grantee = params.get("GranteePrincipal") or params.get("GranteeServicePrincipal")
    if not grantee:
        raise ValidationException("GranteePrincipal is required")
    constraints = params.get("Constraints") or None
    if constraints and "EncryptionContextSubset" in constraints and "EncryptionContextEquals" in constraints:
        raise ValidationException(
            "Constraints may name EncryptionContextSubset or EncryptionContextEquals, not both"
        )
    name = params.get("Name")
    operations = sorted(set(params["Operations"]))
    retiring = params.get("RetiringPrincipal") or params.get("RetiringServicePrincipal")
    if name:
        # A retried CreateGrant with the same name and parameters returns the same grant.
        for existing in session.scalars(
            select(KmsGrant).where(KmsGrant.key_id == key.id, KmsGrant.name == name)
        ).all():
            if (
                existing.grantee_principal == grantee
                and sorted(existing.operations) == operations
                and existing.retiring_principal == retiring
                and (existing.constraints or None) == constraints
            ):
                return existing
    grant = KmsGrant(
        id=secrets.token_hex(32),
        key_id=key.id,
        token=secrets.token_urlsafe(64),
        name=name,
        grantee_principal=grantee,
        retiring_principal=retiring,
        issuing_account=f"arn:aws:iam::{ctx.account_id}:root",
        operations=operations,
        constraints=constraints,
        created=ctx.now,
    )
    session.add(grant)
    return grant


def get_grant(session: Session, key: KmsKey, grant_id: str) -> KmsGrant:
    grant = session.get(KmsGrant, grant_id)
    if grant is None or grant.key_id != key.id:
        raise NotFoundException(f"Grant ID {grant_id} not found")
    return grant


def find_by_token(session: Session, token: str) -> KmsGrant:
    grant = session.scalars(select(KmsGrant).where(KmsGrant.token == token)).first()
    if grant is None:
        raise InvalidGrantTokenException("Invalid grant token")
    return grant


def list_grants(session: Session, key: KmsKey, grant_id: str | None, grantee: str | None) -> list[KmsGrant]:
    query = select(KmsGrant).where(KmsGrant.key_id == key.id)
    if grant_id is not None:
        if session.get(KmsGrant, grant_id) is None:
            raise InvalidGrantIdException(f"Grant ID {grant_id} is invalid")
        query = query.where(KmsGrant.id == grant_id)
    if grantee is not None:
        query = query.where(KmsGrant.grantee_principal == grantee)
    return list(session.scalars(query).all())


def retirable_grants(session: Session, retiring: str) -> list[KmsGrant]:
    return list(session.scalars(select(KmsGrant).where(KmsGrant.retiring_principal == retiring)).all())
