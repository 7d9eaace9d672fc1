"""The blob store: encrypted, checksummed, crash-safe files holding S3 object data."""

from __future__ import annotations

import base64
import copy
import errno
import hashlib
import os
import re
import secrets
import struct
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import TypeVar

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cove.storage.blobinfo import BlobInfo
from cove.storage.encryption import Encryption, KeySource
from cove.storage.errors import BlobCorrupted, BlobNotFound, DigestMismatch, InvalidRange

__all__ = ["DEFAULT_CHUNK_SIZE", "HEADER_SIZE", "TAG_SIZE", "BlobStore", "StagedBlob"]

T = TypeVar("T")
DEFAULT_CHUNK_SIZE = 1 << 20
TAG_SIZE = 16
_MAGIC = b"COVEBLOB"
_VERSION = 1
# magic, format version, 4-byte nonce prefix, 3 reserved bytes.
_HEADER = struct.Struct(">8sB4s3x")
HEADER_SIZE = _HEADER.size
_BLOB_ID = re.compile(r"[0-9a-f]{32}\Z")
_FANOUT = tuple(f"{i:02x}" for i in range(256))
_COUNTER = struct.Struct(">Q")
_CHUNK_AAD = struct.Struct(">QB")


def _check_id(blob_id: str) -> str:
    # Ids become paths: anything but 32 hex digits could climb out of the store.
    if not _BLOB_ID.match(blob_id):
        raise ValueError(f"not a blob id: {blob_id!r}")
    return blob_id


def _chunk_count(size: int, chunk_size: int) -> int:
    # An empty blob still has one (empty, final) chunk, so truncating to the header is detected.
    return max(1, -(-size // chunk_size))


def _resolve_range(size: int, start: int, end: int | None) -> tuple[int, int]:
    """Check [start, end) against an object of ``size`` bytes; ``end`` past the size is clamped."""
    if end is None:
        # A full read of an empty object is fine; any other start must fall inside the object.
        if start == 0:
            return 0, size
        end = size
    if start < 0 or start >= size or end <= start:
        raise InvalidRange(f"range [{start}, {end}) is not satisfiable for {size} bytes")
    return start, min(end, size)


def _fixed_chunks(pieces: Iterable[bytes], size: int) -> Iterator[bytes | bytearray | memoryview]:
    """Re-cut the caller's pieces into ``size``-byte chunks; only the last may be short (or empty)."""
    pending = bytearray()
    emitted = False
    for piece in pieces:
        if not piece:
            continue
        # Slicing immutable bytes is free; anything mutable is copied once, as the caller may reuse it.
        view = memoryview(piece if isinstance(piece, bytes) else bytes(piece)).cast("B")
        offset = 0
        if pending:
            take = min(size - len(pending), len(view))
            pending += view[:take]
            offset = take
            if len(pending) < size:
                continue
            # Hand the full buffer over and start a new one rather than copying it.
            yield pending
            emitted = True
            pending = bytearray()
        while len(view) - offset >= size:
            yield view[offset : offset + size]
            emitted = True
            offset += size
        pending += view[offset:]
    if pending or not emitted:
        yield bytes(pending)


def _with_final_flag(
    chunks: Iterator[bytes | bytearray | memoryview],
) -> Iterator[tuple[bytes | bytearray | memoryview, bool]]:
    previous = next(chunks)
    for chunk in chunks:
        yield previous, False
        previous = chunk
    yield previous, True


class _ChunkCipher:
    """Per-blob chunk crypto: nonce = 4-byte random prefix + 8-byte counter, and associated data
    binding the header, the blob id, the chunk index and whether it is the last chunk."""

    def __init__(self, key: bytes, header: bytes, blob_id: str) -> None:
        self._aead = AESGCM(key)
        self._prefix = header[9:13]
        # The whole header is authenticated too, reserved bytes included.
        self._aad_prefix = b"cove-blob/1|" + header + blob_id.encode() + b"|"

    def _nonce_aad(self, index: int, final: bool) -> tuple[bytes, bytes]:
        return self._prefix + _COUNTER.pack(index), self._aad_prefix + _CHUNK_AAD.pack(index, final)

    def encrypt(self, index: int, final: bool, plaintext: bytes | bytearray | memoryview) -> bytes:
        nonce, aad = self._nonce_aad(index, final)
        return self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, index: int, final: bool, ciphertext: bytes | memoryview) -> bytes:
        nonce, aad = self._nonce_aad(index, final)
        try:
            return self._aead.decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise BlobCorrupted(f"chunk {index} failed authentication") from None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class StagedBlob:
    """A blob sealed but not placed yet: written to its temp file and still open there or, staged
    ``in_memory``, held as its sealed bytes until ``place`` writes them. ``BlobStore.place`` makes
    it durable and visible, ``BlobStore.discard`` drops it; ``info`` is what S3 records."""

    __slots__ = ("_fd", "_finished", "_sealed", "dest", "info", "tmp")

    def __init__(
        self, info: BlobInfo, tmp: Path, dest: Path, *, fd: int = -1, sealed: bytes | None = None
    ) -> None:
        self.info = info
        self.tmp = tmp
        self.dest = dest
        self._fd = fd
        self._sealed = sealed
        self._finished = False

    def write_out(self) -> None:
        """Write a blob held in memory to its temp file (not synced); nothing to do otherwise."""
        if self._finished:
            raise ValueError(f"blob {self.info.blob_id} was already placed or discarded")
        if self._sealed is not None:
            self._fd = os.open(self.tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            sealed, self._sealed = self._sealed, None
            _write_all(self._fd, sealed)

    def sync(self) -> None:
        """Make the data durable, then close the file; only once."""
        self.write_out()
        self._finished = True
        try:
            os.fsync(self._fd)
        finally:
            self.close()

    def discard(self) -> None:
        self._finished = True
        self._sealed = None
        self.close()
        self.tmp.unlink(missing_ok=True)

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __del__(self) -> None:
        self.close()


class BlobStore:
    """Blobs under ``root/blobs/ab/cd/<blob_id>``, staged in ``root/tmp/``. See the package docstring."""

    def __init__(self, root: Path, keys: KeySource, *, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        if chunk_size <= 0:
            raise ValueError("chunk_size must be positive")
        self.root = root
        self._keys = keys
        self._chunk_size = chunk_size
        self._blobs = root / "blobs"
        self._tmp = root / "tmp"
        self._make_layout()

    def with_keys(self, keys: KeySource) -> BlobStore:
        """This store with another key source (S3's KMS source acting for one caller), made
        without touching the disk: cheap enough to make per request."""
        clone = copy.copy(self)
        clone._keys = keys
        return clone

    def _make_layout(self) -> None:
        """Create the store's directories, the 256 fan-out ones included, and make their entries
        durable: done here, when the store opens, so no write ever creates or syncs a directory
        other than its own. Synced on every open, not only when this one created them: a process
        that died between its mkdir and its sync leaves directories that exist but may not last."""
        for directory in (self.root, self._blobs, self._tmp):
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        existing = {entry.name for entry in _scan(self._blobs)}
        for name in _FANOUT:
            if name not in existing:
                (self._blobs / name).mkdir(mode=0o700, exist_ok=True)
        for directory in (self._blobs, self.root, self.root.parent):
            _fsync_dir(directory)

    def path(self, blob_id: str) -> Path:
        _check_id(blob_id)
        return self._blobs / blob_id[:2] / blob_id

    def _legacy_path(self, blob_id: str) -> Path:
        # Stores written before the flat layout kept blobs one level deeper: still read and deleted.
        return self._blobs / blob_id[:2] / blob_id[2:4] / blob_id

    # -- writing ---------------------------------------------------------------------------------

    def write(
        self,
        chunks: Iterable[bytes],
        *,
        encryption: Encryption,
        expected_md5: str | None = None,
        expected_sha256: str | None = None,
        sha256: bool = True,
    ) -> BlobInfo:
        """Stream ``chunks`` into a new blob. Expected digests are hex; a mismatch raises
        DigestMismatch and leaves nothing behind. The blob is durable when this returns.
        With ``sha256=False`` (and no expected SHA-256) the blob's ``sha256`` is None: hashing
        costs more than encrypting, and only some callers want it."""
        staged = self.stage(
            chunks,
            encryption=encryption,
            expected_md5=expected_md5,
            expected_sha256=expected_sha256,
            sha256=sha256,
        )
        self.place_one(staged)
        return staged.info

    def stage(
        self,
        chunks: Iterable[bytes],
        *,
        encryption: Encryption,
        expected_md5: str | None = None,
        expected_sha256: str | None = None,
        sha256: bool = True,
        in_memory: bool = False,
    ) -> StagedBlob:
        """``write`` short of durability: the blob is sealed (and its digests checked) into a temp
        file nobody reads or, ``in_memory``, into memory, so that the calling thread (an event loop)
        never waits on the file system: ``place`` writes it. ``place`` makes the blob durable and
        visible, ``discard`` drops it; one of the two must follow (the sweep removes what a crash
        leaves)."""
        blob_id = secrets.token_hex(16)
        key, wrapped, key_arn = self._keys.new_data_key(encryption)
        header = _HEADER.pack(_MAGIC, _VERSION, secrets.token_bytes(4))
        sealer = _ChunkCipher(key, header, blob_id)
        md5 = hashlib.md5(usedforsecurity=False)
        sha = hashlib.sha256() if sha256 or expected_sha256 is not None else None
        crc = 0
        size = 0
        tmp = self._tmp / f"{blob_id}.tmp"
        sealed = [header]
        fd = -1 if in_memory else os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            if fd >= 0:
                _write_all(fd, header)
            for index, (chunk, final) in enumerate(_with_final_flag(_fixed_chunks(chunks, self._chunk_size))):
                md5.update(chunk)
                if sha is not None:
                    sha.update(chunk)
                crc = zlib.crc32(chunk, crc)
                size += len(chunk)
                piece = sealer.encrypt(index, final, chunk)
                if fd >= 0:
                    _write_all(fd, piece)
                else:
                    sealed.append(piece)
            sha_hex = sha.hexdigest() if sha is not None else None
            checks = [("md5", expected_md5, md5.hexdigest())]
            if sha_hex is not None:
                checks.append(("sha256", expected_sha256, sha_hex))
            for algorithm, expected, actual in checks:
                if expected is not None and expected.lower() != actual:
                    raise DigestMismatch(algorithm, expected, actual)
        except BaseException:
            if fd >= 0:
                os.close(fd)
                tmp.unlink(missing_ok=True)
            raise
        info = BlobInfo(
            blob_id=blob_id,
            size=size,
            md5=md5.hexdigest(),
            sha256=sha_hex if sha256 else None,
            crc32=crc,
            chunk_size=self._chunk_size,
            mode=encryption.mode,
            kms_key_arn=key_arn,
            wrapped_key=base64.b64encode(wrapped).decode(),
            context=dict(encryption.context),
        )
        if fd >= 0:
            return StagedBlob(info, tmp, self.path(blob_id), fd=fd)
        return StagedBlob(info, tmp, self.path(blob_id), sealed=b"".join(sealed))

    def place(
        self, staged: Sequence[StagedBlob], *, pool: Executor | None = None
    ) -> list[BaseException | None]:
        """Make staged blobs durable and visible together: sync each one's data and rename it into
        its fan-out directory (made durable when the store opened), then sync each directory once,
        so blobs sharing a directory share its sync. Returns each blob's error, None for those now
        durable; a blob that failed leaves nothing behind.

        With a ``pool``, the syncs of each step run side by side in its threads: the file system
        then makes them durable in one journal commit instead of one commit after another, so a
        batch costs about two commits whatever its size."""

        def settle(blob: StagedBlob) -> None:
            try:
                blob.sync()
                os.replace(blob.tmp, blob.dest)
            except BaseException:
                blob.discard()
                raise

        errors = _each(settle, staged, pool)
        directories: dict[Path, list[int]] = {}
        for i, blob in enumerate(staged):
            if errors[i] is None:
                directories.setdefault(blob.dest.parent, []).append(i)
        for members, error in zip(
            directories.values(), _each(_fsync_dir, list(directories), pool), strict=True
        ):
            if error is not None:
                for i in members:
                    errors[i] = error
                    staged[i].dest.unlink(missing_ok=True)
        return errors

    def place_one(self, staged: StagedBlob) -> None:
        """``place`` one blob, raising its error (nothing left behind then)."""
        (error,) = self.place([staged])
        if error is not None:
            raise error

    def discard(self, staged: StagedBlob) -> None:
        """Drop a staged blob that will not be placed."""
        staged.discard()

    # -- reading ---------------------------------------------------------------------------------

    def read(self, info: BlobInfo, *, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Plaintext of bytes [start, end) (``end`` exclusive, clamped to the size; None = to the end).

        Range, presence, file-size and key errors (InvalidRange, BlobNotFound, BlobCorrupted, the key
        source's own) raise here, before any data; a chunk failing authentication raises BlobCorrupted
        from the iterator. Only the chunks overlapping the range are read and decrypted."""
        start, end = _resolve_range(info.size, start, end)
        return self._open(info, start, end)

    def read_staged(self, staged: StagedBlob) -> Iterator[bytes]:
        """The whole plaintext of a blob staged but not yet placed (a checksum only known late)."""
        staged.write_out()
        return self._open(staged.info, 0, staged.info.size, staged.tmp)

    def _open(self, info: BlobInfo, start: int, end: int, path: Path | None = None) -> Iterator[bytes]:
        cs = info.chunk_size
        chunks = _chunk_count(info.size, cs)
        fd = self._open_fd(info.blob_id) if path is None else os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if os.fstat(fd).st_size != HEADER_SIZE + info.size + chunks * TAG_SIZE:
                raise BlobCorrupted(f"blob {info.blob_id} has the wrong length")
            header = os.pread(fd, HEADER_SIZE, 0)
            magic, version, _ = _HEADER.unpack(header)
            if magic != _MAGIC or version != _VERSION:
                raise BlobCorrupted(f"blob {info.blob_id} has an unknown header")
            key = self._keys.unwrap(base64.b64decode(info.wrapped_key), info.encryption)
            sealer = _ChunkCipher(key, header, info.blob_id)
        except BaseException:
            os.close(fd)
            raise
        return _BlobReader(fd, _chunks(fd, sealer, info, start, end))

    def read_composite(
        self, parts: Sequence[BlobInfo], *, start: int = 0, end: int | None = None
    ) -> Iterator[bytes]:
        """Read [start, end) of the object formed by concatenating ``parts`` (a multipart upload),
        touching only the parts the range overlaps. Errors raise as in ``read`` for the first part."""
        start, end = _resolve_range(sum(p.size for p in parts), start, end)
        segments: list[tuple[BlobInfo, int, int]] = []
        offset = 0
        for part in parts:
            lo, hi = max(start, offset), min(end, offset + part.size)
            if hi > lo:
                segments.append((part, lo - offset, hi - offset))
            offset += part.size
        if not segments:
            return iter(())
        part, lo, hi = segments[0]
        first = self._open(part, lo, hi)
        return self._composite(first, segments[1:])

    def _composite(self, first: Iterator[bytes], rest: list[tuple[BlobInfo, int, int]]) -> Iterator[bytes]:
        yield from first
        for part, lo, hi in rest:
            yield from self._open(part, lo, hi)

    # -- lifecycle -------------------------------------------------------------------------------

    def _open_fd(self, blob_id: str) -> int:
        for path in (self.path(blob_id), self._legacy_path(blob_id)):
            try:
                return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                continue
        raise BlobNotFound(blob_id)

    def exists(self, blob_id: str) -> bool:
        return self.path(blob_id).is_file() or self._legacy_path(blob_id).is_file()

    def delete(self, blob_id: str) -> bool:
        """Remove a blob; returns whether it was there. Deleting twice is fine."""
        for path in (self.path(blob_id), self._legacy_path(blob_id)):
            try:
                path.unlink()
            except FileNotFoundError:
                continue
            return True
        return False

    def sweep(self, live: Callable[[str], bool], older_than_s: float) -> list[str]:
        """Remove blobs ``live`` disowns and temp files, both only if older than ``older_than_s``
        (so a write whose metadata commit is still in flight survives). Returns what went: blob ids,
        and ``tmp/<name>`` for temp files. Safe to run repeatedly and concurrently."""
        cutoff = time.time() - older_than_s
        removed: list[str] = []
        for entry in _scan(self._tmp):
            if _older(entry, cutoff) and _unlink(entry):
                removed.append(f"tmp/{entry.name}")
        for top in _scan(self._blobs):
            for entry in _scan(top):
                # Two hex digits name a directory of the older, deeper layout.
                for candidate in _scan(entry) if len(entry.name) == 2 else [entry]:
                    blob_id = candidate.name
                    if not _BLOB_ID.match(blob_id) or not _older(candidate, cutoff) or live(blob_id):
                        continue
                    if _unlink(candidate):
                        removed.append(blob_id)
        return removed


def _chunks(fd: int, sealer: _ChunkCipher, info: BlobInfo, start: int, end: int) -> Iterator[bytes]:
    cs = info.chunk_size
    last = _chunk_count(info.size, cs) - 1
    first = start // cs
    # One buffer for the whole read: the ciphertext is read into it and decrypted straight out of it.
    view = memoryview(bytearray(cs + TAG_SIZE))
    # An empty range (the full read of an empty blob) still authenticates chunk 0.
    for index in range(first, max(first + 1, -(-end // cs))):
        length = min(cs, info.size - index * cs) + TAG_SIZE
        if os.preadv(fd, [view[:length]], HEADER_SIZE + index * (cs + TAG_SIZE)) != length:
            raise BlobCorrupted(f"chunk {index} is truncated")
        plain = sealer.decrypt(index, index == last, view[:length])
        lo = start - index * cs if index == first else 0
        hi = min(len(plain), end - index * cs)
        if hi <= lo:
            continue
        yield plain if lo == 0 and hi == len(plain) else plain[lo:hi]


class _BlobReader(Iterator[bytes]):
    """Owns the blob's file descriptor, closing it when exhausted, on error, on close() or when dropped
    (a generator alone would leak it if never started)."""

    def __init__(self, fd: int, chunks: Iterator[bytes]) -> None:
        self._fd = fd
        self._chunks = chunks

    def __next__(self) -> bytes:
        if self._fd < 0:
            # Never touch a closed descriptor: its number may already belong to another file.
            raise StopIteration
        try:
            return next(self._chunks)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __del__(self) -> None:
        self.close()


def _each(fn: Callable[[T], None], items: Sequence[T], pool: Executor | None) -> list[BaseException | None]:
    """``fn`` of every item (side by side in ``pool`` when there is one); each item's error or None."""
    errors: list[BaseException | None] = [None] * len(items)
    if pool is None or len(items) < 2:
        for i, item in enumerate(items):
            try:
                fn(item)
            except BaseException as exc:
                errors[i] = exc
        return errors
    futures = [pool.submit(fn, item) for item in items]
    for i, future in enumerate(futures):
        errors[i] = future.exception()
    return errors


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _scan(directory: Path) -> list[Path]:
    try:
        return list(directory.iterdir())
    except FileNotFoundError:
        return []
    except NotADirectoryError:
        return []


def _older(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:
        return False


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as e:
        if e.errno in (errno.EISDIR, errno.EPERM):
            return False
        raise
    return True
