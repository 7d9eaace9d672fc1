"""Framework images in script mode, as the SageMaker Python SDK v2 drives them: the user's code in
`sourcedir.tar.gz` on S3, `sagemaker_*` hyperparameters JSON-encoded, the real sagemaker-training
toolkit in the image computing the SM_* environment, running the script and reporting failures;
PyTorch DDP over gloo between two instances, which only works with a self-referencing rule."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from typing import Any

import pytest

from cove.runtime.images import UnknownImage
from cove.server import EmbeddedServer
from tests.jobs.conftest import client, wait_job

pytestmark = pytest.mark.root

SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
PYTORCH = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.1-cpu-py310"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"

HELPER = """
import csv, glob, os

def load(directory):
    rows = []
    for path in sorted(glob.glob(os.path.join(directory, "*.csv"))):
        with open(path) as f:
            rows += [[float(v) for v in row] for row in csv.reader(f) if row]
    return [r[1:] for r in rows], [int(r[0]) for r in rows]
"""

SKLEARN_TRAIN = """
import argparse, json, os, sys

import joblib
from sklearn.ensemble import RandomForestClassifier

from helper import load

parser = argparse.ArgumentParser()
parser.add_argument("--n_estimators", type=int, default=1)
parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
parser.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
args = parser.parse_args()

X, y = load(args.train)
model = RandomForestClassifier(n_estimators=args.n_estimators, random_state=0).fit(X, y)
print(f"trained {len(model.estimators_)} trees on {len(X)} rows, accuracy={model.score(X, y):.3f}")
joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
seen = {k: v for k, v in os.environ.items() if k.startswith("SM_")}
with open(os.path.join(args.model_dir, "seen.json"), "w") as f:
    json.dump({"env": seen, "argv": sys.argv[1:], "cwd": os.getcwd()}, f)
"""

FAILING_TRAIN = """
import sys
print("reading the data", flush=True)
raise ValueError("the dataset has no label column")
"""

DDP_TRAIN = """
import datetime, gc, json, os

import torch
import torch.distributed as dist

hosts = json.loads(os.environ["SM_HOSTS"])
current = os.environ["SM_CURRENT_HOST"]
# The PyTorch toolkit sets these; the plain sagemaker-training toolkit does not.
os.environ.setdefault("MASTER_ADDR", hosts[0])
os.environ.setdefault("MASTER_PORT", "7777")
os.environ.setdefault("GLOO_SOCKET_IFNAME", os.environ["SM_NETWORK_INTERFACE_NAME"])
rank, world = hosts.index(current), len(hosts)
dist.init_process_group("gloo", rank=rank, world_size=world, timeout=datetime.timedelta(seconds=30))
print(f"rank {rank}/{world} joined via {os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}", flush=True)

torch.manual_seed(rank)
x = torch.randn(64, 4)
y = x @ torch.tensor([[1.0], [-2.0], [0.5], [3.0]])
torch.manual_seed(0)
model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(4, 1))
opt = torch.optim.SGD(model.parameters(), lr=float(os.environ.get("SM_HP_LR", "0.1")))
for step in range(int(os.environ.get("SM_HP_STEPS", "20"))):
    opt.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    opt.step()
print(f"rank {rank} loss={loss.item():.4f}", flush=True)

ranks = torch.tensor([float(rank + 1)])
dist.all_reduce(ranks)
weights = model.module.weight.detach().clone()
gathered = [torch.zeros_like(weights) for _ in range(world)]
dist.all_gather(gathered, weights)
if rank == 0:
    torch.save(model.module.state_dict(), os.path.join(os.environ["SM_MODEL_DIR"], "model.pt"))
    with open(os.path.join(os.environ["SM_MODEL_DIR"], "ddp.json"), "w") as f:
        json.dump({"rank_sum": ranks.item(), "world": world, "loss": loss.item(),
                   "same_weights": all(torch.equal(g, weights) for g in gathered)}, f)
# The DDP reducer must go before the process group: left to interpreter exit, torch 2.13 aborts
# ("terminate called without an active exception") on a non-master rank about one run in three,
# with plain processes on loopback too.
del model, opt
gc.collect()
dist.barrier()
dist.destroy_process_group()
"""

XGBOOST_TRAIN = """
import argparse, os

import numpy as np
import xgboost as xgb

from helper import load

parser = argparse.ArgumentParser()
parser.add_argument("--num_round", type=int, default=2)
args, _ = parser.parse_known_args()
X, y = load(os.environ["SM_CHANNEL_TRAIN"])
booster = xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(np.array(X), label=y),
                    num_boost_round=args.num_round)
booster.save_model(os.path.join(os.environ["SM_MODEL_DIR"], "xgboost-model.json"))
print(f"rounds={booster.num_boosted_rounds()}")
"""


def _image(server: EmbeddedServer, uri: str) -> str:
    assert server.cove.images is not None
    try:
        server.cove.images.resolve(uri)
    except UnknownImage as exc:
        pytest.skip(f"framework image not built (`make images`): {exc}")
    return uri


def _sourcedir(files: dict[str, str]) -> bytes:
    """sourcedir.tar.gz as the SDK's `tar_and_upload_dir` makes it: the files at the archive's root."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _dataset(s3: Any, bucket: str, prefix: str) -> None:
    """A label column then two features; the label is whether the first feature beats the second."""
    for part in range(3):
        rows = []
        for i in range(40):
            a, b = (i * 7 + part * 3) % 11, (i * 5 + part) % 13
            rows.append(f"{int(a > b)},{a},{b}")
        s3.put_object(Bucket=bucket, Key=f"{prefix}/part-{part}.csv", Body="\n".join(rows).encode())


def _script_mode(
    server: EmbeddedServer,
    world: dict[str, Any],
    name: str,
    image: str,
    files: dict[str, str],
    hyperparameters: dict[str, str],
    *,
    train_prefix: str | None = None,
    instances: int = 1,
    group: str | None = None,
    max_runtime: int = 300,
) -> dict[str, Any]:
    """CreateTrainingJob as SDK v2's Framework estimator sends it after staging the code."""
    bucket = world["bucket"]
    key = f"{name}/source/sourcedir.tar.gz"
    client(server, "s3").put_object(
        Bucket=bucket, Key=key, Body=_sourcedir(files), ServerSideEncryption="aws:kms"
    )
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": image,
            "TrainingInputMode": "File",
            "EnableSageMakerMetricsTimeSeries": True,
        },
        "RoleArn": world["role"],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": instances, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": max_runtime},
        "VpcConfig": {
            "SecurityGroupIds": [group or world["group"]],
            "Subnets": [world["subnets"]["private"]],
        },
        "HyperParameters": {
            **hyperparameters,
            "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/{key}"),
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_container_log_level": "20",
            "sagemaker_job_name": json.dumps(name),
            "sagemaker_region": json.dumps("us-east-1"),
        },
        "DebugHookConfig": {"S3OutputPath": f"s3://{bucket}/", "CollectionConfigurations": []},
        "ProfilerConfig": {"S3OutputPath": f"s3://{bucket}/", "DisableProfiler": False},
    }
    if train_prefix is not None:
        request["InputDataConfig"] = [
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {
                        "S3DataType": "S3Prefix",
                        "S3Uri": f"s3://{bucket}/{train_prefix}",
                        "S3DataDistributionType": "FullyReplicated",
                    }
                },
                "ContentType": "text/csv",
            }
        ]
    return request


def _model_files(s3: Any, bucket: str, name: str) -> dict[str, bytes]:
    body = s3.get_object(Bucket=bucket, Key=f"{name}/output/model.tar.gz")["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def _log_text(server: EmbeddedServer, name: str) -> str:
    logs = client(server, "logs")
    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/"
    )
    lines = []
    for stream in streams["logStreams"]:
        events = logs.get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs",
            logStreamName=stream["logStreamName"],
            startFromHead=True,
        )["events"]
        lines += [e["message"] for e in events]
    return "\n".join(lines)


def test_scikit_learn_script_mode_as_the_sdk_sends_it(
    jobs_server: EmbeddedServer, world: dict[str, Any]
) -> None:
    image = _image(jobs_server, SKLEARN)
    sm, s3 = client(jobs_server, "sagemaker"), client(jobs_server, "s3")
    _dataset(s3, world["bucket"], "frameworks/tabular")
    name = "sklearn-script-mode"
    files = {"train.py": SKLEARN_TRAIN, "helper.py": HELPER}
    request = _script_mode(
        jobs_server, world, name, image, files, {"n_estimators": "10"}, train_prefix="frameworks/tabular"
    )
    sm.create_training_job(**request)
    done = wait_job(sm, name, timeout=180)
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert done["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{world['bucket']}/{name}/output/model.tar.gz"

    model = _model_files(s3, world["bucket"], name)
    assert set(model) == {"model.joblib", "seen.json"}
    assert len(model["model.joblib"]) > 1000
    seen = json.loads(model["seen.json"])
    env = seen["env"]
    # What the toolkit computed from /opt/ml and the hyperparameters (sagemaker_* are not user args).
    assert json.loads(env["SM_HOSTS"]) == ["algo-1"]
    assert env["SM_CURRENT_HOST"] == "algo-1"
    assert env["SM_NUM_CPUS"] == str(os.cpu_count())
    assert env["SM_NUM_GPUS"] == "0"
    assert env["SM_CHANNEL_TRAIN"] == "/opt/ml/input/data/train"
    assert json.loads(env["SM_CHANNELS"]) == ["train"]
    assert env["SM_HP_N_ESTIMATORS"] == "10"
    assert json.loads(env["SM_HPS"]) == {"n_estimators": 10}
    assert env["SM_MODEL_DIR"] == "/opt/ml/model"
    assert env["SM_MODULE_DIR"] == f"s3://{world['bucket']}/{name}/source/sourcedir.tar.gz"
    assert env["SM_USER_ENTRY_POINT"] == "train.py"
    assert env["SM_NETWORK_INTERFACE_NAME"] == "eth0"
    assert env["SM_CURRENT_INSTANCE_TYPE"] == "ml.m5.large"
    assert seen["argv"] == ["--n_estimators", "10"]
    assert seen["cwd"] == "/opt/ml/code"
    assert "trained 10 trees on 120 rows" in _log_text(jobs_server, name)


def test_a_failing_script_is_reported_as_the_toolkit_words_it(
    jobs_server: EmbeddedServer, world: dict[str, Any]
) -> None:
    image = _image(jobs_server, SKLEARN)
    sm = client(jobs_server, "sagemaker")
    name = "sklearn-script-fails"
    request = _script_mode(jobs_server, world, name, image, {"train.py": FAILING_TRAIN}, {"epochs": "2"})
    sm.create_training_job(**request)
    done = wait_job(sm, name, timeout=180)
    assert done["TrainingJobStatus"] == "Failed"
    reason = done["FailureReason"]
    assert reason.startswith("AlgorithmError: ExecuteUserScriptError:"), reason
    assert "\nExitCode 1\nErrorMessage " in reason
    assert 'Command "' in reason and "train.py --epochs 2" in reason
    # The plain toolkit does not capture stderr for the message; the traceback is in the logs.
    text = _log_text(jobs_server, name)
    assert "ValueError: the dataset has no label column" in text
    assert "Reporting training FAILURE" in text


def test_pytorch_ddp_over_gloo_across_two_instances(
    jobs_server: EmbeddedServer, world: dict[str, Any]
) -> None:
    image = _image(jobs_server, PYTORCH)
    sm, s3 = client(jobs_server, "sagemaker"), client(jobs_server, "s3")
    name = "pytorch-ddp"
    hps = {"steps": "20", "lr": "0.1"}
    request = _script_mode(jobs_server, world, name, image, {"train.py": DDP_TRAIN}, hps, instances=2)
    blocked_request = _script_mode(
        jobs_server,
        world,
        f"{name}-blocked",
        image,
        {"train.py": DDP_TRAIN},
        hps,
        instances=2,
        group=world["lonely"],
    )
    started = time.monotonic()
    sm.create_training_job(**request)
    sm.create_training_job(**blocked_request)

    blocked = wait_job(sm, f"{name}-blocked", timeout=60)
    blocked_after = time.monotonic() - started
    assert blocked["TrainingJobStatus"] == "Failed"
    reason = blocked["FailureReason"]
    assert "algo-1" in reason and "algo-2" in reason and "self-referencing" in reason, reason
    assert world["lonely"] in reason, reason
    assert blocked_after < 30, f"the peer check took {blocked_after:.0f}s"
    print(f"blocked after {blocked_after:.1f}s: {reason}")

    done = wait_job(sm, name, timeout=120)
    if done["TrainingJobStatus"] != "Completed":
        print(_log_text(jobs_server, name))
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    model = _model_files(s3, world["bucket"], name)
    assert set(model) == {"model.pt", "ddp.json"}
    ddp = json.loads(model["ddp.json"])
    # all_reduce summed 1 + 2; DDP kept both replicas identical; the tiny regression learned.
    assert ddp == {"rank_sum": 3.0, "world": 2, "loss": pytest.approx(ddp["loss"]), "same_weights": True}
    assert ddp["loss"] < 1.0
    text = _log_text(jobs_server, name)
    assert "rank 0/2 joined via algo-1:7777" in text and "rank 1/2 joined via algo-1:7777" in text


def test_xgboost_script_mode(jobs_server: EmbeddedServer, world: dict[str, Any]) -> None:
    image = _image(jobs_server, XGBOOST)
    sm, s3 = client(jobs_server, "sagemaker"), client(jobs_server, "s3")
    _dataset(s3, world["bucket"], "frameworks/tabular")
    name = "xgboost-script-mode"
    files = {"train.py": XGBOOST_TRAIN, "helper.py": HELPER}
    request = _script_mode(
        jobs_server, world, name, image, files, {"num_round": "5"}, train_prefix="frameworks/tabular"
    )
    sm.create_training_job(**request)
    done = wait_job(sm, name, timeout=180)
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    model = json.loads(_model_files(s3, world["bucket"], name)["xgboost-model.json"])
    assert model["learner"]["gradient_booster"]["model"]["gbtree_model_param"]["num_trees"] == "5"
    assert "rounds=5" in _log_text(jobs_server, name)
