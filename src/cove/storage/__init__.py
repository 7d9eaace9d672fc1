"""Blob storage for S3 object data: streaming, atomic, checksummed and always encrypted at rest.

Layout. ``BlobStore(root, keys)`` keeps each blob in ``root/blobs/ab/<blob_id>`` (32 random hex
digits, fanned out by the first byte into 256 directories, made and synced when the store opens; the
blobs of older stores, one level deeper in ``ab/cd/``, are still read, deleted and swept). A write
streams into ``root/tmp/<blob_id>.tmp``, fsyncs it, renames it into place and fsyncs its directory,
so a crash leaves no blob or a whole one, and no write creates a directory. Blobs are
immutable; S3 records ``BlobInfo`` in its metadata row. A blob written but never committed by S3 (a
crash between ``write`` and the transaction) is an orphan: ``sweep(live, older_than_s)`` removes
those and stale temp files, sparing anything younger than ``older_than_s`` so in-flight writes
survive. ``with_keys`` gives the same store with another key source, without touching the disk.

Group commit. ``write`` is ``stage`` (the temp file written and checked, nothing synced) followed
by ``place([staged])``. A caller with many small writes in flight stages each and places them
together: every blob's data is still synced before its rename, but the directory syncs are shared,
and one thread does the waiting for all of them.

File format. A 16-byte header (``COVEBLOB``, format version, 4-byte random nonce prefix), then the
plaintext cut into fixed chunks (``chunk_size``, 1 MiB by default; only the last may be short, and
an empty blob has one empty chunk), each sealed with AES-256-GCM as ciphertext + 16-byte tag. The
nonce is the prefix + a 64-bit chunk counter; the associated data binds the header, the blob id,
the chunk index and a final-chunk flag, so chunks cannot be moved between blobs, reordered or
dropped, nor the blob truncated at a chunk boundary, without ``BlobCorrupted``. Chunk ``i`` starts at a computable offset,
so a range read touches and decrypts only the chunks it overlaps.

Keys. Every blob has its own random 256-bit data key. A ``KeySource`` makes it and wraps it; the
wrapped key, the mode (``AES256`` or ``aws:kms``), the key ARN and the encryption context go into
``BlobInfo``; reading calls ``KeySource.unwrap`` and lets its errors (KMS DisabledException…)
through unchanged. ``SseS3KeySource`` wraps data keys under one master key that is itself sealed by
the state directory's root key. It takes any ``Sealer`` (``seal``/``open``, as ``cove.keyring.RootKey``
has) rather than importing cove.keyring, so the store stays a leaf that tests drive with any sealer
and never depends on how the root key is found on disk. SSE-KMS is a KeySource S3 builds over its KMS
service; ``KeySourceByMode`` lets one store serve both.

Digests. MD5 (the ETag) and CRC32 are computed over the plaintext while streaming, and SHA-256
unless the writer declines it (``sha256=False``: at a few hundred MB/s it would cost more than the
encryption, and S3 wants it only when a client asks for that checksum; the chunks' GCM tags protect
the stored bytes in any case); an expected MD5/SHA-256 that does not match raises
``DigestMismatch`` and leaves nothing behind.
CRC32C is not computed: no C implementation is among Cove's dependencies and a pure-Python one runs
at a few MB/s, far below the rest of the pipeline; S3 can add it when a native module is available.

Multipart. Each uploaded part is its own blob; a completed upload is the list of part BlobInfos, read
with ``read_composite(parts, start=, end=)`` without rewriting data; ``multipart_etag`` gives S3's
``"<md5-of-md5s>-<n>"`` ETag.

Ranges are ``[start, end)`` with ``end`` exclusive (None = to the end, larger values are clamped);
an empty range or a start outside the object raises ``InvalidRange`` (the full read of an empty
object is allowed).
"""

from __future__ import annotations

from cove.storage.blobinfo import BlobInfo, multipart_etag
from cove.storage.blobstore import DEFAULT_CHUNK_SIZE, BlobStore, StagedBlob
from cove.storage.encryption import Encryption, KeySource, KeySourceByMode, Mode, Sealer, SseS3KeySource
from cove.storage.errors import BlobCorrupted, BlobNotFound, DigestMismatch, InvalidRange, StorageError

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "BlobCorrupted",
    "BlobInfo",
    "BlobNotFound",
    "BlobStore",
    "DigestMismatch",
    "Encryption",
    "InvalidRange",
    "KeySource",
    "KeySourceByMode",
    "Mode",
    "Sealer",
    "SseS3KeySource",
    "StagedBlob",
    "StorageError",
    "multipart_etag",
]
