"""The local account: created once per state directory with root access keys and AWS managed policies."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.keyring import RootKey
from cove.services.iam import ids
from cove.services.iam.managed import AWS_MANAGED_POLICIES
from cove.services.iam.tables import AccessKey, Account, ManagedPolicy

__all__ = ["LocalAccount", "ensure_local_account", "open_secret", "root_arn", "seal_secret"]


@dataclass(frozen=True, slots=True)
class LocalAccount:
    account_id: str
    access_key_id: str
    secret_access_key: str


def root_arn(account_id: str) -> str:
    return f"arn:aws:iam::{account_id}:root"


def seal_secret(key: RootKey, access_key_id: str, secret: str) -> bytes:
    return key.seal(secret.encode(), f"access-key:{access_key_id}")


def open_secret(key: RootKey, access_key_id: str, sealed: bytes) -> str:
    return key.open(sealed, f"access-key:{access_key_id}").decode()


def _seed_managed_policies(session: Session) -> None:
    existing = {
        p.name: p for p in session.scalars(select(ManagedPolicy).where(ManagedPolicy.account_id.is_(None)))
    }
    for name, (path, document) in AWS_MANAGED_POLICIES.items():
        if name in existing and existing[name].document != document:
            # AWS revises its managed policies in place; so does Cove, when a release changes one.
            existing[name].document = document
        if name not in existing:
            session.add(
                ManagedPolicy(
                    arn=f"arn:aws:iam::aws:policy{path}{name}",
                    id=ids.unique_id("ANPA"),
                    account_id=None,
                    name=name,
                    path=path,
                    document=document,
                )
            )


def _import_root_key(session: Session, key: RootKey, account_id: str, pair: tuple[str, str]) -> None:
    """Add (or update) a root access key chosen by the operator, for tools that hard-code theirs."""
    key_id, secret = pair
    # Looser than IAM's own keys (16+ characters) so that suites signing with short fixed ids work.
    if not key_id.isalnum() or not 3 <= len(key_id) <= 128 or len(secret) < 8:
        raise ValueError(
            "a root access key id is 3-128 letters and digits, and its secret at least 8 characters"
        )
    row = session.get(AccessKey, key_id)
    if row is not None and (row.account_id != account_id or row.user_id is not None):
        raise ValueError(f"access key {key_id} already belongs to another principal")
    if row is None:
        session.add(AccessKey(access_key_id=key_id, account_id=account_id, user_id=None, secret_sealed=b""))
        session.flush()
        row = session.get(AccessKey, key_id)
    assert row is not None
    row.secret_sealed = seal_secret(key, key_id, secret)
    row.status = "Active"


def ensure_local_account(
    session: Session, key: RootKey, account_id: str | None = None, root_key: tuple[str, str] | None = None
) -> LocalAccount:
    """Idempotent: the first call creates the account and its root key; later calls return them.

    ``root_key`` (access key id, secret) is registered as a root key of the account in addition to
    the generated one, and becomes the one reported.
    """
    _seed_managed_policies(session)
    account = session.scalars(select(Account).where(Account.local.is_(True))).first()
    if account is None:
        account = Account(id=account_id or ids.account_id(), name="cove-local", local=True)
        session.add(account)
        session.flush()
    if root_key is not None:
        _import_root_key(session, key, account.id, root_key)
        return LocalAccount(account.id, root_key[0], root_key[1])
    access_key = session.scalars(
        select(AccessKey)
        .where(AccessKey.account_id == account.id, AccessKey.user_id.is_(None), AccessKey.status == "Active")
        .order_by(AccessKey.created)
    ).first()
    if access_key is None:
        key_id = ids.access_key_id()
        secret = ids.secret_access_key()
        access_key = AccessKey(
            access_key_id=key_id,
            account_id=account.id,
            user_id=None,
            secret_sealed=seal_secret(key, key_id, secret),
        )
        session.add(access_key)
        session.flush()
    return LocalAccount(
        account_id=account.id,
        access_key_id=access_key.access_key_id,
        secret_access_key=open_secret(key, access_key.access_key_id, access_key.secret_sealed),
    )
