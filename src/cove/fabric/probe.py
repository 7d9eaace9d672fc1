"""Drive probe agents: real connection attempts from inside ENI namespaces.

`Agent` starts `cove.fabric.agent` in a namespace through `netns.unprivileged`, so the prober is a
root process with no CAP_NET_ADMIN/CAP_SYS_ADMIN, exactly like a job's processes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from cove.fabric import netns

__all__ = ["Agent", "Probe"]


@dataclass(frozen=True, slots=True)
class Probe:
    id: str
    proto: str
    """tcp | udp | icmp"""
    dst: str
    port: int = 0
    sport: int | None = None


class Agent:
    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        argv = netns.unprivileged(namespace, [sys.executable, "-m", "cove.fabric.agent"])
        self._process = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    @property
    def pid(self) -> int:
        return self._process.pid

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        stdin, stdout = self._process.stdin, self._process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps(request) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            err = self._process.stderr.read() if self._process.stderr else ""
            raise RuntimeError(f"probe agent in {self.namespace} exited: {err.strip()}")
        reply: dict[str, Any] = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"probe agent in {self.namespace}: {reply['error']}")
        return reply

    def serve(self, tcp: list[int] = [], udp: list[int] = []) -> None:  # noqa: B006
        self._call({"op": "serve", "tcp": list(tcp), "udp": list(udp)})

    def probe(self, probes: list[Probe], timeout: float = 1.0) -> dict[str, str]:
        payload = [
            {"id": p.id, "proto": p.proto, "dst": p.dst, "port": p.port, "sport": p.sport} for p in probes
        ]
        results: dict[str, str] = self._call({"op": "probe", "timeout": timeout, "probes": payload})[
            "results"
        ]
        return results

    def close(self) -> None:
        if self._process.poll() is None:
            try:
                assert self._process.stdin is not None
                self._process.stdin.write(json.dumps({"op": "exit"}) + "\n")
                self._process.stdin.flush()
                self._process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait()
        for stream in (self._process.stdin, self._process.stdout, self._process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
