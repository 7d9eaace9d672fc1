"""One job from Starting to its end: capacity, network, volumes, data in, containers, data out.

Each phase is slow work done outside DB transactions; each status change is one short transaction
through the SageMaker lifecycle functions. Whatever happens, the instances' containers, volumes and
ENIs are removed at the end, and the job ends with a status and a FailureReason a person can act on.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cove.db import Database
from cove.jobs import outcome, plans
from cove.jobs.agents import AgentSupply
from cove.jobs.environment import instance_env
from cove.jobs.instances import Instance, Runnable, TransferFailed
from cove.jobs.network import InstanceNet, JobNetwork
from cove.jobs.output import InstanceOutput, MetricScanner
from cove.jobs.peers import unreachable_peers
from cove.jobs.telemetry import Telemetry
from cove.jobs.volumes import VolumeKeyError, volume_key
from cove.keyring import RootKey
from cove.runtime import catalog, container, volume
from cove.runtime.container import Container, Mount
from cove.runtime.images import ImageRegistry, UnknownImage, argv_for
from cove.runtime.layout import processing_layout, training_layout
from cove.services.sagemaker import lifecycle
from cove.services.sagemaker.names import parse_arn
from cove.services.sts.container_credentials import ContainerCredentials

__all__ = ["SHUTDOWN", "JobDeps", "JobRun", "job_directory", "job_stem", "remove_leftovers"]

log = logging.getLogger("cove.jobs")

_STOP_GRACE_S = 120.0
SHUTDOWN = "ServerShutdown"


@dataclass
class JobDeps:
    db: Database
    key: RootKey
    state_dir: Path
    network: JobNetwork
    credentials: ContainerCredentials
    images: ImageRegistry
    capacity: catalog.Capacity
    ca_bundle: str | None = None
    stop_grace_s: float = _STOP_GRACE_S
    agents: AgentSupply | None = None
    echo: Callable[[str], None] | None = None


class _Stopped(Exception):
    pass


class JobRun:
    """A job's run in its own thread; `request_stop` is safe from any thread."""

    def __init__(self, deps: JobDeps, job: lifecycle.JobRow) -> None:
        self.deps = deps
        self.job = job
        self.kind = job.kind
        self.request: dict[str, Any] = job.request
        self.region = job.region
        self.instances: list[Instance] = []
        self.nets: list[InstanceNet] = []
        self.tokens: list[str] = []
        self.outputs: list[InstanceOutput] = []
        self.scanner = MetricScanner.of(
            (self.request.get("AlgorithmSpecification") or {}).get("MetricDefinitions")
        )
        self._stop = threading.Event()
        self._stop_reason = "Stopped"
        self.continuous_failure: str | None = None
        self.starved = False
        """A Pipe channel's stream failed while the algorithm ran."""
        self.thread = threading.Thread(target=self._main, name=f"cove-job-{job.name}", daemon=True)

    # control

    def start(self) -> None:
        self.thread.start()

    def request_stop(self, reason: str = "Stopped") -> None:
        self._stop_reason = reason
        self._stop.set()

    @property
    def done(self) -> bool:
        return not self.thread.is_alive()

    # status

    def _now(self) -> datetime:
        return datetime.now(UTC)

    def _secondary(self, status: str, *messages: str) -> None:
        """Enter `status` with each message in turn (the last one stays), in one transaction."""
        with self.deps.db.session() as session:
            for message in messages:
                lifecycle.transition(session, self.job.arn, status, message, self._now())

    def _attached(self, message: str) -> None:
        """Record the instances' ENIs (for cleanup after a restart) with the next status message."""
        with self.deps.db.session() as session:
            lifecycle.set_runtime(
                session, self.job.arn, {"instances": [asdict(n.attachment) for n in self.nets]}
            )
            lifecycle.transition(session, self.job.arn, "Starting", message, self._now())

    def _finish(self, status: str, **extra: Any) -> None:
        with self.deps.db.session() as session:
            lifecycle.finish(session, self.job.arn, status, self._now(), **extra)

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise _Stopped()

    # the run

    def _main(self) -> None:
        try:
            self._run()
        except _Stopped:
            self._end_stopped()
        except Exception as exc:  # the job must end, whatever broke
            log.exception("job %s failed inside Cove", self.job.name)
            self._finish(
                "Failed",
                failure_reason=f"InternalServerError: We encountered an internal error. Please try again. ({exc})",
                secondary="Failed",
            )
        finally:
            self._cleanup()

    def _resources(self) -> tuple[str, int, int, str | None]:
        if self.kind == "training":
            res = self.request["ResourceConfig"]
        else:
            res = self.request["ProcessingResources"]["ClusterConfig"]
        return (
            str(res["InstanceType"]),
            int(res.get("InstanceCount") or 1),
            int(res.get("VolumeSizeInGB") or 30),
            res.get("VolumeKmsKeyId"),
        )

    def _run(self) -> None:
        instance_type, count, volume_gb, volume_kms = self._resources()
        image = self._image()
        if image is None:
            return
        itype = catalog.INSTANCE_TYPES[instance_type]
        never = self.deps.capacity.never_fits(itype, count)
        if never is not None:
            self._fail(f"CapacityError: Unable to provision requested ML compute capacity. {never}")
            return
        waiting = False
        while not self.deps.capacity.try_admit(self.job.arn, itype, count):
            if not waiting:
                self._secondary("Pending", "Training job waiting for capacity")
                waiting = True
            self.deps.capacity.wait_released(1.0)
            if self._stop.is_set():
                raise _Stopped()
        self._secondary("Starting", "Launching requested ML instances")
        self._check_stop()
        self.nets = self.deps.network.attach(
            kind=self.kind,
            job_name=self.job.name,
            account_id=self.job.account,
            region=self.region,
            vpc_config=self._vpc_config(),
            count=count,
        )
        self._attached("Preparing the instances for training")
        hosts = {n.host: n.address for n in self.nets}
        try:
            key = volume_key(self.deps.db, self.deps.key, self.job, volume_kms)
        except VolumeKeyError as exc:
            self._fail(str(exc))
            return
        for net in self.nets:
            token = self.deps.credentials.bind(
                net.eni_id, (net.address,), self.request["RoleArn"], "SageMaker"
            )
            self.tokens.append(token)
            envs = [
                instance_env(
                    kind=self.kind,
                    job=self.job,
                    image_env=image.env,
                    region=self.region,
                    credentials_uri=self.deps.credentials.uri(token),
                    ca_bundle=self.deps.ca_bundle,
                    isolated=isolated,
                )
                for isolated in (self._isolated(), False)
            ]
            instance = Instance(
                net=net,
                directory=job_directory(self.deps.state_dir, self.kind, self.job.arn) / net.host,
                hosts=hosts,
                env=envs[0],
                agent_env=envs[1],
                name=f"{job_stem(self.job.arn)}-{net.host}",
                agents=self.deps.agents,
                agent_credentials=functools.partial(self.deps.credentials.issue, token),
            )
            self.instances.append(instance)
            instance.open_volume(volume_gb, key)
            host_names = [n.host for n in self.nets]
            (instance.opt_ml / ".cove-scratch").mkdir(exist_ok=True)
            if self.kind == "training":
                training_layout(instance.opt_ml, self.request, net.host, host_names, instance_type)
            else:
                processing_layout(
                    instance.opt_ml, self.request, net.host, host_names, instance_type, arn=self.job.arn
                )
        self._check_stop()
        self._secondary("Downloading", "Downloading input data")
        # The agent that downloads stays for the upload (one fork, client and sandbox per
        # instance): in training only algo-1 uploads, with every host's tree mounted.
        failure = self._each(
            lambda i, n: i.transfer(
                plans.download(self.kind, self.request, n, count),
                "download",
                self._agent_echo(i),
                self._upload_mounts() if self.kind == "training" and i is self.instances[0] else (),
                then="upload" if self.kind == "processing" or i is self.instances[0] else None,
            )
        )
        if failure:
            self._fail(failure)
            return
        self._check_stop()
        peer_failure = unreachable_peers(self.deps.db, self.region, self.nets) if count > 1 else None
        if peer_failure:
            self._fail(peer_failure)
            return
        self._secondary(
            "Training",
            "Downloading the training image",
            "Training image download completed. Training in progress.",
        )
        codes = self._execute(image, itype)
        stopped = self._stop.is_set()
        self._upload_and_finish(codes, stopped)

    # phases

    def _image(self) -> Any:
        uri = (
            (self.request.get("AlgorithmSpecification") or {}).get("TrainingImage")
            if self.kind == "training"
            else self.request["AppSpecification"]["ImageUri"]
        )
        try:
            return self.deps.images.resolve(str(uri))
        except UnknownImage as exc:
            self._fail(f"ClientError: {exc}")
            return None

    def _vpc_config(self) -> dict[str, Any] | None:
        if self.kind == "training":
            return self.request.get("VpcConfig") or None
        return (self.request.get("NetworkConfig") or {}).get("VpcConfig") or None

    def _isolated(self) -> bool:
        if self.kind == "training":
            return bool(self.request.get("EnableNetworkIsolation"))
        return bool((self.request.get("NetworkConfig") or {}).get("EnableNetworkIsolation"))

    def _agent_echo(self, instance: Instance) -> Callable[[str, float], None]:
        def echo(line: str, _ts: float) -> None:
            log.info("[%s %s agent] %s", self.job.name, instance.net.host, line.rstrip())

        return echo

    def _each(self, work: Callable[[Instance, InstanceNet], object]) -> str | None:
        """Run `work` on every instance at once; the first failure's reason, or None."""
        with ThreadPoolExecutor(max_workers=max(1, len(self.instances))) as pool:
            futures = [pool.submit(work, i, i.net) for i in self.instances]
            for future in futures:
                try:
                    future.result()
                except TransferFailed as exc:
                    return str(exc)
        return None

    def _execute(self, image: Any, itype: catalog.InstanceType) -> list[int]:
        spec_args = self.request.get("AlgorithmSpecification") or self.request.get("AppSpecification") or {}
        argv = argv_for(
            image,
            "training" if self.kind == "training" else "processing",
            spec_args.get("ContainerEntrypoint"),
            spec_args.get("ContainerArguments"),
        )
        cpus, memory = catalog.limits(itype, self.deps.capacity.host)
        group = "/aws/sagemaker/TrainingJobs" if self.kind == "training" else "/aws/sagemaker/ProcessingJobs"
        started = int(time.time())
        telemetry = Telemetry(
            self.deps.db,
            account_id=self.job.account,
            region=self.region,
            namespace=group,
            job_name=self.job.name,
            scanner=self.scanner,
        )
        watchers: list[tuple[Instance, Runnable, str]] = []
        stop_file = ".cove-scratch/stop-continuous"
        continuous = plans.continuous_outputs(self.kind, self.request, f"/opt/ml/{stop_file}")
        for instance in self.instances:
            if continuous is not None:
                agent = instance.start_agent(continuous, "continuous", self._agent_echo(instance), watch=True)
                watchers.append((instance, agent, "continuous"))
            streams = (
                plans.pipes(self.request, instance.net, len(self.instances), f"/opt/ml/{stop_file}")
                if self.kind == "training"
                else None
            )
            if streams is not None:
                agent = instance.start_agent(streams, "pipes", self._agent_echo(instance), watch=True)
                watchers.append((instance, agent, "pipes"))
        for instance in self.instances:
            output = InstanceOutput(
                self.deps.db,
                account_id=self.job.account,
                region=self.region,
                group=group,
                stream=f"{self.job.name}/{instance.net.host}-{started}",
                scanner=self.scanner if self.kind == "training" else None,
                echo=self.deps.echo,
            )
            self.outputs.append(output)
            spec = instance.spec(
                "algo",
                argv,
                instance.env,
                isolated=self._isolated(),
                cpus=cpus,
                memory_bytes=memory,
                workdir=image.workdir,
                extra_mounts=(self._image_layer(image, instance),),
            )
            algorithm = Container.start(spec, output.line)
            instance.containers.append(algorithm)
            telemetry.watch(instance.net.host, algorithm, memory, instance.opt_ml)
        deadline = time.monotonic() + float(
            (self.request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds") or 86400
        )
        containers = [i.containers[-1] for i in self.instances]
        codes: list[int | None] = [None] * len(containers)
        stopping = False
        while any(c is None for c in codes):
            for index, running in enumerate(containers):
                if codes[index] is None:
                    codes[index] = running.wait(timeout=0.2 / len(containers))
            for output in self.outputs:
                output.flush()
            telemetry.tick()
            # A Pipe channel that cannot be streamed ends the job (its algorithm would wait forever).
            if any(label == "pipes" and agent.wait(0) not in (None, 0) for _, agent, label in watchers):
                self.starved = True
            failed = self.starved or any(c not in (None, 0) for c in codes)
            if not stopping and (self._stop.is_set() or failed or time.monotonic() > deadline):
                if time.monotonic() > deadline and not self._stop.is_set():
                    self.request_stop("MaxRuntimeExceeded")
                stopping = True
                sig = signal.SIGINT if self.kind == "processing" else signal.SIGTERM
                grace = self.deps.stop_grace_s if self._stop.is_set() else 10.0
                with ThreadPoolExecutor(max_workers=len(containers)) as pool:
                    list(
                        pool.map(
                            lambda c, s=sig, g=grace: c.stop(s, g),
                            [c for c, code in zip(containers, codes, strict=True) if code is None],
                        )
                    )
        for output in self.outputs:
            output.flush()
        telemetry.tick(force=True)
        for instance, _agent, _label in watchers:
            (instance.opt_ml / stop_file).touch()
        for instance, agent, label in watchers:
            try:
                instance.finish_agent(agent, label)
            except TransferFailed as exc:
                self.continuous_failure = self.continuous_failure or str(exc)
        return [int(c) for c in codes if c is not None]

    def _upload_mounts(self) -> tuple[Mount, ...]:
        """What the training upload reads: every host's /opt/ml, read-only."""
        return tuple(
            Mount(str(i.opt_ml), f"{plans.HOSTS_MOUNT}/{i.net.host}", read_only=True) for i in self.instances
        )

    def _image_layer(self, image: Any, instance: Instance) -> Mount:
        """The image as the container's own writable copy (a `pip install -r requirements.txt` by the
        toolkit must not change the image for later jobs): an overlay whose writes stay with the
        instance. Framework images are layered venvs, so the whole image directory is overlaid."""
        root = Path(image.root).resolve()
        images = self.deps.images.images_dir.resolve()
        lower = images if root.is_relative_to(images) else root
        return Mount(str(lower), str(lower), overlay=str(instance.directory / "image-layer"))

    def _upload_and_finish(self, codes: list[int], stopped: bool) -> None:
        succeeded = all(code == 0 for code in codes) and not stopped
        if self.kind == "training":
            self._secondary("Uploading", "Uploading generated training model")
            plan = plans.training_upload(self.request, self.job.name, [i.net.host for i in self.instances])
            upload_failure: str | None = self.continuous_failure
            try:
                self.instances[0].transfer(
                    plan, "upload", self._agent_echo(self.instances[0]), self._upload_mounts()
                )
            except TransferFailed as exc:
                upload_failure = upload_failure or str(exc)
        else:
            upload_failure = self.continuous_failure or self._each(
                lambda i, n: i.transfer(plans.processing_upload(self.request), "upload", self._agent_echo(i))
            )
        # ModelArtifacts names the model only once it is there.
        artifacts = (
            plans.model_artifacts(self.request, self.job.name)
            if self.kind == "training" and upload_failure is None
            else None
        )
        final = [
            {"MetricName": m.name, "Value": m.value, "Timestamp": datetime.fromtimestamp(m.timestamp, UTC)}
            for m in self.scanner.last.values()
        ]
        trees = [i.opt_ml for i in self.instances]
        exit_message = outcome.exit_message(trees) if self.kind == "processing" else None
        if stopped:
            self._end_stopped(
                model_artifacts=artifacts,
                final_metrics=final,
                exit_message=exit_message,
            )
            return
        if not succeeded:
            self._finish(
                "Failed",
                failure_reason=(
                    self.continuous_failure
                    if self.starved and self.continuous_failure
                    else outcome.algorithm_error(self.kind, trees, codes)
                ),
                secondary="Failed",
                model_artifacts=artifacts,
                final_metrics=final,
                exit_message=exit_message,
            )
            return
        if upload_failure:
            self._fail(upload_failure, exit_message=exit_message)
            return
        message_error = outcome.message_error(trees) if self.kind == "processing" else None
        if message_error:
            self._fail(message_error)
            return
        self._finish(
            "Completed",
            secondary="Completed",
            model_artifacts=artifacts,
            final_metrics=final,
            exit_message=exit_message,
        )

    def _end_stopped(self, **extra: Any) -> None:
        reason = self._stop_reason
        if reason == SHUTDOWN:
            self._fail(
                "InternalServerError: The Cove server was shut down while this job was running. "
                "Start the job again under a new name.",
            )
            return
        secondary = "MaxRuntimeExceeded" if reason == "MaxRuntimeExceeded" else "Stopped"
        message = "Job exceeded maximum allowed time, stopping the job" if secondary != "Stopped" else None
        self._finish("Stopped", secondary=secondary, message=message, **extra)

    def _fail(self, reason: str, **extra: Any) -> None:
        self._finish("Failed", failure_reason=reason[:1024], secondary="Failed", **extra)

    def _cleanup(self) -> None:
        for output in self.outputs:
            output.flush()
        for instance in self.instances:
            try:
                instance.close()
            except Exception:
                log.exception("could not clean up %s of %s", instance.net.host, self.job.name)
        for token in self.tokens:
            self.deps.credentials.unbind(token)
        if self.nets:
            try:
                self.deps.network.detach([n.attachment for n in self.nets], self.region)
            except Exception:
                log.exception("could not remove the ENIs of %s", self.job.name)
        self.deps.capacity.release(self.job.arn)


def job_directory(state_dir: Path, kind: str, arn: str) -> Path:
    """Where a job's instances keep their volumes, agents' plans and image layers: by account,
    region and name (two accounts may each have a job of one name)."""
    region, account, _resource, name = _job_arn(arn)
    return state_dir / "jobs" / kind / account / region / name


def remove_leftovers(state_dir: Path, kind: str, arn: str) -> list[str]:
    """What a job's instances left behind when their server died: containers (with their cgroups and
    processes) and volume mounts (wiped). Only for jobs no process is running."""
    removed = container.gc(f"{job_stem(arn)}-")
    return removed + [str(p) for p in volume.gc(job_directory(state_dir.resolve(), kind, arn))]


def job_stem(arn: str) -> str:
    """A job as container and cgroup names can carry it: its name, cut short, and a digest of its
    ARN, so that jobs of one name in two accounts or regions (or two servers on this host) never
    share a container name."""
    name = _job_arn(arn)[3]
    cleaned = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-")[:23].strip("-")
    return f"{cleaned}-{hashlib.sha1(arn.encode()).hexdigest()[:8]}"


def _job_arn(arn: str) -> tuple[str, str, str, str]:
    parsed = parse_arn(arn)
    if parsed is None:
        raise ValueError(f"not a SageMaker job ARN: {arn}")
    return parsed
