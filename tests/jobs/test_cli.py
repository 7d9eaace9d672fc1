"""The AWS CLI, unchanged, drives training jobs: create from --cli-input-json, list, describe until
the end, read the logs and the model; a duplicate name and an unknown job get SageMaker's errors."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from cove.server import EmbeddedServer
from tests.awscli import AwsCli
from tests.jobs.conftest import training_request

pytestmark = pytest.mark.root


def test_aws_cli_runs_a_training_job(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str, tmp_path: Path
) -> None:
    cli = AwsCli(jobs_server, cwd=tmp_path)
    sm, logs, s3 = (cli.service(name) for name in ("sagemaker", "logs", "s3api"))
    request = tmp_path / "job.json"
    request.write_text(json.dumps(training_request(world, "train-from-cli", algo_image)))
    arn = sm("create-training-job", "--cli-input-json", f"file://{request}")["TrainingJobArn"]
    assert arn.endswith(":training-job/train-from-cli")

    again = sm("create-training-job", "--cli-input-json", f"file://{request}", check=False)
    assert again.returncode != 0
    assert "ResourceInUse" in again.stderr and "Training job names must be unique" in again.stderr

    listed = sm("list-training-jobs", "--name-contains", "from-cli")["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in listed] == ["train-from-cli"]

    deadline = time.monotonic() + 120
    while (done := sm("describe-training-job", "--training-job-name", "train-from-cli"))[
        "TrainingJobStatus"
    ] == "InProgress":
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert [m["MetricName"] for m in done["FinalMetricDataList"]] == ["train:loss", "validation:accuracy"]

    streams = logs(
        "describe-log-streams",
        "--log-group-name",
        "/aws/sagemaker/TrainingJobs",
        "--log-stream-name-prefix",
        "train-from-cli/",
    )["logStreams"]
    assert [s["logStreamName"].split("/")[1].rsplit("-", 1)[0] for s in streams] == ["algo-1"]
    events = logs(
        "get-log-events",
        "--log-group-name",
        "/aws/sagemaker/TrainingJobs",
        "--log-stream-name",
        streams[0]["logStreamName"],
        "--start-from-head",
    )["events"]
    assert any("final validation:accuracy=0.9375" in e["message"] for e in events)

    model = done["ModelArtifacts"]["S3ModelArtifacts"].split(f"s3://{world['bucket']}/", 1)[1]
    head = s3("head-object", "--bucket", world["bucket"], "--key", model)
    assert head["ContentLength"] > 0

    missing = sm("describe-training-job", "--training-job-name", "no-such-job", check=False)
    assert missing.returncode != 0
    assert "ValidationException" in missing.stderr and "Requested resource not found" in missing.stderr
