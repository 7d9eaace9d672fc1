"""The server's side of the agent zygote (cove.runtime.zygote): start it, have it fork data agents
into job instances, learn how they ended.

    zygote = AgentZygote.start()
    handle = zygote.spawn(AgentSpec(plan_path=…, env=…, netns=…, mounts=[Mount(opt_ml, "/opt/ml")]),
                          on_output=lambda line, when: …)
    code = handle.wait()        # exit code (128+N: killed by signal N); None on timeout
    zygote.close()

The zygote is not the server's child's parent for nothing: the agents are its children, so it
reports their exits (and their CPU time, from wait4). If it dies, every handle ends at once with
EXIT_ZYGOTE_LOST and spawn() raises ZygoteError; start a new one.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from cove.runtime.cgroups import Usage
from cove.runtime.container import _LineReader
from cove.runtime.sandbox import AgentSpec

__all__ = ["AGENT_CREDENTIALS", "EXIT_ZYGOTE_LOST", "AgentHandle", "AgentSpec", "AgentZygote", "ZygoteError"]

EXIT_ZYGOTE_LOST = 255
AGENT_CREDENTIALS = "COVE_AGENT_CREDENTIALS"
"""An agent's environment variable holding the credentials endpoint's answer (JSON) as of its start:
an agent forked from the zygote uses them without asking the endpoint, and asks it (at
AWS_CONTAINER_CREDENTIALS_FULL_URI) when they are due for renewal."""
_START_TIMEOUT = 60.0
_TOOL_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ZygoteError(RuntimeError):
    """The zygote is not running (or never became ready)."""


class AgentHandle:
    def __init__(self, zygote: AgentZygote, ident: int, reader: _LineReader | None) -> None:
        self.zygote = zygote
        self.id = ident
        self.pid = 0
        self.error: str | None = None
        """Why the agent never ran or why its end is unknown (the zygote died)."""
        self.code: int | None = None
        self.cpu_seconds = 0.0
        """User + system CPU of the agent (all its threads), once it has ended."""
        self.maxrss_kb = 0
        self._started = threading.Event()
        self._ended = threading.Event()
        self._reader = reader

    def _end(self, code: int, error: str | None = None) -> None:
        if self._ended.is_set():
            return
        self.code, self.error = code, error
        self._started.set()
        self._ended.set()

    def wait(self, timeout: float | None = None) -> int | None:
        if not self._ended.wait(timeout):
            return None
        if self._reader is not None:
            # Everything the agent printed is delivered before wait() reports its end.
            self._reader.join(5.0)
        return self.code

    def kill(self, signal_number: int = signal.SIGKILL) -> None:
        if not self._ended.is_set():
            with contextlib.suppress(ZygoteError):  # a lost zygote has already ended the handle
                self.zygote._send({"op": "kill", "id": self.id, "signal": int(signal_number)})

    # The rest is what cove.jobs uses of a Container, so an agent can stand in for one.

    def stop(self, signal_number: int = signal.SIGTERM, grace: float = 120.0) -> int:
        """Signal the agent, wait `grace` seconds, then kill it; its exit code."""
        code = self.wait(0)
        if code is not None:
            return code
        self.kill(signal_number)
        code = self.wait(grace)
        if code is not None:
            return code
        self.kill(signal.SIGKILL)
        code = self.wait(10.0)
        return 128 + signal.SIGKILL if code is None else code

    def usage(self) -> Usage:
        """CPU and peak memory of the agent (known once it has ended; zeros before)."""
        return Usage(cpu_seconds=self.cpu_seconds, memory_bytes=self.maxrss_kb * 1024)

    def cleanup(self) -> None:
        """The agent gone (killed if still running). Idempotent."""
        if self.wait(0) is None:
            self.stop(signal.SIGKILL, 10.0)


class AgentZygote:
    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._handles: dict[int, AgentHandle] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._lost: str | None = None
        self.spawned = 0
        """Agents forked so far."""

    @classmethod
    def start(cls, python: str = sys.executable, python_path: tuple[str, ...] = ()) -> AgentZygote:
        """Start the zygote and wait until it is warm (about as long as one agent's start-up).
        python_path: extra import roots for the agents' entry points (tests)."""
        zygote = cls()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        zygote._control = ours
        source_root = str(Path(__file__).resolve().parents[2])
        env = {
            "PATH": _TOOL_PATH,
            "LANG": "C.UTF-8",
            "PYTHONPATH": os.pathsep.join((source_root, *python_path)),
            # Warming up must read no configuration and ask no one for credentials.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        argv = [python, "-m", "cove.runtime.zygote", str(theirs.fileno()), str(os.getpid())]
        launched = threading.Event()
        failure: list[BaseException] = []

        def keep() -> None:
            # The zygote's PR_SET_PDEATHSIG fires when the thread that forked it ends, so the
            # thread that forks it stays for as long as the zygote lives.
            try:
                zygote.process = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, pass_fds=(theirs.fileno(),), env=env, cwd="/"
                )
            except BaseException as error:
                failure.append(error)
                return
            finally:
                theirs.close()
                launched.set()
            zygote.process.wait()

        threading.Thread(target=keep, name="agent-zygote-keeper", daemon=True).start()
        launched.wait()
        if failure:
            ours.close()
            raise ZygoteError(f"the agent zygote could not start: {failure[0]}")
        threading.Thread(target=zygote._receive, name="agent-zygote-receiver", daemon=True).start()
        if not zygote._ready.wait(_START_TIMEOUT) or zygote._lost:
            zygote.close()
            raise ZygoteError(f"the agent zygote did not become ready: {zygote._lost or 'timed out'}")
        return zygote

    @property
    def alive(self) -> bool:
        return self._lost is None and self._ready.is_set()

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0

    def cpu_seconds(self) -> float:
        """The zygote's own CPU time (its forks), from /proc."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _send(self, message: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
        control = self._control
        if control is None or self._lost:
            raise ZygoteError(f"the agent zygote is not running: {self._lost or 'closed'}")
        data = json.dumps(message).encode()
        with self._lock:
            try:
                if fds:
                    socket.send_fds(control, [data], list(fds))
                else:
                    control.send(data)
            except OSError as error:
                raise ZygoteError(f"the agent zygote is not running: {error}") from error

    def spawn(self, spec: AgentSpec, on_output: Callable[[str, float], None] | None = None) -> AgentHandle:
        """Fork an agent into spec's instance; its output lines go to on_output(line, time) when
        given, else to spec.log_path. Returns once the agent's pid is known."""
        ident = next(self._ids)
        reader: _LineReader | None = None
        fds: tuple[int, ...] = ()
        if on_output is not None:
            read_end, write_end = os.pipe()
            reader = _LineReader(read_end, on_output, f"agent-{ident}")
            fds = (write_end,)
        handle = AgentHandle(self, ident, reader)
        self._handles[ident] = handle
        try:
            self._send({"op": "spawn", "id": ident, "spec": asdict(spec)}, fds)
        except BaseException:
            self._handles.pop(ident, None)
            if reader is not None:
                os.close(reader.fd)
            raise
        finally:
            for fd in fds:
                os.close(fd)
        if reader is not None:
            reader.start()
        self.spawned += 1
        handle._started.wait()
        if handle.error is not None and not handle.pid:
            raise ZygoteError(handle.error)
        return handle

    def _receive(self) -> None:
        control = self._control
        assert control is not None
        reason = "the agent zygote exited"
        try:
            while True:
                data = control.recv(1 << 16)
                if not data:
                    break
                self._dispatch(json.loads(data))
        except (OSError, ValueError) as error:
            reason = f"the agent zygote's channel failed: {error}"
        self._lost = reason
        self._ready.set()
        for handle in list(self._handles.values()):
            handle._end(EXIT_ZYGOTE_LOST, reason)
        self._handles.clear()

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message.get("op") == "ready":
            self._ready.set()
            return
        handle = self._handles.get(int(message.get("id", 0)))
        if handle is None:
            return
        if "pid" in message:
            handle.pid = int(message["pid"])
            handle._started.set()
        elif "error" in message:
            self._handles.pop(handle.id, None)
            handle._end(EXIT_ZYGOTE_LOST, str(message["error"]))
        elif "exit" in message:
            self._handles.pop(handle.id, None)
            handle.cpu_seconds = float(message.get("cpu", 0.0))
            handle.maxrss_kb = int(message.get("maxrss_kb", 0))
            handle._end(int(message["exit"]))

    def close(self, timeout: float = 10.0) -> None:
        """End the zygote; the agents still running are killed (their handles end with
        EXIT_ZYGOTE_LOST). Idempotent."""
        control, self._control = self._control, None
        if control is not None:
            with contextlib.suppress(OSError):
                control.shutdown(socket.SHUT_RDWR)
            control.close()
        process = self.process
        if process is None:
            return
        deadline = time.monotonic() + timeout
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if process.poll() is None:
            process.kill()
            process.wait()
