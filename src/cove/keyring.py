"""The state directory's root key, which seals every secret Cove stores (access keys, KMS material)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["RootKey"]

_VERSION = b"\x01"


class RootKey:
    """AES-256-GCM under a 32-byte key kept in a 0600 file. Sealed values carry a version byte and
    a random nonce, and are bound to a caller-chosen context so they cannot be swapped between rows."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("root key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def load_or_create(cls, path: Path) -> RootKey:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            key = secrets.token_bytes(32)
            tmp = path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, key)
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                # link() fails if another process created the key first; then both use theirs.
                os.link(tmp, path)
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        mode = path.stat().st_mode & 0o777
        if mode & 0o077:
            os.chmod(path, 0o600)
        return cls(path.read_bytes())

    def seal(self, plaintext: bytes, context: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, plaintext, context.encode())

    def open(self, sealed: bytes, context: str) -> bytes:
        if sealed[:1] != _VERSION:
            raise ValueError("unknown sealed-value version")
        return self._aead.decrypt(sealed[1:13], sealed[13:], context.encode())
