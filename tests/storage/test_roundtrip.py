from __future__ import annotations

import base64
import hashlib
import json
import os
import zlib
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from cove.keyring import RootKey
from cove.storage import (
    BlobInfo,
    BlobStore,
    DigestMismatch,
    Encryption,
    KeySourceByMode,
    SseS3KeySource,
    multipart_etag,
)
from cove.storage.blobstore import DEFAULT_CHUNK_SIZE
from tests.storage.conftest import CHUNK, KEY_ARN, SSE_KMS, SSE_S3, FakeKms, joined, pieces


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 17])
@pytest.mark.parametrize("piece", [1000, CHUNK, 3 * CHUNK])
def test_round_trip_and_digests(store: BlobStore, encryption: Encryption, size: int, piece: int) -> None:
    data = os.urandom(size)
    info = store.write(pieces(data, piece), encryption=encryption)
    assert joined(store.read(info)) == data
    assert info.size == size
    assert info.md5 == hashlib.md5(data).hexdigest()
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.crc32 == zlib.crc32(data)
    assert info.chunk_size == CHUNK
    assert info.mode == encryption.mode
    assert info.context == dict(encryption.context)
    assert info.kms_key_arn == (KEY_ARN if encryption.mode == "aws:kms" else None)
    assert store.exists(info.blob_id)


@pytest.mark.parametrize("size", [0, 1, DEFAULT_CHUNK_SIZE - 1, DEFAULT_CHUNK_SIZE, DEFAULT_CHUNK_SIZE + 1])
def test_round_trip_default_chunk_size(tmp_path: Path, keys: KeySourceByMode, size: int) -> None:
    big = BlobStore(tmp_path / "big", keys)
    data = os.urandom(size)
    info = big.write([data], encryption=SSE_S3)
    assert info.chunk_size == DEFAULT_CHUNK_SIZE
    assert joined(big.read(info)) == data


def test_several_mib_from_one_piece_and_from_tiny_pieces(store: BlobStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 5)
    for chunks in ([data], pieces(data, 7919)):
        info = store.write(chunks, encryption=SSE_KMS)
        assert joined(store.read(info)) == data
        assert info.sha256 == hashlib.sha256(data).hexdigest()


def test_mutable_pieces_reused_by_the_caller(store: BlobStore) -> None:
    data = os.urandom(5 * CHUNK + 3)

    def reusing() -> object:
        buffer = bytearray(1500)
        for i in range(0, len(data), 1500):
            part = data[i : i + 1500]
            buffer[: len(part)] = part
            yield bytes(buffer[: len(part)]) if len(part) < 1500 else buffer

    info = store.write(reusing(), encryption=SSE_S3)  # type: ignore[arg-type]
    assert joined(store.read(info)) == data


def test_empty_pieces_are_ignored(store: BlobStore) -> None:
    info = store.write([b"", b"abc", b"", b"def", b""], encryption=SSE_S3)
    assert joined(store.read(info)) == b"abcdef"
    empty = store.write([b"", b""], encryption=SSE_S3)
    assert empty.size == 0 and joined(store.read(empty)) == b""


def test_blob_info_survives_json(store: BlobStore, encryption: Encryption) -> None:
    info = store.write([b"hello"], encryption=encryption)
    again = BlobInfo.from_dict(json.loads(json.dumps(info.to_dict())))
    assert again == info
    assert joined(store.read(again)) == b"hello"


def test_blob_info_checksum_helpers(store: BlobStore) -> None:
    data = b"checksums"
    info = store.write([data], encryption=SSE_S3)
    assert info.etag == f'"{hashlib.md5(data).hexdigest()}"'
    assert base64.b64decode(info.md5_base64()) == hashlib.md5(data).digest()
    assert base64.b64decode(info.sha256_base64()) == hashlib.sha256(data).digest()
    assert base64.b64decode(info.crc32_base64()) == zlib.crc32(data).to_bytes(4, "big")


def test_sha256_only_on_request(store: BlobStore) -> None:
    data = os.urandom(10_000)
    info = store.write([data], encryption=SSE_S3, sha256=False)
    assert info.sha256 is None
    assert info.md5 == hashlib.md5(data).hexdigest() and info.crc32 == zlib.crc32(data)
    assert BlobInfo.from_dict(json.loads(json.dumps(info.to_dict()))) == info
    with pytest.raises(ValueError, match="without its SHA-256"):
        info.sha256_base64()
    # An expected SHA-256 is still checked.
    with pytest.raises(DigestMismatch):
        store.write([data], encryption=SSE_S3, sha256=False, expected_sha256=hashlib.sha256(b"x").hexdigest())
    checked = store.write(
        [data], encryption=SSE_S3, sha256=False, expected_sha256=hashlib.sha256(data).hexdigest()
    )
    assert checked.sha256 is None
    assert joined(store.read(checked)) == data


@pytest.mark.parametrize(
    "change",
    [
        {"size": "5"},
        {"mode": "AES128"},
        {"context": {"a": 1}},
        {"kms_key_arn": 7},
        {"crc32": True},
        {"sha256": 5},
    ],
)
def test_blob_info_rejects_bad_dicts(store: BlobStore, change: dict[str, object]) -> None:
    data = store.write([b"x"], encryption=SSE_S3).to_dict()
    data.update(change)
    with pytest.raises(ValueError):
        BlobInfo.from_dict(data)


def test_expected_digests_accepted(store: BlobStore) -> None:
    data = os.urandom(10_000)
    info = store.write(
        [data],
        encryption=SSE_S3,
        expected_md5=hashlib.md5(data).hexdigest().upper(),
        expected_sha256=hashlib.sha256(data).hexdigest(),
    )
    assert joined(store.read(info)) == data


@pytest.mark.parametrize("which", ["md5", "sha256"])
def test_digest_mismatch_leaves_nothing(store: BlobStore, which: str) -> None:
    data = os.urandom(10_000)
    wrong = {"md5": hashlib.md5(b"other").hexdigest(), "sha256": hashlib.sha256(b"other").hexdigest()}
    with pytest.raises(DigestMismatch) as caught:
        store.write([data], encryption=SSE_S3, **{f"expected_{which}": wrong[which]})  # type: ignore[arg-type]
    assert caught.value.algorithm == which
    assert caught.value.expected == wrong[which]
    assert caught.value.actual == getattr(hashlib, which)(data).hexdigest()
    assert [p for p in store.root.rglob("*") if p.is_file()] == []


def test_blobs_get_distinct_ids_and_sharded_paths(store: BlobStore) -> None:
    a = store.write([b"same"], encryption=SSE_S3)
    b = store.write([b"same"], encryption=SSE_S3)
    assert a.blob_id != b.blob_id
    assert a.wrapped_key != b.wrapped_key
    path = store.path(a.blob_id)
    assert path == store.root / "blobs" / a.blob_id[:2] / a.blob_id
    assert path.stat().st_mode & 0o777 == 0o600


def test_fanout_directories_exist_from_the_start(store: BlobStore) -> None:
    fanout = sorted(p.name for p in (store.root / "blobs").iterdir())
    assert fanout == [f"{i:02x}" for i in range(256)]
    assert all((store.root / "blobs" / name).stat().st_mode & 0o777 == 0o700 for name in fanout)


def test_blobs_of_the_deeper_older_layout_stay_readable(store: BlobStore, encryption: Encryption) -> None:
    old = store.write([b"written before the flat layout"], encryption=encryption)
    deeper = store.root / "blobs" / old.blob_id[:2] / old.blob_id[2:4] / old.blob_id
    deeper.parent.mkdir()
    store.path(old.blob_id).rename(deeper)
    assert store.exists(old.blob_id)
    assert joined(store.read(old)) == b"written before the flat layout"
    assert store.delete(old.blob_id)
    assert not deeper.exists()
    assert not store.exists(old.blob_id)


def test_with_keys_shares_the_store_but_not_the_keys(store: BlobStore, tmp_path: Path) -> None:
    other = FakeKms()
    clone = store.with_keys(KeySourceByMode(SseS3KeySource(RootKey(os.urandom(32)), tmp_path / "k"), other))
    info = clone.write([b"via the clone"], encryption=SSE_KMS)
    assert store.exists(info.blob_id)
    assert joined(clone.read(info)) == b"via the clone"
    assert other.unwrapped  # the clone's key source, not the store's, unwrapped the data key
    with pytest.raises(InvalidTag):
        joined(store.read(info))


@pytest.mark.parametrize("bad", ["../../etc/passwd", "ABCDEF" * 6, "a" * 31, ""])
def test_ids_that_are_not_ours_are_refused(store: BlobStore, bad: str) -> None:
    with pytest.raises(ValueError):
        store.exists(bad)
    with pytest.raises(ValueError):
        store.delete(bad)


def test_delete_is_idempotent(store: BlobStore) -> None:
    info = store.write([b"bye"], encryption=SSE_S3)
    assert store.delete(info.blob_id) is True
    assert not store.exists(info.blob_id)
    assert store.delete(info.blob_id) is False


def test_encryption_validates_its_mode() -> None:
    with pytest.raises(ValueError):
        Encryption("AES128")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Encryption("AES256", kms_key_id="alias/x")


def test_multipart_etag_matches_s3s_rule(store: BlobStore) -> None:
    datas = [os.urandom(6000), os.urandom(10), b""]
    parts = [store.write([d], encryption=SSE_S3) for d in datas]
    expected = hashlib.md5(b"".join(hashlib.md5(d).digest() for d in datas)).hexdigest()
    assert multipart_etag(parts) == f'"{expected}-3"'
