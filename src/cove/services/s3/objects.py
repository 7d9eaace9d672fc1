"""Object metadata rows: recording a written object, lookup, deletion and the response headers."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select
from sqlalchemy.orm import Session

from cove.services.s3.errors import NoSuchKey
from cove.services.s3.tables import S3Object, S3Part
from cove.storage import BlobInfo

__all__ = [
    "STORED_HEADERS",
    "StoredObject",
    "blob_ids",
    "delete_object",
    "find_object",
    "get_object",
    "live_blob_ids",
    "lookup_object",
    "object_headers",
    "record_object",
    "replace_object",
    "sse_view",
    "stored_headers",
]

# Request members S3 stores with the object and returns on GET/HEAD.
STORED_HEADERS = ("ContentType", "ContentEncoding", "ContentDisposition", "ContentLanguage", "CacheControl")
DEFAULT_CONTENT_TYPE = "binary/octet-stream"


def stored_headers(params: dict[str, Any]) -> dict[str, str]:
    headers = {name: str(params[name]) for name in STORED_HEADERS if params.get(name)}
    encoding = headers.get("ContentEncoding")
    if encoding is not None:
        # aws-chunked describes the upload's framing, not the object.
        kept = [e.strip() for e in encoding.split(",") if e.strip().lower() != "aws-chunked"]
        if kept:
            headers["ContentEncoding"] = ",".join(kept)
        else:
            del headers["ContentEncoding"]
    expires = params.get("Expires")
    if isinstance(expires, datetime):
        headers["Expires"] = expires.isoformat()
    headers.setdefault("ContentType", DEFAULT_CONTENT_TYPE)
    return headers


@dataclass(frozen=True, slots=True)
class StoredObject:
    """An object row as reads see it (GetObject, HeadObject, a copy's source): one Core query,
    no ORM instance. The fields are S3Object's columns."""

    bucket: str
    key: str
    size: int
    etag: str
    last_modified: datetime
    headers: dict[str, str]
    user_metadata: dict[str, str]
    tags: list[dict[str, str]]
    checksums: dict[str, str]
    sse: str
    kms_key_arn: str | None
    bucket_key_enabled: bool
    parts_count: int | None
    blobs: list[dict[str, Any]]


_T = S3Object.__table__
_COLUMNS = [_T.c[f.name] for f in fields(StoredObject)]
_FIND = select(*_COLUMNS).where(_T.c.bucket == bindparam("b"), _T.c.key == bindparam("k"))
_REMOVE = (
    delete(S3Object).where(_T.c.bucket == bindparam("b"), _T.c.key == bindparam("k")).returning(_T.c.blobs)
)
_ADD = insert(S3Object)


def lookup_object(conn: Connection, bucket: str, key: str) -> StoredObject | None:
    row = conn.execute(_FIND, {"b": bucket, "k": key}).first()
    return None if row is None else StoredObject(*row)


def find_object(conn: Connection, bucket: str, key: str) -> StoredObject:
    row = lookup_object(conn, bucket, key)
    if row is None:
        raise NoSuchKey(key)
    return row


def replace_object(conn: Connection, values: dict[str, Any]) -> list[str]:
    """Insert or replace an object (``values`` holds every S3Object column) with two Core
    statements; returns the replaced object's blob ids (delete them after commit). Deleting first
    takes the write lock before anything is read, so a concurrent commit cannot make it stale."""
    replaced = [
        str(b["blob_id"])
        for (blobs,) in conn.execute(_REMOVE, {"b": values["bucket"], "k": values["key"]})
        for b in blobs
    ]
    conn.execute(_ADD, values)
    return replaced


def blob_ids(row: S3Object | None) -> list[str]:
    return [] if row is None else [str(b["blob_id"]) for b in row.blobs]


def get_object(session: Session, bucket: str, key: str) -> S3Object:
    row = session.get(S3Object, (bucket, key))
    if row is None:
        raise NoSuchKey(key)
    return row


def record_object(session: Session, row: S3Object) -> list[str]:
    """Insert or replace the object; returns the replaced object's blob ids (delete them after commit)."""
    old = session.get(S3Object, (row.bucket, row.key))
    replaced = blob_ids(old)
    if old is not None:
        session.delete(old)
        session.flush()
    session.add(row)
    return replaced


def delete_object(session: Session, bucket: str, key: str) -> list[str]:
    old = session.get(S3Object, (bucket, key))
    if old is None:
        return []
    session.delete(old)
    return blob_ids(old)


def sse_view(sse: str, kms_key_arn: str | None, bucket_key: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"ServerSideEncryption": sse}
    if sse == "aws:kms":
        out["SSEKMSKeyId"] = kms_key_arn
        if bucket_key:
            out["BucketKeyEnabled"] = True
    return out


def object_headers(row: StoredObject) -> dict[str, Any]:
    """GetObject/HeadObject members describing the whole object (not the range sent)."""
    out: dict[str, Any] = {
        "ETag": row.etag,
        "LastModified": row.last_modified,
        "AcceptRanges": "bytes",
        **sse_view(row.sse, row.kms_key_arn, row.bucket_key_enabled),
    }
    for name, value in row.headers.items():
        out[name] = datetime.fromisoformat(value) if name == "Expires" else value
    if row.user_metadata:
        out["Metadata"] = dict(row.user_metadata)
    if row.tags:
        out["TagCount"] = len(row.tags)
    if row.parts_count:
        out["PartsCount"] = row.parts_count
    return out


def infos(blobs: list[dict[str, Any]]) -> list[BlobInfo]:
    return [BlobInfo.from_dict(b) for b in blobs]


def live_blob_ids(session: Session) -> set[str]:
    """Every blob a committed object or an uploaded part refers to (the sweep's liveness check)."""
    live: set[str] = set()
    for blobs in session.scalars(select(S3Object.blobs)):
        live.update(str(b["blob_id"]) for b in blobs)
    for blob in session.scalars(select(S3Part.blob)):
        live.add(str(blob["blob_id"]))
    return live
