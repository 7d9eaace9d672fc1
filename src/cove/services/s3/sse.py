"""Server-side encryption: which encryption an object gets, and the SSE-KMS key source over KMS.

S3 calls KMS on its caller's behalf, so KMS authorizes the caller (key policy, grants, IAM) with
``kms:ViaService`` set; KMS's errors reach the S3 client as S3 reports them: ``KMS.<Code>`` with
status 400 (``KMS.DisabledException``, ``KMS.NotFoundException``…), and AccessDenied (403) when the
caller may not use the key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from cove.aws.context import RequestContext
from cove.aws.errors import AccessDenied, ServiceError
from cove.db import Database
from cove.keyring import RootKey
from cove.services.kms import datakeys
from cove.services.s3.errors import InvalidArgument
from cove.storage import Encryption

__all__ = ["DEFAULT_RULE", "KmsKeySource", "ObjectEncryption", "kms_errors", "object_encryption", "s3_error"]

T = TypeVar("T")

DEFAULT_RULE: dict[str, Any] = {"SSEAlgorithm": "AES256", "BucketKeyEnabled": False}
AWS_S3_KEY = "alias/aws/s3"


def s3_error(exc: ServiceError) -> ServiceError:
    """A KMS error as S3 sends it."""
    if exc.code in ("AccessDeniedException", "AccessDenied"):
        return AccessDenied(exc.message)
    if exc.code.startswith("KMS."):
        return exc
    return ServiceError(exc.message, code=f"KMS.{exc.code}", status=400)


@contextmanager
def kms_errors() -> Iterator[None]:
    try:
        yield
    except ServiceError as exc:
        if type(exc).__module__.startswith("cove.services.kms"):
            raise s3_error(exc) from None
        raise


@dataclass(frozen=True, slots=True)
class ObjectEncryption:
    """What S3 records and returns for an object: ``x-amz-server-side-encryption`` and friends."""

    mode: str
    kms_key_id: str | None = None
    bucket_key_enabled: bool = False

    def encryption(self, bucket: str, key: str) -> Encryption:
        if self.mode == "AES256":
            return Encryption("AES256")
        # With an S3 Bucket Key, KMS sees the bucket's ARN rather than each object's.
        arn = f"arn:aws:s3:::{bucket}" if self.bucket_key_enabled else f"arn:aws:s3:::{bucket}/{key}"
        return Encryption("aws:kms", self.kms_key_id or AWS_S3_KEY, {"aws:s3:arn": arn})


def object_encryption(params: dict[str, Any], bucket_rule: dict[str, Any] | None) -> ObjectEncryption:
    """The encryption the request asks for, else the bucket's default (SSE-S3 when none is set)."""
    requested = params.get("ServerSideEncryption")
    key_id = params.get("SSEKMSKeyId")
    if requested is None:
        if key_id:
            raise InvalidArgument(
                "Server Side Encryption with KMS managed key requires HTTP header "
                "x-amz-server-side-encryption : aws:kms",
                extra={"ArgumentName": "x-amz-server-side-encryption-aws-kms-key-id"},
            )
        rule = bucket_rule or DEFAULT_RULE
        requested = rule.get("SSEAlgorithm", "AES256")
        key_id = rule.get("KMSMasterKeyID")
        bucket_key = bool(rule.get("BucketKeyEnabled", False))
    else:
        bucket_key = bool(params.get("BucketKeyEnabled", (bucket_rule or {}).get("BucketKeyEnabled", False)))
        if requested != "aws:kms" and key_id:
            raise InvalidArgument(
                "Server Side Encryption with KMS managed key requires HTTP header "
                "x-amz-server-side-encryption : aws:kms",
                extra={"ArgumentName": "x-amz-server-side-encryption"},
            )
    if requested == "aws:kms:dsse":
        requested = "aws:kms"
    if requested not in ("AES256", "aws:kms"):
        raise InvalidArgument(
            "The encryption method specified is not supported",
            extra={"ArgumentName": "x-amz-server-side-encryption", "ArgumentValue": str(requested)},
        )
    if requested == "AES256":
        return ObjectEncryption("AES256")
    return ObjectEncryption("aws:kms", key_id or None, bucket_key)


class KmsKeySource:
    """SSE-KMS data keys from KMS, for one caller (KMS authorizes them, not S3)."""

    def __init__(self, db: Database, root: RootKey, caller: RequestContext) -> None:
        self._db = db
        self._root = root
        self._caller = caller

    def _call(self, fn: Callable[[], T]) -> T:
        with kms_errors():
            return fn()

    def new_data_key(self, encryption: Encryption) -> tuple[bytes, bytes, str | None]:
        def make() -> tuple[bytes, bytes, str | None]:
            with self._db.session() as session:
                plaintext, blob, arn = datakeys.generate_data_key(
                    session,
                    self._root,
                    caller=self._caller,
                    key_id=encryption.kms_key_id or AWS_S3_KEY,
                    context=dict(encryption.context),
                )
            return plaintext, blob, arn

        return self._call(make)

    def unwrap(self, wrapped: bytes, encryption: Encryption) -> bytes:
        def open_() -> bytes:
            with self._db.read() as session:
                plaintext, _ = datakeys.decrypt(
                    session,
                    self._root,
                    caller=self._caller,
                    ciphertext=wrapped,
                    context=dict(encryption.context),
                )
            return plaintext

        return self._call(open_)
