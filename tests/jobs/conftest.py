"""A fabric-enforced Cove server shared by the job tests, with the seeds' VPC: private subnets, an
S3 gateway endpoint on one of them, a self-referencing security group, an execution role and a
bring-your-own image whose `train` does what each test asks through its hyperparameters."""

from __future__ import annotations

import json
import stat
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from cove.fabric import netns
from cove.fabric.names import Names, fabric_tag
from cove.runtime import container
from cove.runtime.images import ImageRegistry
from cove.scenario.identity import SAGEMAKER_TRUST
from cove.server import EmbeddedServer, free_port
from cove.settings import Settings
from tests.conftest import make_client
from tests.fabric.fabric_support import LIVE_PREFIXES, fabric_available

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/cove-test-algo:latest"

TRAIN = r'''#!{python}
"""A training algorithm for the tests: its behaviour comes from the hyperparameters."""
import json, os, signal, socket, sys, time

ml = "/opt/ml"
hp = json.load(open(f"{ml}/input/config/hyperparameters.json"))
rc = json.load(open(f"{ml}/input/config/resourceconfig.json"))
mode = hp.get("mode", "ok")
channels = {}
data = f"{ml}/input/data"
for ch in sorted(os.listdir(data)):
    files = []
    for root, _, names in os.walk(os.path.join(data, ch)):
        files += sorted(os.path.relpath(os.path.join(root, n), os.path.join(data, ch)) for n in names)
    channels[ch] = files
report = {
    "host": socket.gethostname(), "resourceconfig": rc, "channels": channels,
    "config_files": sorted(os.listdir(f"{ml}/input/config")),
    "hyperparameters": hp,
    "inputdataconfig": json.load(open(f"{ml}/input/config/inputdataconfig.json")),
    "dirs": {d: os.path.isdir(f"{ml}/{d}") for d in ("model", "output", "output/data", "checkpoints", "input/data/train")},
    "failure_exists": os.path.exists(f"{ml}/output/failure"),
    "job": os.environ.get("TRAINING_JOB_NAME"), "arn": os.environ.get("TRAINING_JOB_ARN"),
    "user_env": os.environ.get("USER_VAR"), "hosts_file": open("/etc/hosts").read(),
    "pid": os.getpid(), "argv": sys.argv,
}
os.makedirs(f"{ml}/model", exist_ok=True)
print(f"starting on {report['host']}", flush=True)
for epoch in range(3):
    print(f"epoch={epoch} train_loss={1.0 / (epoch + 1):.4f}", flush=True)
if mode == "fail":
    open(f"{ml}/output/failure", "w").write("the data had no label column")
    print("failing on purpose", file=sys.stderr, flush=True)
    sys.exit(2)
if mode == "aws":
    # boto3 with no endpoint or key configuration: credentials from 169.254.170.2, the default
    # HTTPS endpoints through the VPC's paths, Cove's CA from AWS_CA_BUNDLE.
    import boto3
    seen = {}
    for name, call in (
        ("sts", lambda: boto3.client("sts").get_caller_identity()["Arn"]),
        ("logs", lambda: len(boto3.client("logs").describe_log_groups()["logGroups"]) >= 0),
        ("s3", lambda: sorted(o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="jobs-data", Prefix="train/")["Contents"])[0]),
    ):
        try:
            seen[name] = call()
        except Exception as exc:
            seen[name] = f"{type(exc).__name__}: {exc}"
    report["aws"] = seen
if mode == "scribble":
    # The image is the container's own copy: writes work and stay with this instance.
    here = os.path.dirname(os.path.realpath(sys.argv[0]))
    open(os.path.join(here, "scribble.txt"), "w").write(report["host"])
    report["scribbled"] = open(os.path.join(here, "scribble.txt")).read()
if mode == "pipe":
    # Pipe mode: read two epochs of the `train` channel from its named pipes.
    epochs = []
    for epoch in range(2):
        path = f"{data}/train_{epoch}"
        for _ in range(200):
            if os.path.exists(path):
                break
            time.sleep(0.05)
        with open(path, "rb") as pipe:
            epochs.append(len(pipe.read()))
    report["pipe_epochs"] = epochs
if mode == "checkpoints":
    ckpt = f"{ml}/checkpoints"
    before = sorted(os.listdir(ckpt))
    assert before == ["epoch-0.ckpt", "stale.ckpt"], before
    os.remove(f"{ckpt}/stale.ckpt")
    open(f"{ckpt}/epoch-1.ckpt", "w").write("one")
    time.sleep(2.5)
    open(f"{ckpt}/epoch-2.ckpt", "w").write("seen " + before[0].split(".")[0])
if mode == "bigmodel":
    # An incompressible model, so that packing and uploading it takes a while.
    with open(f"{ml}/model/weights.bin", "wb") as f:
        for _ in range(int(hp.get("size_mb", "64"))):
            f.write(os.urandom(1 << 20))
if mode == "marker":
    open(f"{ml}/model/secret.txt", "w").write("COVE-SECRET-MARKER " * 1000)
    mode = "sleep"
if mode == "sleep":
    def bye(signum, frame):
        open(f"{ml}/model/stopped.txt", "w").write(str(signum))
        print("got SIGTERM, saved", flush=True)
        sys.exit(0)
    signal.signal(signal.SIGTERM, bye)
    time.sleep(600)
if mode == "peers" and len(rc["hosts"]) > 1:
    if rc["current_host"] == "algo-1":
        srv = socket.create_server(("0.0.0.0", 7000))
        srv.settimeout(30)
        conn, _ = srv.accept()
        report["peer_said"] = conn.recv(100).decode()
    else:
        for _ in range(100):
            try:
                socket.create_connection(("algo-1", 7000), timeout=1).sendall(b"hello from " + rc["current_host"].encode())
                break
            except OSError:
                time.sleep(0.2)
with open(f"{ml}/model/{report['host']}.json", "w") as f:
    json.dump(report, f)
os.makedirs(f"{ml}/output/data", exist_ok=True)
open(f"{ml}/output/data/summary.txt", "w").write("done")
print("final validation:accuracy=0.9375", flush=True)
'''


@pytest.fixture(scope="session")
def jobs_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServer]:
    if not fabric_available() or container.available() is not None:
        pytest.skip("jobs need root, network namespaces and the container runtime")
    state = tmp_path_factory.mktemp("jobs")
    server = EmbeddedServer(Settings(state_dir=state, port=free_port(), fabric="on")).start()
    prefix = Names(fabric_tag(state)).prefix
    LIVE_PREFIXES.add(prefix)
    try:
        yield server
    finally:
        LIVE_PREFIXES.discard(prefix)
        server.stop()
        assert server.cove.kernel is not None
        server.cove.kernel.fabric.teardown()
        assert server.cove.kernel.fabric.owned() == []
        left = sorted(n for n in netns.CREATED if netns.exists(n))
        assert not left, f"namespaces left behind: {left}"
        # Only this process's containers: other Cove processes may be running jobs on this host.
        left_containers = [n for n in sorted(container.STARTED) if container.leftovers(n)]
        assert left_containers == [], f"containers left behind: {left_containers}"


@pytest.fixture(scope="session")
def algo_image(jobs_server: EmbeddedServer, tmp_path_factory: pytest.TempPathFactory) -> str:
    assert jobs_server.cove.images is not None
    write_image(jobs_server.cove.images, tmp_path_factory.mktemp("algo-image"))
    return IMAGE


def write_image(registry: ImageRegistry, directory: Path) -> None:
    train = directory / "train"
    train.write_text(TRAIN.replace("{python}", sys.executable))
    train.chmod(train.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    registry.add(IMAGE, directory)


def client(server: EmbeddedServer, name: str) -> Any:
    return make_client(server, name)


@pytest.fixture(scope="session")
def world(jobs_server: EmbeddedServer) -> dict[str, Any]:
    """The VPC, buckets, key and role every job test uses."""
    built = build_world(lambda name: client(jobs_server, name))
    assert jobs_server.cove.kernel is not None and jobs_server.cove.kernel.wait_applied(10.0)
    return built


def build_world(make: Callable[[str], Any]) -> dict[str, Any]:
    ec2, s3, iam, kms = (make(n) for n in ("ec2", "s3", "iam", "kms"))
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnets = {
        name: ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"]
        for name, cidr in (("private", "10.40.1.0/24"), ("isolated", "10.40.2.0/24"))
    }
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnets["private"])
    vpce = ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3", VpcEndpointType="Gateway", RouteTableIds=[table]
    )["VpcEndpoint"]["VpcEndpointId"]
    group = ec2.create_security_group(GroupName="training", Description="jobs", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=group, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group}]}]
    )
    lonely = ec2.create_security_group(GroupName="no-self", Description="no self rule", VpcId=vpc)["GroupId"]
    trust = SAGEMAKER_TRUST
    role = iam.create_role(RoleName="SageMakerExecution", AssumeRolePolicyDocument=json.dumps(trust))["Role"][
        "Arn"
    ]
    iam.put_role_policy(
        RoleName="SageMakerExecution",
        PolicyName="jobs",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": ["s3:*", "kms:*", "logs:*"], "Resource": "*"}],
            }
        ),
    )
    bucket = "jobs-data"
    s3.create_bucket(Bucket=bucket)
    for i in range(6):
        s3.put_object(Bucket=bucket, Key=f"train/part-{i}.csv", Body=f"{i},label\n".encode() * 100)
    s3.put_object(Bucket=bucket, Key="train/nested/extra.csv", Body=b"x")
    key = kms.create_key(Description="jobs")["KeyMetadata"]["Arn"]
    return {
        "vpc": vpc,
        "subnets": subnets,
        "vpce": vpce,
        "group": group,
        "lonely": lonely,
        "role": role,
        "bucket": bucket,
        "key": key,
    }


def wait_job(sm: Any, name: str, kind: str = "training", timeout: float = 120.0) -> dict[str, Any]:
    describe = sm.describe_training_job if kind == "training" else sm.describe_processing_job
    field = "TrainingJobName" if kind == "training" else "ProcessingJobName"
    status_field = "TrainingJobStatus" if kind == "training" else "ProcessingJobStatus"
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, Any] = describe(**{field: name})
        if found[status_field] in ("Completed", "Failed", "Stopped"):
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} still {found[status_field]} after {timeout}s: {found}")
        time.sleep(0.3)


def training_request(world: dict[str, Any], name: str, image: str, **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": image,
            "TrainingInputMode": "File",
            "MetricDefinitions": [
                {"Name": "train:loss", "Regex": r"train_loss=([0-9.]+)"},
                {"Name": "validation:accuracy", "Regex": r"validation:accuracy=([0-9.]+)"},
            ],
        },
        "RoleArn": world["role"],
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{world['bucket']}/train/",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{world['bucket']}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        "VpcConfig": {"SecurityGroupIds": [world["group"]], "Subnets": [world["subnets"]["private"]]},
        "HyperParameters": {"mode": "ok"},
        "Environment": {"USER_VAR": "from-the-request"},
    }
    request.update(overrides)
    return request
