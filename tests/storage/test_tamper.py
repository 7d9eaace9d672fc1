"""Encryption at rest: no plaintext on disk, and every kind of tampering is caught."""

from __future__ import annotations

import base64
import dataclasses
import os
import shutil
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from cove.keyring import RootKey
from cove.storage import BlobCorrupted, BlobNotFound, BlobStore, Encryption, KeySourceByMode, SseS3KeySource
from cove.storage.blobstore import HEADER_SIZE, TAG_SIZE
from tests.storage.conftest import CHUNK, SSE_KMS, SSE_S3, FakeKms, KeyDisabled, joined, pattern


def chunk_offset(index: int) -> int:
    return HEADER_SIZE + index * (CHUNK + TAG_SIZE)


def test_no_plaintext_on_disk(tmp_path: Path, store: BlobStore, encryption: Encryption) -> None:
    data = pattern(4 * CHUNK + 100)
    info = store.write([data], encryption=encryption)
    on_disk = b"".join(p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert len(on_disk) >= len(data)
    # No piece of the plaintext survives anywhere under the state dir, not even a short one.
    for probe in (b"COVE-PLAINTEXT", b"MARKER-COVE", data[1000:1016]):
        assert probe not in on_disk
    assert joined(store.read(info)) == data


def test_no_plaintext_in_blob_info(store: BlobStore, encryption: Encryption) -> None:
    info = store.write([pattern(CHUNK)], encryption=encryption)
    assert b"MARKER" not in repr(info.to_dict()).encode()


@pytest.mark.parametrize("offset", [chunk_offset(0), chunk_offset(1) + 100, chunk_offset(3) - 1, -1])
def test_flipped_byte(store: BlobStore, encryption: Encryption, offset: int) -> None:
    info = store.write([os.urandom(3 * CHUNK + 10)], encryption=encryption)
    path = store.path(info.blob_id)
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(BlobCorrupted):
        joined(store.read(info))


def test_flipped_header_byte(store: BlobStore) -> None:
    info = store.write([os.urandom(100)], encryption=SSE_S3)
    path = store.path(info.blob_id)
    for offset in range(HEADER_SIZE):
        raw = bytearray(path.read_bytes())
        raw[offset] ^= 0x01
        path.write_bytes(bytes(raw))
        with pytest.raises(BlobCorrupted):
            joined(store.read(info))
        raw[offset] ^= 0x01
        path.write_bytes(bytes(raw))
    assert len(joined(store.read(info))) == 100


def test_swapped_chunks(store: BlobStore) -> None:
    info = store.write([os.urandom(3 * CHUNK)], encryption=SSE_S3)
    path = store.path(info.blob_id)
    raw = path.read_bytes()
    one = raw[chunk_offset(0) : chunk_offset(1)]
    two = raw[chunk_offset(1) : chunk_offset(2)]
    path.write_bytes(raw[:HEADER_SIZE] + two + one + raw[chunk_offset(2) :])
    with pytest.raises(BlobCorrupted):
        joined(store.read(info))
    # Even a range inside a single swapped chunk is caught.
    with pytest.raises(BlobCorrupted):
        joined(store.read(info, start=CHUNK + 1, end=CHUNK + 2))


@pytest.mark.parametrize("cut", [1, TAG_SIZE, CHUNK + TAG_SIZE])
def test_truncated_file(store: BlobStore, cut: int) -> None:
    info = store.write([os.urandom(3 * CHUNK)], encryption=SSE_S3)
    path = store.path(info.blob_id)
    raw = path.read_bytes()
    path.write_bytes(raw[:-cut])
    with pytest.raises(BlobCorrupted):
        joined(store.read(info))


def test_dropped_final_chunk_with_shrunken_metadata(store: BlobStore) -> None:
    # Cutting the last chunk off and lying about the size still fails: chunk 1 was not the final one.
    info = store.write([os.urandom(2 * CHUNK + 5)], encryption=SSE_S3)
    path = store.path(info.blob_id)
    path.write_bytes(path.read_bytes()[: chunk_offset(2)])
    with pytest.raises(BlobCorrupted):
        joined(store.read(dataclasses.replace(info, size=2 * CHUNK)))


def test_appended_bytes(store: BlobStore) -> None:
    info = store.write([os.urandom(CHUNK)], encryption=SSE_S3)
    path = store.path(info.blob_id)
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(BlobCorrupted):
        store.read(info)


def test_blob_file_moved_under_another_id(store: BlobStore) -> None:
    a = store.write([os.urandom(CHUNK)], encryption=SSE_KMS)
    b = store.write([os.urandom(CHUNK)], encryption=SSE_KMS)
    shutil.copyfile(store.path(a.blob_id), store.path(b.blob_id))
    # Same length, a valid header, but a's chunks under b's data key and id.
    with pytest.raises(BlobCorrupted):
        joined(store.read(b))
    with pytest.raises(BlobCorrupted):
        joined(store.read(dataclasses.replace(b, wrapped_key=a.wrapped_key)))


def test_wrapped_key_tampering_is_corruption(store: BlobStore) -> None:
    info = store.write([b"secret"], encryption=SSE_S3)
    wrapped = bytearray(base64.b64decode(info.wrapped_key))
    wrapped[-1] ^= 0x01
    with pytest.raises(BlobCorrupted):
        store.read(dataclasses.replace(info, wrapped_key=base64.b64encode(bytes(wrapped)).decode()))


def test_encryption_context_is_bound(store: BlobStore, encryption: Encryption) -> None:
    info = store.write([b"secret"], encryption=SSE_S3)
    with pytest.raises(BlobCorrupted):
        store.read(dataclasses.replace(info, context={"aws:s3:arn": "arn:aws:s3:::other/key"}))


def test_missing_blob(store: BlobStore) -> None:
    info = store.write([b"gone"], encryption=SSE_S3)
    store.delete(info.blob_id)
    with pytest.raises(BlobNotFound):
        store.read(info)


def test_unwrap_errors_propagate_unchanged(store: BlobStore, kms: FakeKms) -> None:
    info = store.write([b"kms data"], encryption=SSE_KMS)
    kms.disabled = True
    with pytest.raises(KeyDisabled, match="is disabled"):
        store.read(info)
    with pytest.raises(KeyDisabled):
        store.read_composite([info, info], start=2)
    # The key service sees the key ARN it returned and the blob's context.
    seen = kms.unwrapped[-1]
    assert seen.kms_key_id == info.kms_key_arn
    assert dict(seen.context) == dict(SSE_KMS.context)
    kms.disabled = False
    assert joined(store.read(info)) == b"kms data"


def test_new_data_key_errors_propagate_and_leave_nothing(tmp_path: Path, root_key: RootKey) -> None:
    sse_only = BlobStore(tmp_path / "store", KeySourceByMode(SseS3KeySource(root_key, tmp_path / "m.key")))
    with pytest.raises(ValueError, match="no key source"):
        sse_only.write([b"x"], encryption=Encryption("aws:kms", kms_key_id="k"))
    assert [p for p in sse_only.root.rglob("*") if p.is_file()] == []


def test_sse_s3_master_key_persists_and_needs_the_root_key(tmp_path: Path, root_key: RootKey) -> None:
    master = tmp_path / "state" / "sse-s3.key"
    first = BlobStore(tmp_path / "blobs", SseS3KeySource(root_key, master))
    info = first.write([b"persisted"], encryption=SSE_S3)
    assert master.stat().st_mode & 0o777 == 0o600
    sealed = master.read_bytes()
    assert b"persisted" not in sealed
    # A new process with the same root key reads it; the master key file is reused, not replaced.
    second = BlobStore(tmp_path / "blobs", SseS3KeySource(root_key, master))
    assert joined(second.read(info)) == b"persisted"
    assert master.read_bytes() == sealed
    # Under another root key the master key cannot be opened; the root key's own error comes out.
    stranger = BlobStore(tmp_path / "blobs", SseS3KeySource(RootKey(os.urandom(32)), master))
    with pytest.raises(InvalidTag):
        stranger.read(info)


def test_info_from_another_store_is_not_readable(
    tmp_path: Path, store: BlobStore, keys: KeySourceByMode
) -> None:
    info = store.write([b"mine"], encryption=SSE_S3)
    other = BlobStore(tmp_path / "elsewhere", keys)
    with pytest.raises(BlobNotFound):
        other.read(info)
