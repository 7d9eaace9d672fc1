"""The ML storage volume of a job instance, encrypted at rest when the job names a VolumeKmsKeyId.

SageMaker attaches an EBS volume to every training/processing instance and encrypts it with the
KMS key given in `ResourceConfig.VolumeKmsKeyId` (`ClusterConfig.VolumeKmsKeyId` for processing).
Cove's volume is a host directory. With a key it is a gocryptfs file system: the cipher directory
`<host_dir>/cipher` is what lies on disk (file contents AND names encrypted, AES-256-GCM), and the
plaintext view is a FUSE mount at `<host_dir>/plain`, which the job bind-mounts into its container.

The key is the 32-byte plaintext data key of a KMS GenerateDataKey call (the caller keeps only the
CiphertextBlob). It is handed to gocryptfs as the password (hex) through a pipe on stdin
(`-passfile /dev/stdin`), so it never touches the disk or a command line. gocryptfs wraps its own
random master key with it (`gocryptfs.conf`), which gives a clear "Password incorrect" when a wrong
data key is presented; `-masterkey=stdin` would mount with any key and fail only on reads.

Mount namespaces: the FUSE mount is made in the server's namespace before the container starts,
so a container's private copy of the mount table includes it. `-allow_other` lets processes of
other uids (a training script that drops root) use it; root on its own would not need it. With
it, gocryptfs (running as root) reaches the cipher files under the caller's uid, so for such a job
the cipher dir's ancestors must be searchable by that uid (`<state_dir>` mode 0711 or wider).

`size_gb` is recorded but not enforced: the volume shares the host file system's free space (a
quota would need a loop device or project quotas, which the host file system may not offer).

When the instance ends, `close()` unmounts and wipes the volume, as SageMaker deletes the EBS
volume with the instance.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Volume", "VolumeError", "available", "gc", "leftovers"]

_FSTYPE = "fuse.gocryptfs"
# The password is a random 256-bit data key, not something a person chose, so scrypt's key
# stretching buys nothing; its lowest cost keeps creation fast (default: 64 MiB and ~0.3 s).
_SCRYPT_N = "10"
_MOUNT_TIMEOUT = 30.0


class VolumeError(RuntimeError):
    """Creating, mounting or unmounting a volume failed; the message says why."""


def available() -> str | None:
    """None when encrypted volumes can be made here, else the reason."""
    if shutil.which("gocryptfs") is None:
        return "gocryptfs is not installed (apt-get install gocryptfs)"
    if shutil.which("fusermount") is None and shutil.which("fusermount3") is None:
        return "fusermount is not installed (apt-get install fuse3)"
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing (FUSE is not available in this kernel or container)"
    if not os.access("/dev/fuse", os.R_OK | os.W_OK):
        return "/dev/fuse is not readable and writable by this user"
    return None


@dataclass
class Volume:
    host_dir: Path
    size_gb: int
    encrypted: bool
    closed: bool = False

    @property
    def path(self) -> Path:
        """The directory the container sees (the plaintext view)."""
        return self.host_dir / "plain"

    @property
    def cipher_dir(self) -> Path:
        return self.host_dir / "cipher"

    @classmethod
    def create(cls, host_dir: Path, size_gb: int, key: bytes | None) -> Volume:
        """A new, empty volume under `host_dir`; encrypted with `key` when one is given."""
        host_dir = Path(host_dir).absolute()
        volume = cls(host_dir, size_gb, encrypted=key is not None)
        if volume.cipher_dir.exists() or (volume.path.exists() and any(volume.path.iterdir())):
            raise VolumeError(f"a volume already exists at {host_dir}")
        volume.path.mkdir(parents=True, exist_ok=True)
        if key is None:
            return volume
        _check_key(key)
        # The cipher dir's mode is the mode of the plaintext root, which a job running as another
        # uid must be able to enter (file names inside are encrypted anyway).
        volume.cipher_dir.mkdir(mode=0o755)
        try:
            _gocryptfs(
                ["-init", "-q", "-scryptn", _SCRYPT_N, "-passfile", "/dev/stdin", str(volume.cipher_dir)], key
            )
            volume._mount(key)
        except BaseException:
            volume.close()
            raise
        return volume

    @classmethod
    def attach(cls, host_dir: Path, size_gb: int, key: bytes) -> Volume:
        """The encrypted volume already under `host_dir` (after a server restart), mounted with
        `key`; a wrong key raises VolumeError and leaves nothing mounted."""
        host_dir = Path(host_dir).absolute()
        volume = cls(host_dir, size_gb, encrypted=True)
        if not (volume.cipher_dir / "gocryptfs.conf").exists():
            raise VolumeError(f"no encrypted volume at {host_dir}")
        _check_key(key)
        if str(volume.path) not in _gocryptfs_mounts():
            volume.path.mkdir(exist_ok=True)
            volume._mount(key)
        return volume

    def _mount(self, key: bytes) -> None:
        _gocryptfs(
            [
                "-q",
                "-nosyslog",
                "-allow_other",
                "-passfile",
                "/dev/stdin",
                str(self.cipher_dir),
                str(self.path),
            ],
            key,
        )

    def close(self) -> None:
        """Unmount and wipe everything the volume held (idempotent)."""
        _unmount(self.path)
        _wipe(self.host_dir, self.cipher_dir, self.path)
        self.closed = True


def leftovers(root: Path) -> list[Path]:
    """Mount points of gocryptfs volumes under `root`."""
    root = Path(root).absolute()
    return [Path(m) for m in _gocryptfs_mounts() if Path(m).is_relative_to(root)]


def gc(root: Path, keep: Collection[Path] = ()) -> list[Path]:
    """Unmount and wipe every gocryptfs volume under `root` whose mount point is not in `keep`
    (the volumes of instances still running); the mount points handled."""
    kept = {Path(p).absolute() for p in keep}
    sources = _gocryptfs_mounts()
    done = []
    for mountpoint in leftovers(root):
        if mountpoint in kept:
            continue
        _unmount(mountpoint)
        cipher = Path(sources[str(mountpoint)])
        # Only what is recognisably a gocryptfs cipher dir under root is removed.
        if cipher.is_relative_to(Path(root).absolute()):
            _wipe(cipher.parent, cipher, mountpoint)
        done.append(mountpoint)
    return done


def _check_key(key: bytes) -> None:
    if not isinstance(key, bytes) or not 16 <= len(key) <= 512:
        raise VolumeError("the volume key must be 16 to 512 bytes (a KMS data key: 32)")


def _gocryptfs(args: list[str], key: bytes) -> None:
    # gocryptfs daemonises after mounting and the daemon keeps its stdout/stderr: pipes would
    # never reach EOF, so stderr goes to an unlinked temporary file.
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            ["gocryptfs", *args], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=err
        )
        assert proc.stdin is not None
        try:
            proc.stdin.write(key.hex().encode() + b"\n")
            proc.stdin.close()
        except BrokenPipeError:
            pass
        try:
            rc = proc.wait(_MOUNT_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise VolumeError(f"gocryptfs {args[0]} did not finish within {_MOUNT_TIMEOUT:.0f}s") from None
        err.seek(0)
        message = " ".join(err.read().decode(errors="replace").split())
    if rc != 0:
        if rc == 12:  # gocryptfs' exit code for a wrong password
            message = "wrong volume key: " + message
        action = "init" if "-init" in args else "mount"
        raise VolumeError(f"gocryptfs {action} failed (exit {rc}): {message}")


def _gocryptfs_mounts() -> dict[str, str]:
    """Mount point -> cipher dir of the gocryptfs mounts in this mount namespace."""
    found = {}
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split(" ")
        if len(fields) >= 3 and fields[2] == _FSTYPE:
            found[_unescape(fields[1])] = _unescape(fields[0])
    return found


def _unescape(field: str) -> str:
    # /proc/mounts writes space, tab, newline and backslash as octal escapes.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def _unmount(mountpoint: Path) -> None:
    if str(mountpoint) not in _gocryptfs_mounts():
        return
    fusermount = shutil.which("fusermount") or shutil.which("fusermount3") or "fusermount"
    # A busy mount (an open file, a process with its cwd there) is detached lazily: it leaves the
    # namespace at once and the daemon ends when the last user lets go.
    for flags in ("-u", "-uz"):
        proc = subprocess.run([fusermount, flags, str(mountpoint)], capture_output=True, text=True)
        if proc.returncode == 0:
            break
    if str(mountpoint) in _gocryptfs_mounts():
        raise VolumeError(f"cannot unmount {mountpoint}: {proc.stderr.strip()}")
    _await_daemon_exit(mountpoint)


def _await_daemon_exit(mountpoint: Path, timeout: float = 5.0) -> None:
    # The daemon leaves shortly after the unmount unless another mount namespace (a container
    # still alive) holds a copy of the mount; then it serves that copy until it goes.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _daemons(mountpoint):
        time.sleep(0.05)


def _daemons(mountpoint: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"gocryptfs") and os.fsencode(mountpoint) in argv:
            pids.append(int(entry.name))
    return pids


def _wipe(host_dir: Path, cipher: Path, plain: Path) -> None:
    if str(plain) in _gocryptfs_mounts():
        raise VolumeError(f"{plain} is still mounted; not wiping")
    shutil.rmtree(cipher, ignore_errors=True)
    shutil.rmtree(plain, ignore_errors=True)
    try:
        host_dir.rmdir()
    except OSError:
        pass  # other things (opt_ml, logs) live beside the volume
