"""Group commit: blobs staged one by one and placed together are each synced before their rename,
share their directories' syncs, and fail alone."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from pathlib import Path

import pytest

from cove.storage import BlobStore, DigestMismatch
from tests.storage.conftest import CHUNK, SSE_S3, joined, record_fsyncs


@pytest.fixture(params=["serial", "parallel"])
def pool(request: pytest.FixtureRequest) -> Iterator[Executor | None]:
    """Syncs one after another, or side by side in threads: the guarantees are the same."""
    if request.param == "serial":
        yield None
        return
    with ThreadPoolExecutor(4) as executor:
        yield executor


def _files(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


def test_a_staged_blob_is_invisible_until_placed(store: BlobStore) -> None:
    staged = store.stage([b"pending"], encryption=SSE_S3)
    assert not store.exists(staged.info.blob_id)
    assert _files(store.root / "blobs") == []
    assert store.place([staged]) == [None]
    assert joined(store.read(staged.info)) == b"pending"
    assert _files(store.root / "tmp") == []


def test_placing_together_syncs_each_blob_then_each_directory_once(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch, pool: Executor | None
) -> None:
    store.write([b"first use makes the SSE-S3 master key"], encryption=SSE_S3)
    # Staged until two share a fan-out directory (the first byte of their ids): it is synced once.
    staged = [store.stage([os.urandom(2 * CHUNK)], encryption=SSE_S3)]
    while len({b.dest.parent for b in staged}) == len(staged):
        staged.append(store.stage([os.urandom(100)], encryption=SSE_S3))
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        events.append(("rename", str(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    assert store.place(staged, pool=pool) == [None] * len(staged)
    for blob in staged:
        # Its data is durable before its name appears, and its name before place returns.
        data = events.index(("fsync", str(blob.tmp)))
        renamed = events.index(("rename", str(blob.dest)))
        directory = events.index(("fsync", str(blob.dest.parent)))
        assert data < renamed < directory
    directories = [path for kind, path in events if kind == "fsync" and Path(path).is_dir()]
    assert sorted(directories) == sorted({str(b.dest.parent) for b in staged})
    assert len(directories) == len(staged) - 1
    monkeypatch.undo()
    for blob in staged:
        assert store.exists(blob.info.blob_id)


def test_a_failing_blob_fails_alone(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch, pool: Executor | None
) -> None:
    good = [store.stage([f"good {i}".encode()], encryption=SSE_S3) for i in range(3)]
    bad = store.stage([b"bad"], encryption=SSE_S3)
    real_replace = os.replace

    def replace(src: str | Path, dst: str | Path) -> None:
        if str(dst) == str(bad.dest):
            raise OSError(5, "injected I/O error")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    errors = store.place([good[0], bad, *good[1:]], pool=pool)
    assert errors[0] is None and errors[2] is None and errors[3] is None
    assert isinstance(errors[1], OSError)
    assert not store.exists(bad.info.blob_id)
    assert _files(store.root / "tmp") == []
    for i, blob in enumerate(good):
        assert joined(store.read(blob.info)) == f"good {i}".encode()


def test_a_failing_directory_sync_removes_its_blobs(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch, pool: Executor | None
) -> None:
    staged = store.stage([b"data"], encryption=SSE_S3)
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            raise OSError(5, "injected fsync error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    (error,) = store.place([staged], pool=pool)
    assert isinstance(error, OSError)
    assert _files(store.root) == []


def test_discard_leaves_nothing(store: BlobStore) -> None:
    staged = store.stage([b"never mind"], encryption=SSE_S3)
    store.discard(staged)
    assert _files(store.root) == []
    (error,) = store.place([staged])  # too late: it is gone
    assert isinstance(error, ValueError)


def test_a_digest_mismatch_stages_nothing(store: BlobStore) -> None:
    with pytest.raises(DigestMismatch):
        store.stage([b"data"], encryption=SSE_S3, expected_md5="0" * 32)
    assert _files(store.root) == []


def test_a_blob_staged_in_memory_touches_no_file_until_placed(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write([b"first use makes the SSE-S3 master key"], encryption=SSE_S3)
    data = os.urandom(3 * CHUNK + 5)
    opened: list[str] = []
    real_open = os.open

    def spy(path: str | Path, *args: int) -> int:
        opened.append(str(path))
        return real_open(path, *args)

    monkeypatch.setattr(os, "open", spy)
    staged = store.stage([data], encryption=SSE_S3, in_memory=True)
    assert opened == []
    assert _files(store.root / "tmp") == []
    monkeypatch.undo()
    file_staged = store.stage([b"on disk"], encryption=SSE_S3)
    assert store.place([staged, file_staged]) == [None, None]
    assert joined(store.read(staged.info)) == data
    assert joined(store.read(file_staged.info)) == b"on disk"
    assert _files(store.root / "tmp") == []


def test_a_blob_in_memory_is_synced_before_its_rename(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.write([b"first use makes the SSE-S3 master key"], encryption=SSE_S3)
    staged = store.stage([b"small"], encryption=SSE_S3, in_memory=True)
    synced = record_fsyncs(monkeypatch)
    assert store.place([staged]) == [None]
    assert synced == [str(staged.tmp), str(staged.dest.parent)]


def test_reading_a_staged_blob(store: BlobStore) -> None:
    for in_memory in (False, True):
        staged = store.stage([b"late checksum"], encryption=SSE_S3, in_memory=in_memory)
        assert joined(store.read_staged(staged)) == b"late checksum"
        assert store.place([staged]) == [None]
        assert joined(store.read(staged.info)) == b"late checksum"


def test_discarding_a_blob_in_memory_leaves_nothing(store: BlobStore) -> None:
    staged = store.stage([b"never written"], encryption=SSE_S3, in_memory=True)
    store.discard(staged)
    assert _files(store.root / "tmp") == [] and _files(store.root / "blobs") == []


def test_a_pool_syncs_a_batch_side_by_side(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.write([b"first use makes the SSE-S3 master key"], encryption=SSE_S3)
    staged = [store.stage([os.urandom(100)], encryption=SSE_S3, in_memory=True) for _ in range(4)]
    real_fsync = os.fsync
    running, most = 0, 0
    lock = threading.Lock()

    def slow_fsync(fd: int) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.2)  # a journal commit waiting on the disk
        real_fsync(fd)
        with lock:
            running -= 1

    monkeypatch.setattr(os, "fsync", slow_fsync)
    with ThreadPoolExecutor(4) as pool:
        assert store.place(staged, pool=pool) == [None] * 4
    assert most == 4
