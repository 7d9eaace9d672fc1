"""Symmetric encryption under a KMS key, and the functions other services (S3 SSE-KMS) call on
behalf of their caller: authorized exactly as the KMS API would be, with the same typed errors."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.orm import Session

from cove.aws.context import RequestContext
from cove.aws.errors import ServiceError, ValidationException
from cove.db.base import utcnow
from cove.keyring import RootKey
from cove.services.kms import access, audit, crypto, keys
from cove.services.kms.errors import InvalidCiphertextException, InvalidKeyUsageException
from cove.services.kms.tables import KmsKey

__all__ = [
    "blob_key",
    "decrypt",
    "generate_data_key",
    "is_aws_managed_alias",
    "key_for_use",
    "open_blob",
    "resolve_key_arn",
    "seal_with",
    "via_service",
]


def is_aws_managed_alias(ref: str) -> bool:
    return ref == keys.AWS_S3_ALIAS or (ref.startswith("arn:") and ref.endswith(":" + keys.AWS_S3_ALIAS))


def via_service(ctx: RequestContext, region: str) -> str | None:
    """``kms:ViaService`` when another service uses KMS for its caller (S3 → ``s3.<region>.amazonaws.com``)."""
    return None if ctx.service == "kms" else f"{ctx.service}.{region}.amazonaws.com"


def key_for_use(
    session: Session, root: RootKey | None, account_id: str, region: str, ref: str, now: datetime
) -> KmsKey:
    """The key ``ref`` names; ``alias/aws/s3`` is created on first use."""
    if is_aws_managed_alias(ref):
        if ref.startswith("arn:"):
            parts = ref.split(":", 5)
            region, account_id = parts[3], parts[4]
        return keys.aws_managed_key(session, root, account_id, region, keys.AWS_S3_ALIAS, now)
    return keys.find_key(session, account_id, region, ref, now)


def resolve_key_arn(session: Session, account_id: str, region: str, key_id_or_alias_or_arn: str) -> str:
    """The ARN of the key a reference names (NotFoundException if none); no authorization."""
    return key_for_use(session, None, account_id, region, key_id_or_alias_or_arn, utcnow()).arn


def _require_symmetric(key: KmsKey, operation: str) -> None:
    if key.key_spec != "SYMMETRIC_DEFAULT" or key.key_usage != "ENCRYPT_DECRYPT":
        raise InvalidKeyUsageException(
            f"{key.arn} key usage is {key.key_usage} which is not valid for {operation}."
        )


def seal_with(
    session: Session, root: RootKey, key: KmsKey, plaintext: bytes, context: dict[str, str] | None
) -> bytes:
    """A ciphertext blob of ``plaintext`` under ``key``'s newest material version."""
    version, material = keys.material(session, root, key)
    return crypto.symmetric_encrypt(material, key.id, version, plaintext, context)


def open_blob(
    session: Session, root: RootKey, blob: bytes, context: dict[str, str] | None, key: KmsKey
) -> bytes:
    """The plaintext of ``blob`` (whose header must name ``key``); any tampering is InvalidCiphertextException."""
    parsed = crypto.parse_header(blob)
    if parsed.key_id != key.id:
        raise InvalidCiphertextException("")
    try:
        _, material = keys.material(session, root, key, parsed.version)
    except ServiceError:
        raise InvalidCiphertextException("") from None
    return crypto.symmetric_decrypt(material, parsed, context)


def blob_key(session: Session, blob: bytes) -> KmsKey:
    """The key a symmetric ciphertext blob names."""
    parsed = crypto.parse_header(blob)
    key = session.get(KmsKey, parsed.key_id)
    if key is None:
        raise InvalidCiphertextException("")
    return key


def _audited(
    session: Session, caller: RequestContext, operation: str, key: KmsKey | None, exc: ServiceError | None
) -> None:
    audit.record_in(
        session,
        audit.KmsUse(
            ctx=caller,
            operation=operation,
            key_arn=key.arn if key is not None else None,
            allowed=exc is None or exc.code != "AccessDeniedException",
            error_code=exc.code if exc is not None else None,
            error_message=exc.message if exc is not None else None,
            via_service=via_service(caller, key.region if key is not None else caller.region),
        ),
    )


def generate_data_key(
    session: Session,
    key: RootKey,
    *,
    caller: RequestContext,
    key_id: str,
    context: dict[str, str],
    number_of_bytes: int = 32,
) -> tuple[bytes, bytes, str]:
    """A fresh data key for ``caller``: (plaintext, ciphertext blob, key ARN)."""
    found: KmsKey | None = None
    try:
        if not 1 <= number_of_bytes <= 1024:
            raise ValidationException("NumberOfBytes must be between 1 and 1024")
        found = key_for_use(session, key, caller.account_id, caller.region, key_id, caller.now)
        access.check(
            session,
            caller,
            found,
            "kms:GenerateDataKey",
            context=context,
            via_service=via_service(caller, found.region),
        )
        keys.check_usable(found)
        _require_symmetric(found, "GenerateDataKey")
        keys.maybe_rotate(session, key, found, caller.now)
        plaintext = secrets.token_bytes(number_of_bytes)
        blob = seal_with(session, key, found, plaintext, context)
    except ServiceError as exc:
        _audited(session, caller, "GenerateDataKey", found, exc)
        raise
    _audited(session, caller, "GenerateDataKey", found, None)
    return plaintext, blob, found.arn


def decrypt(
    session: Session, key: RootKey, *, caller: RequestContext, ciphertext: bytes, context: dict[str, str]
) -> tuple[bytes, str]:
    """The plaintext of ``ciphertext`` for ``caller``: (plaintext, key ARN)."""
    found: KmsKey | None = None
    try:
        found = blob_key(session, ciphertext)
        access.check(
            session,
            caller,
            found,
            "kms:Decrypt",
            context=context,
            via_service=via_service(caller, found.region),
        )
        keys.check_usable(found)
        plaintext = open_blob(session, key, ciphertext, context, found)
    except ServiceError as exc:
        _audited(session, caller, "Decrypt", found, exc)
        raise
    _audited(session, caller, "Decrypt", found, None)
    return plaintext, found.arn
