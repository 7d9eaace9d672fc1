"""The agent zygote: one long-lived process that has imported boto3, botocore, s3transfer and the
data agent, and loaded the S3 service model, once; each data agent is a fork of it that confines
itself to its instance (cove.runtime.sandbox) and runs the agent's main with an S3 client the
zygote built before the fork (cove.runtime.s3clients; the agent fills in its own credentials). A
fresh ``python -m cove.runtime.transfer`` spends most of its CPU on exactly those imports, that
loading and that client.

Run as ``python -m cove.runtime.zygote <control fd> <parent pid>`` (cove.runtime.agents starts it).
The control channel is a SOCK_SEQPACKET socket carrying one JSON object per message:

* from the server: ``{"op": "spawn", "id": n, "spec": {AgentSpec}}`` (optionally with the write end
  of an output pipe attached, SCM_RIGHTS), ``{"op": "kill", "id": n, "signal": 9}``;
* to the server: ``{"op": "ready", "pid": p}`` once warm, ``{"id": n, "pid": p}`` or
  ``{"id": n, "error": why}`` for a spawn, and ``{"id": n, "exit": code, "cpu": s, "maxrss_kb": k}``
  when the agent has been reaped (code 128+N when killed by signal N).

The zygote never starts a thread (each fork copies one thread only) and never resolves a name (glibc
would keep the host's resolver configuration, and each agent must read its own resolv.conf). It
dies with the server (PR_SET_PDEATHSIG, and the channel's end), and its agents die with it.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import os
import select
import signal
import socket
import sys
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cove.runtime.s3clients import ClientCache

__all__ = ["EXIT_SETUP_FAILED", "main"]

EXIT_SETUP_FAILED = 125
_PR_SET_PDEATHSIG = 1
_MAX_MESSAGE = 1 << 20


def _warm() -> Any:
    """Import the agent and load the S3 model into a botocore loader the agents share (copy on
    write). Explicit keys and endpoint: building the client must not look for credentials or
    touch the network."""
    import encodings.idna  # noqa: F401  (a connection to a host name imports it on first use)

    import boto3
    import boto3.s3.inject  # noqa: F401  (the S3 client's upload/download methods)
    import botocore.session

    from cove.runtime import downloads, transfer, uploads  # noqa: F401

    warm = botocore.session.Session()
    client = warm.create_client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="warm",
        aws_secret_access_key="warm",
    )
    # The paginator model too (downloads list with a paginator): loading it lists every service
    # directory on disk first, ~10 ms in each agent otherwise.
    client.can_paginate("list_objects_v2")
    return warm.get_component("data_loader")


def _template(loader: Any) -> Any:
    """A botocore session made in the zygote and never used there: registering its built-in
    handlers is half of what a client costs an agent. Nothing in it depends on the environment yet
    (config and credentials are looked up when first asked for, in os.environ, which the agent
    fills in place), so each fork can take its own copy as if it had just made it."""
    import botocore.session

    session = botocore.session.Session()
    session.register_component("data_loader", loader)
    return session


def _child(
    request: dict[str, Any], out_fd: int | None, clients: ClientCache, template: Any, closing: list[int]
) -> None:
    """In the forked agent (never returns)."""
    code = EXIT_SETUP_FAILED
    try:
        os.setsid()
        from cove.runtime import init, sandbox
        from cove.runtime.container import Mount

        init._libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != request["zygote"]:  # the zygote died before the line above
            return
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in closing:
            os.close(fd)
        raw = dict(request["spec"])
        raw["mounts"] = [Mount(**m) for m in raw["mounts"]]
        spec = sandbox.AgentSpec(**raw)
        if out_fd is None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
            out_fd = (
                os.open(spec.log_path, flags, 0o640) if spec.log_path else os.open(os.devnull, os.O_WRONLY)
            )
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        if null > 2:
            os.close(null)
        if out_fd > 2:
            os.close(out_fd)
        # Fresh objects on the new descriptors: the zygote's may be None or hold buffered bytes.
        sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
        try:
            sandbox.confine(spec)
        except Exception as error:
            print(f"data agent setup: {error}", file=sys.stderr)
            return
        module, function = spec.entry.split(":")
        entry = getattr(importlib.import_module(module), function)
        args = (
            (["--watch"] if spec.watch else [])
            + (["--then", spec.then] if spec.then else [])
            + [spec.plan_path]
        )
        code = 1
        session = template if template is not None else _template(clients.loader)
        code = int(entry(args, client_factory=clients.factory(session)))
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException as error:  # nothing may return into the zygote's loop
        with contextlib.suppress(Exception):
            print(f"data agent: {type(error).__name__}: {error}", file=sys.stderr)
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


class _Zygote:
    def __init__(self, control: socket.socket, clients: ClientCache, template: Any = None) -> None:
        self.control = control
        self.clients = clients
        self.template = template
        self.children: dict[int, int] = {}  # pid -> request id
        self.wake_read, self.wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def send(self, message: dict[str, Any]) -> None:
        with contextlib.suppress(OSError):  # a server gone is noticed on the next receive
            self.control.send(json.dumps(message).encode())

    def spawn(self, request: dict[str, Any], fds: list[int]) -> None:
        out_fd = fds[0] if fds else None
        for extra in fds[1:]:
            os.close(extra)
        if threading.active_count() != 1:
            self.send({"id": request["id"], "error": "the zygote has threads; it cannot fork safely"})
            return
        request["zygote"] = os.getpid()
        spec = request.get("spec") or {}
        with contextlib.suppress(Exception):  # an agent whose client could not be built builds its own
            self.clients.prepare(str(spec.get("plan_path")), dict(spec.get("env") or {}))
        try:
            pid = os.fork()
        except OSError as error:
            self.send({"id": request["id"], "error": f"fork: {error}"})
            if out_fd is not None:
                os.close(out_fd)
            return
        if pid == 0:
            _child(
                request,
                out_fd,
                self.clients,
                self.template,
                [self.control.fileno(), self.wake_read, self.wake_write],
            )
        if out_fd is not None:
            os.close(out_fd)
        self.children[pid] = request["id"]
        self.send({"id": request["id"], "pid": pid})

    def kill(self, request: dict[str, Any]) -> None:
        for pid, ident in self.children.items():
            if ident == request["id"]:
                number = int(request.get("signal", signal.SIGKILL))
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, number)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, number)

    def reap(self) -> None:
        while self.children:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            ident = self.children.pop(pid, None)
            if ident is None:
                continue
            code = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.waitstatus_to_exitcode(status)
            cpu = round(usage.ru_utime + usage.ru_stime, 6)
            self.send({"id": ident, "exit": code, "cpu": cpu, "maxrss_kb": usage.ru_maxrss})

    def receive(self) -> bool:
        """Handle one message; False when the server has gone."""
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.control, _MAX_MESSAGE, 4)
        except OSError:
            return False
        if not data:
            return False
        request = json.loads(data)
        if request.get("op") == "spawn":
            self.spawn(request, fds)
        else:
            for fd in fds:
                os.close(fd)
            if request.get("op") == "kill":
                self.kill(request)
        return True

    def serve(self) -> None:
        signal.signal(signal.SIGCHLD, lambda _n, _f: None)
        signal.set_wakeup_fd(self.wake_write)
        self.send({"op": "ready", "pid": os.getpid()})
        while True:
            ready, _, _ = select.select([self.control.fileno(), self.wake_read], [], [])
            if self.wake_read in ready:
                with contextlib.suppress(BlockingIOError):
                    while os.read(self.wake_read, 512):
                        pass
                self.reap()
            if self.control.fileno() in ready and not self.receive():
                break
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for _pid in list(self.children):
            with contextlib.suppress(ChildProcessError):
                os.wait4(-1, 0)


def main(argv: list[str]) -> int:
    control = socket.socket(fileno=int(argv[1]))
    from cove.runtime import init, sandbox

    init._libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != int(argv[2]):  # the server died before the line above
        return 1
    sandbox.STAGE_DIR.mkdir(parents=True, exist_ok=True)
    from cove.runtime.s3clients import ClientCache

    loader = _warm()
    template = _template(loader)
    # The children never collect the zygote's objects: no copy-on-write faults, no GC work.
    gc.freeze()
    _Zygote(control, ClientCache(loader), template).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
