"""S3's additional checksums (``x-amz-checksum-*``): computing, verifying and combining them.

CRC32 and SHA-256 come from the blob store's own digests; CRC32C, CRC64NVME and SHA-1 are computed
here while the body streams through (pure Python tables for the CRCs: clients rarely choose them).
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Iterable, Iterator
from typing import Protocol

from cove.services.s3.errors import BadDigest, InvalidRequest
from cove.storage import BlobInfo

__all__ = [
    "ALGORITHMS",
    "MEMBERS",
    "Hasher",
    "composite",
    "from_blob",
    "hashers_for",
    "requested",
    "verify",
]

# Algorithm name → boto3 member carrying its base64 value.
MEMBERS: dict[str, str] = {
    "CRC32": "ChecksumCRC32",
    "CRC32C": "ChecksumCRC32C",
    "CRC64NVME": "ChecksumCRC64NVME",
    "SHA1": "ChecksumSHA1",
    "SHA256": "ChecksumSHA256",
}
ALGORITHMS = tuple(MEMBERS)


def _table(poly: int, bits: int) -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc & ((1 << bits) - 1))
    return table


_CRC32C = _table(0x82F63B78, 32)
_CRC64NVME = _table(0x9A6C9329AC4BC9B5, 64)


class Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class _ReflectedCrc:
    def __init__(self, table: list[int], bits: int) -> None:
        self._table = table
        self._mask = (1 << bits) - 1
        self._bytes = bits // 8
        self._crc = self._mask

    def update(self, data: bytes, /) -> None:
        crc, table = self._crc, self._table
        for byte in data:
            crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
        self._crc = crc

    def digest(self) -> bytes:
        return (self._crc ^ self._mask).to_bytes(self._bytes, "big")


class _Crc32:
    def __init__(self) -> None:
        self._crc = 0

    def update(self, data: bytes, /) -> None:
        self._crc = zlib.crc32(data, self._crc)

    def digest(self) -> bytes:
        return self._crc.to_bytes(4, "big")


def _new(algorithm: str) -> Hasher:
    if algorithm == "CRC32":
        return _Crc32()
    if algorithm == "CRC32C":
        return _ReflectedCrc(_CRC32C, 32)
    if algorithm == "CRC64NVME":
        return _ReflectedCrc(_CRC64NVME, 64)
    if algorithm == "SHA1":
        return hashlib.sha1(usedforsecurity=False)
    return hashlib.sha256()


def requested(params: dict[str, object]) -> dict[str, str]:
    """The checksums the client sent, by algorithm (base64 values)."""
    return {alg: str(params[m]) for alg, m in MEMBERS.items() if params.get(m)}


def hashers_for(algorithms: Iterable[str]) -> dict[str, Hasher]:
    """Hashers for the algorithms the blob store does not compute itself (S3 writes blobs without
    their SHA-256, which is hashed here only when a client wants it)."""
    return {alg: _new(alg) for alg in algorithms if alg != "CRC32"}


def tee(chunks: Iterable[bytes], hashers: dict[str, Hasher]) -> Iterator[bytes]:
    for chunk in chunks:
        for hasher in hashers.values():
            hasher.update(chunk)
        yield chunk


def from_blob(info: BlobInfo, hashers: dict[str, Hasher], algorithms: Iterable[str]) -> dict[str, str]:
    """The base64 values of ``algorithms`` for the data just written."""
    out: dict[str, str] = {}
    for alg in algorithms:
        if alg == "CRC32":
            out[alg] = info.crc32_base64()
        elif alg in hashers:
            out[alg] = base64.b64encode(hashers[alg].digest()).decode()
    return out


def verify(claimed: dict[str, str], actual: dict[str, str]) -> None:
    """BadDigest when a checksum the client sent does not match the data."""
    for alg, value in claimed.items():
        if alg not in MEMBERS:
            raise InvalidRequest(f"Checksum algorithm {alg} is not supported.")
        if actual.get(alg) != value:
            raise BadDigest(f"The {alg} you specified did not match the calculated checksum.")


def composite(algorithm: str, part_values: list[str]) -> str:
    """A multipart object's checksum: the checksum of the parts' raw checksums, then ``-<count>``."""
    hasher = _new(algorithm)
    for value in part_values:
        hasher.update(base64.b64decode(value))
    return f"{base64.b64encode(hasher.digest()).decode()}-{len(part_values)}"
