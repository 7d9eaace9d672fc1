"""Failures the blob store reports; S3 maps them onto its own wire errors (BadDigest, InvalidRange…)."""

from __future__ import annotations

__all__ = ["BlobCorrupted", "BlobNotFound", "DigestMismatch", "InvalidRange", "StorageError"]


class StorageError(Exception):
    """Base of every error the blob store raises itself (key-service errors pass through unchanged)."""


class DigestMismatch(StorageError):
    """The data written does not match a digest the client declared; nothing was stored."""

    def __init__(self, algorithm: str, expected: str, actual: str) -> None:
        super().__init__(f"{algorithm} mismatch: expected {expected}, computed {actual}")
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual


class BlobCorrupted(StorageError):
    """A blob file failed authentication: tampered, truncated, reordered or written under another id."""


class BlobNotFound(StorageError):
    """No blob file exists for the id (deleted, swept, or never committed)."""


class InvalidRange(StorageError):
    """The requested byte range is empty or lies outside the object."""
