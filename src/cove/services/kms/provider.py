"""KMS operations (json protocol): thin handlers; key-scoped ones decide authorization themselves."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.aws.context import RequestContext
from cove.aws.errors import ServiceError, ValidationException
from cove.aws.provider import Provider, operation
from cove.db import Database
from cove.keyring import RootKey
from cove.services.kms import access, aliases, audit, crypto, datakeys, grants, keys
from cove.services.kms.errors import (
    IncorrectKeyException,
    InvalidCiphertextException,
    InvalidKeyUsageException,
    InvalidMarkerException,
    KmsAccessDenied,
    KMSInvalidStateException,
    TagException,
    UnsupportedOperationException,
)
from cove.services.kms.tables import KmsKey, KmsKeyMaterial

__all__ = ["KmsProvider"]

Out = dict[str, Any]
T = TypeVar("T")

_KEY_SCOPED = frozenset(
    {
        "CancelKeyDeletion",
        "CreateAlias",
        "CreateGrant",
        "Decrypt",
        "DeleteAlias",
        "DescribeKey",
        "DisableKey",
        "DisableKeyRotation",
        "EnableKey",
        "EnableKeyRotation",
        "Encrypt",
        "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext",
        "GetKeyPolicy",
        "GetKeyRotationStatus",
        "GetPublicKey",
        "ListGrants",
        "ListKeyPolicies",
        "ListKeyRotations",
        "ListResourceTags",
        "PutKeyPolicy",
        "ReEncrypt",
        "RetireGrant",
        "RevokeGrant",
        "RotateKeyOnDemand",
        "ScheduleKeyDeletion",
        "Sign",
        "TagResource",
        "UntagResource",
        "UpdateAlias",
        "UpdateKeyDescription",
        "Verify",
    }
)


def _page(
    items: Sequence[T], key: Callable[[T], str], limit: int | None, marker: str | None
) -> tuple[list[T], Out]:
    ordered = sorted(items, key=key)
    if marker:
        if not any(key(item) == marker for item in ordered) and not ordered:
            raise InvalidMarkerException("Invalid marker")
        ordered = [item for item in ordered if key(item) > marker]
    size = limit or 100
    chunk = ordered[:size]
    if len(ordered) > size:
        return chunk, {"Truncated": True, "NextMarker": key(chunk[-1])}
    return chunk, {"Truncated": False}


def _check_data_key_size(p: dict[str, Any]) -> int:
    spec, count = p.get("KeySpec"), p.get("NumberOfBytes")
    if spec and count:
        raise ValidationException("Please specify either number of bytes or key spec.")
    if spec:
        return 32 if spec == "AES_256" else 16
    if count is None:
        raise ValidationException("Please specify either number of bytes or key spec.")
    if not 1 <= count <= 1024:
        raise ValidationException(
            f"1 validation error detected: Value '{count}' at 'numberOfBytes' failed to satisfy constraint: "
            "Member must have value less than or equal to 1024"
        )
    return int(count)


class KmsProvider(Provider):
    service = "kms"
    self_authorized = _KEY_SCOPED
    # Reads that may write: lazy automatic rotation and deletion happen on use.
    blocking = frozenset({"DescribeKey", "GetPublicKey", "GetKeyRotationStatus", "ListKeyRotations"})

    def __init__(self, db: Database, key: RootKey) -> None:
        self.db = db
        self.key = key
        audit.bind(db)

    # Plumbing

    def _key(self, s: Session, ctx: RequestContext, ref: str) -> KmsKey:
        if datakeys.is_aws_managed_alias(ref):
            return datakeys.key_for_use(s, self.key, ctx.account_id, ctx.region, ref, ctx.now)
        return keys.find_key(s, ctx.account_id, ctx.region, ref, ctx.now)

    def _on_key(
        self,
        ctx: RequestContext,
        ref: str,
        fn: Callable[[Session, KmsKey], Out],
        *,
        context: dict[str, str] | None = None,
        action: str | None = None,
    ) -> Out:
        """Find the key, authorize ``kms:<operation>`` on it, run ``fn``, and audit the call."""
        arn: str | None = None
        wanted = action or f"kms:{ctx.operation}"
        try:
            with self.db.session() as s:
                found = self._key(s, ctx, ref)
                arn = found.arn
                access.check(s, ctx, found, wanted, context=context)
                keys.maybe_rotate(s, self.key, found, ctx.now)
                out = fn(s, found)
        except ServiceError as exc:
            self._audit(ctx, arn, exc)
            raise
        self._audit(ctx, arn, None)
        return out

    def _audit(self, ctx: RequestContext, arn: str | None, exc: ServiceError | None) -> None:
        audit.record(
            self.db,
            audit.KmsUse(
                ctx=ctx,
                operation=ctx.operation,
                key_arn=arn,
                allowed=not isinstance(exc, KmsAccessDenied),
                error_code=exc.code if exc is not None else None,
                error_message=exc.message if exc is not None else None,
            ),
        )

    # Keys

    @operation("CreateKey")
    def create_key(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            row = keys.create_key(s, self.key, ctx.account_id, ctx.region, p, ctx.now)
            out = {"KeyMetadata": keys.key_metadata(row)}
        self._audit(ctx, row.arn, None)
        return out

    @operation("DescribeKey")
    def describe_key(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        return self._on_key(ctx, p["KeyId"], lambda s, k: {"KeyMetadata": keys.key_metadata(k)})

    @operation("ListKeys")
    def list_keys(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            rows = s.scalars(
                select(KmsKey).where(KmsKey.account_id == ctx.account_id, KmsKey.region == ctx.region)
            ).all()
            live = [r for r in rows if not (r.deletion_date is not None and r.deletion_date <= ctx.now)]
            chunk, more = _page(live, lambda r: r.id, p.get("Limit"), p.get("Marker"))
            return {"Keys": [{"KeyId": r.id, "KeyArn": r.arn} for r in chunk], **more}

    @operation("UpdateKeyDescription")
    def update_key_description(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        def run(s: Session, k: KmsKey) -> Out:
            _not_pending(k)
            k.description = p["Description"]
            return {}

        return self._on_key(ctx, p["KeyId"], run)

    @operation("EnableKey")
    def enable_key(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        def run(s: Session, k: KmsKey) -> Out:
            _not_pending(k)
            k.state = "Enabled"
            return {}

        return self._on_key(ctx, p["KeyId"], run)

    @operation("DisableKey")
    def disable_key(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        def run(s: Session, k: KmsKey) -> Out:
            _not_pending(k)
            k.state = "Disabled"
            return {}

        return self._on_key(ctx, p["KeyId"], run)

    @operation("ScheduleKeyDeletion")
    def schedule_key_deletion(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        days = p.get("PendingWindowInDays", 30)
        if not 7 <= days <= 30:
            raise ValidationException(
                f"1 validation error detected: Value '{days}' at 'pendingWindowInDays' failed to satisfy "
                "constraint: Member must have value between 7 and 30"
            )

        def run(s: Session, k: KmsKey) -> Out:
            _not_pending(k)
            _customer_managed(k)
            k.state = "PendingDeletion"
            k.pending_window_days = days
            k.deletion_date = ctx.now + timedelta(days=days)
            return {
                "KeyId": k.arn,
                "DeletionDate": k.deletion_date,
                "KeyState": k.state,
                "PendingWindowInDays": days,
            }

        return self._on_key(ctx, p["KeyId"], run)

    @operation("CancelKeyDeletion")
    def cancel_key_deletion(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        def run(s: Session, k: KmsKey) -> Out:
            if k.state != "PendingDeletion":
                raise KMSInvalidStateException(f"{k.arn} is not pending deletion.")
            k.state = "Disabled"
            k.deletion_date = None
            k.pending_window_days = None
            return {"KeyId": k.arn}

        return self._on_key(ctx, p["KeyId"], run)

    # Cryptography

    @operation("Encrypt")
    def encrypt(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        context = p.get("EncryptionContext")

        def run(s: Session, k: KmsKey) -> Out:
            keys.check_usable(k)
            algorithm = p.get("EncryptionAlgorithm", "SYMMETRIC_DEFAULT")
            _encryption_algorithm(k, algorithm)
            if k.key_spec == "SYMMETRIC_DEFAULT":
                if len(p["Plaintext"]) > 4096:
                    raise ValidationException("Plaintext must be at most 4096 bytes")
                blob = datakeys.seal_with(s, self.key, k, p["Plaintext"], context)
            else:
                _, material = keys.material(s, self.key, k)
                blob = crypto.asymmetric_encrypt(material, algorithm, p["Plaintext"])
            return {"CiphertextBlob": blob, "KeyId": k.arn, "EncryptionAlgorithm": algorithm}

        return self._on_key(ctx, p["KeyId"], run, context=context)

    def _blob_key_ref(self, ctx: RequestContext, blob: bytes, key_id: str | None) -> str:
        if key_id:
            return key_id
        with self.db.read() as s:
            try:
                return datakeys.blob_key(s, blob).arn
            except InvalidCiphertextException:
                self._audit(ctx, None, InvalidCiphertextException(""))
                raise

    def _open(
        self, s: Session, k: KmsKey, blob: bytes, context: dict[str, str] | None, algorithm: str
    ) -> bytes:
        keys.check_usable(k)
        _encryption_algorithm(k, algorithm)
        if k.key_spec != "SYMMETRIC_DEFAULT":
            _, material = keys.material(s, self.key, k)
            return crypto.asymmetric_decrypt(material, algorithm, blob)
        if crypto.parse_header(blob).key_id != k.id:
            raise IncorrectKeyException(
                "The key ID in the request does not identify a CMK that can perform this operation."
            )
        return datakeys.open_blob(s, self.key, blob, context, k)

    @operation("Decrypt")
    def decrypt(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        blob, context = p["CiphertextBlob"], p.get("EncryptionContext")
        algorithm = p.get("EncryptionAlgorithm", "SYMMETRIC_DEFAULT")
        ref = self._blob_key_ref(ctx, blob, p.get("KeyId"))

        def run(s: Session, k: KmsKey) -> Out:
            plaintext = self._open(s, k, blob, context, algorithm)
            return {"KeyId": k.arn, "Plaintext": plaintext, "EncryptionAlgorithm": algorithm}

        return self._on_key(ctx, ref, run, context=context)

    @operation("ReEncrypt")
    def re_encrypt(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        blob = p["CiphertextBlob"]
        source_context = p.get("SourceEncryptionContext")
        dest_context = p.get("DestinationEncryptionContext")
        source_algorithm = p.get("SourceEncryptionAlgorithm", "SYMMETRIC_DEFAULT")
        dest_algorithm = p.get("DestinationEncryptionAlgorithm", "SYMMETRIC_DEFAULT")
        ref = self._blob_key_ref(ctx, blob, p.get("SourceKeyId"))
        opened: dict[str, Any] = {}

        def source(s: Session, k: KmsKey) -> Out:
            opened["plaintext"] = self._open(s, k, blob, source_context, source_algorithm)
            return {"SourceKeyId": k.arn}

        out = self._on_key(ctx, ref, source, context=source_context, action="kms:ReEncryptFrom")

        def destination(s: Session, k: KmsKey) -> Out:
            keys.check_usable(k)
            _encryption_algorithm(k, dest_algorithm)
            if k.key_spec == "SYMMETRIC_DEFAULT":
                new = datakeys.seal_with(s, self.key, k, opened["plaintext"], dest_context)
            else:
                _, material = keys.material(s, self.key, k)
                new = crypto.asymmetric_encrypt(material, dest_algorithm, opened["plaintext"])
            return {
                "CiphertextBlob": new,
                "KeyId": k.arn,
                "SourceEncryptionAlgorithm": source_algorithm,
                "DestinationEncryptionAlgorithm": dest_algorithm,
            }

        out |= self._on_key(
            ctx, p["DestinationKeyId"], destination, context=dest_context, action="kms:ReEncryptTo"
        )
        return out

    def _data_key(self, ctx: RequestContext, p: dict[str, Any], with_plaintext: bool) -> Out:
        size = _check_data_key_size(p)
        context = p.get("EncryptionContext")

        def run(s: Session, k: KmsKey) -> Out:
            keys.check_usable(k)
            if k.key_spec != "SYMMETRIC_DEFAULT":
                raise InvalidKeyUsageException(
                    f"{k.arn} key usage is {k.key_usage} which is not valid for {ctx.operation}."
                )
            plaintext = secrets.token_bytes(size)
            out: Out = {
                "CiphertextBlob": datakeys.seal_with(s, self.key, k, plaintext, context),
                "KeyId": k.arn,
            }
            if with_plaintext:
                out["Plaintext"] = plaintext
            return out

        return self._on_key(ctx, p["KeyId"], run, context=context)

    @operation("GenerateDataKey")
    def generate_data_key(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        return self._data_key(ctx, p, True)

    @operation("GenerateDataKeyWithoutPlaintext")
    def generate_data_key_without_plaintext(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        return self._data_key(ctx, p, False)

    @operation("GenerateRandom")
    def generate_random(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        count = p.get("NumberOfBytes")
        if count is None or not 1 <= count <= 1024:
            raise ValidationException("NumberOfBytes must be between 1 and 1024")
        return {"Plaintext": secrets.token_bytes(count)}

    @operation("Sign")
    def sign(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        def run(s: Session, k: KmsKey) -> Out:
            keys.check_usable(k)
            _signing(k)
            _, material = keys.material(s, self.key, k)
            signature = crypto.sign(
                material, k.key_spec, p["SigningAlgorithm"], p["Message"], p.get("MessageType", "RAW")
            )
            return {"KeyId": k.arn, "Signature": signature, "SigningAlgorithm": p["SigningAlgorithm"]}

        return self._on_key(ctx, p["KeyId"], run)

    @operation("Verify")
    def verify(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        def run(s: Session, k: KmsKey) -> Out:
            keys.check_usable(k)
            _signing(k)
            _, material = keys.material(s, self.key, k)
            crypto.verify(
                material,
                k.key_spec,
                p["SigningAlgorithm"],
                p["Message"],
                p.get("MessageType", "RAW"),
                p["Signature"],
            )
            return {"KeyId": k.arn, "SignatureValid": True, "SigningAlgorithm": p["SigningAlgorithm"]}

        return self._on_key(ctx, p["KeyId"], run)

    @operation("GetPublicKey")
    def get_public_key(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        def run(s: Session, k: KmsKey) -> Out:
            keys.check_usable(k)
            if k.key_spec == "SYMMETRIC_DEFAULT":
                raise UnsupportedOperationException(f"{k.arn} key usage is not supported for GetPublicKey.")
            _, material = keys.material(s, self.key, k)
            info = crypto.SPECS[k.key_spec]
            out: Out = {
                "KeyId": k.arn,
                "PublicKey": crypto.public_key_der(material),
                "CustomerMasterKeySpec": k.key_spec,
                "KeySpec": k.key_spec,
                "KeyUsage": k.key_usage,
            }
            if k.key_usage == "ENCRYPT_DECRYPT":
                out["EncryptionAlgorithms"] = list(info.encryption)
            else:
                out["SigningAlgorithms"] = list(info.signing)
            return out

        return self._on_key(ctx, p["KeyId"], run)

    # Rotation

    @operation("EnableKeyRotation")
    def enable_key_rotation(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        period = p.get("RotationPeriodInDays", keys.DEFAULT_ROTATION_DAYS)
        if not 90 <= period <= 2560:
            raise ValidationException(
                f"1 validation error detected: Value '{period}' at 'rotationPeriodInDays' failed to satisfy "
                "constraint: Member must have value between 90 and 2560"
            )

        def run(s: Session, k: KmsKey) -> Out:
            keys.check_usable(k)
            _rotatable(k)
            k.rotation_enabled = True
            k.rotation_period_days = period
            k.next_rotation = ctx.now + timedelta(days=period)
            return {}

        return self._on_key(ctx, p["KeyId"], run)

    @operation("DisableKeyRotation")
    def disable_key_rotation(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        def run(s: Session, k: KmsKey) -> Out:
            keys.check_usable(k)
            _rotatable(k)
            _customer_managed(k)
            k.rotation_enabled = False
            k.next_rotation = None
            return {}

        return self._on_key(ctx, p["KeyId"], run)

    @operation("GetKeyRotationStatus")
    def get_key_rotation_status(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        def run(s: Session, k: KmsKey) -> Out:
            _not_pending(k)
            out: Out = {"KeyRotationEnabled": k.rotation_enabled, "KeyId": k.arn}
            if k.rotation_enabled:
                out["RotationPeriodInDays"] = k.rotation_period_days
                out["NextRotationDate"] = k.next_rotation
            if k.on_demand_rotation_start is not None:
                out["OnDemandRotationStartDate"] = k.on_demand_rotation_start
            return out

        return self._on_key(ctx, p["KeyId"], run)

    @operation("RotateKeyOnDemand")
    def rotate_key_on_demand(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        def run(s: Session, k: KmsKey) -> Out:
            keys.check_usable(k)
            _rotatable(k)
            keys.add_material(s, self.key, k, "ON_DEMAND", ctx.now)
            k.on_demand_rotation_start = ctx.now
            return {"KeyId": k.id}

        return self._on_key(ctx, p["KeyId"], run)

    @operation("ListKeyRotations")
    def list_key_rotations(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        def run(s: Session, k: KmsKey) -> Out:
            _not_pending(k)
            _rotatable(k)
            rows = s.scalars(
                select(KmsKeyMaterial).where(
                    KmsKeyMaterial.key_id == k.id, KmsKeyMaterial.rotation_type.is_not(None)
                )
            ).all()
            chunk, more = _page(rows, lambda r: f"{r.version:010d}", p.get("Limit"), p.get("Marker"))
            rotations = [
                {
                    "KeyId": k.arn,
                    "KeyMaterialId": r.material_id,
                    "RotationDate": r.created,
                    "RotationType": r.rotation_type,
                }
                for r in chunk
            ]
            return {"Rotations": rotations, **more}

        return self._on_key(ctx, p["KeyId"], run)

    # Key policies

    @operation("GetKeyPolicy")
    def get_key_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        name = _policy_name(p)
        return self._on_key(ctx, p["KeyId"], lambda s, k: {"Policy": k.policy, "PolicyName": name})

    @operation("PutKeyPolicy")
    def put_key_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        _policy_name(p)

        def run(s: Session, k: KmsKey) -> Out:
            _customer_managed(k)
            k.policy = keys.validate_policy(p["Policy"])
            return {}

        return self._on_key(ctx, p["KeyId"], run)

    @operation("ListKeyPolicies")
    def list_key_policies(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        return self._on_key(ctx, p["KeyId"], lambda s, k: {"PolicyNames": ["default"], "Truncated": False})

    # Aliases

    @operation("CreateAlias")
    def create_alias(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        aliases.check_name(p["AliasName"])
        target = _target_key_ref(p["TargetKeyId"])

        def run(s: Session, k: KmsKey) -> Out:
            aliases.create_alias(s, k, p["AliasName"], ctx.now)
            return {}

        return self._on_key(ctx, target, run)

    @operation("UpdateAlias")
    def update_alias(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        aliases.check_name(p["AliasName"])
        target = _target_key_ref(p["TargetKeyId"])
        with self.db.read() as s:
            current = aliases.get_alias(s, ctx.account_id, ctx.region, p["AliasName"]).key_id
        self._on_key(ctx, current, lambda s, k: {})

        def run(s: Session, k: KmsKey) -> Out:
            old = s.get(KmsKey, current)
            if old is not None and (old.key_spec, old.key_usage) != (k.key_spec, k.key_usage):
                raise ValidationException(
                    "Alias can only be updated to a key of the same key spec and key usage."
                )
            alias = aliases.get_alias(s, ctx.account_id, ctx.region, p["AliasName"])
            aliases.update_alias(s, alias, k, ctx.now)
            return {}

        return self._on_key(ctx, target, run)

    @operation("DeleteAlias")
    def delete_alias(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        name = p["AliasName"]
        if name.startswith("alias/aws/"):
            raise ValidationException(f"Alias {name} is an AWS managed alias and cannot be deleted.")
        with self.db.read() as s:
            target = aliases.get_alias(s, ctx.account_id, ctx.region, name).key_id

        def run(s: Session, k: KmsKey) -> Out:
            aliases.delete_alias(s, aliases.get_alias(s, ctx.account_id, ctx.region, name))
            return {}

        return self._on_key(ctx, target, run)

    @operation("ListAliases")
    def list_aliases(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            key_id = None
            if p.get("KeyId"):
                key_id = keys.find_key(s, ctx.account_id, ctx.region, p["KeyId"], ctx.now).id
            rows = aliases.list_aliases(s, ctx.account_id, ctx.region, key_id)
            chunk, more = _page(rows, lambda a: a.name, p.get("Limit"), p.get("Marker"))
            return {"Aliases": [aliases.alias_view(a) for a in chunk], **more}

    # Grants

    @operation("CreateGrant")
    def create_grant(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        def run(s: Session, k: KmsKey) -> Out:
            _not_pending(k)
            grant = grants.create_grant(s, ctx, k, p)
            return {"GrantToken": grant.token, "GrantId": grant.id}

        return self._on_key(ctx, p["KeyId"], run)

    @operation("ListGrants")
    def list_grants(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        def run(s: Session, k: KmsKey) -> Out:
            rows = grants.list_grants(s, k, p.get("GrantId"), p.get("GranteePrincipal"))
            chunk, more = _page(rows, lambda g: g.id, p.get("Limit"), p.get("Marker"))
            return {"Grants": [grants.grant_view(g) for g in chunk], **more}

        return self._on_key(ctx, p["KeyId"], run)

    @operation("RevokeGrant")
    def revoke_grant(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        def run(s: Session, k: KmsKey) -> Out:
            s.delete(grants.get_grant(s, k, p["GrantId"]))
            return {}

        return self._on_key(ctx, p["KeyId"], run)

    @operation("RetireGrant")
    def retire_grant(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        """The retiring principal, or a grantee granted RetireGrant, may retire without a key policy."""
        with self.db.session() as s:
            if p.get("GrantToken"):
                grant = grants.find_by_token(s, p["GrantToken"])
                key = s.get(KmsKey, grant.key_id)
            else:
                if not (p.get("KeyId") and p.get("GrantId")):
                    raise ValidationException("Specify either GrantToken or both KeyId and GrantId.")
                key = keys.find_key(s, ctx.account_id, ctx.region, p["KeyId"], ctx.now)
                grant = grants.get_grant(s, key, p["GrantId"])
            assert key is not None
            names = access.grantee_names(ctx)
            retiring = grant.retiring_principal in names
            grantee = grant.grantee_principal in names and "RetireGrant" in grant.operations
            if not (retiring or grantee):
                try:
                    access.check(s, ctx, key, "kms:RetireGrant")
                except KmsAccessDenied as exc:
                    self._audit(ctx, key.arn, exc)
                    raise
            arn = key.arn
            s.delete(grant)
        self._audit(ctx, arn, None)
        return {}

    @operation("ListRetirableGrants")
    def list_retirable_grants(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        retiring = p.get("RetiringPrincipal") or p.get("RetiringServicePrincipal")
        if not retiring:
            raise ValidationException("RetiringPrincipal is required")
        with self.db.read() as s:
            rows = grants.retirable_grants(s, retiring)
            chunk, more = _page(rows, lambda g: g.id, p.get("Limit"), p.get("Marker"))
            return {"Grants": [grants.grant_view(g) for g in chunk], **more}

    # Tags

    @operation("TagResource")
    def tag_resource(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        def run(s: Session, k: KmsKey) -> Out:
            _not_pending(k)
            new = {t["TagKey"]: t["TagValue"] for t in p["Tags"]}
            for name in new:
                if name.lower().startswith("aws:"):
                    raise TagException("Tags beginning with aws: are reserved")
            merged = {t["TagKey"]: t["TagValue"] for t in k.tags} | new
            k.tags = [{"TagKey": key, "TagValue": value} for key, value in merged.items()]
            return {}

        return self._on_key(ctx, p["KeyId"], run)

    @operation("UntagResource")
    def untag_resource(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        def run(s: Session, k: KmsKey) -> Out:
            _not_pending(k)
            drop = set(p["TagKeys"])
            k.tags = [t for t in k.tags if t["TagKey"] not in drop]
            return {}

        return self._on_key(ctx, p["KeyId"], run)

    @operation("ListResourceTags")
    def list_resource_tags(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        def run(s: Session, k: KmsKey) -> Out:
            chunk, more = _page(list(k.tags), lambda t: t["TagKey"], p.get("Limit"), p.get("Marker"))
            return {"Tags": chunk, **more}

        return self._on_key(ctx, p["KeyId"], run)


def _not_pending(key: KmsKey) -> None:
    if key.state == "PendingDeletion":
        raise KMSInvalidStateException(f"{key.arn} is pending deletion.")


def _customer_managed(key: KmsKey) -> None:
    if key.key_manager != "CUSTOMER":
        raise UnsupportedOperationException(
            f"{key.arn} is an AWS managed key; this operation is not permitted."
        )


def _rotatable(key: KmsKey) -> None:
    if key.key_spec != "SYMMETRIC_DEFAULT":
        raise UnsupportedOperationException(f"{key.arn} key usage or key spec does not support key rotation.")


def _signing(key: KmsKey) -> None:
    if key.key_usage != "SIGN_VERIFY":
        raise InvalidKeyUsageException(
            f"{key.arn} key usage is {key.key_usage} which is not valid for signing."
        )


def _encryption_algorithm(key: KmsKey, algorithm: str) -> None:
    if key.key_usage != "ENCRYPT_DECRYPT":
        raise InvalidKeyUsageException(
            f"{key.arn} key usage is {key.key_usage} which is not valid for encryption."
        )
    if algorithm not in crypto.SPECS[key.key_spec].encryption:
        raise InvalidKeyUsageException(f"Algorithm {algorithm} is incompatible with key spec {key.key_spec}.")


def _policy_name(p: dict[str, Any]) -> str:
    name = p.get("PolicyName", "default")
    if name != "default":
        raise ValidationException("PolicyName must be 'default'")
    return str(name)


def _target_key_ref(ref: str) -> str:
    if ref.startswith("alias/") or (ref.startswith("arn:") and ":alias/" in ref):
        raise ValidationException("Aliases must refer to keys. Not aliases")
    return ref
