"""S3 operations: buckets, objects (streamed through the encrypted blob store) and multipart uploads.

Every write puts its data in a new blob (temp file, fsync, rename) before the metadata transaction
commits, and deletes replaced blobs only after it has: a crash in between leaves at worst an orphan
blob, which the start-up sweep removes. Every handler authorizes through ``access.authorize``.
"""

from __future__ import annotations

import base64
import binascii
import io
import itertools
import logging
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from cove.aws.context import RequestContext
from cove.aws.errors import InternalFailure, ServiceError
from cove.aws.http import Readable
from cove.aws.provider import Provider, operation
from cove.db import Database
from cove.keyring import RootKey
from cove.services.cloudtrail import events
from cove.services.iam.authorizer import IamAuthorizer
from cove.services.s3 import access, buckets, checksums, listing, objects, policies
from cove.services.s3.chunked import ChunkedReader, is_aws_chunked
from cove.services.s3.commits import Committer, delete_blobs
from cove.services.s3.conditions import NOT_MODIFIED, ByteRange, check_preconditions, parse_range
from cove.services.s3.errors import (
    BadDigest,
    EntityTooSmall,
    InvalidArgument,
    InvalidDigest,
    InvalidPart,
    InvalidPartOrder,
    InvalidRequest,
    MalformedXML,
    NoSuchKey,
    NoSuchTagSet,
    NoSuchUpload,
    PreconditionFailed,
)
from cove.services.s3.sse import KmsKeySource, ObjectEncryption, kms_errors, object_encryption
from cove.services.s3.tables import S3Bucket, S3Object, S3Part, S3Upload
from cove.storage import (
    BlobCorrupted,
    BlobInfo,
    BlobNotFound,
    BlobStore,
    DigestMismatch,
    KeySourceByMode,
    SseS3KeySource,
    StagedBlob,
    multipart_etag,
)
from cove.storage import InvalidRange as BlobInvalidRange

__all__ = ["MIN_PART_SIZE", "S3Provider"]

log = logging.getLogger("cove.s3")

Out = dict[str, Any]
T = TypeVar("T")
MIN_PART_SIZE = 5 * 1024 * 1024
_READ_SIZE = 1 << 20
_MAX_PARTS = 10000


def _now(ctx: RequestContext) -> datetime:
    # S3 keeps second precision: what LastModified says is what If-Modified-Since compares. Rounded
    # up, so an object is never older than the local file it was uploaded from (`aws s3 sync`
    # would upload a file again whose mtime falls later in the same second).
    if ctx.now.microsecond:
        return ctx.now.replace(microsecond=0) + timedelta(seconds=1)
    return ctx.now


def _sse_keys(enc: ObjectEncryption, params: dict[str, Any]) -> dict[str, str | list[str]]:
    keys: dict[str, str | list[str]] = {}
    if params.get("ServerSideEncryption"):
        keys["s3:x-amz-server-side-encryption"] = str(params["ServerSideEncryption"])
    if params.get("SSEKMSKeyId"):
        keys["s3:x-amz-server-side-encryption-aws-kms-key-id"] = str(params["SSEKMSKeyId"])
    return keys


def _md5_hex(params: dict[str, Any]) -> str | None:
    claimed = params.get("ContentMD5")
    if not claimed:
        return None
    try:
        digest = base64.b64decode(str(claimed).strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidDigest("The Content-MD5 you specified was invalid.") from None
    if len(digest) != 16:
        raise InvalidDigest("The Content-MD5 you specified was invalid.")
    return digest.hex()


def _parse_tagging(header: str | None) -> list[dict[str, str]]:
    if not header:
        return []
    pairs = parse_qsl(header, keep_blank_values=True)
    return buckets.validate_tags([{"Key": k, "Value": v} for k, v in pairs], limit=10)


def _copy_source(value: str) -> tuple[str, str]:
    source = unquote(value.split("?", 1)[0]).lstrip("/")
    bucket, sep, key = source.partition("/")
    if not sep or not bucket or not key:
        raise InvalidArgument(
            "Invalid copy source object key",
            extra={"ArgumentName": "x-amz-copy-source", "ArgumentValue": value},
        )
    return bucket, key


class _Body:
    """The request payload as chunks: bytes, a stream, or either in aws-chunked framing."""

    def __init__(self, body: Any, content_encoding: str | None) -> None:
        self.chunked: ChunkedReader | None = None
        self._bytes: bytes | None = None
        self._reader: Readable | None = None
        self.in_memory = self.held(body)
        if body is None:
            self._bytes = b""
        elif isinstance(body, bytes | bytearray):
            self._bytes = bytes(body)
        else:
            self._reader = body
        if is_aws_chunked(content_encoding):
            self.chunked = ChunkedReader(self._reader or io.BytesIO(self._bytes or b""))
            self._reader, self._bytes = self.chunked, None

    @staticmethod
    def held(body: Any) -> bool:
        """Whether the edge read the whole payload (at most 1 MiB) before the handler ran: then the
        handler runs on the event loop, and must not wait there."""
        return body is None or isinstance(body, bytes | bytearray)

    def chunks(self) -> Iterator[bytes]:
        if self._bytes is not None:
            yield self._bytes
            return
        assert self._reader is not None
        while True:
            chunk = self._reader.read(_READ_SIZE)
            if not chunk:
                return
            yield chunk

    def trailer_checksums(self) -> dict[str, str]:
        if self.chunked is None:
            return {}
        out: dict[str, str] = {}
        for name, value in self.chunked.trailers.items():
            if name.startswith("x-amz-checksum-"):
                out[name.removeprefix("x-amz-checksum-").upper()] = value
        return out


class S3Provider(Provider):
    service = "s3"
    # The bucket policy and owner take part in every decision: access.authorize decides.
    self_authorized = frozenset(access.ACTIONS)
    # Decrypting may call KMS and read the disk: keep it off the event loop.
    blocking = frozenset({"GetObject"})
    # PutObject stages its blob where it runs and leaves syncs and commit to the group committer.
    deferring = frozenset({"PutObject"})

    def __init__(
        self,
        db: Database,
        key: RootKey,
        authorizer: IamAuthorizer,
        blob_root: Path,
        *,
        sweep_older_than_s: float = 3600.0,
    ) -> None:
        self.db = db
        self.key = key
        self.authorizer = authorizer
        self.blob_root = blob_root
        self._sse_s3 = SseS3KeySource(key, blob_root / "sse-s3-master.key")
        self.blobs = BlobStore(blob_root, KeySourceByMode(self._sse_s3))
        self.committer = Committer(db, self.blobs)
        # SSE-KMS PutObjects: KMS makes each data key in a write transaction, never on the event loop.
        self._kms_writers = ThreadPoolExecutor(max_workers=8, thread_name_prefix="cove-s3-kms")
        self.min_part_size = MIN_PART_SIZE
        self.sweep(sweep_older_than_s)

    # -- plumbing ----------------------------------------------------------------------------------

    def sweep(self, older_than_s: float) -> list[str]:
        """Remove orphan blobs (written, never committed) older than ``older_than_s``."""
        with self.db.read() as s:
            live = objects.live_blob_ids(s)
        removed = self.blobs.sweep(lambda blob_id: blob_id in live, older_than_s)
        if removed:
            log.info("swept orphan blobs", extra={"count": len(removed)})
        return removed

    def store(self, ctx: RequestContext) -> BlobStore:
        """A store whose SSE-KMS keys come from KMS on behalf of this caller."""
        return self.blobs.with_keys(KeySourceByMode(self._sse_s3, KmsKeySource(self.db, self.key, ctx)))

    def _authorize(
        self,
        s: Session | Connection,
        ctx: RequestContext,
        bucket: S3Bucket | buckets.BucketView | None,
        name: str | None,
        key: str | None = None,
        *,
        operation: str | None = None,
        extra: dict[str, str | list[str]] | None = None,
    ) -> None:
        access.authorize(
            s,
            self.authorizer,
            ctx,
            action=access.action_for(operation or ctx.operation),
            bucket=name,
            key=key,
            bucket_owner=bucket.account_id if bucket is not None else None,
            bucket_policy=bucket.policy if bucket is not None else None,
            extra_keys=extra,
        )

    def _bucket(
        self, s: Session, ctx: RequestContext, p: dict[str, Any], key: str | None = None, **kw: Any
    ) -> S3Bucket:
        bucket = buckets.get_bucket(s, p["Bucket"])
        buckets.check_expected_owner(bucket, p)
        self._authorize(s, ctx, bucket, bucket.name, key, **kw)
        return bucket

    def _bucket_view(
        self, conn: Connection, ctx: RequestContext, p: dict[str, Any], key: str | None = None, **kw: Any
    ) -> buckets.BucketView:
        """``_bucket`` for requests that leave the bucket as it is: Core queries on a plain
        connection, no ORM session (half the cost of a small GET's database reads)."""
        bucket = buckets.bucket_view(conn, p["Bucket"])
        buckets.check_expected_owner(bucket, p)
        self._authorize(conn, ctx, bucket, bucket.name, key, **kw)
        return bucket

    def _delete_blobs(self, blob_ids: list[str]) -> None:
        delete_blobs(self.blobs, blob_ids)

    def _write(
        self,
        ctx: RequestContext,
        chunks: Iterator[bytes],
        enc: ObjectEncryption,
        bucket: str,
        key: str,
        **checks: Any,
    ) -> tuple[BlobInfo, dict[str, str]]:
        """``_stage`` and place the blob at once (durable when this returns)."""
        staged, sums = self._stage(ctx, chunks, enc, bucket, key, **checks)
        self.blobs.place_one(staged)
        return staged.info, sums

    def _stage(
        self,
        ctx: RequestContext,
        chunks: Iterator[bytes],
        enc: ObjectEncryption,
        bucket: str,
        key: str,
        *,
        expected_md5: str | None = None,
        claimed: dict[str, str] | None = None,
        body: _Body | None = None,
        algorithms: set[str] | None = None,
    ) -> tuple[StagedBlob, dict[str, str]]:
        """Stage a blob and check every digest the client sent; returns it and its checksums."""
        wanted = set(algorithms or ()) | set(claimed or {}) | {"CRC32"}
        hashers = checksums.hashers_for(wanted)
        store = self.store(ctx)
        try:
            with kms_errors():
                staged = store.stage(
                    checksums.tee(chunks, hashers) if hashers else chunks,
                    encryption=enc.encryption(bucket, key),
                    expected_md5=expected_md5,
                    sha256=False,
                    # A body already in memory stays there: the file system is the committer's.
                    in_memory=body is not None and body.in_memory,
                )
        except DigestMismatch:
            raise BadDigest("The Content-MD5 you specified did not match what we received.") from None
        try:
            claims = dict(claimed or {})
            if body is not None:
                trailers = body.trailer_checksums()
                claims.update(trailers)
                if set(trailers) - wanted:
                    # A trailer naming an algorithm not announced up front: compute it from the blob.
                    wanted |= set(trailers)
            actual = checksums.from_blob(staged.info, hashers, wanted)
            missing = {alg for alg in claims if alg not in actual}
            if missing:
                actual.update(self._recompute(store.read_staged(staged), staged.info, missing))
            checksums.verify(claims, actual)
        except BaseException:
            self.blobs.discard(staged)
            raise
        return staged, actual

    @staticmethod
    def _recompute(plaintext: Iterator[bytes], info: BlobInfo, algorithms: set[str]) -> dict[str, str]:
        hashers = checksums.hashers_for(algorithms)
        for chunk in plaintext:
            for hasher in hashers.values():
                hasher.update(chunk)
        return checksums.from_blob(info, hashers, algorithms)

    def _commit(self, blob_ids: list[str], work: Any) -> Any:
        """Run ``work(session)`` in a transaction; if it fails before committing, the new blobs
        are removed at once (if the commit itself fails they are left to the sweep)."""
        reached_commit = False
        try:
            with events.commit_lock(self.db), self.db.session() as s:
                result = work(s)
                reached_commit = True
        except BaseException:
            if not reached_commit:
                self._delete_blobs(blob_ids)
            raise
        return result

    def _commit_row(self, blob_ids: list[str], work: Callable[[Connection], T]) -> T:
        """``_commit`` for work done in Core statements: a plain connection transaction, without
        an ORM session's bookkeeping (a third of a small PUT's commit)."""
        reached_commit = False
        try:
            with events.commit_lock(self.db), self.db.engine.begin() as conn:
                result = work(conn)
                reached_commit = True
        except BaseException:
            if not reached_commit:
                self._delete_blobs(blob_ids)
            raise
        return result

    def _read(self, ctx: RequestContext, row: objects.StoredObject, rng: ByteRange | None) -> Iterator[bytes]:
        infos = objects.infos(row.blobs)
        start, end = (rng.start, rng.end) if rng is not None else (0, None)
        try:
            with kms_errors():
                if len(infos) == 1:
                    return self.store(ctx).read(infos[0], start=start, end=end)
                return self.store(ctx).read_composite(infos, start=start, end=end)
        except (BlobNotFound, BlobCorrupted, BlobInvalidRange) as exc:
            log.error("object data unreadable", extra={"bucket": row.bucket, "key": row.key}, exc_info=True)
            raise InternalFailure("We encountered an internal error. Please try again.") from exc

    # -- buckets -----------------------------------------------------------------------------------

    @operation("CreateBucket")
    def create_bucket(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            self._authorize(s, ctx, None, p["Bucket"])
            buckets.create_bucket(s, ctx.account_id, ctx.region, p["Bucket"], p, _now(ctx))
        return {"Location": f"/{p['Bucket']}"}

    @operation("HeadBucket")
    def head_bucket(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            bucket = self._bucket(s, ctx, p)
        return {"BucketRegion": bucket.region, "BucketArn": f"arn:aws:s3:::{bucket.name}"}

    @operation("ListBuckets")
    def list_buckets(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            self._authorize(s, ctx, None, None)
            return buckets.list_buckets(s, ctx.account_id, p)

    @operation("DeleteBucket")
    def delete_bucket(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            bucket = self._bucket(s, ctx, p)
            orphans = buckets.delete_bucket(s, bucket)
        self._delete_blobs(orphans)
        return {}

    @operation("GetBucketLocation")
    def get_bucket_location(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            bucket = self._bucket(s, ctx, p)
        return {} if bucket.region == "us-east-1" else {"LocationConstraint": bucket.region}

    @operation("PutBucketEncryption")
    def put_bucket_encryption(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        rule = buckets.validate_encryption(p["ServerSideEncryptionConfiguration"])
        with self.db.session() as s:
            bucket = self._bucket(s, ctx, p)
            bucket.encryption = rule
        return {}

    @operation("GetBucketEncryption")
    def get_bucket_encryption(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            bucket = self._bucket(s, ctx, p)
        return {"ServerSideEncryptionConfiguration": {"Rules": [buckets.encryption_rule(bucket)]}}

    @operation("DeleteBucketEncryption")
    def delete_bucket_encryption(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            bucket = self._bucket(s, ctx, p)
            bucket.encryption = None
        return {}

    @operation("PutBucketTagging")
    def put_bucket_tagging(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        tags = buckets.validate_tags(p["Tagging"].get("TagSet", []), limit=50)
        with self.db.session() as s:
            bucket = self._bucket(s, ctx, p)
            bucket.tags = tags
        return {}

    @operation("GetBucketTagging")
    def get_bucket_tagging(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            bucket = self._bucket(s, ctx, p)
        if not bucket.tags:
            raise NoSuchTagSet("The TagSet does not exist", extra={"BucketName": bucket.name})
        return {"TagSet": list(bucket.tags)}

    @operation("DeleteBucketTagging")
    def delete_bucket_tagging(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            bucket = self._bucket(s, ctx, p)
            bucket.tags = None
        return {}

    @operation("PutBucketPolicy")
    def put_bucket_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            bucket = self._bucket(s, ctx, p)
            policies.put_bucket_policy(s, bucket, p["Policy"])
        return {}

    @operation("GetBucketPolicy")
    def get_bucket_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            bucket = self._bucket(s, ctx, p)
            return {"Policy": policies.get_bucket_policy(s, bucket)}

    @operation("DeleteBucketPolicy")
    def delete_bucket_policy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            bucket = self._bucket(s, ctx, p)
            policies.delete_bucket_policy(s, bucket)
        return {}

    # -- objects -----------------------------------------------------------------------------------

    @operation("PutObject")
    def put_object(self, ctx: RequestContext, p: dict[str, Any]) -> Future[Out]:
        """Runs on the event loop for bodies held in memory (``deferring``): the bucket read, the
        decision and the staging are quick; the syncs and the commit go to the group committer."""
        name, key = p["Bucket"], p["Key"]
        with self.db.engine.connect() as conn:
            bucket = buckets.bucket_view(conn, name)
            buckets.check_expected_owner(bucket, p)
            enc = object_encryption(p, bucket.encryption)
            self._authorize(conn, ctx, bucket, name, key, extra=_sse_keys(enc, p))
            if p.get("IfNoneMatch") or p.get("IfMatch"):
                self._write_conditions(conn, name, key, p)
        if enc.mode == "aws:kms" and _Body.held(p.get("Body")):
            # On the event loop (the edge read the body): KMS makes the data key in a write
            # transaction, so that and the rest go to a thread. A streamed body is already in one.
            return self._kms_writers.submit(lambda: self._put(ctx, p, enc).result())
        return self._put(ctx, p, enc)

    def _put(self, ctx: RequestContext, p: dict[str, Any], enc: ObjectEncryption) -> Future[Out]:
        name, key = p["Bucket"], p["Key"]
        tags = _parse_tagging(p.get("Tagging"))
        body = _Body(p.get("Body"), p.get("ContentEncoding"))
        algorithm = p.get("ChecksumAlgorithm")
        staged, sums = self._stage(
            ctx,
            body.chunks(),
            enc,
            name,
            key,
            expected_md5=_md5_hex(p),
            claimed=checksums.requested(p),
            body=body,
            algorithms={str(algorithm).upper()} if algorithm else None,
        )
        info = staged.info
        row = {
            "bucket": name,
            "key": key,
            "size": info.size,
            "etag": info.etag,
            "last_modified": _now(ctx),
            "headers": objects.stored_headers(p),
            "user_metadata": dict(p.get("Metadata") or {}),
            "tags": tags,
            "checksums": sums,
            "sse": enc.mode,
            "kms_key_arn": info.kms_key_arn,
            "bucket_key_enabled": enc.bucket_key_enabled,
            "parts_count": None,
            "blobs": [info.to_dict()],
        }

        def commit(conn: Connection) -> list[str]:
            if p.get("IfNoneMatch") or p.get("IfMatch"):
                self._write_conditions(conn, name, key, p)
            return objects.replace_object(conn, row)

        out: Out = {"ETag": info.etag, **objects.sse_view(enc.mode, info.kms_key_arn, enc.bucket_key_enabled)}
        out.update(self._checksum_members(sums, p, body))
        return self.committer.submit(staged, commit, out)

    @staticmethod
    def _checksum_members(sums: dict[str, str], p: dict[str, Any], body: _Body | None) -> Out:
        named = set(checksums.requested(p))
        if p.get("ChecksumAlgorithm"):
            named.add(str(p["ChecksumAlgorithm"]).upper())
        if body is not None:
            named |= set(body.trailer_checksums())
        out: Out = {checksums.MEMBERS[alg]: sums[alg] for alg in named if alg in sums}
        if out:
            out["ChecksumType"] = "FULL_OBJECT"
        return out

    @staticmethod
    def _write_conditions(conn: Connection, bucket: str, key: str, p: dict[str, Any]) -> None:
        current = objects.lookup_object(conn, bucket, key)
        if p.get("IfNoneMatch") == "*" and current is not None:
            raise PreconditionFailed(
                "At least one of the pre-conditions you specified did not hold",
                extra={"Condition": "If-None-Match"},
            )
        if p.get("IfMatch"):
            if current is None:
                raise NoSuchKey(key)
            check_preconditions({"IfMatch": p["IfMatch"]}, current.etag, current.last_modified, read=False)

    def _get_row(self, ctx: RequestContext, p: dict[str, Any]) -> objects.StoredObject:
        with self.db.engine.connect() as conn:
            self._bucket_view(conn, ctx, p, p["Key"])
            return objects.find_object(conn, p["Bucket"], p["Key"])

    def _object_output(self, row: objects.StoredObject, p: dict[str, Any]) -> tuple[Out, ByteRange | None]:
        out = objects.object_headers(row)
        if check_preconditions(p, row.etag, row.last_modified) == NOT_MODIFIED:
            return {
                "ResponseMetadata": {"HTTPStatusCode": 304},
                "ETag": row.etag,
                "LastModified": row.last_modified,
            }, None
        rng: ByteRange | None = None
        part = p.get("PartNumber")
        rng = self._part_range(row, int(part)) if part is not None else parse_range(p.get("Range"), row.size)
        if rng is not None:
            out["ContentRange"] = rng.content_range(row.size)
            out["ContentLength"] = rng.length
            out["ResponseMetadata"] = {"HTTPStatusCode": 206}
        else:
            out["ContentLength"] = row.size
            if p.get("ChecksumMode") == "ENABLED":
                for alg, value in row.checksums.items():
                    out[checksums.MEMBERS[alg]] = value
                if row.checksums:
                    out["ChecksumType"] = "COMPOSITE" if row.parts_count else "FULL_OBJECT"
        for member, header in (
            ("ResponseContentType", "ContentType"),
            ("ResponseContentLanguage", "ContentLanguage"),
            ("ResponseContentDisposition", "ContentDisposition"),
            ("ResponseContentEncoding", "ContentEncoding"),
            ("ResponseCacheControl", "CacheControl"),
            ("ResponseExpires", "Expires"),
        ):
            if p.get(member) is not None:
                out[header] = p[member]
        return out, rng

    @staticmethod
    def _part_range(row: objects.StoredObject, number: int) -> ByteRange | None:
        count = row.parts_count or 1
        if not 1 <= number <= count:
            raise ServiceError(
                "The requested partnumber is not satisfiable", code="InvalidPartNumber", status=416
            )
        if not row.parts_count:
            return None
        start = 0
        for index, blob in enumerate(row.blobs, start=1):
            size = int(blob["size"])
            if index == number:
                return ByteRange(start, start + size) if size else None
            start += size
        return None

    @operation("GetObject")
    def get_object(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        row = self._get_row(ctx, p)
        out, rng = self._object_output(row, p)
        if out.get("ResponseMetadata", {}).get("HTTPStatusCode") == 304:
            return out
        body = self._read(ctx, row, rng)
        # A body of at most one read is read here, in the handler's thread: the edge then sends it
        # without going back to a worker thread for each chunk.
        out["Body"] = b"".join(body) if int(out["ContentLength"]) <= _READ_SIZE else body
        return out

    @operation("HeadObject")
    def head_object(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        row = self._get_row(ctx, p)
        out, _ = self._object_output(row, p)
        return out

    @operation("DeleteObject")
    def delete_object(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            self._bucket(s, ctx, p, p["Key"])
            gone = objects.delete_object(s, p["Bucket"], p["Key"])
        self._delete_blobs(gone)
        return {}

    @operation("DeleteObjects")
    def delete_objects(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        request = p["Delete"]
        items = request.get("Objects") or []
        if len(items) > 1000:
            raise MalformedXML(
                "The XML you provided was not well-formed or did not validate against our published schema"
            )
        deleted: list[Out] = []
        errors: list[Out] = []
        gone: list[str] = []
        with self.db.session() as s:
            bucket = buckets.get_bucket(s, p["Bucket"])
            buckets.check_expected_owner(bucket, p)
            for item in items:
                key = item["Key"]
                try:
                    self._authorize(s, ctx, bucket, bucket.name, key, operation="DeleteObject")
                except ServiceError as exc:
                    errors.append({"Key": key, "Code": exc.code, "Message": exc.message})
                    continue
                gone += objects.delete_object(s, bucket.name, key)
                deleted.append({"Key": key})
        self._delete_blobs(gone)
        out: Out = {"Errors": errors} if errors else {}
        if not request.get("Quiet"):
            out["Deleted"] = deleted
        return out

    def _source(
        self, ctx: RequestContext, s: Session | Connection, copy_source: str, operation: str
    ) -> objects.StoredObject:
        src_bucket_name, src_key = _copy_source(copy_source)
        conn = s.connection() if isinstance(s, Session) else s
        src_bucket = buckets.bucket_view(conn, src_bucket_name)
        self._authorize(conn, ctx, src_bucket, src_bucket_name, src_key, operation="GetObject")
        return objects.find_object(conn, src_bucket_name, src_key)

    @operation("CopyObject")
    def copy_object(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        name, key = p["Bucket"], p["Key"]
        with self.db.engine.connect() as conn:
            bucket = buckets.bucket_view(conn, name)
            buckets.check_expected_owner(bucket, p)
            enc = object_encryption(p, bucket.encryption)
            self._authorize(conn, ctx, bucket, name, key, extra=_sse_keys(enc, p))
            src = self._source(ctx, conn, p["CopySource"], "CopyObject")
        check_preconditions(p, src.etag, src.last_modified, prefix="CopySource", read=False)
        replace = p.get("MetadataDirective", "COPY") == "REPLACE"
        if (
            (src.bucket, src.key) == (name, key)
            and not replace
            and not p.get("ServerSideEncryption")
            and not p.get("StorageClass")
            and p.get("TaggingDirective") != "REPLACE"
        ):
            raise InvalidRequest(
                "This copy request is illegal because it is trying to copy an object to itself without "
                "changing the object's metadata, storage class, website redirect location or encryption "
                "attributes."
            )
        data = self._read(ctx, src, None)
        info, sums = self._write(ctx, data, enc, name, key, algorithms=set(src.checksums) - {"CRC32"} or None)
        headers = objects.stored_headers(p) if replace else dict(src.headers)
        metadata = dict(p.get("Metadata") or {}) if replace else dict(src.user_metadata)
        tags = _parse_tagging(p.get("Tagging")) if p.get("TaggingDirective") == "REPLACE" else list(src.tags)
        now = _now(ctx)
        row = {
            "bucket": name,
            "key": key,
            "size": info.size,
            "etag": info.etag,
            "last_modified": now,
            "headers": headers,
            "user_metadata": metadata,
            "tags": tags,
            "checksums": sums,
            "sse": enc.mode,
            "kms_key_arn": info.kms_key_arn,
            "bucket_key_enabled": enc.bucket_key_enabled,
            "parts_count": None,
            "blobs": [info.to_dict()],
        }
        replaced = self._commit_row([info.blob_id], lambda conn: objects.replace_object(conn, row))
        self._delete_blobs(replaced)
        result: Out = {"ETag": info.etag, "LastModified": now}
        if p.get("ChecksumAlgorithm") and str(p["ChecksumAlgorithm"]).upper() in sums:
            alg = str(p["ChecksumAlgorithm"]).upper()
            result[checksums.MEMBERS[alg]] = sums[alg]
        return {
            "CopyObjectResult": result,
            **objects.sse_view(enc.mode, info.kms_key_arn, enc.bucket_key_enabled),
        }

    # -- listing -----------------------------------------------------------------------------------

    def _list(self, ctx: RequestContext, p: dict[str, Any], after: str | None) -> tuple[listing.Page, int]:
        max_keys = int(p.get("MaxKeys", 1000))
        if max_keys < 0:
            raise InvalidArgument("maxKeys should be non-negative", extra={"ArgumentName": "max-keys"})
        with self.db.read() as s:
            self._bucket(s, ctx, p)
            page = listing.list_page(
                s,
                p["Bucket"],
                prefix=p.get("Prefix") or "",
                delimiter=p.get("Delimiter") or "",
                after=after,
                max_keys=min(max_keys, 1000),
            )
        return page, max_keys

    @staticmethod
    def _contents(page: listing.Page, encode: bool, owner: str | None) -> Out:
        def enc(value: str) -> str:
            return listing.url_encode(value) if encode else value

        contents = []
        for row in page.objects:
            item: Out = {
                "Key": enc(row.key),
                "LastModified": row.last_modified,
                "ETag": row.etag,
                "Size": row.size,
                "StorageClass": "STANDARD",
            }
            if row.checksums:
                item["ChecksumAlgorithm"] = sorted(row.checksums)
                item["ChecksumType"] = "COMPOSITE" if row.parts_count else "FULL_OBJECT"
            if owner is not None:
                item["Owner"] = buckets.owner_view(owner)
            contents.append(item)
        out: Out = {}
        if contents:
            out["Contents"] = contents
        if page.prefixes:
            out["CommonPrefixes"] = [{"Prefix": enc(prefix)} for prefix in page.prefixes]
        return out

    def _common(self, p: dict[str, Any], page: listing.Page, max_keys: int) -> Out:
        encode = p.get("EncodingType") == "url"

        def enc(value: str) -> str:
            return listing.url_encode(value) if encode else value

        out: Out = {"Name": p["Bucket"], "Prefix": enc(p.get("Prefix") or ""), "MaxKeys": max_keys}
        out["IsTruncated"] = page.truncated
        if p.get("Delimiter"):
            out["Delimiter"] = enc(p["Delimiter"])
        if encode:
            out["EncodingType"] = "url"
        return out

    @operation("ListObjectsV2")
    def list_objects_v2(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        token = p.get("ContinuationToken")
        after = listing.decode_token(token) if token else p.get("StartAfter")
        page, max_keys = self._list(ctx, p, after)
        encode = p.get("EncodingType") == "url"
        out = self._common(p, page, max_keys)
        out.update(self._contents(page, encode, ctx.account_id if p.get("FetchOwner") else None))
        out["KeyCount"] = len(page.objects) + len(page.prefixes)
        if token:
            out["ContinuationToken"] = token
        if p.get("StartAfter"):
            out["StartAfter"] = listing.url_encode(p["StartAfter"]) if encode else p["StartAfter"]
        if page.truncated and page.last is not None:
            out["NextContinuationToken"] = listing.encode_token(page.last)
        return out

    @operation("ListObjects")
    def list_objects(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        marker = p.get("Marker") or None
        page, max_keys = self._list(ctx, p, marker)
        encode = p.get("EncodingType") == "url"
        out = self._common(p, page, max_keys)
        with self.db.read() as s:
            owner = buckets.get_bucket(s, p["Bucket"]).account_id
        out.update(self._contents(page, encode, owner))
        out["Marker"] = (listing.url_encode(marker) if encode else marker) if marker else ""
        if page.truncated and page.last is not None:
            out["NextMarker"] = listing.url_encode(page.last) if encode else page.last
        return out

    # -- tagging -----------------------------------------------------------------------------------

    @operation("PutObjectTagging")
    def put_object_tagging(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        tags = buckets.validate_tags(p["Tagging"].get("TagSet", []), limit=10)
        with self.db.session() as s:
            self._bucket(s, ctx, p, p["Key"])
            objects.get_object(s, p["Bucket"], p["Key"]).tags = tags
        return {}

    @operation("GetObjectTagging")
    def get_object_tagging(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        row = self._get_row(ctx, p)
        return {"TagSet": list(row.tags)}

    @operation("DeleteObjectTagging")
    def delete_object_tagging(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            self._bucket(s, ctx, p, p["Key"])
            objects.get_object(s, p["Bucket"], p["Key"]).tags = []
        return {}

    # -- multipart ---------------------------------------------------------------------------------

    def _upload(self, s: Session, p: dict[str, Any]) -> S3Upload:
        upload = s.get(S3Upload, p["UploadId"])
        if upload is None or upload.bucket != p["Bucket"] or upload.key != p["Key"]:
            raise NoSuchUpload(p["UploadId"])
        return upload

    @staticmethod
    def _upload_encryption(upload: S3Upload) -> ObjectEncryption:
        return ObjectEncryption(upload.sse, upload.kms_key_id, upload.bucket_key_enabled)

    @operation("CreateMultipartUpload")
    def create_multipart_upload(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        name, key = p["Bucket"], p["Key"]
        upload_id = secrets.token_urlsafe(48)
        algorithm = str(p["ChecksumAlgorithm"]).upper() if p.get("ChecksumAlgorithm") else None
        tags = _parse_tagging(p.get("Tagging"))
        with self.db.session() as s:
            bucket = buckets.get_bucket(s, name)
            buckets.check_expected_owner(bucket, p)
            enc = object_encryption(p, bucket.encryption)
            self._authorize(s, ctx, bucket, name, key, extra=_sse_keys(enc, p))
            s.add(
                S3Upload(
                    upload_id=upload_id,
                    bucket=name,
                    key=key,
                    initiator_arn=ctx.principal.arn,
                    owner_account=ctx.account_id or bucket.account_id,
                    headers=objects.stored_headers(p),
                    user_metadata=dict(p.get("Metadata") or {}),
                    tags=tags,
                    sse=enc.mode,
                    kms_key_id=enc.kms_key_id,
                    bucket_key_enabled=enc.bucket_key_enabled,
                    checksum_algorithm=algorithm,
                    initiated=_now(ctx),
                )
            )
        out: Out = {"Bucket": name, "Key": key, "UploadId": upload_id}
        out.update(objects.sse_view(enc.mode, enc.kms_key_id, enc.bucket_key_enabled))
        if enc.mode == "aws:kms":
            with self.db.read() as s, kms_errors():
                out["SSEKMSKeyId"] = self._kms_arn(s, ctx, enc.kms_key_id)
        if algorithm:
            out["ChecksumAlgorithm"] = algorithm
            out["ChecksumType"] = "COMPOSITE"
        return out

    @staticmethod
    def _kms_arn(s: Session, ctx: RequestContext, key_id: str | None) -> str:
        from cove.services.kms import datakeys

        return datakeys.resolve_key_arn(s, ctx.account_id, ctx.region, key_id or "alias/aws/s3")

    def _store_part(
        self, ctx: RequestContext, p: dict[str, Any], upload: S3Upload, info: BlobInfo, sums: dict[str, str]
    ) -> Out:
        number = int(p["PartNumber"])
        part = S3Part(
            upload_id=upload.upload_id,
            part_number=number,
            size=info.size,
            etag=info.etag,
            checksums=sums,
            last_modified=_now(ctx),
            blob=info.to_dict(),
        )

        def commit(s: Session) -> list[str]:
            self._upload(s, p)
            old = s.get(S3Part, (upload.upload_id, number))
            replaced = [] if old is None else [str(old.blob["blob_id"])]
            if old is not None:
                s.delete(old)
                s.flush()
            s.add(part)
            return replaced

        replaced = self._commit([info.blob_id], commit)
        self._delete_blobs(replaced)
        return objects.sse_view(upload.sse, info.kms_key_arn, upload.bucket_key_enabled)

    def _part_number(self, p: dict[str, Any]) -> int:
        number = int(p["PartNumber"])
        if not 1 <= number <= _MAX_PARTS:
            raise InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive",
                extra={"ArgumentName": "partNumber", "ArgumentValue": str(number)},
            )
        return number

    @operation("UploadPart")
    def upload_part(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        self._part_number(p)
        with self.db.read() as s:
            self._bucket(s, ctx, p, p["Key"])
            upload = self._upload(s, p)
        body = _Body(p.get("Body"), p.get("ContentEncoding"))
        algorithms = {upload.checksum_algorithm} if upload.checksum_algorithm else None
        if p.get("ChecksumAlgorithm"):
            algorithms = {str(p["ChecksumAlgorithm"]).upper()}
        info, sums = self._write(
            ctx,
            body.chunks(),
            self._upload_encryption(upload),
            p["Bucket"],
            p["Key"],
            expected_md5=_md5_hex(p),
            claimed=checksums.requested(p),
            body=body,
            algorithms=algorithms,
        )
        out = self._store_part(ctx, p, upload, info, sums)
        out["ETag"] = info.etag
        out.update(self._checksum_members(sums, {**p, "ChecksumAlgorithm": upload.checksum_algorithm}, body))
        out.pop("ChecksumType", None)
        return out

    @operation("UploadPartCopy")
    def upload_part_copy(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        self._part_number(p)
        with self.db.read() as s:
            self._bucket(s, ctx, p, p["Key"])
            upload = self._upload(s, p)
            src = self._source(ctx, s, p["CopySource"], "UploadPartCopy")
        check_preconditions(p, src.etag, src.last_modified, prefix="CopySource", read=False)
        rng: ByteRange | None = None
        if p.get("CopySourceRange"):
            rng = parse_range(p["CopySourceRange"], src.size)
            if rng is None or rng.end - 1 >= src.size:
                raise InvalidArgument(
                    "The x-amz-copy-source-range value must be of the form bytes=first-last where first and "
                    "last are the zero-based offsets of the first and last bytes to copy",
                    extra={"ArgumentName": "x-amz-copy-source-range", "ArgumentValue": p["CopySourceRange"]},
                )
        data = self._read(ctx, src, rng)
        algorithms = {upload.checksum_algorithm} if upload.checksum_algorithm else None
        info, sums = self._write(
            ctx, data, self._upload_encryption(upload), p["Bucket"], p["Key"], algorithms=algorithms
        )
        out = self._store_part(ctx, p, upload, info, sums)
        result: Out = {"ETag": info.etag, "LastModified": _now(ctx)}
        if upload.checksum_algorithm and upload.checksum_algorithm in sums:
            result[checksums.MEMBERS[upload.checksum_algorithm]] = sums[upload.checksum_algorithm]
        out["CopyPartResult"] = result
        return out

    @operation("CompleteMultipartUpload")
    def complete_multipart_upload(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        requested = (p.get("MultipartUpload") or {}).get("Parts") or []
        if not requested:
            raise MalformedXML(
                "The XML you provided was not well-formed or did not validate against our published schema"
            )
        numbers = [int(part["PartNumber"]) for part in requested]
        if any(b <= a for a, b in itertools.pairwise(numbers)):
            raise InvalidPartOrder(
                "The list of parts was not in ascending order. Parts must be ordered by part number.",
                extra={"UploadId": p["UploadId"]},
            )

        def commit(s: Session) -> tuple[Out, list[str]]:
            self._bucket(s, ctx, p, p["Key"])
            upload = self._upload(s, p)
            stored = {
                part.part_number: part
                for part in s.scalars(select(S3Part).where(S3Part.upload_id == upload.upload_id))
            }
            chosen: list[S3Part] = []
            for index, want in enumerate(requested):
                part = stored.get(int(want["PartNumber"]))
                if part is None or part.etag.strip('"') != str(want.get("ETag", "")).strip('"'):
                    raise InvalidPart(
                        "One or more of the specified parts could not be found.  The part may not have been "
                        "uploaded, or the specified entity tag may not match the part's entity tag.",
                        extra={"UploadId": upload.upload_id, "PartNumber": str(want["PartNumber"])},
                    )
                if index < len(requested) - 1 and part.size < self.min_part_size:
                    raise EntityTooSmall(
                        "Your proposed upload is smaller than the minimum allowed size",
                        extra={
                            "ProposedSize": str(part.size),
                            "MinSizeAllowed": str(self.min_part_size),
                            "PartNumber": str(part.part_number),
                            "ETag": part.etag,
                        },
                    )
                chosen.append(part)
            infos = [BlobInfo.from_dict(part.blob) for part in chosen]
            sums: dict[str, str] = {}
            algorithm = upload.checksum_algorithm
            if algorithm and all(algorithm in part.checksums for part in chosen):
                sums[algorithm] = checksums.composite(
                    algorithm, [part.checksums[algorithm] for part in chosen]
                )
            etag = multipart_etag(infos)
            row = S3Object(
                bucket=upload.bucket,
                key=upload.key,
                size=sum(info.size for info in infos),
                etag=etag,
                last_modified=_now(ctx),
                headers=dict(upload.headers),
                user_metadata=dict(upload.user_metadata),
                tags=list(upload.tags),
                checksums=sums,
                sse=upload.sse,
                kms_key_arn=infos[0].kms_key_arn,
                bucket_key_enabled=upload.bucket_key_enabled,
                parts_count=len(infos),
                blobs=[info.to_dict() for info in infos],
            )
            used = {part.part_number for part in chosen}
            unused = [str(part.blob["blob_id"]) for n, part in stored.items() if n not in used]
            for part in stored.values():
                s.delete(part)
            s.delete(upload)
            s.flush()
            replaced = objects.record_object(s, row)
            out: Out = {
                "Location": f"/{upload.bucket}/{upload.key}",
                "Bucket": upload.bucket,
                "Key": upload.key,
                "ETag": etag,
                **objects.sse_view(row.sse, row.kms_key_arn, row.bucket_key_enabled),
            }
            for alg, value in sums.items():
                out[checksums.MEMBERS[alg]] = value
                out["ChecksumType"] = "COMPOSITE"
            return out, replaced + unused

        out, garbage = self._commit([], commit)
        self._delete_blobs(garbage)
        return dict(out)

    @operation("AbortMultipartUpload")
    def abort_multipart_upload(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            self._bucket(s, ctx, p, p["Key"])
            upload = self._upload(s, p)
            parts = list(s.scalars(select(S3Part).where(S3Part.upload_id == upload.upload_id)))
            garbage = [str(part.blob["blob_id"]) for part in parts]
            for part in parts:
                s.delete(part)
            s.delete(upload)
        self._delete_blobs(garbage)
        return {}

    @operation("ListParts")
    def list_parts(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        marker = int(p.get("PartNumberMarker") or 0)
        limit = min(int(p.get("MaxParts", 1000)), 1000)
        with self.db.read() as s:
            bucket = self._bucket(s, ctx, p, p["Key"])
            upload = self._upload(s, p)
            query = (
                select(S3Part)
                .where(S3Part.upload_id == upload.upload_id, S3Part.part_number > marker)
                .order_by(S3Part.part_number)
                .limit(limit + 1)
            )
            parts = list(s.scalars(query))
        truncated = len(parts) > limit
        parts = parts[:limit]
        items = []
        for part in parts:
            item: Out = {
                "PartNumber": part.part_number,
                "LastModified": part.last_modified,
                "ETag": part.etag,
                "Size": part.size,
            }
            for alg, value in part.checksums.items():
                if alg == upload.checksum_algorithm:
                    item[checksums.MEMBERS[alg]] = value
            items.append(item)
        out: Out = {
            "Bucket": upload.bucket,
            "Key": upload.key,
            "UploadId": upload.upload_id,
            "PartNumberMarker": marker,
            "MaxParts": limit,
            "IsTruncated": truncated,
            "Parts": items,
            "Initiator": {"ID": upload.initiator_arn, "DisplayName": upload.initiator_arn.rsplit("/", 1)[-1]},
            "Owner": buckets.owner_view(bucket.account_id),
            "StorageClass": "STANDARD",
        }
        if parts:
            out["NextPartNumberMarker"] = parts[-1].part_number
        if upload.checksum_algorithm:
            out["ChecksumAlgorithm"] = upload.checksum_algorithm
            out["ChecksumType"] = "COMPOSITE"
        return out

    @operation("ListMultipartUploads")
    def list_multipart_uploads(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        prefix = p.get("Prefix") or ""
        limit = min(int(p.get("MaxUploads", 1000)), 1000)
        key_marker = p.get("KeyMarker") or ""
        id_marker = p.get("UploadIdMarker") or ""
        with self.db.read() as s:
            bucket = self._bucket(s, ctx, p)
            rows = list(
                s.scalars(
                    select(S3Upload)
                    .where(S3Upload.bucket == bucket.name)
                    .order_by(S3Upload.key, S3Upload.initiated)
                )
            )
        rows = [
            u
            for u in rows
            if u.key.startswith(prefix)
            and (u.key > key_marker or (u.key == key_marker and id_marker and u.upload_id > id_marker))
        ]
        truncated = len(rows) > limit
        rows = rows[:limit]
        out: Out = {
            "Bucket": bucket.name,
            "KeyMarker": key_marker,
            "UploadIdMarker": id_marker,
            "MaxUploads": limit,
            "IsTruncated": truncated,
            "Prefix": prefix,
            "Uploads": [
                {
                    "UploadId": u.upload_id,
                    "Key": u.key,
                    "Initiated": u.initiated,
                    "StorageClass": "STANDARD",
                    "Owner": buckets.owner_view(u.owner_account),
                    "Initiator": {"ID": u.initiator_arn, "DisplayName": u.initiator_arn.rsplit("/", 1)[-1]},
                }
                for u in rows
            ],
        }
        if truncated and rows:
            out["NextKeyMarker"] = rows[-1].key
            out["NextUploadIdMarker"] = rows[-1].upload_id
        return out
