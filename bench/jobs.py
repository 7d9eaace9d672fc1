"""SageMaker training jobs: wall time from CreateTrainingJob to Completed for a trivial script, against
running the same script directly with the same interpreter; then 20 such jobs submitted at once.

The job: one ``--instance-type`` instance in a private subnet of a VPC whose route table has an S3
gateway endpoint, one File channel holding a single 1 MiB object, a bring-your-own image whose
``train`` (a Python script run by this interpreter) reads the channel's file and writes a tiny model
file, which the job uploads as model.tar.gz. A fabric-enforced Cove server runs in this process
with a temporary state directory, as the job tests set it up.

* ``direct``: the same ``train`` executed directly (its shebang: this interpreter) against a local
  copy of the /opt/ml tree it reads, the baseline; the median of ``--direct`` runs.
* The jobs are created and polled by a boto3 client in a process of its own (this file run with
  ``--client``), as a user's script is: inside the server's process, its parsing and polling took
  the GIL from the very jobs it timed (a single job measured 0.45-0.55 s that way, 0.30 s without).
* ``single``: CreateTrainingJob, then DescribeTrainingJob every 50 ms until Completed; one warm-up
  job first (reported apart: first imports, first netns of the subnet's path), then ``--rounds``.
  The overhead is job - direct. Where the time goes: the SecondaryStatusTransitions (Starting,
  Downloading, Training, Uploading: each from its StartTime to its EndTime), and finer, from timers
  this benchmark wraps around the job runner's steps inside the embedded server (ENI attach and the
  kernel's wait_applied, role binding, volume, layout, each container's start, the data agent's
  runs, the algorithm container, the status transactions, and the cleanup after Completed).
* ``batch``: ``--batch`` jobs created at once from as many threads, then ListTrainingJobs every
  200 ms until all are Completed; the time from the first CreateTrainingJob to the last Completed,
  and its ratio to the median single job of this run. Beside it, the bare script run ``--batch``
  times at once against once: a job that keeps a core busy for its whole run cannot do better on
  these cores, so that ratio is the ceiling the batch target is measured against. Jobs the host's capacity admission held back
  (a Pending transition) are counted; a job that fails is reported with its FailureReason (and
  the batch target is then not met) rather than ending the benchmark.

CPU: user + system seconds from Create to the run's cleanup, of this process (the server and the
benchmark's own boto3 client) and of its children (containers, the fabric's ip/nft), and this
process's share by thread kind (sampled from /proc/self/task); with N cores, a batch cannot end
sooner than its CPU seconds / N. The kernel sync passes (what ENI attach's wait_applied waits
for) are timed too: DB read and compile, fabric.apply, observers.

Also printed for reference: what an interpreter start costs here (``python -c pass``, with boto3
imported, with the data agent's module imported), since every container of a job starts one.

Targets (issue 6): single-job overhead <= 1.5 s (SageMaker needs minutes); the batch finishes
within 3x the time of one job on 2 cores.

    sudo .venv/bin/python bench/jobs.py [--rounds 5] [--batch 20] [--batch-rounds 2] [--direct 10]
    sudo .venv/bin/python bench/jobs.py --quick      # 2 rounds, one batch round, 5 direct runs

Needs root (network namespaces, nftables, cgroups). Everything it made (namespaces, nftables
table, containers, volumes, the state directory) is removed at the end, also after a failure, and
checked to be gone.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import shutil
import stat
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from cove.fabric import netns
from cove.jobs import runner as job_runner
from cove.jobs.instances import Instance
from cove.runtime import catalog, container
from cove.runtime.container import Container
from cove.scenario.identity import SAGEMAKER_TRUST
from cove.server import EmbeddedServer, free_port
from cove.services.ec2 import kernel_sync
from cove.settings import Settings

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/cove-bench-algo:latest"
BUCKET = "bench-jobs"
MIB = 1024 * 1024
POLL_S = 0.05
BATCH_POLL_S = 0.2
"""A batch runs for seconds: polling it less often keeps the observer's own CPU off the 2 cores."""
PREFIX = "bj-"
"""Every job (and so every container) this benchmark makes is named bj-…"""
OVERHEAD_TARGET_S = 1.5
BATCH_TARGET_RATIO = 3.0

TRAIN = r'''#!{python}
"""A trivial algorithm: read the channel's files, write a tiny model."""
import hashlib, os

ml = os.environ.get("BENCH_ML_ROOT", "/opt/ml")
digest = hashlib.sha256()
channel = os.path.join(ml, "input", "data", "train")
for name in sorted(os.listdir(channel)):
    with open(os.path.join(channel, name), "rb") as f:
        digest.update(f.read())
os.makedirs(os.path.join(ml, "model"), exist_ok=True)
with open(os.path.join(ml, "model", "model.txt"), "w") as f:
    f.write(digest.hexdigest())
print("trained on", digest.hexdigest()[:12], flush=True)
'''


# -- timers around the job runner's steps (inside the embedded server, measuring only) --


class Timers:
    """(job, step, start, end) of every wrapped call, thread-safe; `points` are one-off instants."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.spans: dict[str, list[tuple[str, float, float]]] = defaultdict(list)
        self.points: dict[str, dict[str, float]] = defaultdict(dict)
        self.values: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        self._undo: list[Callable[[], None]] = []

    def add(self, job: str, step: str, start: float, end: float) -> None:
        with self.lock:
            self.spans[job].append((step, start, end))

    def count(self, job: str, name: str, value: float) -> None:
        with self.lock:
            self.values[job][name] += value

    def point(self, job: str, name: str) -> None:
        with self.lock:
            self.points[job].setdefault(name, time.time())

    def wrap(self, owner: Any, attr: str, step: Callable[..., tuple[str, str] | None]) -> None:
        """Replace owner.attr by a timed call; step(*args, **kwargs) names (job, step) or None. The
        runner's internals may be renamed: a missing attribute is reported and left untimed."""
        original = getattr(owner, attr, None)
        if original is None:
            print(f"note: {getattr(owner, '__name__', type(owner).__name__)}.{attr} not found, not timed")
            return
        is_class = isinstance(owner, type)
        raw = owner.__dict__.get(attr) if is_class else None

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            named = step(*args, **kwargs)
            start = time.time()
            try:
                return original(*args, **kwargs)
            finally:
                if named is not None:
                    self.add(named[0], named[1], start, time.time())

        replacement: Any = (
            classmethod(lambda cls, *a, **k: timed(*a, **k)) if isinstance(raw, classmethod) else timed
        )
        setattr(owner, attr, replacement)
        if is_class:
            self._undo.append(lambda: setattr(owner, attr, raw))
        else:
            self._undo.append(lambda: setattr(owner, attr, original))

    def undo_with(self, restore: Callable[[], None]) -> None:
        self._undo.append(restore)

    def undo(self) -> None:
        for restore in reversed(self._undo):
            restore()
        self._undo.clear()

    def durations(self, job: str) -> dict[str, float]:
        """Each step's total seconds in this job (a step called twice adds up)."""
        totals: dict[str, float] = defaultdict(float)
        for step, start, end in self.spans.get(job, []):
            totals[step] += end - start
        return dict(totals)


def _job_of_container(name: str) -> str:
    return name.rsplit("-", 3)[0]  # <job>-algo-N-<suffix>


def _job_of_instance(name: str) -> str:
    return name.rsplit("-", 2)[0]  # <job>-algo-N


def instrument(server: EmbeddedServer, timers: Timers) -> None:
    """Time the job runner's steps, the containers' CPU and the kernel sync passes in this process,
    with wrappers that only measure (Timers.undo removes them)."""
    jobs = server.cove.jobs
    assert jobs is not None
    deps = jobs.deps

    def thread_job(*_args: Any) -> str:
        return threading.current_thread().name.removeprefix("cove-job-")

    def picked_up(run: job_runner.JobRun) -> None:
        timers.point(run.job.name, "picked up")

    timers.wrap(job_runner.JobRun, "start", picked_up)
    timers.wrap(deps.network, "attach", lambda **kw: (kw["job_name"], "ENI attach (incl. wait_applied)"))
    timers.wrap(deps.network, "wait_applied", lambda *a: (thread_job(), "  kernel wait_applied"))
    timers.wrap(deps.network, "detach", lambda nets, region: (thread_job(), "  ENI detach"))
    timers.wrap(deps.credentials, "bind", lambda *a: (thread_job(), "role binding"))
    timers.wrap(Instance, "open_volume", lambda inst, *a: (_job_of_instance(inst.name), "volume"))
    timers.wrap(job_runner, "training_layout", lambda *a: (thread_job(), "/opt/ml layout"))
    timers.wrap(
        Instance,
        "transfer",
        lambda inst, plan, label, *a, **k: (
            _job_of_instance(inst.name),
            f"data agent: {label} (start to end)",
        ),
    )
    timed_transfer = Instance.transfer

    def transfer(
        inst: Instance, plan: dict[str, Any], label: str, *args: Any, **kwargs: Any
    ) -> dict[str, Any]:
        result = timed_transfer(inst, plan, label, *args, **kwargs)
        # The agent's own clock: S3 client creation and the transfer, after its imports.
        seconds = float(result.get("seconds") or 0.0)
        timers.add(
            _job_of_instance(inst.name), f"  agent's run_plan, {label} (S3 client + transfer)", 0.0, seconds
        )
        return result

    setattr(Instance, "transfer", transfer)  # noqa: B010 (a timed stand-in, undone at the end)
    timers.undo_with(lambda: setattr(Instance, "transfer", timed_transfer))
    timers.wrap(
        Container,
        "start",
        lambda spec, *a: (
            _job_of_container(spec.name),
            f"  container start, {spec.name.rsplit('-', 1)[1]} (to init ready)",
        ),
    )
    timers.wrap(
        job_runner.JobRun,
        "_execute",
        lambda run, *a: (run.job.name, "algorithm container (start to exit, logs)"),
    )
    timers.wrap(job_runner.JobRun, "_secondary", lambda run, *a: (run.job.name, "status transactions"))
    timers.wrap(job_runner.JobRun, "_finish", lambda run, *a, **k: (run.job.name, "status transactions"))
    timers.wrap(job_runner.JobRun, "_cleanup", lambda run: (run.job.name, "cleanup (after Completed)"))

    counted: set[int] = set()

    def container_cpu(box: Container) -> None:
        # Read before cleanup removes the cgroup (cleanup may run twice: count the first).
        if id(box) in counted:
            return
        counted.add(id(box))
        try:
            usage = box.usage().cpu_seconds
        except OSError:
            return
        timers.count(_job_of_container(box.spec.name), f"{box.spec.name.rsplit('-', 1)[1]} container", usage)

    timers.wrap(Container, "cleanup", container_cpu)

    # The kernel sync thread's passes (what wait_applied waits for), not tied to one job.
    kernel = server.cove.kernel
    assert kernel is not None
    timers.wrap(kernel, "sync_now", lambda *a: (KERNEL, "pass"))
    timers.wrap(kernel_sync, "desired_state", lambda db: (KERNEL, "desired_state (DB read, compile)"))
    timers.wrap(kernel.fabric, "apply", lambda *a: (KERNEL, "fabric.apply (ip, nft)"))
    for index, observer in enumerate(list(kernel.observers)):
        holder = _Holder(observer)
        timers.wrap(holder, "call", lambda state: (KERNEL, "observers (listeners, DNS, flow logs)"))
        kernel.observers[index] = holder.call


class _Holder:
    """An observer callable as an attribute, so that Timers.wrap can time it."""

    def __init__(self, call: Callable[..., Any]) -> None:
        self.call = call


KERNEL = "(kernel sync)"


def kernel_passes(timers: Timers, start: float, end: float) -> dict[str, float]:
    """The kernel sync passes that began in [start, end]: their count and summed seconds by part."""
    with timers.lock:
        spans = [(step, a, b) for step, a, b in timers.spans.get(KERNEL, []) if start <= a <= end]
    totals: dict[str, float] = defaultdict(float)
    for step, a, b in spans:
        totals[step] += b - a
    totals["passes (count)"] = sum(1 for step, _, _ in spans if step == "pass")
    return dict(totals)


# -- the world --


def client(server: EmbeddedServer, name: str) -> Any:
    account = server.cove.account
    return boto3.Session(
        aws_access_key_id=account.access_key_id,
        aws_secret_access_key=account.secret_access_key,
        region_name="us-east-1",
    ).client(name, endpoint_url=server.endpoint_url, config=Config(retries={"max_attempts": 1}))


def build_world(server: EmbeddedServer, image_dir: Path) -> dict[str, Any]:
    """VPC with a private subnet routed to an S3 gateway endpoint, a self-referencing SG, the role,
    the bucket with the 1 MiB channel object, and the image."""
    ec2, s3, iam = (client(server, n) for n in ("ec2", "s3", "iam"))
    vpc = ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.60.1.0/24")["Subnet"]["SubnetId"]
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3", VpcEndpointType="Gateway", RouteTableIds=[table]
    )
    group = ec2.create_security_group(GroupName="training", Description="bench", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group}]}]
    )
    trust = SAGEMAKER_TRUST
    role = iam.create_role(RoleName="BenchExecution", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    iam.put_role_policy(
        RoleName="BenchExecution",
        PolicyName="jobs",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["s3:*", "logs:*"], "Resource": "*"}],
            }
        ),
    )
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="train/data.bin", Body=os.urandom(MIB))
    train = image_dir / "train"
    train.write_text(TRAIN.replace("{python}", sys.executable))
    train.chmod(train.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    assert server.cove.images is not None
    server.cove.images.add(IMAGE, image_dir)
    assert server.cove.kernel is not None and server.cove.kernel.wait_applied(15.0)
    return {"subnet": subnet, "group": group, "role": role}


def request(world: dict[str, Any], name: str, instance_type: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": world["role"],
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{BUCKET}/train/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/output"},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "VpcConfig": {"SecurityGroupIds": [world["group"]], "Subnets": [world["subnet"]]},
    }


# -- measurements --


def direct_run(image_dir: Path, root: Path) -> float:
    """The baseline: `train` run directly on a local /opt/ml-like tree holding the same 1 MiB file."""
    return direct_runs(image_dir, [root])


def direct_runs(image_dir: Path, roots: list[Path]) -> float:
    """`train` started directly on each tree at once; seconds until the last has ended. With one
    tree this is the baseline; with a batch's count it is the batch ratio of the bare script,
    which no runtime that runs it on these cores can beat (see the report's ceiling)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    for root in roots:
        channel = root / "input" / "data" / "train"
        channel.mkdir(parents=True, exist_ok=True)
        if not (channel / "data.bin").exists():
            (channel / "data.bin").write_bytes(os.urandom(MIB))
        shutil.rmtree(root / "model", ignore_errors=True)
    start = time.perf_counter()
    running = [
        subprocess.Popen(
            [str(image_dir / "train")], env={**env, "BENCH_ML_ROOT": str(root)}, stdout=subprocess.DEVNULL
        )
        for root in roots
    ]
    codes = [p.wait() for p in running]
    elapsed = time.perf_counter() - start
    if any(codes) or not all((root / "model" / "model.txt").exists() for root in roots):
        raise SystemExit("a direct run failed or wrote no model")
    return elapsed


def interpreter_costs(runs: int) -> dict[str, float]:
    """What starting this interpreter costs (median seconds), as each container of a job pays it."""
    probes = {
        "python -c pass": "pass",
        "python -c 'import boto3'": "import boto3",
        "python -c 'import cove.runtime.transfer'": "import cove.runtime.transfer",
    }
    result = {}
    for label, code in probes.items():
        samples = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            samples.append(time.perf_counter() - start)
        result[label] = statistics.median(samples)
    return result


def _phases(found: dict[str, Any]) -> dict[str, float]:
    """Seconds in each secondary status (same status twice adds up); times as epoch seconds."""
    totals: dict[str, float] = defaultdict(float)
    for step in found.get("SecondaryStatusTransitions", []):
        end = step.get("EndTime")
        if end is not None:
            totals[step["Status"]] += end - step["StartTime"]
    return dict(totals)


@dataclass
class Batch:
    elapsed: float
    """First CreateTrainingJob to the last job's end."""
    latencies: list[float]
    """Each completed job's Create (all at once) to Completed."""
    held: int
    """Jobs the capacity admission held back (a Pending transition)."""
    failures: dict[str, str]
    """Jobs that did not complete: name -> status and FailureReason."""
    described: list[dict[str, Any]]


# -- the benchmark's client: its own process, as a user's script is --


class RemoteClient:
    """The SageMaker client that creates and polls the jobs, in a process of its own (this file with
    ``--client``): a user's boto3 script never runs inside the server, and here its parsing and
    polling would take the server process's GIL from the jobs it is timing. One JSON line per
    request on its stdin, one per answer on its stdout; Describe results with times as epoch
    seconds. Its CPU is not in the jobs' CPU figures (it is reaped only at the end)."""

    def __init__(self, server: EmbeddedServer) -> None:
        account = server.cove.account
        env = {
            **os.environ,
            "BENCH_ENDPOINT": server.endpoint_url,
            "AWS_ACCESS_KEY_ID": account.access_key_id,
            "AWS_SECRET_ACCESS_KEY": account.secret_access_key,
        }
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--client"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            bufsize=1,
        )

    def ask(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(message) + "\n")
        line = self.process.stdout.readline()
        if not line:
            raise SystemExit(f"the benchmark client ended (exit code {self.process.wait()})")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise SystemExit(answer["error"])
        return answer

    def single(self, request: dict[str, Any]) -> tuple[float, dict[str, Any]]:
        answer = self.ask({"op": "single", "request": request})
        found = answer["found"]
        if found["TrainingJobStatus"] != "Completed":
            raise SystemExit(
                f"{request['TrainingJobName']} ended {found['TrainingJobStatus']}: "
                f"{found.get('FailureReason')}"
            )
        found["_created_wall"] = time.time() - answer["elapsed"]
        return float(answer["elapsed"]), found

    def batch(self, requests: list[dict[str, Any]], prefix: str, on_start: Callable[[], None]) -> Batch:
        """Create every job at once (the client's threads wait at a barrier until `go`; on_start is
        called just before), then ListTrainingJobs until all have ended."""
        self.ask({"op": "prepare", "requests": requests, "prefix": prefix})
        on_start()
        answer = self.ask({"op": "go"})
        described = answer["described"]
        return Batch(
            elapsed=max(answer["ended"].values()),
            latencies=[s for name, s in answer["ended"].items() if name not in answer["failures"]],
            held=sum(
                1 for d in described if any(t["Status"] == "Pending" for t in d["SecondaryStatusTransitions"])
            ),
            failures=answer["failures"],
            described=described,
        )

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(30)


def _epochs(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {k: _epochs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_epochs(v) for v in value]
    return value


def client_main() -> None:
    """The --client process (see RemoteClient)."""

    def sagemaker() -> Any:
        return boto3.Session(region_name="us-east-1").client(
            "sagemaker", endpoint_url=os.environ["BENCH_ENDPOINT"], config=Config(retries={"max_attempts": 1})
        )

    sm = sagemaker()
    pending: dict[str, Any] = {}

    def answer(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(_epochs(message)) + "\n")
        sys.stdout.flush()

    for line in sys.stdin:
        message = json.loads(line)
        try:
            if message["op"] == "single":
                answer(_single(sm, message["request"]))
            elif message["op"] == "prepare":
                requests = message["requests"]
                pending = {
                    "requests": requests,
                    "prefix": message["prefix"],
                    "clients": [sagemaker() for _ in requests],
                }
                answer({"ok": True})
            else:
                answer(_batch(sm, **pending))
        except Exception as error:  # the benchmark says what broke instead of hanging
            answer({"error": f"benchmark client: {type(error).__name__}: {error}"})


def _single(sm: Any, request: dict[str, Any]) -> dict[str, Any]:
    name = request["TrainingJobName"]
    start = time.perf_counter()
    sm.create_training_job(**request)
    while True:
        found: dict[str, Any] = sm.describe_training_job(TrainingJobName=name)
        if found["TrainingJobStatus"] != "InProgress":
            return {"elapsed": time.perf_counter() - start, "found": found}
        time.sleep(POLL_S)


def _batch(sm: Any, requests: list[dict[str, Any]], prefix: str, clients: list[Any]) -> dict[str, Any]:
    count = len(requests)
    barrier = threading.Barrier(count + 1)

    def create(index: int) -> None:
        barrier.wait()
        clients[index].create_training_job(**requests[index])

    ended: dict[str, float] = {}
    failures: dict[str, str] = {}
    with ThreadPoolExecutor(count, thread_name_prefix="bench-create") as pool:
        futures = [pool.submit(create, i) for i in range(count)]
        barrier.wait()
        start = time.perf_counter()
        while len(ended) < count:
            page = sm.list_training_jobs(NameContains=prefix, MaxResults=100)
            for summary in page["TrainingJobSummaries"]:
                name, status = summary["TrainingJobName"], summary["TrainingJobStatus"]
                if name in ended or status in ("InProgress", "Stopping"):
                    continue
                ended[name] = time.perf_counter() - start
                if status != "Completed":
                    found = sm.describe_training_job(TrainingJobName=name)
                    failures[name] = f"{status}: {found.get('FailureReason')}"
            for future in [f for f in futures if f.done()]:
                future.result()
            time.sleep(BATCH_POLL_S)
    described = [sm.describe_training_job(TrainingJobName=r["TrainingJobName"]) for r in requests]
    return {"ended": ended, "failures": failures, "described": described}


def admitted_at_once(server: EmbeddedServer, instance_type: str, count: int) -> int:
    """How many 1-instance jobs of this type the server's capacity admission runs side by side."""
    assert server.cove.jobs is not None
    real = server.cove.jobs.deps.capacity
    probe = catalog.Capacity(real.host, overcommit=real.overcommit, max_instances=real.max_instances)
    itype = catalog.INSTANCE_TYPES[instance_type]
    return sum(1 for i in range(count) if probe.try_admit(f"probe-{i}", itype, 1))


# -- report --


def _cell(values: list[float], unit: str = "s", digits: int = 2) -> str:
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:.{digits}f} {unit}"
    return f"{med:.{digits}f} {unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def _table(rows: list[tuple[str, str]], title: str) -> None:
    if not rows:
        return
    width = max(len(r[0]) for r in rows)
    print(f"\n{title}")
    for left, right in rows:
        print(f"  {left:<{width}}  {right}")


def _step_rows(per_job: list[dict[str, float]]) -> list[tuple[str, str]]:
    """A row per step: its median over the jobs that went through it (how many, when not all)."""
    order: list[str] = []
    for job in per_job:
        order += [s for s in job if s not in order]
    rows = []
    for step in order:
        values = [job[step] for job in per_job if step in job]
        some = f"  [{len(values)} of {len(per_job)} jobs]" if len(values) < len(per_job) else ""
        rows.append((step, _cell(values) + some))
    return rows


def report(args: argparse.Namespace, results: dict[str, Any]) -> None:
    direct = results["direct"]
    singles = results["singles"]
    overheads = [s - statistics.median(direct) for s in singles]
    print(
        f"\nJobs on {os.cpu_count()} cores: 1 x {args.instance_type}, one 1 MiB File channel, VPC with an "
        f"S3 gateway endpoint; medians (min-max) over {len(singles)} single jobs, {len(direct)} direct runs"
    )
    rows = [
        ("direct run of train (baseline)", _cell(direct, digits=3)),
        ("first job (warm-up, not counted)", _cell([results["warmup"]])),
        ("single job, Create to Completed", _cell(singles)),
        ("  overhead (job - direct)", _cell(overheads)),
        ("  ratio to direct", f"{statistics.median(singles) / statistics.median(direct):.0f}x"),
    ]
    med_single = statistics.median(singles)
    for result in results["batches"]:
        failed = f"; {len(result.failures)} FAILED" if result.failures else ""
        rows.append(
            (
                f"{args.batch} jobs at once, first Create to last end",
                f"{result.elapsed:.2f} s = {result.elapsed / med_single:.1f}x one job; per job "
                f"{_cell(result.latencies)}; {result.held} held for capacity{failed}",
            )
        )
    if results["direct_batches"]:
        bare = statistics.median(results["direct_batches"]) / statistics.median(results["direct_singles"])
        rows.append(
            (
                f"{args.batch} direct runs of train at once (no Cove)",
                f"{_cell(results['direct_batches'], digits=3)} = {bare:.1f}x one direct run "
                f"({_cell(results['direct_singles'], digits=3)})",
            )
        )
    _table(rows, "Wall time")

    cpu_rows = [
        (
            "single job",
            f"this process {_cell([c[0] for c in results['cpu_single']])}, "
            f"children {_cell([c[1] for c in results['cpu_single']])}",
        )
    ]
    for result, (own, children) in zip(results["batches"], results["cpu_batch"], strict=True):
        jobs = max(1, len(result.described))
        cpu_rows.append(
            (
                f"{args.batch} jobs at once, per job",
                f"this process {own / jobs:.2f} s, children {children / jobs:.2f} s "
                f"(all: {(own + children) / (os.cpu_count() or 1):.1f} s of {os.cpu_count()} cores' time)",
            )
        )
    _table(
        cpu_rows,
        "CPU time (user + system), Create to cleanup done: this process (server and benchmark client), "
        "children (containers: init, data agents, algorithm; the fabric's ip/nft)",
    )
    _table(
        _step_rows(results["containers_single"]), "Single job, CPU seconds inside each container (its cgroup)"
    )
    _table(
        _step_rows(results["containers_batch"]),
        f"Batch of {args.batch}, CPU seconds inside each container (its cgroup), per job",
    )
    _table(
        _step_rows(results["threads_single"]),
        "Single job, server process CPU seconds by thread (per job, medians)",
    )
    _table(
        _step_rows(results["threads_batch"]),
        f"Batch of {args.batch}, server process CPU seconds by thread (per job)",
    )

    _table(
        [(phase, _cell(values)) for phase, values in results["phases"].items()],
        "Single job, SecondaryStatusTransitions (StartTime to EndTime)",
    )
    _table(_step_rows(results["steps"]), "Single job, inside the runner (timers around its steps)")
    _table(
        [
            (k, v.replace(" s", "", 2) if k.startswith("passes") else v)
            for k, v in _step_rows(results["kernel_single"])
        ],
        "Single job, kernel sync passes begun between Create and Completed (summed per job)",
    )
    _table(_step_rows(results["batch_phases"]), f"Batch of {args.batch}, SecondaryStatusTransitions per job")
    _table(_step_rows(results["batch_steps"]), f"Batch of {args.batch}, inside the runner, per job")
    _table(
        [(label, f"{seconds:.3f} s") for label, seconds in results["interpreter"].items()],
        "Interpreter start-up on this machine (each container starts at least one)",
    )

    overhead = statistics.median(overheads)
    batches = results["batches"]
    ratio = statistics.median([b.elapsed for b in batches]) / statistics.median(singles) if batches else 0.0
    failures = {n: r for b in batches for n, r in b.failures.items()}
    if failures:
        print(f"\n{len(failures)} batch jobs did not complete, e.g. {next(iter(failures.items()))}")
    print("\nTargets")
    print(
        f"  single-job overhead <= {OVERHEAD_TARGET_S} s: {overhead:.2f} s "
        f"{'met' if overhead <= OVERHEAD_TARGET_S else 'NOT met'}"
    )
    if batches:
        print(
            f"  {args.batch} jobs within {BATCH_TARGET_RATIO:g}x one job: {ratio:.1f}x "
            f"{'met' if ratio <= BATCH_TARGET_RATIO and not failures else 'NOT met'}"
            f" ({results['admitted']} of {args.batch} x {args.instance_type} admitted side by side on this host)"
        )
    else:
        print(f"  {args.batch} jobs within {BATCH_TARGET_RATIO:g}x one job: not measured (--batch-rounds 0)")
    if batches and results["cpu_batch"]:
        # However well the jobs overlap, the cores must do the batch's CPU work: its floor.
        cores = os.cpu_count() or 1
        per_job = statistics.median(
            [
                (own + kids) / max(1, len(b.described))
                for b, (own, kids) in zip(batches, results["cpu_batch"], strict=True)
            ]
        )
        floor = per_job * args.batch / cores
        needed = BATCH_TARGET_RATIO * statistics.median(singles) * cores / args.batch
        print(
            f"  CPU floor of the batch: {per_job:.2f} CPU-s per job x {args.batch} / {cores} cores = "
            f"{floor:.2f} s = {floor / statistics.median(singles):.1f}x one job; "
            f"{BATCH_TARGET_RATIO:g}x needs <= {needed:.3f} CPU-s per job"
        )
    if results["direct_batches"]:
        # A job that keeps a core busy for its whole run cannot be run N at once on C cores in less
        # than N/C times its own time: the bare script shows where that ceiling lies here.
        bare = statistics.median(results["direct_batches"]) / statistics.median(results["direct_singles"])
        print(
            f"  ceiling: the bare script, {args.batch} at once, takes {bare:.1f}x one run of it; a batch ratio "
            f"of {BATCH_TARGET_RATIO:g}x needs a job that leaves a core idle for "
            f"{1 - BATCH_TARGET_RATIO * (os.cpu_count() or 1) / args.batch:.0%} of its run"
        )


# -- main --


@contextmanager
def cove_server(state: Path) -> Iterator[EmbeddedServer]:
    server = EmbeddedServer(Settings(state_dir=state, port=free_port(), fabric="on")).start()
    if server.cove.jobs is not None and server.cove.jobs.deps.agents is not None:
        ZYGOTES.append(server.cove.jobs.deps.agents.zygote().pid)
    try:
        yield server
    finally:
        server.stop()
        kernel = server.cove.kernel
        assert kernel is not None
        kernel.fabric.teardown()
        problems = []
        if kernel.fabric.owned():
            problems.append(f"fabric objects left: {kernel.fabric.owned()}")
        left = sorted(n for n in netns.CREATED if netns.exists(n))
        if left:
            problems.append(f"namespaces left: {left}")
        # Only this benchmark's containers: other Cove processes on the machine may run their own.
        if container.leftovers(PREFIX):
            problems.append(f"containers left: {container.leftovers(PREFIX)}")
        if problems:
            raise SystemExit("cleanup incomplete: " + "; ".join(problems))


def run(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    image_dir = tmp / "image"
    image_dir.mkdir()
    results: dict[str, Any] = {
        "phases": defaultdict(list),
        "steps": [],
        "batch_steps": [],
        "batch_phases": [],
        "batches": [],
        "singles": [],
        "cpu_single": [],
        "cpu_batch": [],
        "threads_single": [],
        "threads_batch": [],
        "kernel_single": [],
        "containers_single": [],
        "containers_batch": [],
        "direct_batches": [],
        "direct_singles": [],
    }
    results["interpreter"] = interpreter_costs(args.direct)
    with cove_server(tmp / "state") as server:
        timers = Timers()
        instrument(server, timers)
        sampler = ThreadCpu()
        sampler.thread.start()
        ended_main = job_runner.JobRun._main

        def main_then_sample(run: job_runner.JobRun) -> None:
            try:
                ended_main(run)
            finally:
                sampler.sample()

        setattr(job_runner.JobRun, "_main", main_then_sample)  # noqa: B010 (undone with the timers)
        timers.undo_with(lambda: setattr(job_runner.JobRun, "_main", ended_main))
        remote: RemoteClient | None = None
        try:
            world = build_world(server, image_dir)
            remote = RemoteClient(server)
            results["warmup"], _ = remote.single(request(world, f"{PREFIX}warmup", args.instance_type))
            direct: list[float] = []
            for number in range(args.rounds):
                # The baseline and the jobs take turns, so that load drifting over the run weighs on both.
                direct += [
                    direct_run(image_dir, tmp / "direct") for _ in range(max(1, args.direct // args.rounds))
                ]
                name = f"{PREFIX}s{number}"
                before, threads_before = cpu_seconds(), sampler.totals()
                elapsed, found = remote.single(request(world, name, args.instance_type))
                results["singles"].append(elapsed)
                for phase, seconds in _phases(found).items():
                    results["phases"][phase].append(seconds)
                _wait_runs_done(server)  # the run's cleanup (after Completed) is timed on its own
                results["cpu_single"].append(cpu_seconds(since=before))
                results["containers_single"].append(dict(timers.values[name]))
                results["threads_single"].append(ThreadCpu.since(threads_before, sampler.totals()))
                created = found["_created_wall"]
                results["kernel_single"].append(kernel_passes(timers, created, created + elapsed))
                steps = timers.durations(name)
                picked = timers.points[name].get("picked up")
                if picked is not None:
                    steps = {"Create to runner start": picked - found["_created_wall"], **steps}
                results["steps"].append(steps)
                print(f"single {number + 1}/{args.rounds}: {elapsed:.2f} s", flush=True)
            results["direct"] = direct
            results["admitted"] = admitted_at_once(server, args.instance_type, args.batch)
            trees = [tmp / "direct-batch" / str(i) for i in range(args.batch)]
            for number in range(args.batch_rounds):
                # The bare script's own batch ratio, side by side with the jobs' (see report).
                results["direct_batches"] += [direct_runs(image_dir, trees) for _ in range(3)]
                results["direct_singles"] += [direct_run(image_dir, trees[0]) for _ in range(3)]
                marks: dict[str, Any] = {}

                def mark(marks: dict[str, Any] = marks) -> None:
                    marks.update(cpu=cpu_seconds(), threads=sampler.totals())

                prefix = f"{PREFIX}b{number}-"
                requests = [request(world, f"{prefix}{i}", args.instance_type) for i in range(args.batch)]
                result = remote.batch(requests, prefix, mark)
                before, threads_before = marks["cpu"], marks["threads"]
                results["batches"].append(result)
                _wait_runs_done(server)  # the runs' cleanups end before their timers are read
                results["cpu_batch"].append(cpu_seconds(since=before))
                jobs = max(1, args.batch)
                per_job = ThreadCpu.since(threads_before, sampler.totals())
                results["threads_batch"].append({k: v / jobs for k, v in per_job.items()})
                completed = [d for d in result.described if d["TrainingJobStatus"] == "Completed"]
                results["batch_steps"] += [timers.durations(d["TrainingJobName"]) for d in completed]
                results["batch_phases"] += [_phases(d) for d in completed]
                results["containers_batch"] += [dict(timers.values[d["TrainingJobName"]]) for d in completed]
                failed = f", {len(result.failures)} failed" if result.failures else ""
                print(f"batch {number + 1}/{args.batch_rounds}: {result.elapsed:.2f} s{failed}", flush=True)
            _wait_runs_done(server)
        finally:
            if remote is not None:
                remote.close()
            sampler.stop.set()
            timers.undo()
    return results


ZYGOTES: list[int] = []
"""The data agents' zygote: its agents are its children, not this process's, so their CPU is read
from its /proc entry (its own and its reaped children's time)."""


def _zygote_cpu() -> float:
    total = 0.0
    for pid in ZYGOTES:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    return total


def cpu_seconds(since: tuple[float, float] | None = None) -> tuple[float, float]:
    """CPU seconds (user + system) of this process (the server, its job runs, and this benchmark's
    polling client) and of its children (containers: init, algorithms; the zygote's data agents)."""
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    now = (own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime + _zygote_cpu())
    if since is None:
        return now
    return now[0] - since[0], now[1] - since[1]


THREAD_KINDS = (
    ("cove-job-", "job runners (DB, ENIs, container launches)"),
    ("container-output-", "container output readers"),
    ("listener-", "VPC listeners (S3, credentials: the data agents' calls)"),
    ("cove-server", "API server (the benchmark's boto3 calls)"),
    ("cove-worker", "API server (the benchmark's boto3 calls)"),
    ("cove-kernel-sync", "kernel sync (fabric apply)"),
    ("cove-dns", "VPC DNS"),
    ("bench-", "the benchmark's own measuring"),
    ("MainThread", "the benchmark's own measuring"),
)


class ThreadCpu:
    """CPU seconds of this process's threads by kind (thread names), from /proc/self/task/*/stat
    read every 0.5 s and when a job's thread ends (`sample` is wrapped around the runner's main);
    another thread that ends between two reads loses at most its last 0.5 s. Reading more often
    would itself take the server's GIL from the jobs being timed."""

    def __init__(self) -> None:
        self.seen: dict[int, tuple[str, float]] = {}
        self.gone: dict[str, float] = defaultdict(float)
        """Last readings of threads whose id a newer thread took."""
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="bench-cpu-sampler", daemon=True)
        self.tick = os.sysconf("SC_CLK_TCK")

    def _loop(self) -> None:
        while not self.stop.wait(0.5):
            self.sample()

    def sample(self) -> None:
        names = {t.native_id: t.name for t in threading.enumerate()}
        for entry in os.scandir("/proc/self/task"):
            try:
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            seconds = (int(fields[11]) + int(fields[12])) / self.tick
            tid = int(entry.name)
            with self.lock:
                old = self.seen.get(tid)
                name = names.get(tid) or (old[0] if old else "?")
                if old is not None and (old[0] != name or seconds < old[1]):
                    self.gone[old[0]] += old[1]
                self.seen[tid] = (name, seconds)

    def totals(self) -> dict[str, float]:
        self.sample()
        out: dict[str, float] = defaultdict(float)
        with self.lock:
            for name, seconds in [*self.seen.values(), *self.gone.items()]:
                kind = next((k for prefix, k in THREAD_KINDS if name.startswith(prefix)), "other threads")
                out[kind] += seconds
        return dict(out)

    @staticmethod
    def since(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {k: after[k] - before.get(k, 0.0) for k in after if after[k] - before.get(k, 0.0) > 0.0}


def _wait_runs_done(server: EmbeddedServer, timeout: float = 60.0) -> None:
    jobs = server.cove.jobs
    assert jobs is not None
    deadline = time.monotonic() + timeout
    while any(not r.done for r in list(jobs.runs.values())) and time.monotonic() < deadline:
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="single jobs measured (after one warm-up)")
    parser.add_argument("--batch", type=int, default=20, help="jobs submitted at once")
    parser.add_argument("--batch-rounds", type=int, default=2)
    parser.add_argument("--direct", type=int, default=10, help="direct runs of the script (baseline)")
    parser.add_argument("--instance-type", default="ml.m5.large")
    parser.add_argument("--quick", action="store_true", help="2 rounds, one batch round, 5 direct runs")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main()
        return
    if args.quick:
        args.rounds, args.batch_rounds, args.direct = 2, 1, 5
    if os.geteuid() != 0:
        raise SystemExit("run as root: jobs need network namespaces, nftables and cgroups")
    reason = container.available()
    if reason is not None:
        raise SystemExit(f"containers cannot run here: {reason}")
    tmp = Path(tempfile.mkdtemp(prefix="cove-bench-jobs-"))
    try:
        results = run(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report(args, results)


if __name__ == "__main__":
    main()
