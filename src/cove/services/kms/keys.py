"""KMS keys: creation, lookup by id/ARN/alias, states, key material versions and rotation."""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.aws.errors import ValidationException
from cove.db.base import utcnow
from cove.keyring import RootKey
from cove.policy import PolicyError, PolicyKind, parse_policy
from cove.services.kms import crypto
from cove.services.kms.errors import (
    DisabledException,
    InvalidArnException,
    KMSInvalidStateException,
    MalformedPolicyDocumentException,
    NotFoundException,
    TagException,
)
from cove.services.kms.tables import KmsAlias, KmsGrant, KmsKey, KmsKeyMaterial

__all__ = [
    "AWS_S3_ALIAS",
    "add_material",
    "aws_managed_key",
    "check_usable",
    "create_key",
    "default_policy",
    "find_key",
    "key_arn",
    "key_metadata",
    "material",
    "maybe_rotate",
    "parse_key_policy",
    "purge",
    "validate_policy",
]

AWS_S3_ALIAS = "alias/aws/s3"
DEFAULT_ROTATION_DAYS = 365


def key_arn(account_id: str, region: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{account_id}:key/{key_id}"


def default_policy(account_id: str) -> str:
    """AWS's default key policy, formatted as GetKeyPolicy returns it."""
    document = {
        "Version": "2012-10-17",
        "Id": "key-default-1",
        "Statement": [
            {
                "Sid": "Enable IAM User Permissions",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ],
    }
    return json.dumps(document, indent=2)


def _aws_s3_policy(account_id: str, region: str) -> str:
    """The policy AWS gives ``aws/s3``: any principal of the account, through S3 only."""
    document = {
        "Version": "2012-10-17",
        "Id": "auto-s3-2",
        "Statement": [
            {
                "Sid": "Allow access through S3 for all principals in the account that are authorized to use S3",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:DescribeKey",
                ],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:CallerAccount": account_id,
                        "kms:ViaService": f"s3.{region}.amazonaws.com",
                    }
                },
            },
            {
                "Sid": "Allow direct access to key metadata to the account",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": ["kms:Describe*", "kms:Get*", "kms:List*"],
                "Resource": "*",
            },
        ],
    }
    return json.dumps(document, indent=2)


def validate_policy(document: str) -> str:
    try:
        parse_policy(document, kind=PolicyKind.RESOURCE, name="key policy")
    except PolicyError as exc:
        raise MalformedPolicyDocumentException(exc.reason) from None
    return document


def parse_key_policy(key: KmsKey) -> Any:
    return parse_policy(key.policy, kind=PolicyKind.RESOURCE, name="key policy")


def _check_tags(tags: list[dict[str, str]]) -> None:
    keys = [t["TagKey"] for t in tags]
    if len(set(keys)) != len(keys):
        raise TagException("Duplicate tag keys")
    for key in keys:
        if key.lower().startswith("aws:"):
            raise TagException("Tags beginning with aws: are reserved")


def create_key(
    session: Session, key: RootKey | None, account_id: str, region: str, params: dict[str, Any], now: datetime
) -> KmsKey:
    spec = params.get("KeySpec") or params.get("CustomerMasterKeySpec") or "SYMMETRIC_DEFAULT"
    if spec not in crypto.SPECS:
        raise ValidationException(f"KeySpec {spec} is not supported by Cove.")
    info = crypto.SPECS[spec]
    usage = params.get("KeyUsage") or info.usages[0]
    if usage not in info.usages:
        raise ValidationException(f"KeyUsage {usage} is not compatible with KeySpec {spec}")
    if params.get("Origin", "AWS_KMS") != "AWS_KMS":
        raise ValidationException("Cove supports only Origin AWS_KMS.")
    if params.get("MultiRegion"):
        raise ValidationException("Cove does not support multi-Region keys.")
    tags = list(params.get("Tags") or [])
    _check_tags(tags)
    policy = validate_policy(params["Policy"]) if params.get("Policy") else default_policy(account_id)
    key_id = str(uuid.uuid4())
    row = KmsKey(
        id=key_id,
        account_id=account_id,
        region=region,
        arn=key_arn(account_id, region, key_id),
        description=params.get("Description", ""),
        key_spec=spec,
        key_usage=usage,
        key_manager=params.get("_KeyManager", "CUSTOMER"),
        state="Enabled",
        policy=policy,
        rotation_enabled=False,
        current_version=1,
        tags=tags,
        created=now,
    )
    session.add(row)
    session.flush()
    if key is not None:
        add_material(session, key, row, None, now)
    return row


def add_material(
    session: Session, root: RootKey, key: KmsKey, rotation_type: str | None, now: datetime
) -> int:
    """A new version of ``key``'s material, sealed under the root key; new encryptions use it."""
    versions = session.scalars(select(KmsKeyMaterial.version).where(KmsKeyMaterial.key_id == key.id)).all()
    version = max(versions, default=0) + 1
    sealed = root.seal(crypto.new_material(key.key_spec), crypto.seal_context(key.id, version))
    session.add(
        KmsKeyMaterial(
            key_id=key.id,
            version=version,
            material_id=secrets.token_hex(32),
            sealed=sealed,
            rotation_type=rotation_type,
            created=now,
        )
    )
    key.current_version = version
    return version


def material(session: Session, root: RootKey, key: KmsKey, version: int | None = None) -> tuple[int, bytes]:
    """The clear material of ``version`` (default: the current one), opened only in memory."""
    wanted = key.current_version if version is None else version
    row = session.get(KmsKeyMaterial, (key.id, wanted))
    if row is None and version is None and wanted == 1:
        # AWS managed keys made where no root key was at hand get their material on first use;
        # concurrent first uses must agree on one, so it is committed on its own under the lock.
        with _MANAGED_KEY_LOCK, Session(session.get_bind()) as own, own.begin():
            mine = own.get(KmsKey, key.id)
            if mine is not None and own.get(KmsKeyMaterial, (key.id, wanted)) is None:
                add_material(own, root, mine, None, utcnow())
        row = session.get(KmsKeyMaterial, (key.id, wanted))
    if row is None:
        raise NotFoundException(f"Key material version {wanted} of {key.arn} does not exist")
    return wanted, root.open(row.sealed, crypto.seal_context(key.id, wanted))


def maybe_rotate(session: Session, root: RootKey, key: KmsKey, now: datetime) -> None:
    """Automatic rotation, done lazily: when a rotation fell due, the key rotates on its next use."""
    if not key.rotation_enabled or key.next_rotation is None or key.next_rotation > now:
        return
    if key.state != "Enabled":
        return
    add_material(session, root, key, "AUTOMATIC", now)
    key.next_rotation = now + timedelta(days=key.rotation_period_days or DEFAULT_ROTATION_DAYS)


def _expired(key: KmsKey, now: datetime) -> bool:
    return key.state == "PendingDeletion" and key.deletion_date is not None and key.deletion_date <= now


def purge(session: Session, key: KmsKey) -> None:
    """Deletion after the waiting period: the key, its material, aliases and grants."""
    for model in (KmsAlias, KmsGrant, KmsKeyMaterial):
        for row in session.scalars(select(model).where(model.key_id == key.id)).all():
            session.delete(row)
    session.delete(key)


def _not_found_key(arn: str) -> NotFoundException:
    return NotFoundException(f"Key '{arn}' does not exist")


def find_key(session: Session, account_id: str, region: str, ref: str, now: datetime) -> KmsKey:
    """The key ``ref`` names: a key id, key ARN, alias name or alias ARN."""
    if not ref:
        raise ValidationException("KeyId must not be empty")
    if ref.startswith("arn:"):
        parts = ref.split(":", 5)
        if len(parts) != 6 or parts[2] != "kms" or not parts[5].startswith(("key/", "alias/")):
            raise InvalidArnException(f"Invalid arn {ref}")
        region, account_id, resource = parts[3], parts[4], parts[5]
        if resource.startswith("alias/"):
            return _by_alias(session, account_id, region, resource, now)
        ref = resource.removeprefix("key/")
    elif ref.startswith("alias/"):
        return _by_alias(session, account_id, region, ref, now)
    row = session.get(KmsKey, ref)
    if row is None or row.account_id != account_id or row.region != region or _expired(row, now):
        raise _not_found_key(key_arn(account_id, region, ref))
    return row


def _by_alias(session: Session, account_id: str, region: str, name: str, now: datetime) -> KmsKey:
    alias = session.scalars(
        select(KmsAlias).where(
            KmsAlias.account_id == account_id, KmsAlias.region == region, KmsAlias.name == name
        )
    ).first()
    if alias is None:
        raise NotFoundException(f"Alias arn:aws:kms:{region}:{account_id}:{name} is not found.")
    row = session.get(KmsKey, alias.key_id)
    if row is None or _expired(row, now):
        raise NotFoundException(f"Alias arn:aws:kms:{region}:{account_id}:{name} is not found.")
    return row


_MANAGED_KEY_LOCK = threading.Lock()


def _managed_alias(session: Session, account_id: str, region: str, alias: str) -> KmsKey | None:
    existing = session.scalars(
        select(KmsAlias).where(
            KmsAlias.account_id == account_id, KmsAlias.region == region, KmsAlias.name == alias
        )
    ).first()
    return session.get(KmsKey, existing.key_id) if existing is not None else None


def aws_managed_key(
    session: Session, root: RootKey | None, account_id: str, region: str, alias: str, now: datetime
) -> KmsKey:
    """The AWS managed key behind ``alias/aws/<service>``, created on first use.

    Concurrent first uses (the parts of one multipart upload) must agree on one key: it is created
    under a process lock in a transaction of its own and committed before the caller reads it back.
    """
    row = _managed_alias(session, account_id, region, alias)
    if row is not None:
        return row
    if alias != AWS_S3_ALIAS:
        raise NotFoundException(f"Alias arn:aws:kms:{region}:{account_id}:{alias} is not found.")
    with _MANAGED_KEY_LOCK, Session(session.get_bind()) as own, own.begin():
        if _managed_alias(own, account_id, region, alias) is None:
            _create_managed_key(own, root, account_id, region, alias, now)
    row = _managed_alias(session, account_id, region, alias)
    if row is None:
        raise NotFoundException(f"Alias arn:aws:kms:{region}:{account_id}:{alias} is not found.")
    return row


def _create_managed_key(
    session: Session, root: RootKey | None, account_id: str, region: str, alias: str, now: datetime
) -> None:
    service = alias.removeprefix("alias/aws/")
    row = create_key(
        session,
        root,
        account_id,
        region,
        {
            "Description": f"Default key that protects my {service.upper()} objects when no other key is defined",
            "Policy": _aws_s3_policy(account_id, region),
            "_KeyManager": "AWS",
        },
        now,
    )
    row.rotation_enabled = True
    row.rotation_period_days = DEFAULT_ROTATION_DAYS
    row.next_rotation = now + timedelta(days=DEFAULT_ROTATION_DAYS)
    session.add(
        KmsAlias(account_id=account_id, region=region, name=alias, key_id=row.id, created=now, updated=now)
    )
    session.flush()


def check_usable(key: KmsKey) -> None:
    """Cryptographic operations need an enabled key."""
    if key.state == "Disabled":
        raise DisabledException(f"{key.arn} is disabled.")
    if key.state == "PendingDeletion":
        raise KMSInvalidStateException(f"{key.arn} is pending deletion.")


def key_metadata(key: KmsKey) -> dict[str, Any]:
    info = crypto.SPECS[key.key_spec]
    meta: dict[str, Any] = {
        "AWSAccountId": key.account_id,
        "KeyId": key.id,
        "Arn": key.arn,
        "CreationDate": key.created,
        "Enabled": key.state == "Enabled",
        "Description": key.description,
        "KeyUsage": key.key_usage,
        "KeyState": key.state,
        "Origin": "AWS_KMS",
        "KeyManager": key.key_manager,
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        "MultiRegion": False,
    }
    if key.key_usage == "ENCRYPT_DECRYPT":
        meta["EncryptionAlgorithms"] = list(info.encryption)
    else:
        meta["SigningAlgorithms"] = list(info.signing)
    if key.state == "PendingDeletion":
        meta["DeletionDate"] = key.deletion_date
        meta["PendingDeletionWindowInDays"] = key.pending_window_days
    return meta
