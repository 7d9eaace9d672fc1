"""S3 state: buckets, objects (metadata; their data lives in the blob store), multipart uploads."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cove.db.base import Base, utcnow

__all__ = ["S3Bucket", "S3Object", "S3Part", "S3Upload"]


class S3Bucket(Base):
    """Bucket names are global, as in AWS. ``encryption`` is the default-encryption rule
    (``{"SSEAlgorithm", "KMSMasterKeyID", "BucketKeyEnabled"}``) or None for S3's own default."""

    __tablename__ = "s3_buckets"
    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    region: Mapped[str] = mapped_column(String(32))
    encryption: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    tags: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, default=None)
    policy: Mapped[str | None] = mapped_column(Text, default=None)
    created: Mapped[datetime] = mapped_column(default=utcnow)


class S3Object(Base):
    """One object's metadata. ``blobs`` lists the BlobInfo dicts whose concatenation is the data
    (one for a simple upload, one per part for a completed multipart upload)."""

    __tablename__ = "s3_objects"
    bucket: Mapped[str] = mapped_column(ForeignKey("s3_buckets.name"), primary_key=True)
    key: Mapped[str] = mapped_column(String(1024), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    etag: Mapped[str] = mapped_column(String(64))
    last_modified: Mapped[datetime] = mapped_column(default=utcnow)
    # Content-Type and the other stored response headers, by their boto3 names.
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    user_metadata: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # {"ChecksumCRC32": "base64", ...} as the client sent (or S3 computed) them.
    checksums: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    sse: Mapped[str] = mapped_column(String(16))
    kms_key_arn: Mapped[str | None] = mapped_column(String(2048), default=None)
    bucket_key_enabled: Mapped[bool] = mapped_column(default=False)
    parts_count: Mapped[int | None] = mapped_column(Integer, default=None)
    blobs: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class S3Upload(Base):
    """An open multipart upload and what CreateMultipartUpload fixed for the final object."""

    __tablename__ = "s3_uploads"
    upload_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    bucket: Mapped[str] = mapped_column(ForeignKey("s3_buckets.name"), index=True)
    key: Mapped[str] = mapped_column(String(1024))
    initiator_arn: Mapped[str] = mapped_column(String(2048))
    owner_account: Mapped[str] = mapped_column(String(12))
    headers: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    user_metadata: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    tags: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    sse: Mapped[str] = mapped_column(String(16))
    kms_key_id: Mapped[str | None] = mapped_column(String(2048), default=None)
    bucket_key_enabled: Mapped[bool] = mapped_column(default=False)
    checksum_algorithm: Mapped[str | None] = mapped_column(String(16), default=None)
    initiated: Mapped[datetime] = mapped_column(default=utcnow)


class S3Part(Base):
    __tablename__ = "s3_parts"
    upload_id: Mapped[str] = mapped_column(
        ForeignKey("s3_uploads.upload_id", ondelete="CASCADE"), primary_key=True
    )
    part_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    etag: Mapped[str] = mapped_column(String(64))
    checksums: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    last_modified: Mapped[datetime] = mapped_column(default=utcnow)
    blob: Mapped[dict[str, Any]] = mapped_column(JSON)
