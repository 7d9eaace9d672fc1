"""Resolve an access key id to its secret and principal, for SigV4 verification."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from cove.aws.context import Credential, Principal
from cove.db import Database
from cove.keyring import RootKey
from cove.services.iam import generation
from cove.services.iam.accounts import open_secret, root_arn
from cove.services.iam.tables import AccessKey, Role, TemporaryCredential, User

__all__ = ["CredentialStore", "assumed_role_principal", "root_principal", "user_principal"]


def root_principal(account_id: str) -> Principal:
    return Principal(kind="root", account_id=account_id, arn=root_arn(account_id), user_id=account_id)


def user_principal(user: User) -> Principal:
    return Principal(kind="user", account_id=user.account_id, arn=user.arn, user_id=user.id, name=user.name)


def assumed_role_principal(role: Role, session_name: str) -> Principal:
    return Principal(
        kind="assumed-role",
        account_id=role.account_id,
        arn=f"arn:aws:sts::{role.account_id}:assumed-role/{role.name}/{session_name}",
        user_id=f"{role.id}:{session_name}",
        name=session_name,
        role_arn=role.arn,
        role_id=role.id,
        session_name=session_name,
    )


class CredentialStore:
    """Keys are cached in memory (secrets included) until the next IAM/STS write, so verifying a
    signature costs no database round trip on the hot path."""

    def __init__(self, db: Database, key: RootKey) -> None:
        self.db = db
        self.key = key
        self._cache: generation.GenerationCache[str, Credential | None] = generation.GenerationCache()

    def resolve(self, access_key_id: str) -> Credential | None:
        def load() -> Credential | None:
            with self.db.read() as session:
                return self._load(session, access_key_id)

        return self._cache.get(access_key_id, load)

    def _load(self, session: Session, access_key_id: str) -> Credential | None:
        if access_key_id.startswith("ASIA"):
            return self._temporary(session, access_key_id)
        row = session.get(AccessKey, access_key_id)
        if row is None:
            return None
        principal = root_principal(row.account_id)
        if row.user_id is not None:
            user = session.get(User, row.user_id)
            if user is None:
                return None
            principal = user_principal(user)
        return Credential(
            access_key_id=row.access_key_id,
            secret_access_key=open_secret(self.key, row.access_key_id, row.secret_sealed),
            principal=principal,
            active=row.status == "Active",
        )

    def _temporary(self, session: Session, access_key_id: str) -> Credential | None:
        row = session.get(TemporaryCredential, access_key_id)
        if row is None:
            return None
        if row.role_id is not None:
            role = session.get(Role, row.role_id)
            if role is None:
                return None
            principal = assumed_role_principal(role, row.session_name or "")
        elif row.user_id is not None:
            user = session.get(User, row.user_id)
            if user is None:
                return None
            principal = user_principal(user)
        else:
            principal = root_principal(row.account_id)
        expires: datetime = row.expires
        return Credential(
            access_key_id=row.access_key_id,
            secret_access_key=open_secret(self.key, row.access_key_id, row.secret_sealed),
            principal=principal,
            session_token_sha256=row.token_sha256,
            expires=expires,
            session_policy=row.session_policy,
        )
