"""The SageMaker Python SDK (v2), unchanged, against Cove: `Estimator.fit(logs="All")` in a private
VPC, pointed at Cove only by AWS_ENDPOINT_URL and the account's keys. It uploads the source, creates
the job, tails its CloudWatch logs until the end and reads the model's location, as it does on AWS."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from cove.server import EmbeddedServer
from tests.jobs.conftest import client

pytestmark = pytest.mark.root

SDK_PYTHON = Path(__file__).resolve().parents[2] / ".venv-sdk" / "bin" / "python"

TRAIN = """
import argparse, glob, os
import joblib, pandas as pd
from sklearn.linear_model import LogisticRegression
parser = argparse.ArgumentParser()
parser.add_argument("--reg", type=float, default=1.0)
args = parser.parse_args()
data = pd.concat(pd.read_csv(f) for f in glob.glob(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "*.csv")))
model = LogisticRegression(C=args.reg).fit(data[["x"]], data["y"])
print(f"accuracy={model.score(data[['x']], data['y']):.3f}", flush=True)
joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
"""

DRIVER = """
import json, sys
import sagemaker
from sagemaker.sklearn.estimator import SKLearn
args = json.loads(sys.argv[1])
session = sagemaker.Session(default_bucket=args["bucket"])
estimator = SKLearn(
    entry_point="train.py", source_dir=args["source_dir"], role=args["role"], framework_version="1.2-1",
    instance_type="ml.m5.large", instance_count=1, hyperparameters={"reg": 0.5}, sagemaker_session=session,
    subnets=args["subnets"], security_group_ids=args["groups"], output_kms_key=args["key"],
    metric_definitions=[{"Name": "train:accuracy", "Regex": "accuracy=([0-9.]+)"}],
)
estimator.fit({"train": args["data"]}, wait=True, logs="All")
described = estimator.latest_training_job.describe()
print("RESULT " + json.dumps({"model": estimator.model_data, "status": described["TrainingJobStatus"],
                              "name": described["TrainingJobName"]}))
"""


def sdk_env(server: EmbeddedServer, home: Path) -> dict[str, str]:
    """Only the endpoint, the keys and the region, as a user's shell after `eval "$(cove env)"`; the
    SDK's telemetry (a direct call to AWS) is turned off in its config file."""
    config = home / "config.yaml"
    config.write_text(
        "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"
    )
    account = server.cove.account
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "AWS_ENDPOINT_URL": server.endpoint_url,
        "AWS_ACCESS_KEY_ID": account.access_key_id,
        "AWS_SECRET_ACCESS_KEY": account.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config),
    }


def drive(
    python: Path, script: str, arguments: dict[str, Any], server: EmbeddedServer, home: Path
) -> tuple[dict[str, Any], str]:
    """Run a driver script with the SDK's own interpreter, as a user's shell would: its RESULT line
    and everything it printed (the SDK's log tailing included)."""
    done = subprocess.run(
        [str(python), "-c", script, json.dumps(arguments)],
        capture_output=True,
        text=True,
        env=sdk_env(server, home),
        cwd=home,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.split("RESULT ", 1)[1])
    return result, done.stdout + done.stderr


def put_parts(s3: Any, bucket: str, prefix: str) -> None:
    """Four small objects for a processing job to shard over two instances."""
    for part in range(4):
        s3.put_object(Bucket=bucket, Key=f"{prefix}part-{part}.csv", Body=b"x\n1\n")


def training(s3: Any, world: dict[str, Any], tmp_path: Path, data: str, role: str) -> dict[str, Any]:
    """The training scripts' arguments: a CSV put under `data` in the world's bucket, the training
    script in a source directory under tmp_path, the private subnet, the group and the KMS key."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(TRAIN)
    rows = "x,y\n" + "".join(f"{i},{int(i > 5)}\n" for i in range(12))
    s3.put_object(Bucket=world["bucket"], Key=f"{data}train.csv", Body=rows.encode())
    return {
        "bucket": world["bucket"],
        "source_dir": str(source),
        "role": role,
        "subnets": [world["subnets"]["private"]],
        "groups": [world["group"]],
        "key": world["key"],
        "data": f"s3://{world['bucket']}/{data}",
    }


def sharded_processing(s3: Any, world: dict[str, Any], tmp_path: Path, raw: str) -> dict[str, Any]:
    """The processing scripts' arguments: the parts put under `raw` in the world's bucket, the
    preprocessing script written to tmp_path, the private subnet and the group."""
    put_parts(s3, world["bucket"], raw)
    code = tmp_path / "preprocess.py"
    code.write_text(PREPROCESS)
    return {
        "bucket": world["bucket"],
        "role": world["role"],
        "subnets": [world["subnets"]["private"]],
        "groups": [world["group"]],
        "code": str(code),
        "data": f"s3://{world['bucket']}/{raw}",
    }


def assert_sharded(s3: Any, bucket: str, prefix: str, output: str) -> None:
    """Each instance saw half the objects (PREPROCESS's report per host), and the SDK tailed both."""
    seen = {
        key: s3.get_object(Bucket=bucket, Key=f"{prefix}/{key}")["Body"].read().decode().split(",")
        for key in ("algo-1.txt", "algo-2.txt")
    }
    assert sorted(seen["algo-1.txt"] + seen["algo-2.txt"]) == [f"part-{i}.csv" for i in range(4)]
    assert "algo-1 saw 2 files" in output and "algo-2 saw 2 files" in output


needs_sdk = pytest.mark.skipif(not SDK_PYTHON.exists(), reason="the SDK's virtualenv (make sdk) is not there")


@needs_sdk
def test_the_sagemaker_sdk_trains_in_a_private_vpc(
    jobs_server: EmbeddedServer, world: dict[str, Any], tmp_path: Path
) -> None:
    s3 = client(jobs_server, "s3")
    arguments = training(s3, world, tmp_path, "sdk/data/", world["role"])
    result, output = drive(SDK_PYTHON, DRIVER, arguments, jobs_server, tmp_path)
    assert result["status"] == "Completed"
    # The SDK tailed the job's CloudWatch stream: the script's own line came back through it.
    assert "accuracy=1.000" in output
    key = result["model"].split(f"s3://{world['bucket']}/", 1)[1]
    head = s3.head_object(Bucket=world["bucket"], Key=key)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == world["key"]
    described = client(jobs_server, "sagemaker").describe_training_job(TrainingJobName=result["name"])
    assert described["VpcConfig"]["Subnets"] == [world["subnets"]["private"]]
    assert described["FinalMetricDataList"][0]["Value"] == 1.0


PREPROCESS = """
import glob, os, socket
files = sorted(os.path.basename(p) for p in glob.glob("/opt/ml/processing/input/*.csv"))
os.makedirs("/opt/ml/processing/output", exist_ok=True)
open(f"/opt/ml/processing/output/{socket.gethostname()}.txt", "w").write(",".join(files))
print(f"{socket.gethostname()} saw {len(files)} files", flush=True)
"""

PROCESS = """
import json, sys
import sagemaker
from sagemaker.processing import ProcessingInput, ProcessingOutput
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker.network import NetworkConfig
args = json.loads(sys.argv[1])
processor = SKLearnProcessor(
    framework_version="1.2-1", role=args["role"], instance_type="ml.m5.large", instance_count=2,
    sagemaker_session=sagemaker.Session(default_bucket=args["bucket"]),
    network_config=NetworkConfig(subnets=args["subnets"], security_group_ids=args["groups"]),
)
processor.run(
    code=args["code"],
    inputs=[ProcessingInput(source=args["data"], destination="/opt/ml/processing/input",
                            s3_data_distribution_type="ShardedByS3Key")],
    outputs=[ProcessingOutput(source="/opt/ml/processing/output")],
    wait=True, logs=True,
)
described = processor.jobs[-1].describe()
print("RESULT " + json.dumps({"status": described["ProcessingJobStatus"],
                              "output": described["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3Uri"]}))
"""


@needs_sdk
def test_the_sagemaker_sdk_runs_a_sharded_processing_job(
    jobs_server: EmbeddedServer, world: dict[str, Any], tmp_path: Path
) -> None:
    s3 = client(jobs_server, "s3")
    arguments = sharded_processing(s3, world, tmp_path, "sdk/raw/")
    result, output = drive(SDK_PYTHON, PROCESS, arguments, jobs_server, tmp_path)
    assert result["status"] == "Completed"
    prefix = result["output"].split(f"s3://{world['bucket']}/", 1)[1]
    assert_sharded(s3, world["bucket"], prefix, output)
