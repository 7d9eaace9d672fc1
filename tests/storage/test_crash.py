"""Crash safety: a blob is either absent or whole, and sweep clears what a crash leaves behind."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from cove.storage import BlobStore, KeySourceByMode
from tests.storage.conftest import CHUNK, SSE_S3, joined, record_fsyncs

_CRASHING_WRITER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from cove.storage import BlobStore, Encryption

    class Keys:
        def new_data_key(self, encryption):
            return b"k" * 32, b"wrapped", None
        def unwrap(self, wrapped, encryption):
            return b"k" * 32

    store = BlobStore(Path(sys.argv[1]), Keys(), chunk_size=4096)
    if sys.argv[2] == "before-rename":
        os.replace = lambda *args: os._exit(3)  # the process dies with the temp file written
    info = store.write([os.urandom(10_000)], encryption=Encryption("AES256"))
    print(info.blob_id, flush=True)
    os._exit(4)  # dies before S3 could commit the metadata row
    """
)


def crash(root: Path, where: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _CRASHING_WRITER, str(root), where], capture_output=True, text=True, timeout=60
    )


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file())


def age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_failed_rename_leaves_nothing(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_replace(src: object, dst: object) -> None:
        raise OSError(5, "injected I/O error")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="injected"):
        store.write([os.urandom(3 * CHUNK)], encryption=SSE_S3)
    assert files_under(store.root) == []


def test_failed_directory_sync_after_rename_leaves_nothing(
    store: BlobStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_fsync = os.fsync
    calls: list[int] = []

    def fsync(fd: int) -> None:
        calls.append(fd)
        if os.path.isdir(f"/proc/self/fd/{fd}") and any(store.root.glob("blobs/*/*")):
            raise OSError(5, "injected fsync error")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError, match="injected"):
        store.write([b"data"], encryption=SSE_S3)
    assert calls
    assert files_under(store.root) == []


def test_process_dies_before_rename(store: BlobStore) -> None:
    result = crash(store.root, "before-rename")
    assert result.returncode == 3, result.stderr
    (temp,) = files_under(store.root / "tmp")
    assert files_under(store.root / "blobs") == []
    # A fresh temp file may be a write in progress: spared. Once old, it goes.
    assert store.sweep(lambda _: True, older_than_s=3600) == []
    assert temp.exists()
    age(temp, 7200)
    assert store.sweep(lambda _: True, older_than_s=3600) == [f"tmp/{temp.name}"]
    assert files_under(store.root) == []


def test_process_dies_before_commit(store: BlobStore) -> None:
    committed = store.write([b"committed"], encryption=SSE_S3)
    result = crash(store.root, "after-rename")
    assert result.returncode == 4, result.stderr
    orphan = result.stdout.strip()
    assert store.exists(orphan)  # durable, whole, but nobody's
    assert files_under(store.root / "tmp") == []
    for blob_id in (orphan, committed.blob_id):
        age(store.path(blob_id), 7200)

    live = {committed.blob_id}
    assert store.sweep(live.__contains__, older_than_s=3600) == [orphan]
    assert not store.exists(orphan)
    assert joined(store.read(committed)) == b"committed"
    # Idempotent: nothing more to do.
    assert store.sweep(live.__contains__, older_than_s=3600) == []


def test_sweep_spares_young_orphans_and_strangers(store: BlobStore) -> None:
    young = store.write([b"in flight"], encryption=SSE_S3)
    stranger = store.root / "blobs" / "ab" / "cd" / "not-a-blob"
    stranger.parent.mkdir(parents=True, exist_ok=True)
    stranger.write_bytes(b"?")
    age(stranger, 7200)
    assert store.sweep(lambda _: False, older_than_s=60) == []
    assert store.exists(young.blob_id)
    assert stranger.exists()
    assert store.sweep(lambda _: False, older_than_s=0) == [young.blob_id]


def test_sweep_asks_only_about_old_blobs(store: BlobStore) -> None:
    old = store.write([b"old"], encryption=SSE_S3)
    new = store.write([b"new"], encryption=SSE_S3)
    age(store.path(old.blob_id), 7200)
    asked: list[str] = []

    def live(blob_id: str) -> bool:
        asked.append(blob_id)
        return True

    assert store.sweep(live, older_than_s=3600) == []
    assert asked == [old.blob_id]
    assert store.exists(new.blob_id)


def test_sweep_on_an_empty_store(tmp_path: Path, store: BlobStore) -> None:
    assert store.sweep(lambda _: False, older_than_s=0) == []


def test_a_write_syncs_its_data_then_its_directory(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    store.write([b"first use makes the SSE-S3 master key"], encryption=SSE_S3)
    synced = record_fsyncs(monkeypatch)
    info = store.write([os.urandom(3 * CHUNK)], encryption=SSE_S3)
    # The data before the rename, the new name after it; the fan-out directory itself was made
    # durable when the store opened.
    assert synced == [str(store.root / "tmp" / f"{info.blob_id}.tmp"), str(store.path(info.blob_id).parent)]


def test_opening_a_store_makes_its_directories_durable(
    tmp_path: Path, keys: KeySourceByMode, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = record_fsyncs(monkeypatch)
    root = tmp_path / "fresh" / "store"
    BlobStore(root, keys)
    assert synced == [str(root / "blobs"), str(root), str(root.parent)]
    # Again when they exist: whoever made them may have died before syncing them.
    synced.clear()
    BlobStore(root, keys)
    assert synced == [str(root / "blobs"), str(root), str(root.parent)]
