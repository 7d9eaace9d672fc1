"""Concurrent writers and streaming memory use."""

from __future__ import annotations

import hashlib
import os
import threading
import tracemalloc
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cove.storage import BlobInfo, BlobStore, KeySourceByMode
from cove.storage.blobstore import DEFAULT_CHUNK_SIZE
from tests.storage.conftest import SSE_KMS, SSE_S3, joined

MiB = 1024 * 1024


def test_two_writers_at_once(store: BlobStore) -> None:
    datas = [os.urandom(3 * MiB + i) for i in range(2)]
    barrier = threading.Barrier(2)

    def slow_pieces(data: bytes) -> Iterator[bytes]:
        barrier.wait()
        for i in range(0, len(data), 100_000):
            yield data[i : i + 100_000]

    with ThreadPoolExecutor(2) as pool:
        futures = [
            pool.submit(store.write, slow_pieces(d), encryption=enc)
            for d, enc in zip(datas, (SSE_S3, SSE_KMS), strict=True)
        ]
        infos = [f.result() for f in futures]
    assert infos[0].blob_id != infos[1].blob_id
    for info, data in zip(infos, datas, strict=True):
        assert joined(store.read(info)) == data
        assert info.md5 == hashlib.md5(data).hexdigest()


def test_sweep_during_writes_spares_them(store: BlobStore) -> None:
    written: list[BlobInfo] = []
    stop = threading.Event()
    removed: list[str] = []

    def sweeper() -> None:
        while not stop.is_set():
            removed.extend(store.sweep(lambda _: False, older_than_s=60))

    thread = threading.Thread(target=sweeper)
    thread.start()
    try:
        for _ in range(20):
            written.append(store.write([os.urandom(50_000)], encryption=SSE_S3))
    finally:
        stop.set()
        thread.join()
    assert removed == []
    assert all(store.exists(info.blob_id) for info in written)


def test_streaming_write_and_read_use_bounded_memory(tmp_path: Path, keys: KeySourceByMode) -> None:
    store = BlobStore(tmp_path / "big", keys)
    piece = 64 * 1024
    total = 64 * MiB
    template = os.urandom(piece)

    def generate() -> Iterator[bytes]:
        for i in range(total // piece):
            # A fresh object per piece, as a socket reader would produce.
            yield i.to_bytes(8, "big") + template[8:]

    tracemalloc.start()
    try:
        info = store.write(generate(), encryption=SSE_S3)
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        digest = hashlib.sha256()
        for chunk in store.read(info):
            digest.update(chunk)
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.size == total
    assert digest.hexdigest() == info.sha256
    # A few chunks in flight at most: nowhere near the 64 MiB object.
    assert write_peak < 5 * DEFAULT_CHUNK_SIZE, write_peak
    assert read_peak < 5 * DEFAULT_CHUNK_SIZE, read_peak


def test_readers_release_their_files(store: BlobStore) -> None:
    info = store.write([os.urandom(100_000)], encryption=SSE_S3)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(50):
        store.read(info)  # never iterated
        stream = store.read(info)
        next(stream)  # abandoned half way
        joined(store.read(info, start=5))
    assert len(os.listdir("/proc/self/fd")) <= before + 1
