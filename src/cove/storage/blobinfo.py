"""What S3 keeps about a stored blob: identity, size, digests and how to get its data key back."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from cove.storage.encryption import _MODES, Encryption, Mode

__all__ = ["BlobInfo", "multipart_etag"]


@dataclass(frozen=True)
class BlobInfo:
    """One written blob. Digests are over the plaintext: ``md5`` is S3's ETag (hex), ``crc32`` an
    unsigned int, ``sha256`` None when the writer did not ask for it. ``wrapped_key`` is the data
    key as the key source wrapped it, base64-encoded."""

    blob_id: str
    size: int
    md5: str
    sha256: str | None
    crc32: int
    chunk_size: int
    mode: Mode
    kms_key_arn: str | None
    wrapped_key: str
    context: Mapping[str, str] = field(default_factory=dict)

    @property
    def etag(self) -> str:
        return f'"{self.md5}"'

    @property
    def encryption(self) -> Encryption:
        """The Encryption a key source's ``unwrap`` receives: the mode, the key ARN and the context."""
        return Encryption(self.mode, self.kms_key_arn, dict(self.context))

    def md5_base64(self) -> str:
        return base64.b64encode(bytes.fromhex(self.md5)).decode()

    def sha256_base64(self) -> str:
        if self.sha256 is None:
            raise ValueError(f"blob {self.blob_id} was written without its SHA-256")
        return base64.b64encode(bytes.fromhex(self.sha256)).decode()

    def crc32_base64(self) -> str:
        return base64.b64encode(self.crc32.to_bytes(4, "big")).decode()

    def to_dict(self) -> dict[str, Any]:
        return {
            "blob_id": self.blob_id,
            "size": self.size,
            "md5": self.md5,
            "sha256": self.sha256,
            "crc32": self.crc32,
            "chunk_size": self.chunk_size,
            "mode": self.mode,
            "kms_key_arn": self.kms_key_arn,
            "wrapped_key": self.wrapped_key,
            "context": dict(self.context),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BlobInfo:
        def typed(name: str, kind: type) -> Any:
            value = data[name]
            if not isinstance(value, kind) or isinstance(value, bool):
                raise ValueError(f"BlobInfo.{name} must be {kind.__name__}")
            return value

        mode = typed("mode", str)
        if mode not in _MODES:
            raise ValueError(f"unknown encryption mode {mode!r}")
        arn = data.get("kms_key_arn")
        if arn is not None and not isinstance(arn, str):
            raise ValueError("BlobInfo.kms_key_arn must be str or null")
        sha256 = data.get("sha256")
        if sha256 is not None and not isinstance(sha256, str):
            raise ValueError("BlobInfo.sha256 must be str or null")
        context = typed("context", dict)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in context.items()):
            raise ValueError("BlobInfo.context must map strings to strings")
        return cls(
            blob_id=typed("blob_id", str),
            size=typed("size", int),
            md5=typed("md5", str),
            sha256=sha256,
            crc32=typed("crc32", int),
            chunk_size=typed("chunk_size", int),
            mode=cast(Mode, mode),
            kms_key_arn=arn,
            wrapped_key=typed("wrapped_key", str),
            context=dict(context),
        )


def multipart_etag(parts: Sequence[BlobInfo]) -> str:
    """S3's ETag of a completed multipart upload: MD5 of the parts' binary MD5s, then ``-<count>``."""
    joined = hashlib.md5(b"".join(bytes.fromhex(p.md5) for p in parts), usedforsecurity=False)
    return f'"{joined.hexdigest()}-{len(parts)}"'
