"""Blob store throughput: encrypted writes and reads against a raw copy of the same bytes.

Writes and reads one blob per encryption mode (SSE-S3 with a root-key-sealed master key, SSE-KMS
with a dummy KMS-like key source that wraps locally) and times ``shutil.copyfile`` of a same-size
plaintext file on the same disk as the floor. Files are fresh in the page cache for every
measurement, so this compares CPU cost (hashing, AES-GCM, copies), not the disk.

    python bench/storage.py [--mib 512] [--dir DIR] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cove.keyring import RootKey
from cove.storage import BlobInfo, BlobStore, Encryption, KeySourceByMode, SseS3KeySource

MiB = 1024 * 1024
PIECE = 256 * 1024


class DummyKms:
    """KMS-like: a data key per blob, wrapped under one local key, with a key ARN."""

    def __init__(self) -> None:
        self._aead = AESGCM(AESGCM.generate_key(256))

    def new_data_key(self, encryption: Encryption) -> tuple[bytes, bytes, str | None]:
        key, nonce = secrets.token_bytes(32), secrets.token_bytes(12)
        return (
            key,
            nonce + self._aead.encrypt(nonce, key, None),
            "arn:aws:kms:us-east-1:000000000000:key/bench",
        )

    def unwrap(self, wrapped: bytes, encryption: Encryption) -> bytes:
        return self._aead.decrypt(wrapped[:12], wrapped[12:], None)


def stream(total: int) -> Iterator[bytes]:
    """Fresh pieces, as a socket would deliver them, without holding the object in memory."""
    template = os.urandom(PIECE)
    for i in range(total // PIECE):
        yield i.to_bytes(8, "big") + template[8:]


def best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def mbps(total: int, seconds: float) -> float:
    return total / MiB / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=512)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: a temp dir)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the best counts")
    args = parser.parse_args()
    total = args.mib * MiB

    with tempfile.TemporaryDirectory(prefix="cove-bench-storage-", dir=args.dir) as tmp:
        root = Path(tmp)
        keys = KeySourceByMode(SseS3KeySource(RootKey(os.urandom(32)), root / "master.key"), DummyKms())
        store = BlobStore(root / "store", keys)

        plain = root / "plain.bin"
        with plain.open("wb") as out:
            for piece in stream(total):
                out.write(piece)
        copy = root / "copy.bin"

        def raw_copy() -> None:
            shutil.copyfile(plain, copy)
            copy.unlink()

        def raw_copy_fsync() -> None:
            # The write floor: a blob write is durable (fsync) before it returns, copyfile is not.
            shutil.copyfile(plain, copy)
            fd = os.open(copy, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
            copy.unlink()

        def digests() -> None:
            md5, sha256 = hashlib.md5(), hashlib.sha256()
            for piece in stream(total):
                md5.update(piece)
                sha256.update(piece)

        def raw_read() -> None:
            buffer = bytearray(MiB)
            with plain.open("rb", buffering=0) as f:
                while f.readinto(buffer):
                    pass

        raw_copy()  # warm the page cache
        copy_s = best(args.repeat, raw_copy)
        copy_fsync_s = best(args.repeat, raw_copy_fsync)
        read_s = best(args.repeat, raw_read)
        print(f"{args.mib} MiB, best of {args.repeat}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
        print(f"  raw copyfile            {mbps(total, copy_s):8.0f} MB/s")
        print(f"  raw copyfile + fsync    {mbps(total, copy_fsync_s):8.0f} MB/s")
        print(f"  raw read (1 MiB chunks) {mbps(total, read_s):8.0f} MB/s")
        print(f"  md5 + sha256 of stream  {mbps(total, best(args.repeat, digests)):8.0f} MB/s")

        for label, encryption in (
            ("AES256", Encryption("AES256")),
            ("aws:kms", Encryption("aws:kms", kms_key_id="alias/bench")),
        ):
            written: list[str] = []

            def write(encryption: Encryption = encryption, written: list[str] = written) -> None:
                written.append(store.write(stream(total), encryption=encryption).blob_id)

            write_s = best(args.repeat, write)
            for blob_id in written:
                store.delete(blob_id)
            info = store.write(stream(total), encryption=encryption)

            def read(info: BlobInfo = info) -> None:
                for _ in store.read(info):
                    pass

            def ranged(info: BlobInfo = info) -> None:
                # A quarter of the object from an odd offset: only the chunks it covers are decrypted.
                for _ in store.read(info, start=total // 3 + 7, end=total // 3 + 7 + total // 4):
                    pass

            read(info)
            read_s_enc = best(args.repeat, read)
            ranged_s = best(args.repeat, ranged)
            store.delete(info.blob_id)
            print(
                f"  {label:8} write {mbps(total, write_s):6.0f} MB/s ({copy_fsync_s / write_s:4.0%} of copy+fsync)"
                f"   read {mbps(total, read_s_enc):6.0f} MB/s ({copy_s / read_s_enc:4.0%} of copy)"
                f"   range read {mbps(total // 4, ranged_s):6.0f} MB/s"
            )


if __name__ == "__main__":
    main()
