"""Control groups for containers: a memory ceiling, a CPU quota, usage figures, and a way to end
every process a container left behind.

Both kernel layouts are handled. On cgroup v1 each controller (memory, cpu, cpuacct, possibly
combined as `cpu,cpuacct`) is its own hierarchy, and a container gets `cove/cove-<name>` in each,
nested under the cgroup this process already sits in (so whatever limits the server runs under also
bound what it starts). On cgroup v2 there is one tree; the container gets `/cove/cove-<name>` at
its root, because v2 forbids enabling controllers below a cgroup that holds processes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CPU_PERIOD_US", "PARENT", "Cgroup", "CgroupError", "Usage", "gc", "layout", "leftovers", "mounts"]

CGROUP_ROOT = Path("/sys/fs/cgroup")
PARENT = "cove"
CPU_PERIOD_US = 100_000
_V1_CONTROLLERS = ("memory", "cpu", "cpuacct")


class CgroupError(RuntimeError):
    """The kernel refused to create or configure a container's cgroup."""


@dataclass(frozen=True)
class Usage:
    cpu_seconds: float
    memory_bytes: int


@dataclass(frozen=True)
class Layout:
    """Where the hierarchies are: v2 is one mount, v1 maps each controller to its mount and to the
    path of this process's own cgroup in it."""

    version: int
    mounts: dict[str, Path]  # controller -> hierarchy mount ("unified" for v2)
    own: dict[str, str]  # controller -> this process's cgroup path inside that hierarchy


def _own_v1_paths() -> dict[Path, str]:
    """This process's cgroup per v1 hierarchy, keyed by the hierarchy's mount point."""
    paths: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(","):
            paths[controller] = path
    mounts: dict[Path, str] = {}
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[2] == "cgroup":
            for option in fields[3].split(","):
                if option in paths:
                    mounts[Path(fields[1])] = paths[option]
    return mounts


def layout() -> Layout | None:
    """The cgroup layout of this machine, or None when no usable cgroup filesystem is mounted."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():
        return Layout(2, {"unified": CGROUP_ROOT}, {"unified": "/"})
    mounts: dict[str, Path] = {}
    own: dict[str, str] = {}
    if not Path("/proc/self/mounts").exists():
        return None
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[2] != "cgroup":
            continue
        for option in fields[3].split(","):
            if option in _V1_CONTROLLERS and option not in mounts:
                mounts[option] = Path(fields[1])
    if "memory" not in mounts:
        return None
    own_by_mount = _own_v1_paths()
    for controller, mount in mounts.items():
        own[controller] = own_by_mount.get(mount, "/")
    return Layout(1, mounts, own)


_MOUNT_FLAGS = {"rw", "ro", "relatime", "noatime", "nosuid", "nodev", "noexec", "seclabel"}


def mounts() -> list[dict[str, str]]:
    """The cgroup filesystems under /sys/fs/cgroup, as a container mounts them again inside its
    cgroup namespace: target, fstype, and the hierarchy's options (which controllers it has)."""
    found: list[dict[str, str]] = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) < 4 or fields[2] not in ("cgroup", "cgroup2"):
            continue
        if not (fields[1] == str(CGROUP_ROOT) or fields[1].startswith(f"{CGROUP_ROOT}/")):
            continue
        # cgroup2 options (nsdelegate, memory_recursiveprot) are system-wide and ignored or refused
        # in a non-initial cgroup namespace; v1 options name the hierarchy's controllers.
        options = (
            ""
            if fields[2] == "cgroup2"
            else ",".join(o for o in fields[3].split(",") if o not in _MOUNT_FLAGS)
        )
        found.append({"target": fields[1], "fstype": fields[2], "options": options})
    return found


def _write(path: Path, value: str) -> None:
    with open(path, "w") as handle:
        handle.write(value)


def _read_int(path: Path) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _parents(where: Layout) -> list[Path]:
    """Every directory that holds Cove's container cgroups: one per hierarchy, deduplicated."""
    found: list[Path] = []
    for controller, mount in where.mounts.items():
        own = where.own.get(controller, "/").strip("/")
        for base in (mount / own, mount) if own else (mount,):
            if base / PARENT not in found:
                found.append(base / PARENT)
    return found


def _procs(directory: Path) -> list[int]:
    try:
        return [int(p) for p in (directory / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _kill_and_remove(directory: Path, deadline: float) -> None:
    """SIGKILL everything in the cgroup until it is empty, then remove it. Zombies still count as
    members until reaped, so removal is retried until the deadline."""
    kill_file = directory / "cgroup.kill"
    while directory.exists():
        pids = _procs(directory)
        if pids and kill_file.exists():
            with contextlib.suppress(OSError):
                _write(kill_file, "1")
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        try:
            directory.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as error:
            if error.errno not in (errno.EBUSY, errno.ENOTEMPTY) or time.monotonic() > deadline:
                raise CgroupError(f"cannot remove cgroup {directory}: {error}") from error
        time.sleep(0.02)


class Cgroup:
    """One container's cgroup, across every hierarchy that matters on this machine."""

    def __init__(self, name: str, where: Layout, directories: list[Path]) -> None:
        self.name = name
        self.layout = where
        self.directories = directories

    @classmethod
    def create(cls, name: str, *, cpus: float | None, memory_bytes: int | None) -> Cgroup:
        where = layout()
        if where is None:
            raise CgroupError("no cgroup filesystem with a memory controller is mounted")
        directories: list[Path] = []
        if where.version == 2:
            parent = CGROUP_ROOT / PARENT
            parent.mkdir(exist_ok=True)
            for base in (CGROUP_ROOT, parent):
                # Controllers must be enabled on every level above the container's cgroup.
                for controller in ("memory", "cpu"):
                    with contextlib.suppress(OSError):
                        _write(base / "cgroup.subtree_control", f"+{controller}")
            directories.append(parent / name)
        else:
            for controller, mount in where.mounts.items():
                parent = mount / where.own[controller].strip("/") / PARENT
                if parent / name not in directories:
                    directories.append(parent / name)
        group = cls(name, where, directories)
        try:
            for directory in directories:
                if directory.exists():
                    if _procs(directory):
                        raise CgroupError(f"cgroup {directory} is in use by running processes")
                    directory.rmdir()
                directory.parent.mkdir(parents=True, exist_ok=True)
                directory.mkdir()
            group._limit(cpus, memory_bytes)
        except (OSError, CgroupError) as error:
            group.remove()
            if isinstance(error, CgroupError):
                raise
            raise CgroupError(f"cannot set up cgroup {name}: {error}") from error
        return group

    def _directory(self, controller: str) -> Path | None:
        if self.layout.version == 2:
            return self.directories[0]
        mount = self.layout.mounts.get(controller)
        if mount is None:
            return None
        return mount / self.layout.own[controller].strip("/") / PARENT / self.name

    def _limit(self, cpus: float | None, memory_bytes: int | None) -> None:
        if self.layout.version == 2:
            directory = self.directories[0]
            if memory_bytes is not None:
                _write(directory / "memory.max", str(memory_bytes))
                if (directory / "memory.swap.max").exists():
                    _write(directory / "memory.swap.max", "0")
            if cpus is not None:
                _write(directory / "cpu.max", f"{max(1000, int(cpus * CPU_PERIOD_US))} {CPU_PERIOD_US}")
            return
        memory = self._directory("memory")
        if memory_bytes is not None and memory is not None:
            _write(memory / "memory.limit_in_bytes", str(memory_bytes))
            # Without swap accounting the limit alone would let the container swap instead of dying.
            if (memory / "memory.memsw.limit_in_bytes").exists():
                with contextlib.suppress(OSError):
                    _write(memory / "memory.memsw.limit_in_bytes", str(memory_bytes))
        cpu = self._directory("cpu")
        if cpus is not None and cpu is not None:
            _write(cpu / "cpu.cfs_period_us", str(CPU_PERIOD_US))
            _write(cpu / "cpu.cfs_quota_us", str(max(1000, int(cpus * CPU_PERIOD_US))))

    @property
    def procs_files(self) -> list[str]:
        """The files a process writes "0" into to join this cgroup in every hierarchy."""
        return [str(directory / "cgroup.procs") for directory in self.directories]

    def pids(self) -> list[int]:
        found: set[int] = set()
        for directory in self.directories:
            found.update(_procs(directory))
        return sorted(found)

    def usage(self) -> Usage:
        if self.layout.version == 2:
            directory = self.directories[0]
            cpu_usec = 0
            with contextlib.suppress(OSError):
                for line in (directory / "cpu.stat").read_text().splitlines():
                    key, _, value = line.partition(" ")
                    if key == "usage_usec":
                        cpu_usec = int(value)
            return Usage(cpu_usec / 1e6, _read_int(directory / "memory.current"))
        cpuacct = self._directory("cpuacct")
        memory = self._directory("memory")
        cpu_ns = _read_int(cpuacct / "cpuacct.usage") if cpuacct is not None else 0
        memory_bytes = _read_int(memory / "memory.usage_in_bytes") if memory is not None else 0
        return Usage(cpu_ns / 1e9, memory_bytes)

    def oom_kills(self) -> int:
        """How many processes the memory ceiling has killed so far."""
        memory = self._directory("memory")
        if memory is None:
            return 0
        name = "memory.events" if self.layout.version == 2 else "memory.oom_control"
        with contextlib.suppress(OSError):
            for line in (memory / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def remove(self, timeout: float = 5.0) -> None:
        """Kill every process left in the cgroup and remove it (idempotent)."""
        deadline = time.monotonic() + timeout
        for directory in self.directories:
            _kill_and_remove(directory, deadline)


def leftovers(prefix: str) -> list[str]:
    """Container cgroups whose name starts with cove-<prefix>, as paths (with their processes)."""
    where = layout()
    if where is None:
        return []
    found: list[str] = []
    for parent in _parents(where):
        if not parent.is_dir():
            continue
        for directory in sorted(parent.iterdir()):
            if directory.is_dir() and directory.name.startswith(f"cove-{prefix}"):
                pids = _procs(directory)
                found.append(f"{directory}" + (f" (pids {' '.join(map(str, pids))})" if pids else ""))
    return found


def gc(prefix: str) -> list[str]:
    """Remove the container cgroups whose name starts with cove-<prefix>, killing their processes."""
    where = layout()
    if where is None:
        return []
    removed: list[str] = []
    deadline = time.monotonic() + 10.0
    for parent in _parents(where):
        if not parent.is_dir():
            continue
        for directory in sorted(parent.iterdir()):
            if directory.is_dir() and directory.name.startswith(f"cove-{prefix}"):
                _kill_and_remove(directory, deadline)
                removed.append(str(directory))
    return removed
