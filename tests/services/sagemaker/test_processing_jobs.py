"""Processing jobs through boto3 against the test server (no reconciler: jobs stay InProgress)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cove.aws.catalog import service_model
from cove.server import EmbeddedServer
from cove.services.sagemaker import lifecycle
from tests.services.sagemaker.conftest import processing_request, unique
from tests.services.sagemaker.required import missing_required


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def test_create_and_describe(sm: Any, role_arn: str, cove_server: EmbeddedServer) -> None:
    name = unique("Proc")
    arn = sm.create_processing_job(**processing_request(name, role_arn, Environment={"A": "1"}))[
        "ProcessingJobArn"
    ]
    account = cove_server.cove.account.account_id
    assert arn == f"arn:aws:sagemaker:us-east-1:{account}:processing-job/{name.lower()}"
    d = sm.describe_processing_job(ProcessingJobName=name)
    assert d["ProcessingJobStatus"] == "InProgress"
    assert "SecondaryStatus" not in d and "ProcessingStartTime" not in d
    assert d["AppSpecification"]["ContainerEntrypoint"] == ["python3", "/opt/ml/processing/input/code/p.py"]
    s3in = d["ProcessingInputs"][0]["S3Input"]
    assert s3in["LocalPath"] == "/opt/ml/processing/input/code"
    assert (s3in["S3InputMode"], s3in["S3DataDistributionType"]) == ("File", "FullyReplicated")
    assert d["ProcessingOutputConfig"]["Outputs"][0]["S3Output"]["S3UploadMode"] == "EndOfJob"
    assert d["ProcessingResources"]["ClusterConfig"]["InstanceCount"] == 1
    assert d["Environment"] == {"A": "1"} and d["RoleArn"] == role_arn
    assert d["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    shape = service_model("sagemaker").operation_model("DescribeProcessingJob").output_shape
    assert missing_required(shape, d) == []


def test_duplicate_and_unknown(sm: Any, role_arn: str, cove_server: EmbeddedServer) -> None:
    name = unique("pdup")
    arn = sm.create_processing_job(**processing_request(name, role_arn))["ProcessingJobArn"]
    with pytest.raises(ClientError) as exc:
        sm.create_processing_job(**processing_request(name, role_arn))
    assert _error(exc) == (
        "ResourceInUse",
        f"Job name must be unique within an AWS account and region, and a job with this name already exists ({arn})",
    )
    for call in (sm.describe_processing_job, sm.stop_processing_job):
        with pytest.raises(ClientError) as exc:
            call(ProcessingJobName="no-such-processing-job")
        assert _error(exc) == ("ValidationException", "Requested resource not found.")


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (
            lambda r: r["ProcessingInputs"][0]["S3Input"].update(LocalPath="/tmp/in"),
            "Value '/tmp/in' at 'processingInputs.1.member.s3Input.localPath' failed to satisfy constraint: "
            "Member must start with /opt/ml/processing/",
        ),
        (
            lambda r: r["ProcessingOutputConfig"]["Outputs"][0]["S3Output"].update(LocalPath="/opt/ml/model"),
            "processingOutputConfig.outputs.1.member.s3Output.localPath",
        ),
        (
            lambda r: r["ProcessingInputs"][0]["S3Input"].update(S3Uri="https://example.com/x"),
            "s3Input.s3Uri",
        ),
        (
            lambda r: r["ProcessingInputs"][0]["S3Input"].update(S3InputMode="FastFile"),
            "Member must satisfy enum value set: [Pipe, File]",
        ),
        (lambda r: r["ProcessingInputs"].append(dict(r["ProcessingInputs"][0])), "must be unique"),
        (
            lambda r: r["ProcessingOutputConfig"]["Outputs"][0]["S3Output"].update(
                LocalPath="/opt/ml/processing/input/code"
            ),
            "LocalPath",
        ),
        (lambda r: r.update(RoleArn="arn:aws:iam::123456789012:role/missing"), "Could not assume role"),
    ],
)
def test_create_refusals(sm: Any, role_arn: str, mutate: Any, needle: str) -> None:
    request = processing_request(unique("pbad"), role_arn)
    mutate(request)
    with pytest.raises(ClientError) as exc:
        sm.create_processing_job(**request)
    code, message = _error(exc)
    assert code == "ValidationException" and needle in message, message


def test_stop_and_finish(sm: Any, role_arn: str, cove_server: EmbeddedServer) -> None:
    name = unique("pstop")
    arn = sm.create_processing_job(**processing_request(name, role_arn))["ProcessingJobArn"]
    start = datetime.now(UTC)
    with cove_server.cove.db.session() as s:
        lifecycle.transition(s, arn, "Training", "Processing", start)
    sm.stop_processing_job(ProcessingJobName=name)
    assert sm.describe_processing_job(ProcessingJobName=name)["ProcessingJobStatus"] == "Stopping"
    with cove_server.cove.db.session() as s:
        assert lifecycle.get_job(s, arn).stop_requested  # type: ignore[union-attr]
        lifecycle.finish(s, arn, "Stopped", start + timedelta(seconds=5), exit_message="bye")
    sm.get_waiter("processing_job_completed_or_stopped").wait(
        ProcessingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 2}
    )
    d = sm.describe_processing_job(ProcessingJobName=name)
    assert d["ProcessingJobStatus"] == "Stopped" and d["ExitMessage"] == "bye"
    assert d["ProcessingEndTime"] - d["ProcessingStartTime"] == timedelta(seconds=5)
    with pytest.raises(ClientError) as exc:
        sm.stop_processing_job(ProcessingJobName=name)
    assert _error(exc) == (
        "ValidationException",
        "The request was rejected because the processing job is in status Stopped.",
    )
