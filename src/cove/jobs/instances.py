"""One job instance on this host: its directory, volume, /opt/ml tree, environment and containers.

The instance's directory is ``<state_dir>/jobs/<kind>/<job>/<algo-N>``; its ML storage volume
(encrypted with a KMS data key when the job names a ``VolumeKmsKeyId``) holds the ``/opt/ml``
tree that every container of the instance (the data agent, then the algorithm) sees bind-mounted.
"""

from __future__ import annotations

import json
import shutil
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from cove.jobs.agents import AgentSupply
from cove.jobs.network import InstanceNet
from cove.runtime.agents import AGENT_CREDENTIALS, AgentHandle, AgentSpec, ZygoteError
from cove.runtime.container import Container, ContainerSpec, Mount
from cove.runtime.transfer import PHASE_DONE
from cove.runtime.volume import Volume

__all__ = ["Instance", "Runnable", "TransferFailed"]


class Runnable(Protocol):
    """A container or a data agent forked from the zygote: what an instance waits on and stops."""

    def wait(self, timeout: float | None = None) -> int | None: ...

    def stop(self, signal_number: int = ..., grace: float = ...) -> int: ...

    def cleanup(self) -> None: ...


class TransferFailed(RuntimeError):
    """The data agent could not move the data; the message is the job's FailureReason."""


@dataclass
class Instance:
    net: InstanceNet
    directory: Path
    hosts: dict[str, str]
    env: dict[str, str]
    """The algorithm container's environment."""
    agent_env: dict[str, str]
    """The data agent's: it always has the role's credentials and the VPC's S3, even when the
    algorithm's container has no network (EnableNetworkIsolation)."""
    name: str
    """Unique container name stem (cgroups, logs)."""
    volume: Volume | None = None
    agents: AgentSupply | None = None
    """Where data agents come from (None: each one a fresh container process)."""
    agent_credentials: Callable[[], dict[str, str]] | None = None
    """The role's current credentials (the endpoint's answer), handed to each data agent from the
    zygote at its start; it still renews them at AWS_CONTAINER_CREDENTIALS_FULL_URI."""
    containers: list[Runnable] = field(default_factory=list)
    waiting: dict[str, AgentHandle] = field(default_factory=dict)
    """Agents that have run a plan and wait for the transfer of this label (see transfer)."""

    @property
    def opt_ml(self) -> Path:
        assert self.volume is not None
        return Path(self.volume.path) / "opt_ml"

    def open_volume(self, size_gb: int, key: bytes | None) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.volume = Volume.create(self.directory / "volume", size_gb, key)
        self.opt_ml.mkdir(parents=True, exist_ok=True)

    def spec(
        self,
        suffix: str,
        argv: list[str],
        env: dict[str, str],
        *,
        isolated: bool = False,
        cpus: float | None = None,
        memory_bytes: int | None = None,
        workdir: str = "/",
        extra_mounts: tuple[Mount, ...] = (),
    ) -> ContainerSpec:
        return ContainerSpec(
            name=f"{self.name}-{suffix}",
            argv=argv,
            env=env,
            netns=None if isolated else self.net.netns,
            hostname=self.net.host,
            hosts=dict(self.hosts),
            nameservers=list(self.net.nameservers),
            search=list(self.net.search),
            mounts=[Mount(str(self.opt_ml), "/opt/ml"), *extra_mounts],
            workdir=workdir,
            cpus=cpus,
            memory_bytes=memory_bytes,
        )

    def transfer(
        self,
        plan: dict[str, Any],
        label: str,
        on_output: Callable[[str, float], None],
        extra_mounts: tuple[Mount, ...] = (),
        *,
        then: str | None = None,
    ) -> dict[str, Any]:
        """Run the data agent inside this instance (its network namespace: the VPC's paths and
        policies apply) and return its result; raises TransferFailed with SageMaker's reason.
        With `then` (agents from the zygote only) the agent stays once this plan has succeeded, and
        the later transfer labelled `then` is run by it (so `extra_mounts` must already be what
        that one needs) rather than by a new agent; close() ends it if that never comes."""
        waiting = self.waiting.pop(label, None)
        if waiting is not None:
            self._write_plan(label, plan)
            waiting.kill(signal.SIGUSR1)  # the agent's go (transfer --then)
            return self.finish_agent(waiting, label)
        if then is None or self.agents is None:
            return self.finish_agent(self.start_agent(plan, label, on_output, extra_mounts), label)
        phase_done = threading.Event()

        def output(line: str, when: float) -> None:
            if line.rstrip("\n") == PHASE_DONE:
                phase_done.set()
            else:
                on_output(line, when)

        agent = self.start_agent(plan, label, output, extra_mounts, then=then)
        assert isinstance(agent, AgentHandle)
        while not phase_done.is_set() and agent.wait(0.01) is None:
            pass
        if not phase_done.is_set():  # it ended: the plan failed, or the agent did
            return self.finish_agent(agent, label)
        self.waiting[then] = agent
        return self._result(label, None)

    def _plan_path(self, label: str) -> Path:
        return self.directory / "agent" / f"{label}.json"

    def _result_path(self, label: str) -> Path:
        return self.directory / "agent" / f"{label}.result.json"

    def _write_plan(self, label: str, plan: dict[str, Any]) -> Path:
        plan_path, result_path = self._plan_path(label), self._result_path(label)
        plan_path.parent.mkdir(parents=True, exist_ok=True)
        result_path.unlink(missing_ok=True)
        plan_path.write_text(json.dumps(dict(plan, result=str(result_path))))
        return plan_path

    def start_agent(
        self,
        plan: dict[str, Any],
        label: str,
        on_output: Callable[[str, float], None],
        extra_mounts: tuple[Mount, ...] = (),
        *,
        watch: bool = False,
        then: str | None = None,
    ) -> Runnable:
        plan_path = self._write_plan(label, plan)
        env = {k: v for k, v in self.agent_env.items() if k.startswith(("AWS_", "S3_"))}
        env |= {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1"}
        # Only an agent from the zygote takes handed credentials (cove.runtime.s3clients).
        credentials = self.agent_credentials if self.agents is not None else None
        if credentials is not None and "AWS_CONTAINER_CREDENTIALS_FULL_URI" in env:
            env[AGENT_CREDENTIALS] = json.dumps(credentials())
        spec = self.spec(label, [], env, extra_mounts=extra_mounts)
        handle: Runnable
        if self.agents is not None:
            # The next plan's path is known now; the plan itself is written when it is due.
            later = str(self._plan_path(then)) if then is not None else None
            agent = AgentSpec.from_container(spec, str(plan_path), watch=watch, then=later)
            try:
                handle = self.agents.zygote().spawn(agent, on_output)
            except ZygoteError:  # the zygote died between the check and the spawn: once more
                handle = self.agents.zygote().spawn(agent, on_output)
        else:
            argv = [
                sys.executable,
                "-m",
                "cove.runtime.transfer",
                *(["--watch"] if watch else []),
                str(plan_path),
            ]
            handle = Container.start(replace(spec, argv=argv), on_output)
        self.containers.append(handle)
        return handle

    def finish_agent(self, agent: Runnable, label: str) -> dict[str, Any]:
        try:
            code = agent.wait()
        finally:
            agent.cleanup()
            if agent in self.containers:
                self.containers.remove(agent)
        return self._result(label, code)

    def _result(self, label: str, code: int | None) -> dict[str, Any]:
        try:
            result: dict[str, Any] = json.loads(self._result_path(label).read_text())
        except (OSError, ValueError):
            raise TransferFailed(
                f"InternalServerError: the data agent of {self.net.host} ended with exit code {code} "
                "and no result."
            ) from None
        if not result.get("ok"):
            raise TransferFailed(str(result.get("reason") or "ClientError: Data transfer failed."))
        return result

    def close(self) -> None:
        """Every container gone, the volume wiped, the directory removed. Idempotent."""
        for container in list(self.containers):
            try:
                container.stop(grace=0.0)
            finally:
                container.cleanup()
        self.containers.clear()
        if self.volume is not None:
            self.volume.close()
            self.volume = None
        shutil.rmtree(self.directory, ignore_errors=True)
