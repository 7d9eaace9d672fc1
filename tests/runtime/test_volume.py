"""The instance volume on the real kernel: gocryptfs over FUSE, seen from other mount namespaces."""

from __future__ import annotations

import mmap
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cove.runtime import volume as vol
from cove.runtime.volume import Volume, VolumeError

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or vol.available() is not None, reason=vol.available() or "needs root"
)

MARKER = b"cove-volume-marker-7f3a9c"
KEY = bytes(range(32))


@pytest.fixture
def base() -> Iterator[Path]:
    # pytest's tmp_path lies under a 0700 directory; a job uid other than root must be able to
    # reach the cipher files, as under Cove's state dir.
    path = Path(tempfile.mkdtemp(prefix="cvtvol-"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        vol.gc(path)
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def host_dir(base: Path) -> Path:
    return base / "algo-1"


@pytest.fixture
def encrypted(host_dir: Path) -> Iterator[Volume]:
    volume = Volume.create(host_dir, 30, KEY)
    yield volume
    volume.close()


def test_contents_and_names_are_encrypted_on_disk(encrypted: Volume) -> None:
    (encrypted.path / "model-secret-name.txt").write_bytes(b"x" * 5000 + MARKER + b"y" * 5000)
    assert MARKER in (encrypted.path / "model-secret-name.txt").read_bytes()
    on_disk = [p for p in encrypted.cipher_dir.rglob("*") if p.is_file()]
    assert len(on_disk) >= 3  # gocryptfs.conf, gocryptfs.diriv, the file
    for p in on_disk:
        assert MARKER not in p.read_bytes(), p
        assert b"secret" not in p.name.encode()
    assert encrypted.path in vol.leftovers(encrypted.host_dir.parent)


def test_what_a_training_job_does_works(encrypted: Volume) -> None:
    root = encrypted.path
    (root / "model" / "sub").mkdir(parents=True)
    script = root / "model" / "train"
    script.write_text('#!/bin/sh\necho trained "$1"\n')
    script.chmod(0o755)
    assert subprocess.run([str(script), "ok"], capture_output=True, text=True).stdout == "trained ok\n"
    (root / "model" / "tmp").write_text("a")
    os.rename(root / "model" / "tmp", root / "model" / "sub" / "final")
    os.symlink("sub/final", root / "model" / "link")
    assert (root / "model" / "link").read_text() == "a"
    os.link(root / "model" / "sub" / "final", root / "model" / "hard")
    big = root / "sparse"
    with big.open("wb") as f:
        f.seek(5 << 30)  # beyond 4 GiB: 64-bit offsets through the cipher layer
        f.write(MARKER)
    assert big.stat().st_size == (5 << 30) + len(MARKER)
    with big.open("rb") as r:
        r.seek(5 << 30)
        assert r.read() == MARKER
    mapped = root / "mapped"
    mapped.write_bytes(b"\0" * 8192)
    with mapped.open("r+b") as rw, mmap.mmap(rw.fileno(), 8192) as m:
        m[4096 : 4096 + len(MARKER)] = MARKER
        m.flush()
    assert mapped.read_bytes()[4096:].startswith(MARKER)


def test_another_private_mount_namespace_sees_and_writes_it(encrypted: Volume) -> None:
    (encrypted.path / "from-host").write_bytes(MARKER)
    # What the container runtime does: a new mount namespace with private propagation, made
    # after the volume was mounted; a uid other than root reads too (-allow_other).
    script = (
        f"set -e; cat {encrypted.path}/from-host; echo; echo inside > {encrypted.path}/from-ns; "
        f"cd {encrypted.path}; setpriv --reuid 65534 --regid 65534 --clear-groups cat from-host"
    )
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == MARKER + b"\n" + MARKER
    assert (encrypted.path / "from-ns").read_text() == "inside\n"


def test_wrong_key_cannot_mount(host_dir: Path) -> None:
    volume = Volume.create(host_dir, 30, KEY)
    (volume.path / "f").write_bytes(MARKER)
    vol._unmount(volume.path)
    with pytest.raises(VolumeError, match=r"wrong volume key: .*Password incorrect"):
        Volume.attach(host_dir, 30, bytes(32))
    assert volume.path not in vol.leftovers(host_dir)
    again = Volume.attach(host_dir, 30, KEY)
    assert (again.path / "f").read_bytes() == MARKER
    again.close()


def test_close_unmounts_and_wipes(host_dir: Path) -> None:
    volume = Volume.create(host_dir, 30, KEY)
    (volume.path / "f").write_bytes(MARKER)
    busy = (volume.path / "f").open("rb")  # an open file forces the lazy unmount
    try:
        volume.close()
    finally:
        busy.close()
    assert vol.leftovers(host_dir) == []
    assert not volume.cipher_dir.exists() and not volume.path.exists() and not host_dir.exists()
    volume.close()  # idempotent


def test_gc_unmounts_what_no_one_keeps(base: Path) -> None:
    kept = Volume.create(base / "algo-1", 30, KEY)
    lost = Volume.create(base / "algo-2", 30, KEY)
    try:
        assert sorted(vol.leftovers(base)) == [kept.path, lost.path]
        assert vol.gc(base, keep=[kept.path]) == [lost.path]
        assert vol.leftovers(base) == [kept.path]
        assert not lost.cipher_dir.exists()
    finally:
        kept.close()


def test_without_a_key_it_is_a_plain_directory(host_dir: Path) -> None:
    volume = Volume.create(host_dir, 30, None)
    (volume.path / "f").write_bytes(MARKER)
    assert vol.leftovers(host_dir) == [] and not volume.cipher_dir.exists()
    assert (volume.path / "f").read_bytes() == MARKER
    volume.close()
    assert not host_dir.exists()


def _drop_cache(directory: Path) -> None:
    # Reads must come from the disk on both sides: for the encrypted volume that means the FUSE
    # page cache AND the cipher files' page cache are dropped.
    for path in directory.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)


def _throughput(directory: Path, backing: Path, size: int = 256 << 20) -> tuple[float, float]:
    block = os.urandom(1 << 20)
    path = directory / "bench"
    start = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT)
    for _ in range(size // len(block)):
        os.write(fd, block)
    os.fsync(fd)
    os.close(fd)
    written = time.perf_counter() - start
    _drop_cache(directory)
    _drop_cache(backing)
    start = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    while os.read(fd, 1 << 20):
        pass
    os.close(fd)
    read = time.perf_counter() - start
    path.unlink()
    return size / written / 1e6, size / read / 1e6


def test_throughput_against_a_plain_directory(encrypted: Volume, base: Path) -> None:
    plain = base / "plain-bench"
    plain.mkdir()
    plain_w, plain_r = _throughput(plain, plain)
    enc_w, enc_r = _throughput(encrypted.path, encrypted.cipher_dir)
    print(
        f"\nplain write {plain_w:.0f} MB/s read {plain_r:.0f} MB/s; "
        f"gocryptfs write {enc_w:.0f} MB/s read {enc_r:.0f} MB/s; "
        f"ratio write {enc_w / plain_w:.2f} read {enc_r / plain_r:.2f}"
    )
    assert enc_w > 20 and enc_r > 20
