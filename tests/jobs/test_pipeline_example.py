"""examples/sagemaker_pipeline.py, run as a user runs it: a separate process that knows nothing but
AWS_ENDPOINT_URL, the account's keys and the region, against a fabric-enforced Cove server."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from cove.runtime.images import UnknownImage
from cove.server import EmbeddedServer
from tests.jobs.conftest import client

pytestmark = pytest.mark.root

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sagemaker_pipeline.py"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"


def _run(server: EmbeddedServer, suffix: str) -> subprocess.CompletedProcess[str]:
    account = server.cove.account
    env = {
        "AWS_ENDPOINT_URL": server.endpoint_url,
        "AWS_ACCESS_KEY_ID": account.access_key_id,
        "AWS_SECRET_ACCESS_KEY": account.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return subprocess.run(
        [sys.executable, str(EXAMPLE), "--suffix", suffix],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_pipeline_example_runs_end_to_end_twice(jobs_server: EmbeddedServer) -> None:
    assert jobs_server.cove.images is not None
    try:
        jobs_server.cove.images.resolve(SKLEARN)
    except UnknownImage as exc:
        pytest.skip(f"framework image not built (`make images`): {exc}")
    for suffix in ("first", "again"):
        started = time.monotonic()
        proc = _run(jobs_server, suffix)
        took = time.monotonic() - started
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output
        assert "PIPELINE OK" in proc.stdout, output
        summary = proc.stdout.split("\nSummary\n", 1)[1]
        assert f"pipeline-prep-{suffix}  Completed  2 x ml.m5.large" in summary
        assert f"pipeline-train-{suffix}  Completed  1 x ml.m5.large" in summary
        assert f"s3://pipeline-data-{suffix}/models/pipeline-train-{suffix}/output/model.tar.gz" in summary
        assert "encryption  aws:kms with arn:aws:kms:us-east-1:" in summary
        assert "Training - Training image download completed. Training in progress." in proc.stdout
        print(proc.stdout)
        print(f"pipeline {suffix}: {took:.1f}s")

    # What the script reported is what the server holds.
    sm, s3, kms = (client(jobs_server, n) for n in ("sagemaker", "s3", "kms"))
    job = sm.describe_training_job(TrainingJobName="pipeline-train-again")
    key = kms.describe_key(KeyId="alias/pipeline-again")["KeyMetadata"]["Arn"]
    assert job["OutputDataConfig"]["KmsKeyId"] == key and job["ResourceConfig"]["VolumeKmsKeyId"] == key
    assert len(job["VpcConfig"]["Subnets"]) == 2
    head = s3.head_object(Bucket="pipeline-data-again", Key="models/pipeline-train-again/output/model.tar.gz")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key


def test_the_pipeline_example_exits_non_zero_when_something_fails(jobs_server: EmbeddedServer) -> None:
    # A wrong secret: the first call is refused, the script says why and fails.
    account = jobs_server.cove.account
    env = {
        "AWS_ENDPOINT_URL": jobs_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": account.access_key_id,
        "AWS_SECRET_ACCESS_KEY": "not-the-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    proc = subprocess.run(
        [sys.executable, str(EXAMPLE), "--suffix", "badkeys"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "PIPELINE FAILED: ClientError:" in proc.stdout and "SignatureDoesNotMatch" in proc.stdout
