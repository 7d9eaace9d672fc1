"""A server killed while a job runs: on restart the job ends with a clear FailureReason and nothing
of it is left (containers, cgroups, the volume's mount, the ENIs and their namespaces)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from sqlalchemy import select

from cove.db import Database
from cove.fabric import netns
from cove.fabric.names import Names, fabric_tag
from cove.jobs.network import SERVICE_ACCOUNT_ID
from cove.jobs.reconciler import RESTART_REASON
from cove.jobs.runner import job_stem
from cove.runtime import container, volume
from cove.runtime.images import ImageRegistry
from cove.server import free_port
from cove.services.ec2.tables.topology import Address
from cove.settings import Settings
from tests.fabric.fabric_support import fabric_available
from tests.jobs.conftest import IMAGE, build_world, training_request, wait_job, write_image

pytestmark = [pytest.mark.root, pytest.mark.skipif(not fabric_available(), reason="needs root and netns")]

COVE = str(Path(sys.executable).parent / "cove")
KEY, SECRET = "RESTARTTESTKEY", "restart-test-secret-key"


class Server:
    def __init__(self, state: Path, port: int) -> None:
        self.state, self.port = state, port
        env = dict(
            os.environ, COVE_FABRIC="on", COVE_ROOT_ACCESS_KEY_ID=KEY, COVE_ROOT_SECRET_ACCESS_KEY=SECRET
        )
        self.process = subprocess.Popen(
            [COVE, "server", "--state-dir", str(state), "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None, "the server did not start"
            assert time.monotonic() < deadline
            time.sleep(0.2)

    def client(self, name: str) -> Any:
        return boto3.client(
            name,
            endpoint_url=f"http://127.0.0.1:{self.port}",
            region_name="us-east-1",
            aws_access_key_id=KEY,
            aws_secret_access_key=SECRET,
            config=Config(retries={"max_attempts": 1}),
        )

    def end(self, sig: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=60)


@pytest.fixture
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    state = tmp_path_factory.mktemp("restart")
    try:
        yield state
    finally:
        subprocess.run(
            [COVE, "gc", "--all", "--state-dir", str(state)],
            capture_output=True,
        )
        assert not [n for n in netns.listing() if Names(fabric_tag(state)).owns(n)]


def test_a_job_left_running_by_a_killed_server_ends_cleanly_on_restart(state: Path, tmp_path: Path) -> None:
    port = free_port()
    first = Server(state, port)
    try:
        world = build_world(first.client)
        write_image(ImageRegistry(Settings().image_dir, state / "images.json"), tmp_path)
        sm = first.client("sagemaker")
        arn = sm.create_training_job(
            **training_request(world, "train-orphan", IMAGE, HyperParameters={"mode": "sleep"})
        )["TrainingJobArn"]
        # And one in the service VPC, whose instance also holds an Elastic IP.
        service_vpc = training_request(world, "train-orphan-svc", IMAGE, HyperParameters={"mode": "sleep"})
        del service_vpc["VpcConfig"]
        svc_arn = sm.create_training_job(**service_vpc)["TrainingJobArn"]
        # Generous: two jobs start side by side while the rest of the suite loads both cores.
        deadline = time.monotonic() + 120
        for name in ("train-orphan", "train-orphan-svc"):
            while (seen := sm.describe_training_job(TrainingJobName=name))["SecondaryStatus"] != "Training":
                assert seen["TrainingJobStatus"] == "InProgress", f"{name} ended before Training: {seen}"
                assert time.monotonic() < deadline, f"{name} never reached Training: {seen}"
                time.sleep(0.2)
        time.sleep(1.0)
        eni_ids = [
            e["NetworkInterfaceId"]
            for e in first.client("ec2").describe_network_interfaces()["NetworkInterfaces"]
            if e.get("RequesterManaged")
        ]
        assert eni_ids
    finally:
        first.end(signal.SIGKILL)
    stem = f"{job_stem(arn)}-"
    # The server died; its job's container did not (it is not the server's child process group).
    assert container.leftovers(stem)
    jobs_dir = state.resolve() / "jobs"
    second = Server(state, port)
    try:
        sm = second.client("sagemaker")
        for name in ("train-orphan", "train-orphan-svc"):
            done = wait_job(sm, name, timeout=60)
            assert done["TrainingJobStatus"] == "Failed"
            assert done["FailureReason"] == RESTART_REASON
        assert container.leftovers(f"{job_stem(svc_arn)}-") == []
        assert _service_addresses(state) == []
        assert container.leftovers(stem) == []
        assert volume.leftovers(jobs_dir) == []
        left = {
            e["NetworkInterfaceId"]
            for e in second.client("ec2").describe_network_interfaces()["NetworkInterfaces"]
        }
        assert not left & set(eni_ids)
        names = Names(fabric_tag(state))
        lingering = _left_after(10, lambda: [n for n in map(names.eni, eni_ids) if netns.exists(n)])
        assert not lingering, "the job's ENI namespaces are still there"
    finally:
        second.end(signal.SIGTERM)


BIG_INPUT_MB = 384


@pytest.mark.parametrize("phase", ["Downloading", "Uploading"])
def test_a_server_killed_while_a_job_moves_data_ends_the_job_cleanly(
    state: Path, tmp_path: Path, phase: str
) -> None:
    """The data agent dies with the server mid-transfer: on restart the job fails with the restart
    reason, nothing of its instance is left, and no half-written model object appears in S3."""
    port = free_port()
    name = f"train-killed-{phase.lower()}"
    first = Server(state, port)
    try:
        world = build_world(first.client)
        write_image(ImageRegistry(Settings().image_dir, state / "images.json"), tmp_path)
        if phase == "Downloading":
            # One large object: the download takes long enough to be seen under way.
            chunk = os.urandom(1 << 20)
            first.client("s3").upload_fileobj(
                _Repeated(chunk, BIG_INPUT_MB), world["bucket"], "big/input.bin"
            )
            request = training_request(world, name, IMAGE)
            request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = (
                f"s3://{world['bucket']}/big/"
            )
        else:
            request = training_request(
                world, name, IMAGE, HyperParameters={"mode": "bigmodel", "size_mb": "192"}
            )
        sm = first.client("sagemaker")
        arn = sm.create_training_job(**request)["TrainingJobArn"]
        deadline = time.monotonic() + 90
        while (seen := sm.describe_training_job(TrainingJobName=name))["SecondaryStatus"] != phase:
            assert seen["TrainingJobStatus"] == "InProgress", f"{name} ended before {phase}: {seen}"
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        first.end(signal.SIGKILL)
    stem = f"{job_stem(arn)}-"
    second = Server(state, port)
    try:
        sm = second.client("sagemaker")
        done = wait_job(sm, name, timeout=60)
        assert done["TrainingJobStatus"] == "Failed"
        assert done["FailureReason"] == RESTART_REASON
        assert phase in [t["Status"] for t in done["SecondaryStatusTransitions"]]
        assert container.leftovers(stem) == []
        assert volume.leftovers(state.resolve() / "jobs") == []
        listed = second.client("s3").list_objects_v2(Bucket=world["bucket"], Prefix=f"output/{name}/")
        assert listed.get("KeyCount", 0) == 0, listed.get("Contents")
        names = Names(fabric_tag(state))
        left = _left_after(10, lambda: [n for n in netns.listing() if names.owns(n) and "-eni-" in n])
        assert not left, "the job's ENI namespace is still there"
    finally:
        second.end(signal.SIGTERM)


def _left_after(seconds: float, remaining: Callable[[], list[str]]) -> list[str]:
    """What `remaining` still lists after up to `seconds`: the kernel sync removes an ended job's
    namespaces a moment after the job's status has changed."""
    deadline = time.monotonic() + seconds
    while (left := remaining()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return left


class _Repeated:
    """A file-like object of `count` copies of `chunk` (an upload without the bytes in memory)."""

    def __init__(self, chunk: bytes, count: int) -> None:
        self.chunk, self.left = chunk, count
        self.pending = b""

    def read(self, size: int = -1) -> bytes:
        out = bytearray()
        while size < 0 or len(out) < size:
            if not self.pending:
                if not self.left:
                    break
                self.pending, self.left = self.chunk, self.left - 1
            take = len(self.pending) if size < 0 else min(size - len(out), len(self.pending))
            out += self.pending[:take]
            self.pending = self.pending[take:]
        return bytes(out)


def _service_addresses(state: Path) -> list[str]:
    """Elastic IPs the service VPC's account still holds (a job's instance holds one while it runs)."""
    db = Database(Settings(state_dir=state).db_url)
    try:
        with db.read() as session:
            return list(
                session.scalars(select(Address.allocation_id).where(Address.account_id == SERVICE_ACCOUNT_ID))
            )
    finally:
        db.dispose()
