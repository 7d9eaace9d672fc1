"""Containers without images: a command in its own mount, UTS and PID namespaces, inside a
network namespace Cove made (or a fresh empty one), bounded by a cgroup, without the capabilities
that would let it change the network or leave its namespaces.

The process started is `python -S …/cove/runtime/init.py`: it enters the namespaces and forks the
container's PID 1, which starts the user's command (see init.py). The host's root filesystem stays visible: images are
directories on the host, not root filesystems.
"""

from __future__ import annotations

import contextlib
import functools
import marshal
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cove.fabric import netns as netns_mod
from cove.runtime import cgroups
from cove.runtime.cgroups import Usage

__all__ = [
    "DROPPED_CAPS",
    "MAX_LINE",
    "RUN_DIR",
    "STARTED",
    "Container",
    "ContainerError",
    "ContainerSpec",
    "Mount",
    "Usage",
    "available",
    "gc",
    "leftovers",
]

RUN_DIR = Path("/run/cove/containers")
MAX_LINE = 256 * 1024
# The first seven keep the command inside its namespaces and off the network configuration (as
# cove.fabric.netns.unprivileged); the rest are host-wide powers Docker also withholds.
DROPPED_CAPS = (
    "net_admin",
    "sys_admin",
    "sys_module",
    "sys_ptrace",
    "sys_rawio",
    "bpf",
    "perfmon",
    "sys_time",
    "syslog",
    "mac_admin",
    "mac_override",
    "audit_control",
    "sys_pacct",
)
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_START_TIMEOUT = 30.0
_TOOLS = ("setpriv",)
STARTED: set[str] = set()
"""Names of the containers this process started (what its tests must have cleaned up)."""
_INIT_FILE = str(Path(__file__).resolve().with_name("init.py"))
_TOOL_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ContainerError(RuntimeError):
    """The container could not be set up (the command itself never ran)."""


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool = False
    overlay: str | None = None
    """A host directory for an overlay's upper and work layers: the container then sees `source`
    writable, its writes landing there, while `source` itself stays as it was (an image's files)."""


@dataclass(frozen=True)
class ContainerSpec:
    name: str
    argv: list[str]
    env: dict[str, str]
    netns: str | None
    hostname: str = "algo-1"
    hosts: dict[str, str] = field(default_factory=dict)
    nameservers: list[str] = field(default_factory=list)
    search: list[str] = field(default_factory=list)
    mounts: list[Mount] = field(default_factory=list)
    workdir: str = "/"
    cpus: float | None = None
    memory_bytes: int | None = None
    drop_caps: bool = True


def _tool(name: str) -> str | None:
    return shutil.which(name, path=_TOOL_PATH + ":" + os.environ.get("PATH", ""))


def available() -> str | None:
    """None when containers can run here, else why not."""
    if not sys.platform.startswith("linux"):
        return "containers need Linux namespaces"
    if os.geteuid() != 0:
        return "containers need root (namespaces, mounts and cgroups)"
    missing = [name for name in _TOOLS if _tool(name) is None]
    if missing:
        return f"missing util-linux tool: {', '.join(missing)}"
    if cgroups.layout() is None:
        return "no cgroup filesystem with a memory controller is mounted under /sys/fs/cgroup"
    return _cgroup_probe()


_PROBE_LOCK = threading.Lock()


def _cgroup_probe() -> str | None:
    """Whether a container's cgroup with memory and CPU ceilings can really be made here (a cgroup
    namespace or a delegated v2 subtree can refuse what the mounts promise). Asked once: the jobs
    that start together (a server's first ones) wait for the one probe, whose cgroup name is this
    process's, instead of making and removing it over one another."""
    with _PROBE_LOCK:
        return _probe_once()


@functools.cache
def _probe_once() -> str | None:
    try:
        group = cgroups.Cgroup.create(f"probe-{os.getpid()}", cpus=1.0, memory_bytes=64 * 1024 * 1024)
    except (cgroups.CgroupError, OSError) as exc:
        return f"cannot make a container cgroup with memory and CPU ceilings: {exc}"
    group.remove()
    return None


def _hosts_file(spec: ContainerSpec) -> str:
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    if spec.hostname not in spec.hosts:
        lines.append(f"127.0.1.1\t{spec.hostname}")
    lines.extend(f"{address}\t{name}" for name, address in spec.hosts.items())
    return "\n".join(lines) + "\n"


def _resolv_file(spec: ContainerSpec) -> str:
    lines = [f"nameserver {server}" for server in spec.nameservers]
    if spec.search:
        lines.append("search " + " ".join(spec.search))
    return "\n".join(lines) + "\n" if lines else ""


class _LineReader(threading.Thread):
    """Reads the merged stdout/stderr pipe and hands each line on, decoded leniently; a line longer
    than MAX_LINE is delivered in pieces, and a last line without a newline is still delivered."""

    def __init__(self, fd: int, on_output: Callable[[str, float], None], name: str) -> None:
        super().__init__(name=f"container-output-{name}", daemon=True)
        self.fd = fd
        self.on_output = on_output

    def _emit(self, raw: bytes) -> None:
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        with contextlib.suppress(Exception):  # a failing consumer must not stop the draining
            self.on_output(raw.decode("utf-8", errors="replace"), time.time())

    def run(self) -> None:
        pending = b""
        try:
            while True:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    break
                pending += chunk
                while True:
                    cut = pending.find(b"\n")
                    if cut < 0:
                        break
                    line, pending = pending[:cut], pending[cut + 1 :]
                    while len(line) > MAX_LINE:
                        self._emit(line[:MAX_LINE])
                        line = line[MAX_LINE:]
                    self._emit(line)
                while len(pending) >= MAX_LINE:
                    self._emit(pending[:MAX_LINE])
                    pending = pending[MAX_LINE:]
            if pending:
                self._emit(pending)
        finally:
            os.close(self.fd)


class Container:
    """A running (or finished) container. Always call cleanup() in the end."""

    def __init__(
        self, spec: ContainerSpec, process: subprocess.Popen[bytes], group: cgroups.Cgroup, run_dir: Path
    ) -> None:
        self.spec = spec
        self.pid = 0
        self._process = process
        self._group = group
        self._run_dir = run_dir
        self._reader: _LineReader | None = None
        self._lock = threading.Lock()
        self._cleaned = False

    @classmethod
    def start(cls, spec: ContainerSpec, on_output: Callable[[str, float], None]) -> Container:
        """Set the container up and start its command; output lines go to on_output(line, time)."""
        reason = available()
        if reason is not None:
            raise ContainerError(reason)
        if not _NAME.match(spec.name):
            raise ContainerError(f"invalid container name {spec.name!r}: use [a-z0-9-], at most 63")
        if not spec.argv:
            raise ContainerError("the container has no command")
        if spec.netns is not None and not netns_mod.exists(spec.netns):
            raise ContainerError(f"network namespace {spec.netns} does not exist")
        run_dir = RUN_DIR / spec.name
        STARTED.add(spec.name)
        shutil.rmtree(run_dir, ignore_errors=True)
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        run_dir.mkdir(mode=0o700)  # the spec holds the environment, credentials included
        try:
            group = cgroups.Cgroup.create(f"cove-{spec.name}", cpus=spec.cpus, memory_bytes=spec.memory_bytes)
        except cgroups.CgroupError as error:
            shutil.rmtree(run_dir, ignore_errors=True)
            raise ContainerError(str(error)) from error
        status_read, status_write = os.pipe()
        out_read, out_write = os.pipe()
        process: subprocess.Popen[bytes] | None = None
        try:
            process = cls._launch(spec, group, run_dir, status_write, out_write)
        except BaseException:
            group.remove()
            shutil.rmtree(run_dir, ignore_errors=True)
            for fd in (status_read, out_read):
                os.close(fd)
            raise
        finally:
            os.close(status_write)
            os.close(out_write)
        container = cls(spec, process, group, run_dir)
        container._reader = _LineReader(out_read, on_output, spec.name)
        container._reader.start()
        try:
            status = container._await_ready(status_read)
        finally:
            os.close(status_read)
        if status != "ok":
            code = container.wait(5.0)
            container.cleanup()
            raise ContainerError(f"container {spec.name} failed to start: {status} (exit code {code})")
        return container

    @staticmethod
    def _launch(
        spec: ContainerSpec, group: cgroups.Cgroup, run_dir: Path, status_fd: int, out_fd: int
    ) -> subprocess.Popen[bytes]:
        files = {
            "hosts": _hosts_file(spec),
            "resolv.conf": _resolv_file(spec),
            "hostname": spec.hostname + "\n",
        }
        for file_name, content in files.items():
            (run_dir / file_name).write_text(content)
        mounts = [asdict(mount) for mount in spec.mounts]
        mounts += [
            {
                "source": str(run_dir / file_name),
                "target": f"/etc/{file_name}",
                "read_only": False,
                "overlay": None,
            }
            for file_name in files
        ]
        init_spec = {
            "argv": list(spec.argv),
            "env": dict(spec.env),
            "hostname": spec.hostname,
            "workdir": spec.workdir,
            "mounts": mounts,
            "cgroup_procs": group.procs_files,
            "cgroup_mounts": cgroups.mounts(),
            "fresh_netns": spec.netns is None,
            "netns_path": None if spec.netns is None else str(netns_mod.NETNS_DIR / spec.netns),
            "setpriv": _tool("setpriv") if spec.drop_caps else None,
            "drop_caps": list(DROPPED_CAPS),
            "status_fd": status_fd,
        }
        spec_file = run_dir / "spec"
        spec_file.write_bytes(marshal.dumps(init_spec))
        # The file itself (not -m: no package imports, no runpy) and no site: see init.py. -P: its
        # directory (Cove's runtime modules) must not shadow the standard library it imports.
        argv = [sys.executable, "-S", "-P", _INIT_FILE, str(spec_file)]
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=out_fd,
            stderr=out_fd,
            pass_fds=(status_fd,),
            env={"PATH": _TOOL_PATH, "LANG": "C.UTF-8"},
            cwd="/",
            start_new_session=True,
        )

    def _await_ready(self, fd: int) -> str:
        """Read the launcher's and PID 1's reports until both closed the pipe: "pid N" (PID 1's
        host number) and "ok" or "error: why". Returns "ok" or the error."""
        deadline = time.monotonic() + _START_TIMEOUT
        received = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return "timed out waiting for the container's init"
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            received += chunk
        result = "the container's init exited during setup"
        for line in received.decode(errors="replace").splitlines():
            if line.startswith("pid "):
                self.pid = int(line[4:])
            elif line == "ok" or line.startswith("error: "):
                result = line.removeprefix("error: ")
        return result

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code (128+N when killed by signal N), or None if still running after timeout."""
        try:
            code = self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        if self._reader is not None:
            # Everything the container printed is delivered before wait() reports its end.
            self._reader.join(5.0)
        return 128 - code if code < 0 else code

    def stop(self, signal_number: int = signal.SIGTERM, grace: float = 120.0) -> int:
        """Signal the command (through PID 1), wait `grace` seconds, then kill the whole container."""
        code = self.wait(0)
        if code is not None:
            return code
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid or self._process.pid, signal_number)
        code = self.wait(grace)
        if code is not None:
            return code
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid or self._process.pid, signal.SIGKILL)
        code = self.wait(10.0)
        if code is None:
            self._group.remove()
            code = self.wait()
        return 137 if code is None else code

    def usage(self) -> Usage:
        return self._group.usage()

    def oom_killed(self) -> bool:
        """Whether the memory ceiling killed a process of this container."""
        return self._group.oom_kills() > 0

    def cleanup(self) -> None:
        """Every process of the container gone, its cgroup and runtime files removed (idempotent)."""
        with self._lock:
            if self._cleaned:
                return
            if self._process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.pid or self._process.pid, signal.SIGKILL)
            self._group.remove()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(10.0)
            if self._process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    self._process.kill()
                self._process.wait()
            if self._reader is not None:
                self._reader.join(5.0)
            shutil.rmtree(self._run_dir, ignore_errors=True)
            self._cleaned = True


def leftovers(prefix: str) -> list[str]:
    """Cgroups (with their processes) and runtime directories of containers named <prefix>…"""
    found = cgroups.leftovers(prefix)
    if RUN_DIR.is_dir():
        found += [str(p) for p in sorted(RUN_DIR.iterdir()) if p.name.startswith(prefix)]
    return found


def gc(prefix: str) -> list[str]:
    """Remove what containers named <prefix>… left behind: their processes die with their cgroups."""
    removed = cgroups.gc(prefix)
    if RUN_DIR.is_dir():
        for path in sorted(RUN_DIR.iterdir()):
            if path.name.startswith(prefix):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(str(path))
    return removed
