"""What a data agent forked by the agent zygote does before it runs: the instance's network
namespace, its own mount, UTS and IPC namespaces with /opt/ml and the generated /etc/hosts and
/etc/resolv.conf bind-mounted (the same files a container gets), the instance's hostname, and no
capability beyond reading and writing the files it moves.

Everything here runs in the forked child, single-threaded, and only with the standard library.
"""

from __future__ import annotations

import ctypes
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from cove.runtime import init
from cove.runtime.container import ContainerSpec, Mount, _hosts_file, _resolv_file

__all__ = ["KEPT_CAPS", "AgentSpec", "confine", "drop_capabilities", "enter"]

_CLONE_NEWNS = 0x00020000
_CLONE_NEWUTS = 0x04000000
_CLONE_NEWIPC = 0x08000000
_CLONE_NEWNET = 0x40000000
_MS_REC = 16384
_MS_PRIVATE = 1 << 18
_PR_CAPBSET_DROP = 24
_PR_SET_NO_NEW_PRIVS = 38
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_CLEAR_ALL = 4
_CAP_VERSION_3 = 0x20080522
_CAP_DAC_OVERRIDE = 1
_CAP_DAC_READ_SEARCH = 2
_CAP_FOWNER = 3
KEPT_CAPS = (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH, _CAP_FOWNER)
"""The agent reads what the algorithm wrote, whoever owns it, and writes into /opt/ml: the file
permission overrides root has. Nothing that touches the network, mounts, namespaces or the kernel."""
NETNS_DIR = Path("/run/netns")
STAGE_DIR = Path("/run/cove/zygote")
"""An empty directory on the host; each agent mounts its own tmpfs there (in its private mount
namespace) to hold its generated /etc files, so nothing is left to clean when it ends."""


@dataclass(frozen=True)
class AgentSpec:
    plan_path: str
    env: dict[str, str]
    """The agent's whole environment (credentials URI, AWS_ENDPOINT_URL_S3, …): nothing of the
    server's is inherited."""
    netns: str | None
    """Named network namespace (/run/netns/<name>); None: the zygote's own (tests)."""
    watch: bool = False
    then: str | None = None
    """Another plan to run after this one, on the server's go (transfer's --then)."""
    log_path: str | None = None
    """Where stdout and stderr go when spawn() is given no on_output (else /dev/null)."""
    hostname: str = "algo-1"
    hosts: dict[str, str] = field(default_factory=dict)
    nameservers: list[str] = field(default_factory=list)
    search: list[str] = field(default_factory=list)
    mounts: list[Mount] = field(default_factory=list)
    entry: str = "cove.runtime.transfer:main"
    """module:function called as function(args, client_factory=…) -> exit code."""

    @classmethod
    def from_container(
        cls,
        spec: ContainerSpec,
        plan_path: str,
        *,
        watch: bool = False,
        then: str | None = None,
        log_path: str | None = None,
    ) -> AgentSpec:
        """The agent of the instance `spec` describes (its argv, cgroup limits and workdir unused).
        A container spec's netns None means a fresh empty namespace, which no agent can use."""
        if spec.netns is None:
            raise ValueError("a data agent needs the instance's network namespace")
        return cls(
            plan_path=plan_path,
            env=dict(spec.env),
            netns=spec.netns,
            watch=watch,
            then=then,
            log_path=log_path,
            hostname=spec.hostname,
            hosts=dict(spec.hosts),
            nameservers=list(spec.nameservers),
            search=list(spec.search),
            mounts=list(spec.mounts),
        )

    def container_spec(self) -> ContainerSpec:
        return ContainerSpec(
            name="agent",
            argv=[],
            env=self.env,
            netns=self.netns,
            hostname=self.hostname,
            hosts=self.hosts,
            nameservers=self.nameservers,
            search=self.search,
            mounts=self.mounts,
        )


def _check(result: int, what: str) -> None:
    if result != 0:
        raise OSError(ctypes.get_errno(), f"{what}: {os.strerror(ctypes.get_errno())}")


def enter(spec: AgentSpec) -> None:
    """Join the instance's network namespace and new mount, UTS and IPC namespaces; bind-mount the
    spec's mounts and the generated /etc files; set the hostname."""
    libc = init._libc
    if spec.netns is not None:
        try:
            handle = open(NETNS_DIR / spec.netns, "rb")  # noqa: SIM115
        except OSError as error:
            raise OSError(error.errno, f"entering netns {spec.netns}: {error.strerror}") from None
        with handle:
            _check(libc.setns(handle.fileno(), _CLONE_NEWNET), f"entering netns {spec.netns}")
    _check(libc.unshare(_CLONE_NEWNS | _CLONE_NEWUTS | _CLONE_NEWIPC), "unshare(mount, uts, ipc)")
    _check(libc.mount(b"none", b"/", None, _MS_REC | _MS_PRIVATE, None), "making / private")
    stage = str(STAGE_DIR)
    _check(libc.mount(b"tmpfs", stage.encode(), b"tmpfs", 0, b"size=1m,mode=700"), "mounting the stage")
    container = spec.container_spec()
    files = {"hosts": _hosts_file(container), "resolv.conf": _resolv_file(container)}
    files["hostname"] = spec.hostname + "\n"
    for name, content in files.items():
        Path(stage, name).write_text(content)
    for mount in [*spec.mounts, *(Mount(f"{stage}/{name}", f"/etc/{name}") for name in files)]:
        init.bind(mount.source, mount.target, mount.read_only)
    socket.sethostname(spec.hostname)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_capabilities(kept: tuple[int, ...] = KEPT_CAPS) -> None:
    """Every capability but `kept` out of the bounding, effective and permitted sets, nothing
    inheritable or ambient, and no way back through exec (no_new_privs)."""
    libc = init._libc
    last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
    for cap in range(last + 1):
        if cap not in kept:
            _check(libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0), f"dropping capability {cap}")
    _check(libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clearing ambient capabilities")
    mask = sum(1 << cap for cap in kept)
    header = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)(_CapData(mask, mask, 0), _CapData(0, 0, 0))
    _check(libc.capset(ctypes.byref(header), data), "capset")
    _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")


def confine(spec: AgentSpec) -> None:
    """The whole setup, in order: namespaces and mounts need the capabilities that go last."""
    enter(spec)
    drop_capabilities()
    os.environ.clear()
    os.environ.update(spec.env)
    os.chdir("/")
