"""Input channels and checkpoints, S3 → the instance's disk, the way SageMaker's File mode lays them out.

Objects stream to disk through one s3transfer manager (parallel, ranged GETs for big objects), each
into a temporary name renamed into place, so a channel never holds half-written files under their
real names. FastFile channels are served as File copies (same bytes at the same paths; only the lazy
streaming is missing).
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from s3transfer.manager import TransferManager  # type: ignore[import-untyped]
from s3transfer.subscribers import BaseSubscriber  # type: ignore[import-untyped]

from cove.runtime import s3failures
from cove.runtime.s3failures import DOWNLOAD, TransferFailure
from cove.runtime.s3paths import (
    S3Location,
    illegal_key,
    join_key,
    local_name,
    parse_s3_uri,
    safe_relative,
    shard,
)
from cove.runtime.transferplan import Channel, Checkpoint, Plan

__all__ = ["Fetched", "download_all"]

_PARTIAL = ".cove-partial"


@dataclass
class Fetched:
    objects: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class _Object:
    bucket: str
    key: str
    size: int | None
    etag: str | None
    target: Path


class _KnownSize(BaseSubscriber):  # type: ignore[misc]
    """Hands the listed size and ETag to s3transfer so it does not HEAD every object again."""

    def __init__(self, size: int, etag: str) -> None:
        self._size = size
        self._etag = etag

    def on_queued(self, future: Any, **kwargs: Any) -> None:
        future.meta.provide_transfer_size(self._size)
        future.meta.provide_object_etag(self._etag)


_Listed = tuple[str, int | None, str | None]  # key, size, ETag (unknown for manifest entries)


def _list(client: Any, location: S3Location) -> list[_Listed]:
    found: list[_Listed] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=location.key):
        found.extend((o["Key"], int(o["Size"]), o.get("ETag")) for o in page.get("Contents", []))
    return found


def _channel_listing(client: Any, plan: Plan, channel: Channel) -> tuple[S3Location, list[_Listed]]:
    """(the prefix keys are placed against, every (key, size) of the channel before sharding)."""
    location = parse_s3_uri(channel.s3_uri)
    if channel.s3_data_type == "ManifestFile":
        try:
            body = client.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
        except (ClientError, BotoCoreError) as exc:
            raise s3failures.from_exception(exc, DOWNLOAD, channel.s3_uri) from exc
        try:
            entries = json.loads(body)
            base = parse_s3_uri(str(entries[0]["prefix"]))
            relatives = [str(e) for e in entries[1:]]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise TransferFailure(
                f"ClientError: {DOWNLOAD}Unable to parse manifest file {channel.s3_uri}", repr(exc)
            ) from exc
        return base, [(base.key + rel, None, None) for rel in relatives]
    try:
        listed = _list(client, location)
    except ClientError as exc:
        # SageMaker's own check names ListBucket permission and the bucket's existence together.
        raise s3failures.empty_prefix(
            channel.s3_uri, location.bucket, plan.region, plan.role_arn, str(exc)
        ) from exc
    except BotoCoreError as exc:
        raise s3failures.from_exception(exc, DOWNLOAD, channel.s3_uri) from exc
    if not listed:
        raise s3failures.empty_prefix(channel.s3_uri, location.bucket, plan.region, plan.role_arn)
    return location, listed


def _channel_objects(client: Any, plan: Plan, channel: Channel) -> list[_Object]:
    base, listed = _channel_listing(client, plan, channel)
    for key, _, _ in listed:
        if illegal_key(key):
            raise s3failures.illegal_key(base.bucket, key)
    facts = {key: (size, etag) for key, size, etag in listed}
    keys = list(facts)
    if channel.distribution == "ShardedByS3Key":
        keys = shard(keys, channel.host_index, channel.host_count)
    root = Path(channel.local_dir)
    return [
        _Object(base.bucket, key, *facts[key], root / safe_relative(local_name(base.key, key)))
        for key in keys
        if not key.endswith("/")  # "folder" marker objects become directories, not files
    ]


def _checkpoint_objects(client: Any, checkpoint: Checkpoint) -> list[_Object]:
    location = parse_s3_uri(checkpoint.s3_uri)
    # A checkpoint location is a folder: "ckpt" must not pick up "ckpt-old/…".
    folder = S3Location(location.bucket, join_key(location.key, "") if location.key else "")
    try:
        listed = _list(client, folder)
    except (ClientError, BotoCoreError) as exc:
        raise s3failures.from_exception(exc, DOWNLOAD, folder.uri) from exc
    root = Path(checkpoint.local_dir)
    return [
        _Object(location.bucket, key, size, etag, root / safe_relative(key[len(folder.key) :]))
        for key, size, etag in listed
        if not key.endswith("/")
    ]


def _gunzip_in_place(path: Path) -> None:
    partial = path.with_name(path.name + _PARTIAL)
    with gzip.open(path, "rb") as src, partial.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    os.replace(partial, path)


def _fetch(manager: TransferManager, objects: list[_Object], gunzip: bool = False) -> Fetched:
    pending = []
    for obj in objects:
        obj.target.parent.mkdir(parents=True, exist_ok=True)
        subscribers = []
        if obj.size is not None and obj.etag is not None:
            subscribers.append(_KnownSize(obj.size, obj.etag))
        future = manager.download(obj.bucket, obj.key, str(obj.target), subscribers=subscribers)
        pending.append((future, obj))
    fetched = Fetched()
    for future, obj in pending:
        try:
            future.result()
        except Exception as exc:
            raise s3failures.from_exception(exc, DOWNLOAD, f"s3://{obj.bucket}/{obj.key}") from exc
        if gunzip:
            try:
                _gunzip_in_place(obj.target)
            except (OSError, EOFError) as exc:
                raise TransferFailure(
                    f"ClientError: {DOWNLOAD}Unable to decompress object s3://{obj.bucket}/{obj.key}",
                    repr(exc),
                ) from exc
        fetched.objects += 1
        fetched.bytes += obj.target.stat().st_size
    return fetched


def pipe_objects(client: Any, plan: Plan, channel: Channel) -> list[tuple[str, str]]:
    """(bucket, key) of what a Pipe channel streams each epoch: this host's share, in key order (an
    augmented manifest's lines are read by the pipe itself)."""
    if channel.s3_data_type == "AugmentedManifestFile":
        return []
    return [(o.bucket, o.key) for o in _channel_objects(client, plan, channel)]


def download_all(client: Any, manager: TransferManager, plan: Plan, log: Any = print) -> Fetched:
    total = Fetched()
    for channel in plan.channels:
        if channel.mode == "Pipe":
            continue  # streamed while the algorithm runs (cove.runtime.pipes), not copied before
        Path(channel.local_dir).mkdir(parents=True, exist_ok=True)
        got = _fetch(manager, _channel_objects(client, plan, channel), gunzip=channel.compression == "Gzip")
        log(f"channel {channel.name}: {got.objects} objects, {got.bytes} bytes")
        total.objects += got.objects
        total.bytes += got.bytes
    if plan.checkpoint is not None:
        Path(plan.checkpoint.local_dir).mkdir(parents=True, exist_ok=True)
        got = _fetch(manager, _checkpoint_objects(client, plan.checkpoint))
        log(f"checkpoints: {got.objects} objects, {got.bytes} bytes")
        total.objects += got.objects
        total.bytes += got.bytes
    return total
