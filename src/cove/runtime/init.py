"""A container's launcher and its PID 1. The launcher (started by `cove.runtime.container`)
enters the instance's network namespace and new mount, UTS, IPC and PID namespaces, then forks
PID 1, which finishes the setup (/proc, bind mounts, hostname, loopback, cgroup), starts the
user's command and stays as its init: it forwards the stop signals, reaps orphans, and exits with
the command's status. PID 1's exit ends the PID namespace, so nothing the command started
outlives it; the launcher reports that exit (128+N when PID 1 itself was killed by signal N).

Run as `python -S -P <this file> <spec file>` (the spec: a marshal-encoded dict). Every container
starts one, and on a busy host its start-up is CPU the jobs share: it imports only modules that
load in microseconds (no json/re, pathlib, typing, contextlib or ctypes.util, no site), which
brings a start from about 45 ms to about 15.
"""

from __future__ import annotations

import _socket
import ctypes
import fcntl
import marshal
import os
import struct
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing alone costs a few milliseconds at start-up
    import signal
    from typing import Any
else:  # the C module itself: `signal` wraps it in enums, and enum costs milliseconds too
    import _signal as signal

__all__ = ["main"]

_MS_RDONLY = 1
_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8
_MS_PRIVATE = 1 << 18
_CLONE_NEWNS = 0x00020000
_CLONE_NEWCGROUP = 0x02000000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWPID = 0x20000000
_CLONE_NEWNET = 0x40000000
_PR_SET_PDEATHSIG = 1
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
EXIT_SETUP_FAILED = 125
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127


def _load_libc() -> ctypes.CDLL:
    try:
        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:  # not glibc: ask the dynamic linker's cache (slower: runs ldconfig)
        from ctypes.util import find_library

        return ctypes.CDLL(find_library("c"), use_errno=True)


_libc = _load_libc()


class SetupError(RuntimeError):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        raise SetupError(f"{what}: {os.strerror(ctypes.get_errno())}")


def _mount(source: str, target: str, flags: int, fstype: str | None = None, data: str | None = None) -> None:
    kind = fstype.encode() if fstype else None
    options = data.encode() if data else None
    _check(_libc.mount(source.encode(), target.encode(), kind, flags, options), f"mount {source} on {target}")


def _target(source: str, target: str) -> str:
    """Make the mount point exist, the same kind as the source (a file or a directory). A symbolic
    link at the target (/etc/resolv.conf often is one) is replaced by what it points to."""
    path = target
    if os.path.islink(path) and not os.path.exists(path):
        path = os.path.realpath(path)
    if os.path.isdir(source):
        os.makedirs(path, exist_ok=True)
    elif not os.path.exists(path):
        os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o666))
    return path


def bind(source: str, target: str, read_only: bool) -> None:
    if not os.path.exists(source):
        raise SetupError(f"mount source {source} does not exist")
    where = _target(source, target)
    _mount(source, where, _MS_BIND | _MS_REC)
    if read_only:
        _mount(source, where, _MS_BIND | _MS_REC | _MS_REMOUNT | _MS_RDONLY)


def overlay(lower: str, target: str, layers: str) -> None:
    """`lower` seen writable at `target`, the writes kept in `layers` (upper and work directories
    on one filesystem). Where the kernel refuses an overlay (its upper layer on a filesystem that
    cannot hold one), the directory is bound as it is instead."""
    upper, work = os.path.join(layers, "upper"), os.path.join(layers, "work")
    os.makedirs(upper, exist_ok=True)
    os.makedirs(work, exist_ok=True)
    where = _target(lower, target)
    try:
        _mount(
            "overlay", where, 0, fstype="overlay", data=f"lowerdir={lower},upperdir={upper},workdir={work}"
        )
    except SetupError:
        bind(lower, target, False)


def loopback_up() -> None:
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        request = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))
    finally:
        sock.close()


def resolve(program: str, path: str) -> str | None:
    """argv[0] as execvp would find it on the container's PATH."""
    if "/" in program:
        return program
    for directory in path.split(":"):
        candidate = os.path.join(directory or ".", program)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def private_sys(cgroup_mounts: list[dict[str, str]]) -> None:
    """A /sys of the container's own: sysfs mounted from inside its network namespace (so
    /sys/class/net lists its interfaces, not the host's), and the cgroup filesystems mounted from
    a new cgroup namespace, rooted at the container's cgroup (so code that sizes itself from
    cpu.max or memory.limit_in_bytes sees the container's ceilings)."""
    _check(_libc.unshare(_CLONE_NEWCGROUP), "unshare(cgroup)")
    _mount("sysfs", "/sys", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC | _MS_RDONLY, fstype="sysfs")
    if any(item["fstype"] == "cgroup" for item in cgroup_mounts):
        _mount(
            "cgroup", "/sys/fs/cgroup", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, fstype="tmpfs", data="mode=755"
        )
    for item in cgroup_mounts:
        os.makedirs(item["target"], exist_ok=True)
        flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
        _mount("cgroup", item["target"], flags, fstype=item["fstype"], data=item["options"] or None)


def setup(spec: dict[str, Any]) -> None:
    step = "loopback"
    try:
        if spec["fresh_netns"]:
            loopback_up()
        for procs in spec["cgroup_procs"]:
            step = f"joining cgroup {procs}"
            with open(procs, "w") as handle:
                handle.write("0")
        step = "mounting /sys"
        private_sys(spec["cgroup_mounts"])
        for mount in spec["mounts"]:
            step = f"mounting {mount['target']}"
            if mount.get("overlay"):
                overlay(mount["source"], mount["target"], mount["overlay"])
            else:
                bind(mount["source"], mount["target"], mount["read_only"])
        step = "setting the hostname"
        _socket.sethostname(spec["hostname"])
        # The container's memory ceiling should kill the workload, not its init (best effort:
        # lowering the score needs CAP_SYS_RESOURCE, which a sandboxed server may lack).
        _oom_score_adj("-1000")
    except OSError as error:
        raise SetupError(f"{step}: {error.strerror or error}") from error


def _oom_score_adj(value: str) -> None:
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write(value)
    except OSError:
        pass


def _child(spec: dict[str, Any]) -> None:
    """In the forked child: become the user's command (never returns)."""
    try:
        for number in (*FORWARDED, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(number, signal.SIG_DFL)
        _oom_score_adj("0")
        os.chdir(spec["workdir"])
        env: dict[str, str] = spec["env"]
        argv: list[str] = spec["argv"]
        program = resolve(argv[0], env.get("PATH", os.defpath))
        if program is None:
            sys.stderr.write(f'exec: "{argv[0]}": executable file not found in $PATH\n')
            os._exit(EXIT_NOT_FOUND)
        if spec["setpriv"]:
            dropped = ",".join(f"-{cap}" for cap in spec["drop_caps"])
            os.execve(
                spec["setpriv"],
                [
                    spec["setpriv"],
                    f"--bounding-set={dropped}",
                    f"--inh-caps={dropped}",
                    "--",
                    program,
                    *argv[1:],
                ],
                env,
            )
        os.execve(program, argv, env)
    except OSError as error:
        sys.stderr.write(f'exec: "{spec["argv"][0]}": {error.strerror}\n')
        sys.stderr.flush()
        os._exit(EXIT_NOT_FOUND if error.errno == 2 else EXIT_NOT_EXECUTABLE)
    except BaseException as error:  # nothing may return into the parent's code
        sys.stderr.write(f"container init: {error}\n")
        sys.stderr.flush()
        os._exit(EXIT_SETUP_FAILED)


def supervise(child: int) -> int:
    """Wait for the command, reaping every orphan meanwhile; its status as a shell reports it."""

    def forward(number: int, _frame: object) -> None:
        try:
            os.kill(child, number)
        except ProcessLookupError:
            pass

    for number in FORWARDED:
        signal.signal(number, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
    while True:
        try:
            pid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return EXIT_SETUP_FAILED
        if pid == child:
            if os.WIFSIGNALED(status):
                return 128 + os.WTERMSIG(status)
            return os.waitstatus_to_exitcode(status)


def pid1(spec: dict[str, Any]) -> int:
    """The container's init, PID 1 of the new PID namespace."""
    status_fd: int = spec["status_fd"]
    try:
        _mount("proc", "/proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC, fstype="proc")
        setup(spec)
    except (OSError, SetupError) as error:
        os.write(status_fd, f"error: {error}\n".encode())
        return EXIT_SETUP_FAILED
    os.write(status_fd, b"ok\n")
    os.close(status_fd)
    sys.stdout.flush()
    child = os.fork()
    if child == 0:
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        _child(spec)
    return supervise(child)


def enter_namespaces(spec: dict[str, Any]) -> None:
    """Join the instance's network namespace (or a fresh one), then new mount, UTS, IPC and PID
    namespaces; the mounts made from here on do not reach the host."""
    if spec["netns_path"]:
        with open(spec["netns_path"], "rb") as handle:
            _check(_libc.setns(handle.fileno(), _CLONE_NEWNET), f"entering {spec['netns_path']}")
    else:
        _check(_libc.unshare(_CLONE_NEWNET), "unshare(net)")
    flags = _CLONE_NEWNS | _CLONE_NEWUTS | _CLONE_NEWIPC | _CLONE_NEWPID
    _check(_libc.unshare(flags), "unshare(mount, uts, ipc, pid)")
    _mount("none", "/", _MS_REC | _MS_PRIVATE)


def main(argv: list[str]) -> int:
    """The launcher: enters the namespaces, forks PID 1, and reports PID 1's exit as a shell would
    (128+N when it was killed by signal N, SIGKILL included)."""
    with open(argv[1], "rb") as handle:
        spec: dict[str, Any] = marshal.load(handle)
    # Stop signals that arrive during setup are held until the command runs (then forwarded).
    signal.pthread_sigmask(signal.SIG_BLOCK, FORWARDED)
    try:
        enter_namespaces(spec)
    except SetupError as error:
        os.write(spec["status_fd"], f"error: {error}\n".encode())
        return EXIT_SETUP_FAILED
    init = os.fork()
    if init == 0:
        # PID 1 dies with its launcher, whoever kills the launcher.
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        os._exit(pid1(spec))
    # The launcher lives in the host's PID namespace: it alone knows PID 1's host number.
    os.write(spec["status_fd"], f"pid {init}\n".encode())
    os.close(spec["status_fd"])

    def forward(number: int, _frame: object) -> None:
        try:
            os.kill(init, number)
        except ProcessLookupError:
            pass

    for number in FORWARDED:
        signal.signal(number, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, FORWARDED)
    _, status = os.waitpid(init, 0)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
