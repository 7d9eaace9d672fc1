"""Network namespaces: create, enter from one thread, run commands inside, open sockets inside.

Cove's namespaces live under /run/netns (as `ip netns` keeps them) so that `ip`, `nft` and
`conntrack` can address them by name. Entering is per thread (`setns(2)` changes only the calling
thread), which is how the server opens listening sockets inside a VPC: a socket keeps the
namespace it was created in after the thread leaves it.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import fcntl
import os
import socket
import struct
import subprocess
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

__all__ = [
    "CREATED",
    "NETNS_DIR",
    "NamespaceError",
    "create",
    "entered",
    "exists",
    "identity",
    "kill_processes",
    "listing",
    "processes_in",
    "remove",
    "run",
    "socket_in",
    "unprivileged",
    "write_sysctl",
]

NETNS_DIR = Path("/run/netns")
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class NamespaceError(RuntimeError):
    """A kernel command failed; the message carries the command and what it printed."""


def _setns(fd: int) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def identity(name: str) -> int:
    """The namespace's inode: a namespace deleted and made again under the same name differs, and
    sockets opened in the old one do not reach the new one."""
    return os.stat(NETNS_DIR / name).st_ino


def listing(prefix: str = "") -> list[str]:
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))


CREATED: set[str] = set()
"""Namespaces this process created (what its tests must have removed by the end)."""


def create(name: str) -> bool:
    """Create the namespace if missing; True when it was created now. Loopback is brought up."""
    if exists(name):
        return False
    CREATED.add(name)
    result = subprocess.run(["ip", "netns", "add", name], capture_output=True, text=True)
    if result.returncode != 0 and not exists(name):
        raise NamespaceError(f"ip netns add {name}: {result.stderr.strip()}")
    try:
        _loopback_up(name)
    except OSError as error:
        raise NamespaceError(f"[{name}] ip link set lo up: {error}") from error
    return True


_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def _loopback_up(name: str) -> None:
    """`ip link set lo up` from this thread (an ioctl on a socket made inside), without a fork."""
    with entered(name):
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with sock:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))


_MNT_DETACH = 2
_EINVAL = 22


def remove(name: str) -> bool:
    """Delete the namespace (its veths go with it). True when something was removed.

    What `ip netns del` does (detach the bind mount that keeps the namespace, then the file),
    without a process: the fabric removes one namespace per ENI of every job that ends."""
    if not exists(name):
        return False
    path = NETNS_DIR / name
    if _libc.umount2(str(path).encode(), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        if err != _EINVAL:  # EINVAL: not a mount point (any more): the file alone is left
            raise NamespaceError(f"ip netns del {name}: {os.strerror(err)}")
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    except OSError as error:
        if exists(name):
            raise NamespaceError(f"ip netns del {name}: {error.strerror}") from error
    return True


def processes_in(names: Iterable[str]) -> dict[str, list[int]]:
    """The processes (not this one) whose network namespace is each of `names`, from one pass over
    /proc, as `ip netns pids` finds them (a process's namespace is its main thread's)."""
    wanted: dict[tuple[int, int], str] = {}
    for name in names:
        try:
            st = os.stat(NETNS_DIR / name)
        except OSError:
            continue
        wanted[(st.st_dev, st.st_ino)] = name
    found: dict[str, list[int]] = {name: [] for name in wanted.values()}
    if not wanted:
        return found
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:  # gone meanwhile, or a kernel thread
            continue
        owner = wanted.get((st.st_dev, st.st_ino))
        if owner is not None:
            found[owner].append(int(entry))
    return found


def kill_processes(*names: str) -> list[int]:
    """End the processes living in Cove namespaces (Cove started them: jobs, agents, servers)."""
    pids = [pid for listed in processes_in(names).values() for pid in listed]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)
    return pids


def run(
    name: str, argv: Sequence[str], *, input: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run a command inside the namespace as root (kernel configuration, never user code)."""
    # `ip -n` enters the namespace as `ip netns exec` does, in one process instead of two.
    command = ["ip", "-n", name, *argv[1:]] if argv[0] == "ip" else ["ip", "netns", "exec", name, *argv]
    result = subprocess.run(command, input=input, capture_output=True, text=True)
    if check and result.returncode != 0:
        shown = " ".join(argv)
        raise NamespaceError(f"[{name}] {shown}: {(result.stderr or result.stdout).strip()}")
    return result


def unprivileged(name: str, argv: Sequence[str]) -> list[str]:
    """The command line that runs `argv` inside the namespace without the capabilities that
    would let it change the network or escape (CAP_NET_ADMIN, CAP_SYS_ADMIN and friends)."""
    dropped = "-net_admin,-sys_admin,-sys_module,-sys_ptrace,-sys_rawio,-bpf,-perfmon"
    return [
        "ip",
        "netns",
        "exec",
        name,
        "setpriv",
        f"--bounding-set={dropped}",
        f"--inh-caps={dropped}",
        "--",
        *argv,
    ]


@contextlib.contextmanager
def entered(name: str) -> Iterator[None]:
    """Run the body with this thread inside the namespace, then return to where it was."""
    with open("/proc/thread-self/ns/net", "rb") as home, open(NETNS_DIR / name, "rb") as target:
        _setns(target.fileno())
        try:
            yield
        finally:
            _setns(home.fileno())


def socket_in(
    name: str,
    address: tuple[str, int],
    *,
    kind: int = socket.SOCK_STREAM,
    backlog: int = 128,
    transparent: bool = False,
) -> socket.socket:
    """A bound (and, for TCP, listening) socket that lives in the namespace."""
    with entered(name):
        sock = socket.socket(socket.AF_INET, kind)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if transparent:
            sock.setsockopt(socket.SOL_IP, 19, 1)  # IP_TRANSPARENT
        sock.bind(address)
        if kind == socket.SOCK_STREAM:
            sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


def write_sysctl(name: str, key: str, value: str) -> None:
    """Set a per-namespace sysctl (`net.ipv4.conf.v1.proxy_arp`) from this thread, without a fork:
    /proc/sys/net resolves against the network namespace of the thread that opens it."""
    path = "/proc/sys/" + key.replace(".", "/")
    with entered(name), open(path, "w") as handle:
        handle.write(value)
