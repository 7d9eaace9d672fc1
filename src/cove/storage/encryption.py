"""Encryption settings of a blob and the key sources that make and unwrap its data keys."""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol, get_args

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cove.storage.errors import BlobCorrupted

__all__ = ["Encryption", "KeySource", "KeySourceByMode", "Mode", "Sealer", "SseS3KeySource"]

Mode = Literal["AES256", "aws:kms"]
_MODES: tuple[str, ...] = get_args(Mode)


@dataclass(frozen=True)
class Encryption:
    """How a blob is encrypted: SSE-S3 (``AES256``) or SSE-KMS (``aws:kms`` under ``kms_key_id``).

    ``context`` is the encryption context the data key is bound to (S3 uses the object's ARN)."""

    mode: Mode
    kms_key_id: str | None = None
    context: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise ValueError(f"unknown encryption mode {self.mode!r}")
        if self.mode == "AES256" and self.kms_key_id is not None:
            raise ValueError("AES256 takes no KMS key")


class KeySource(Protocol):
    """Makes per-blob data keys and unwraps them again.

    ``unwrap`` receives the blob's Encryption with ``kms_key_id`` set to the key ARN that
    ``new_data_key`` returned; whatever it raises (KMS DisabledException, AccessDenied…) reaches
    the caller of ``BlobStore.read`` unchanged."""

    def new_data_key(self, encryption: Encryption) -> tuple[bytes, bytes, str | None]:
        """Return (32-byte plaintext key, wrapped key, key ARN or None)."""
        ...

    def unwrap(self, wrapped: bytes, encryption: Encryption) -> bytes:
        """Return the 32-byte plaintext key inside ``wrapped``."""
        ...


class Sealer(Protocol):
    """Anything that seals small secrets under a context: ``cove.keyring.RootKey`` is one."""

    def seal(self, plaintext: bytes, context: str) -> bytes: ...

    def open(self, sealed: bytes, context: str) -> bytes: ...


_MASTER_CONTEXT = "cove-storage/sse-s3-master/v1"
_WRAP_VERSION = b"\x01"


def _context_aad(context: Mapping[str, str]) -> bytes:
    # Canonical JSON so the same context always authenticates, whatever order S3 built it in.
    return (
        b"cove-storage/data-key|" + json.dumps(dict(context), sort_keys=True, separators=(",", ":")).encode()
    )


class SseS3KeySource:
    """SSE-S3: data keys wrapped (AES-256-GCM) by one master key, itself sealed under the root key.

    The sealed master key lives in ``master_path`` and is created on first use, so rotating the
    root key only re-seals 60 bytes, never the blobs."""

    def __init__(self, sealer: Sealer, master_path: Path) -> None:
        self._sealer = sealer
        self._path = master_path
        self._aead: AESGCM | None = None
        self._lock = threading.Lock()

    def _master(self) -> AESGCM:
        if self._aead is None:
            with self._lock:
                if self._aead is None:
                    self._aead = AESGCM(self._load_or_create())
        return self._aead

    def _load_or_create(self) -> bytes:
        if not self._path.exists():
            self._path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self._path.with_name(f"{self._path.name}.{secrets.token_hex(8)}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, self._sealer.seal(secrets.token_bytes(32), _MASTER_CONTEXT))
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                # link() refuses to overwrite: if another process won the race, everyone uses its key.
                os.link(tmp, self._path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        return self._sealer.open(self._path.read_bytes(), _MASTER_CONTEXT)

    def new_data_key(self, encryption: Encryption) -> tuple[bytes, bytes, str | None]:
        key = secrets.token_bytes(32)
        nonce = secrets.token_bytes(12)
        wrapped = _WRAP_VERSION + nonce + self._master().encrypt(nonce, key, _context_aad(encryption.context))
        return key, wrapped, None

    def unwrap(self, wrapped: bytes, encryption: Encryption) -> bytes:
        if wrapped[:1] != _WRAP_VERSION or len(wrapped) != 1 + 12 + 32 + 16:
            raise BlobCorrupted("wrapped data key has an unknown format")
        master = self._master()  # a wrong root key is the sealer's error, not a corrupt blob
        try:
            return master.decrypt(wrapped[1:13], wrapped[13:], _context_aad(encryption.context))
        except InvalidTag:
            raise BlobCorrupted("wrapped data key failed authentication") from None


class KeySourceByMode:
    """One KeySource per encryption mode, so a single BlobStore serves SSE-S3 and SSE-KMS objects."""

    def __init__(self, sse_s3: KeySource, kms: KeySource | None = None) -> None:
        self._sources: dict[str, KeySource | None] = {"AES256": sse_s3, "aws:kms": kms}

    def _source(self, encryption: Encryption) -> KeySource:
        source = self._sources[encryption.mode]
        if source is None:
            raise ValueError(f"no key source for {encryption.mode}")
        return source

    def new_data_key(self, encryption: Encryption) -> tuple[bytes, bytes, str | None]:
        return self._source(encryption).new_data_key(encryption)

    def unwrap(self, wrapped: bytes, encryption: Encryption) -> bytes:
        return self._source(encryption).unwrap(wrapped, encryption)
