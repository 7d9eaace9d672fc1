"""Bucket service functions: naming rules, creation, lookup, listing, default encryption, tags."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, select
from sqlalchemy.orm import Session

from cove.aws.errors import AccessDenied
from cove.services.s3.errors import (
    BucketAlreadyExists,
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    IllegalLocationConstraint,
    InvalidArgument,
    InvalidBucketName,
    InvalidLocationConstraint,
    MalformedXML,
    NoSuchBucket,
)
from cove.services.s3.tables import S3Bucket, S3Object, S3Part, S3Upload

__all__ = [
    "BucketView",
    "bucket_view",
    "canonical_id",
    "check_bucket_name",
    "check_expected_owner",
    "create_bucket",
    "delete_bucket",
    "encryption_rule",
    "get_bucket",
    "list_buckets",
    "owner_view",
    "validate_encryption",
    "validate_tags",
]

_NAME = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def canonical_id(account_id: str) -> str:
    """S3's canonical user id of an account (64 hex digits, stable)."""
    return hashlib.sha256(f"cove-canonical/{account_id}".encode()).hexdigest()


def owner_view(account_id: str) -> dict[str, str]:
    return {"ID": canonical_id(account_id)}


def check_bucket_name(name: str) -> None:
    """AWS's general purpose bucket naming rules."""
    ok = bool(_NAME.match(name)) and ".." not in name and ".-" not in name and "-." not in name
    if ok:
        try:
            ipaddress.IPv4Address(name)
            ok = False
        except ValueError:
            pass
    if ok and (name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES)):
        ok = False
    if not ok:
        raise InvalidBucketName("The specified bucket is not valid.", extra={"BucketName": name})


def get_bucket(session: Session, name: str) -> S3Bucket:
    bucket = session.get(S3Bucket, name)
    if bucket is None:
        raise NoSuchBucket(name)
    return bucket


@dataclass(frozen=True, slots=True)
class BucketView:
    """What a request that does not change the bucket needs of it, read with one Core query:
    object reads and writes pay for no ORM identity map (a third of a small PUT's database time)."""

    name: str
    account_id: str
    region: str
    encryption: dict[str, Any] | None
    policy: str | None


_T = S3Bucket.__table__.c
_VIEW = select(_T.name, _T.account_id, _T.region, _T.encryption, _T.policy).where(
    _T.name == bindparam("name")
)


def bucket_view(conn: Connection, name: str) -> BucketView:
    """The bucket as it is now (NoSuchBucket if there is none); never cached, so a policy or
    encryption change made by any process applies to the next request."""
    row = conn.execute(_VIEW, {"name": name}).first()
    if row is None:
        raise NoSuchBucket(name)
    return BucketView(row.name, row.account_id, row.region, row.encryption, row.policy)


def check_expected_owner(bucket: S3Bucket | BucketView, params: dict[str, Any]) -> None:
    expected = params.get("ExpectedBucketOwner")
    if expected is not None and expected != bucket.account_id:
        raise AccessDenied("Access Denied")


def create_bucket(
    session: Session, account_id: str, region: str, name: str, params: dict[str, Any], now: datetime
) -> S3Bucket | None:
    """The new bucket; None when the caller already owns it in us-east-1 (S3's legacy 200 there)."""
    check_bucket_name(name)
    constraint = (params.get("CreateBucketConfiguration") or {}).get("LocationConstraint")
    if region == "us-east-1":
        if constraint not in (None, ""):
            raise InvalidLocationConstraint(
                "The specified location-constraint is not valid", extra={"LocationConstraint": constraint}
            )
    elif constraint in (None, ""):
        raise IllegalLocationConstraint(
            "The unspecified location constraint is incompatible for the region specific endpoint this "
            "request was sent to."
        )
    elif constraint != region:
        raise IllegalLocationConstraint(
            f"The {constraint} location constraint is incompatible for the region specific endpoint this "
            "request was sent to."
        )
    existing = session.get(S3Bucket, name)
    if existing is not None:
        if existing.account_id != account_id:
            raise BucketAlreadyExists(
                "The requested bucket name is not available. The bucket namespace is shared by all users "
                "of the system. Please select a different name and try again.",
                extra={"BucketName": name},
            )
        if region == "us-east-1" and existing.region == "us-east-1":
            return None
        raise BucketAlreadyOwnedByYou(
            "Your previous request to create the named bucket succeeded and you already own it.",
            extra={"BucketName": name},
        )
    bucket = S3Bucket(name=name, account_id=account_id, region=region, created=now.replace(microsecond=0))
    session.add(bucket)
    return bucket


def list_buckets(session: Session, account_id: str, params: dict[str, Any]) -> dict[str, Any]:
    query = select(S3Bucket).where(S3Bucket.account_id == account_id).order_by(S3Bucket.name)
    prefix = params.get("Prefix")
    if prefix:
        query = query.where(S3Bucket.name >= prefix)
    if params.get("BucketRegion"):
        query = query.where(S3Bucket.region == params["BucketRegion"])
    token = params.get("ContinuationToken")
    if token:
        query = query.where(S3Bucket.name > token)
    rows = [b for b in session.scalars(query) if not prefix or b.name.startswith(prefix)]
    limit = params.get("MaxBuckets")
    out: dict[str, Any] = {"Owner": owner_view(account_id)}
    if limit is not None and len(rows) > limit:
        rows = rows[:limit]
        out["ContinuationToken"] = rows[-1].name
    out["Buckets"] = [{"Name": b.name, "CreationDate": b.created, "BucketRegion": b.region} for b in rows]
    if prefix is not None:
        out["Prefix"] = prefix
    return out


def delete_bucket(session: Session, bucket: S3Bucket) -> list[str]:
    """Delete an empty bucket; returns the blob ids of abandoned multipart parts to remove after commit."""
    if session.scalar(select(S3Object.key).where(S3Object.bucket == bucket.name).limit(1)) is not None:
        raise BucketNotEmpty("The bucket you tried to delete is not empty", extra={"BucketName": bucket.name})
    uploads = list(session.scalars(select(S3Upload.upload_id).where(S3Upload.bucket == bucket.name)))
    blobs: list[str] = []
    if uploads:
        for part in session.scalars(select(S3Part).where(S3Part.upload_id.in_(uploads))):
            blobs.append(str(part.blob["blob_id"]))
        session.execute(delete(S3Part).where(S3Part.upload_id.in_(uploads)))
        session.execute(delete(S3Upload).where(S3Upload.upload_id.in_(uploads)))
    session.delete(bucket)
    return blobs


def validate_encryption(config: dict[str, Any]) -> dict[str, Any]:
    """The stored default-encryption rule of a PutBucketEncryption document."""
    rules = config.get("Rules") or []
    if len(rules) != 1:
        raise MalformedXML(
            "The XML you provided was not well-formed or did not validate against our published schema"
        )
    rule = rules[0]
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    algorithm = default.get("SSEAlgorithm")
    if algorithm not in ("AES256", "aws:kms", "aws:kms:dsse"):
        raise MalformedXML(
            "The XML you provided was not well-formed or did not validate against our published schema"
        )
    key_id = default.get("KMSMasterKeyID")
    if key_id and algorithm == "AES256":
        raise InvalidArgument(
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
            extra={"ArgumentName": "ApplyServerSideEncryptionByDefault"},
        )
    stored: dict[str, Any] = {
        "SSEAlgorithm": algorithm,
        "BucketKeyEnabled": bool(rule.get("BucketKeyEnabled", False)),
    }
    if key_id:
        stored["KMSMasterKeyID"] = key_id
    return stored


def encryption_rule(bucket: S3Bucket) -> dict[str, Any]:
    """GetBucketEncryption's rule: the stored one, else S3's default SSE-S3."""
    stored = bucket.encryption or {"SSEAlgorithm": "AES256", "BucketKeyEnabled": False}
    default: dict[str, Any] = {"SSEAlgorithm": stored["SSEAlgorithm"]}
    if stored.get("KMSMasterKeyID"):
        default["KMSMasterKeyID"] = stored["KMSMasterKeyID"]
    return {
        "ApplyServerSideEncryptionByDefault": default,
        "BucketKeyEnabled": bool(stored.get("BucketKeyEnabled")),
    }


def validate_tags(tags: list[dict[str, str]], *, limit: int) -> list[dict[str, str]]:
    seen: set[str] = set()
    for tag in tags:
        key = tag.get("Key", "")
        if key in seen:
            raise InvalidArgument("Cannot provide multiple Tags with the same key", code="InvalidTag")
        seen.add(key)
        if not key or len(key) > 128 or len(tag.get("Value", "")) > 256:
            raise InvalidArgument("The TagKey you have provided is invalid", code="InvalidTag")
        if key.startswith("aws:"):
            raise InvalidArgument("Your TagKey cannot be prefixed with aws:", code="InvalidTag")
    if len(tags) > limit:
        raise InvalidArgument("Object tags cannot be greater than 10", code="BadRequest")
    return [{"Key": t["Key"], "Value": t.get("Value", "")} for t in tags]
