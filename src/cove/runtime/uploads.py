"""Job outputs, the instance's disk → S3: model/output archives, processing outputs, checkpoints.

An ``archive`` item is one gzip tar of its source directories' contents (names relative to the
directory, later sources overwriting earlier ones: every host's /opt/ml/model merged into one
model.tar.gz). A ``tree`` item puts each regular file at ``<s3_uri>/<relative path>``; symbolic links
are not followed (SageMaker's rule for processing outputs). The ``Uploader`` remembers what it sent, so
the watch loop (S3UploadMode Continuous, checkpoint sync) re-sends only files that changed.
"""

from __future__ import annotations

import os
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from s3transfer.manager import TransferManager  # type: ignore[import-untyped]

from cove.runtime import s3failures
from cove.runtime.s3failures import UPLOAD
from cove.runtime.s3paths import join_key, parse_s3_uri
from cove.runtime.transferplan import Plan, Upload

__all__ = ["Sent", "Uploader", "tree_files"]


@dataclass
class Sent:
    objects: int = 0
    bytes: int = 0


def tree_files(sources: tuple[str, ...]) -> dict[str, Path]:
    """relative POSIX name → file, regular files only, links neither followed nor sent."""
    files: dict[str, Path] = {}
    for source in sources:
        root = Path(source)
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            here = Path(dirpath)
            dirnames[:] = sorted(d for d in dirnames if not (here / d).is_symlink())
            for name in sorted(filenames):
                path = here / name
                if path.is_symlink() or not path.is_file():
                    continue
                files[path.relative_to(root).as_posix()] = path
    return files


def _archive_members(sources: tuple[str, ...]) -> dict[str, Path]:
    # Directories and links travel inside the tar as what they are (tar keeps links as links).
    members: dict[str, Path] = {}
    for source in sources:
        root = Path(source)
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
            here = Path(dirpath)
            for name in dirnames + filenames:
                members[(here / name).relative_to(root).as_posix()] = here / name
    return dict(sorted(members.items()))


def _extra_args(item: Upload) -> dict[str, str]:
    if not item.kms_key_id:
        return {}
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": item.kms_key_id}


def _signature(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


# future, the object's URI, bytes, and for tree files the Uploader.sent entry to forget if it vanished
_Pending = tuple[Any, str, int, tuple[int, str] | None]


@dataclass
class Uploader:
    client: Any
    manager: TransferManager
    plan: Plan
    sent: dict[tuple[int, str], tuple[int, int]] = field(default_factory=dict)
    totals: Sent = field(default_factory=Sent)
    synced: set[int] = field(default_factory=set)
    """Items (by index) whose S3 prefix was listed: a synced tree also deletes objects that were
    there before this agent started (a checkpoint the job removed before the first pass)."""

    def _wait(self, pending: list[_Pending]) -> None:
        for future, uri, size, sent_key in pending:
            try:
                future.result()
            except FileNotFoundError:
                if sent_key is None:
                    raise s3failures.from_exception(FileNotFoundError(uri), UPLOAD, uri) from None
                # The job removed the file while it was being sent (a temporary file, a rotated
                # checkpoint): nothing to upload; the next pass sees what is there then.
                self.sent.pop(sent_key, None)
                continue
            except Exception as exc:
                raise s3failures.from_exception(exc, UPLOAD, uri) from exc
            self.totals.objects += 1
            self.totals.bytes += size

    def _seed(self, index: int, bucket: str, prefix: str) -> None:
        base = prefix.rstrip("/") + "/" if prefix else ""
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=base)
        for page in pages:
            for listed in page.get("Contents", []):
                self.sent.setdefault((index, listed["Key"][len(base) :]), (-1, -1))
        self.synced.add(index)

    def _tree(self, index: int, item: Upload) -> None:
        location = parse_s3_uri(item.s3_uri)
        if item.delete and index not in self.synced:
            try:
                self._seed(index, location.bucket, location.key)
            except Exception as exc:
                raise s3failures.from_exception(exc, UPLOAD, item.s3_uri) from exc
        files = tree_files(item.sources)
        pending: list[_Pending] = []
        for rel, path in files.items():
            try:
                signature = _signature(path)
            except FileNotFoundError:
                continue  # removed between the walk and now; the next pass sees it gone
            if self.sent.get((index, rel)) == signature:
                continue
            key = join_key(location.key, rel)
            future = self.manager.upload(str(path), location.bucket, key, extra_args=_extra_args(item))
            pending.append((future, f"s3://{location.bucket}/{key}", signature[0], (index, rel)))
            self.sent[(index, rel)] = signature
        self._wait(pending)
        if item.delete:
            for gone in [rel for (i, rel) in self.sent if i == index and rel not in files]:
                key = join_key(location.key, gone)
                try:
                    self.client.delete_object(Bucket=location.bucket, Key=key)
                except Exception as exc:
                    raise s3failures.from_exception(exc, UPLOAD, f"s3://{location.bucket}/{key}") from exc
                del self.sent[(index, gone)]

    def _archive(self, item: Upload) -> None:
        location = parse_s3_uri(item.s3_uri)
        with tempfile.TemporaryDirectory(prefix="cove-archive-", dir=self.plan.scratch_dir) as scratch:
            archive = Path(scratch) / "archive.tar.gz"
            try:
                with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
                    for rel, path in _archive_members(item.sources).items():
                        tar.add(path, arcname=rel, recursive=False)
            except OSError as exc:
                raise s3failures.from_exception(exc, UPLOAD, item.s3_uri) from exc
            future = self.manager.upload(
                str(archive), location.bucket, location.key, extra_args=_extra_args(item)
            )
            self._wait([(future, item.s3_uri, archive.stat().st_size, None)])

    def run(self, final: bool = True) -> Sent:
        """One pass over every item; archives are made only on the final pass (after the job)."""
        for index, item in enumerate(self.plan.uploads):
            if item.kind == "tree":
                self._tree(index, item)
            elif final:
                self._archive(item)
        return self.totals
