from __future__ import annotations

import os

import pytest

from cove.storage import BlobInfo, BlobStore, Encryption, InvalidRange
from cove.storage.blobstore import HEADER_SIZE, TAG_SIZE
from tests.storage.conftest import CHUNK, SSE_S3, joined

SIZE = 5 * CHUNK + 123
DATA = os.urandom(SIZE)


@pytest.fixture
def blob(store: BlobStore, encryption: Encryption) -> BlobInfo:
    return store.write([DATA], encryption=encryption)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (0, None),  # whole object
        (CHUNK + 5, None),  # start only, mid-chunk
        (CHUNK, None),  # start only, on a boundary
        (0, 1),  # first byte
        (SIZE - 1, None),  # last byte
        (SIZE - 1, SIZE),  # last byte, explicit end
        (10, 20),  # inside one chunk
        (CHUNK - 1, CHUNK + 1),  # straddles one boundary
        (CHUNK - 3, 3 * CHUNK + 3),  # spans whole chunks
        (CHUNK, 2 * CHUNK),  # exactly one chunk
        (2 * CHUNK, SIZE),  # through the short final chunk
        (5, SIZE + 10_000),  # end past the size is clamped
    ],
)
def test_range_reads(store: BlobStore, blob: BlobInfo, start: int, end: int | None) -> None:
    assert joined(store.read(blob, start=start, end=end)) == DATA[start:end]


def test_every_small_range_around_boundaries(store: BlobStore) -> None:
    data = os.urandom(2 * CHUNK + 2)
    info = store.write([data], encryption=SSE_S3)
    edges = [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK - 1, 2 * CHUNK, 2 * CHUNK + 1]
    for start in edges:
        for end in [e for e in [*edges, len(data)] if e > start]:
            assert joined(store.read(info, start=start, end=end)) == data[start:end], (start, end)


@pytest.mark.parametrize(
    ("start", "end"),
    [(-1, None), (SIZE, None), (SIZE + 5, None), (10, 10), (10, 5), (0, 0), (-5, 3), (SIZE, SIZE + 1)],
)
def test_invalid_ranges(store: BlobStore, blob: BlobInfo, start: int, end: int | None) -> None:
    with pytest.raises(InvalidRange):
        store.read(blob, start=start, end=end)


def test_empty_object_full_read_is_fine_but_ranges_are_not(store: BlobStore) -> None:
    empty = store.write([], encryption=SSE_S3)
    assert list(store.read(empty)) == []
    for start, end in [(0, 1), (0, 0), (1, None)]:
        with pytest.raises(InvalidRange):
            store.read(empty, start=start, end=end)


def test_range_reads_touch_only_their_chunks(store: BlobStore, blob: BlobInfo) -> None:
    # Wreck chunks 0 and 4: a read of chunks 1-3 must still succeed, as it never decrypts them.
    path = store.path(blob.blob_id)
    raw = bytearray(path.read_bytes())
    for index in (0, 4):
        raw[HEADER_SIZE + index * (CHUNK + TAG_SIZE) + 7] ^= 0xFF
    path.write_bytes(bytes(raw))
    assert joined(store.read(blob, start=CHUNK, end=4 * CHUNK)) == DATA[CHUNK : 4 * CHUNK]


def test_large_reads_yield_whole_chunks(store: BlobStore, blob: BlobInfo) -> None:
    sizes = [len(c) for c in store.read(blob, start=CHUNK - 10)]
    assert sizes == [10, CHUNK, CHUNK, CHUNK, CHUNK, 123]
