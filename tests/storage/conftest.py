"""Fixtures for the blob store: a store per test, an SSE-S3 key source and a fake KMS."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cove.keyring import RootKey
from cove.storage import BlobStore, Encryption, KeySourceByMode, SseS3KeySource

CHUNK = 4096
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


class KeyDisabled(Exception):
    """Stands in for KMS's DisabledException: the store must let it through untouched."""


class FakeKms:
    """A KMS-like key source: wraps data keys under one key and can be switched off."""

    def __init__(self) -> None:
        self._aead = AESGCM(AESGCM.generate_key(256))
        self.disabled = False
        self.unwrapped: list[Encryption] = []

    def new_data_key(self, encryption: Encryption) -> tuple[bytes, bytes, str | None]:
        key = secrets.token_bytes(32)
        nonce = secrets.token_bytes(12)
        return key, nonce + self._aead.encrypt(nonce, key, None), KEY_ARN

    def unwrap(self, wrapped: bytes, encryption: Encryption) -> bytes:
        self.unwrapped.append(encryption)
        if self.disabled:
            raise KeyDisabled(f"{encryption.kms_key_id} is disabled")
        return self._aead.decrypt(wrapped[:12], wrapped[12:], None)


SSE_S3 = Encryption("AES256", context={"aws:s3:arn": "arn:aws:s3:::bucket/key"})
SSE_KMS = Encryption("aws:kms", kms_key_id="alias/data", context={"aws:s3:arn": "arn:aws:s3:::bucket/key"})


@pytest.fixture
def root_key() -> RootKey:
    return RootKey(os.urandom(32))


@pytest.fixture
def kms() -> FakeKms:
    return FakeKms()


@pytest.fixture
def keys(tmp_path: Path, root_key: RootKey, kms: FakeKms) -> KeySourceByMode:
    return KeySourceByMode(SseS3KeySource(root_key, tmp_path / "sse-s3.key"), kms)


@pytest.fixture
def store(tmp_path: Path, keys: KeySourceByMode) -> BlobStore:
    return BlobStore(tmp_path / "store", keys, chunk_size=CHUNK)


@pytest.fixture(params=[SSE_S3, SSE_KMS], ids=["AES256", "aws:kms"])
def encryption(request: pytest.FixtureRequest) -> Encryption:
    enc: Encryption = request.param
    return enc


def pieces(data: bytes, size: int) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def joined(chunks: Iterable[bytes]) -> bytes:
    return b"".join(chunks)


def pattern(size: int) -> bytes:
    """Recognisable, non-repeating-at-chunk-size plaintext: easy to spot if it ever reaches the disk."""
    unit = b"COVE-PLAINTEXT-MARKER-"
    return (unit * (size // len(unit) + 1))[:size]


def record_fsyncs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """From now on, the path of every file or directory os.fsync is called on, in order."""
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return synced
