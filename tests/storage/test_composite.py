"""Multipart objects read as the concatenation of their part blobs."""

from __future__ import annotations

import os

import pytest

from cove.storage import BlobInfo, BlobNotFound, BlobStore, InvalidRange
from tests.storage.conftest import CHUNK, SSE_KMS, SSE_S3, joined

SIZES = [3 * CHUNK + 1, 0, 17, 2 * CHUNK]


@pytest.fixture
def parts(store: BlobStore) -> tuple[list[BlobInfo], bytes]:
    datas = [os.urandom(n) for n in SIZES]
    # Parts may differ in encryption (a bucket's default can change mid-upload in principle).
    infos = [store.write([d], encryption=SSE_KMS if i % 2 else SSE_S3) for i, d in enumerate(datas)]
    return infos, b"".join(datas)


def test_whole_composite(store: BlobStore, parts: tuple[list[BlobInfo], bytes]) -> None:
    infos, data = parts
    assert joined(store.read_composite(infos)) == data


def test_composite_ranges(store: BlobStore, parts: tuple[list[BlobInfo], bytes]) -> None:
    infos, data = parts
    total = len(data)
    first_end = SIZES[0]
    third_end = SIZES[0] + SIZES[1] + SIZES[2]
    edges = [
        0,
        1,
        first_end - 1,
        first_end,
        first_end + 1,
        third_end - 1,
        third_end,
        third_end + 1,
        total - 1,
    ]
    for start in edges:
        for end in [None, *[e for e in [*edges, total] if e > start]]:
            assert joined(store.read_composite(infos, start=start, end=end)) == data[start:end], (start, end)


def test_composite_touches_only_overlapping_parts(
    store: BlobStore, parts: tuple[list[BlobInfo], bytes]
) -> None:
    infos, data = parts
    store.delete(infos[0].blob_id)
    start = SIZES[0]
    assert joined(store.read_composite(infos, start=start)) == data[start:]
    with pytest.raises(BlobNotFound):
        store.read_composite(infos, start=start - 1)


def test_missing_later_part_fails_while_streaming(
    store: BlobStore, parts: tuple[list[BlobInfo], bytes]
) -> None:
    infos, _ = parts
    store.delete(infos[3].blob_id)
    stream = store.read_composite(infos)
    assert len(next(stream)) > 0
    with pytest.raises(BlobNotFound):
        joined(stream)


@pytest.mark.parametrize(("start", "end"), [(-1, None), (10, 10), (5, 2)])
def test_composite_invalid_ranges(
    store: BlobStore, parts: tuple[list[BlobInfo], bytes], start: int, end: int | None
) -> None:
    infos, data = parts
    with pytest.raises(InvalidRange):
        store.read_composite(infos, start=start, end=end)
    with pytest.raises(InvalidRange):
        store.read_composite(infos, start=len(data))


def test_empty_composites(store: BlobStore) -> None:
    empty = store.write([], encryption=SSE_S3)
    assert joined(store.read_composite([])) == b""
    assert joined(store.read_composite([empty, empty])) == b""
    with pytest.raises(InvalidRange):
        store.read_composite([empty], start=0, end=1)
