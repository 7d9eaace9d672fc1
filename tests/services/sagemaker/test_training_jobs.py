"""Training jobs through boto3 against the test server (no reconciler: jobs stay InProgress)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from cove.aws.catalog import service_model
from cove.server import EmbeddedServer
from cove.services.sagemaker import lifecycle
from tests.services.sagemaker.conftest import training_request, unique
from tests.services.sagemaker.required import missing_required


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    return exc.value.response["Error"]["Code"], exc.value.response["Error"]["Message"]


def test_create_and_describe_echo_the_request(sm: Any, role_arn: str, cove_server: EmbeddedServer) -> None:
    name = unique("Echo")
    request = training_request(
        name,
        role_arn,
        CheckpointConfig={"S3Uri": "s3://ckpt-bucket/run"},
        Environment={"MODE": "test"},
        ProfilerConfig={"S3OutputPath": "s3://out-bucket/profile", "ProfilingIntervalInMilliseconds": 500},
        EnableNetworkIsolation=True,
    )
    arn = sm.create_training_job(**request)["TrainingJobArn"]
    account = cove_server.cove.account.account_id
    assert arn == f"arn:aws:sagemaker:us-east-1:{account}:training-job/{name.lower()}"

    d = sm.describe_training_job(TrainingJobName=name)
    assert d["TrainingJobName"] == name and d["TrainingJobArn"] == arn
    assert (d["TrainingJobStatus"], d["SecondaryStatus"]) == ("InProgress", "Starting")
    [step] = d["SecondaryStatusTransitions"]
    assert step["Status"] == "Starting" and step["StatusMessage"] == "Starting the training job"
    assert "EndTime" not in step
    assert d["ModelArtifacts"] == {"S3ModelArtifacts": ""}
    assert d["StoppingCondition"] == {"MaxRuntimeInSeconds": 86400}
    assert d["AlgorithmSpecification"]["TrainingImage"] == request["AlgorithmSpecification"]["TrainingImage"]
    assert d["AlgorithmSpecification"]["MetricDefinitions"] == [{"Name": "loss", "Regex": "loss=([0-9.]+)"}]
    assert d["HyperParameters"] == {"epochs": "3"}
    assert d["RoleArn"] == role_arn
    assert d["ResourceConfig"] == {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10}
    assert d["OutputDataConfig"]["S3OutputPath"] == "s3://out-bucket/models"
    channel = d["InputDataConfig"][0]
    assert channel["DataSource"]["S3DataSource"]["S3DataDistributionType"] == "FullyReplicated"
    assert d["CheckpointConfig"] == {"S3Uri": "s3://ckpt-bucket/run"}
    assert d["Environment"] == {"MODE": "test"}
    assert d["ProfilingStatus"] == "Enabled"
    assert d["EnableNetworkIsolation"] is True
    assert d["EnableManagedSpotTraining"] is False
    assert d["CreationTime"] == d["LastModifiedTime"]
    assert abs(d["CreationTime"] - datetime.now(UTC)) < timedelta(minutes=1)
    assert "TrainingStartTime" not in d and "TrainingTimeInSeconds" not in d
    shape = service_model("sagemaker").operation_model("DescribeTrainingJob").output_shape
    assert missing_required(shape, d) == []


def test_sdk_attach_fields_are_present(sm: Any, role_arn: str) -> None:
    """What the v2 SDK indexes directly (Estimator.attach, log tailing)."""
    name = unique("attach")
    sm.create_training_job(**training_request(name, role_arn))
    d = sm.describe_training_job(TrainingJobName=name)
    assert d["ResourceConfig"]["InstanceCount"] == 1
    assert d["ResourceConfig"]["VolumeSizeInGB"] == 10
    assert d["StoppingCondition"]["MaxRuntimeInSeconds"] == 86400
    assert d["AlgorithmSpecification"]["TrainingInputMode"] == "File"
    assert d["SecondaryStatusTransitions"][-1]["StatusMessage"]
    assert d["OutputDataConfig"]["CompressionType"] == "GZIP"


def test_duplicate_name_is_resource_in_use(sm: Any, role_arn: str, cove_server: EmbeddedServer) -> None:
    name = unique("dup")
    sm.create_training_job(**training_request(name, role_arn))
    with pytest.raises(ClientError) as exc:
        sm.create_training_job(**training_request(name.upper(), role_arn))
    account = cove_server.cove.account.account_id
    assert _error(exc) == (
        "ResourceInUse",
        "Training job names must be unique within an AWS account and region, and a training job with this "
        f"name already exists (arn:aws:sagemaker:us-east-1:{account}:training-job/{name})",
    )


def test_unknown_job_is_a_validation_exception(sm: Any) -> None:
    for call in (sm.describe_training_job, sm.stop_training_job):
        with pytest.raises(ClientError) as exc:
            call(TrainingJobName="no-such-job-here")
        assert _error(exc) == ("ValidationException", "Requested resource not found.")


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"RoleArn": "arn:aws:iam::123456789012:user/alice"}, "failed to satisfy constraint"),
        ({"RoleArn": "arn:aws:iam::123456789012:role/NoSuchRole"}, "Could not assume role"),
        ({"AlgorithmSpecification": {"TrainingInputMode": "File"}}, "TrainingImage"),
        ({"OutputDataConfig": {"S3OutputPath": "https://example.com/x"}}, "outputDataConfig.s3OutputPath"),
        (
            {"ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 0, "VolumeSizeInGB": 1}},
            "Value '0' at 'resourceConfig.instanceCount' failed to satisfy constraint: "
            "Member must have value greater than or equal to 1",
        ),
        (
            {"StoppingCondition": {"MaxRuntimeInSeconds": 60, "MaxWaitTimeInSeconds": 120}},
            "EnableManagedSpot",
        ),
    ],
)
def test_create_refusals(sm: Any, role_arn: str, overrides: dict[str, Any], needle: str) -> None:
    name = unique("bad")
    with pytest.raises(ClientError) as exc:
        sm.create_training_job(**training_request(name, role_arn, **overrides))
    code, message = _error(exc)
    assert code == "ValidationException" and needle in message
    with pytest.raises(ClientError):
        sm.describe_training_job(TrainingJobName=name)


def test_duplicate_channels_are_refused(sm: Any, role_arn: str) -> None:
    request = training_request(unique("chan"), role_arn)
    request["InputDataConfig"] = request["InputDataConfig"] * 2
    with pytest.raises(ClientError) as exc:
        sm.create_training_job(**request)
    assert "Channel names must be unique" in _error(exc)[1]


def test_stop_then_stop_again_and_terminal(sm: Any, role_arn: str, cove_server: EmbeddedServer) -> None:
    name = unique("stop")
    arn = sm.create_training_job(**training_request(name, role_arn))["TrainingJobArn"]
    changes = cove_server.cove.job_changes
    assert changes is not None
    changes.wait(0)  # drain whatever earlier tests signalled
    sm.stop_training_job(TrainingJobName=name)
    assert changes.wait(0) is True
    d = sm.describe_training_job(TrainingJobName=name)
    assert (d["TrainingJobStatus"], d["SecondaryStatus"]) == ("Stopping", "Stopping")
    first, second = d["SecondaryStatusTransitions"]
    assert first["EndTime"] == second["StartTime"]
    sm.stop_training_job(TrainingJobName=name)  # still Stopping: accepted
    with cove_server.cove.db.session() as s:
        assert lifecycle.get_job(s, arn).stop_requested  # type: ignore[union-attr]
        lifecycle.finish(s, arn, "Stopped", datetime.now(UTC))
    with pytest.raises(ClientError) as exc:
        sm.stop_training_job(TrainingJobName=name)
    assert _error(exc) == (
        "ValidationException",
        "The request was rejected because the training job is in status Stopped.",
    )


def test_update_training_job(sm: Any, role_arn: str, cove_server: EmbeddedServer) -> None:
    name = unique("upd")
    arn = sm.create_training_job(**training_request(name, role_arn))["TrainingJobArn"]
    out = sm.update_training_job(
        TrainingJobName=name,
        ResourceConfig={"KeepAlivePeriodInSeconds": 600},
        RemoteDebugConfig={"EnableRemoteDebug": True},
        ProfilerConfig={"DisableProfiler": True},
    )
    assert out["TrainingJobArn"] == arn
    d = sm.describe_training_job(TrainingJobName=name)
    assert d["ResourceConfig"]["KeepAlivePeriodInSeconds"] == 600
    assert d["ResourceConfig"]["InstanceType"] == "ml.m5.large"
    assert d["RemoteDebugConfig"] == {"EnableRemoteDebug": True}
    assert d["ProfilingStatus"] == "Disabled"
    with cove_server.cove.db.session() as s:
        lifecycle.finish(s, arn, "Completed", datetime.now(UTC), model_artifacts="s3://out-bucket/m.tar.gz")
    with pytest.raises(ClientError) as exc:
        sm.update_training_job(TrainingJobName=name, ResourceConfig={"KeepAlivePeriodInSeconds": 0})
    assert _error(exc) == (
        "ValidationException",
        "The request was rejected because the training job is in status Completed.",
    )


def test_waiter_after_finish_and_final_describe(sm: Any, role_arn: str, cove_server: EmbeddedServer) -> None:
    name = unique("wait")
    arn = sm.create_training_job(**training_request(name, role_arn))["TrainingJobArn"]
    start = datetime.now(UTC)
    with cove_server.cove.db.session() as s:
        lifecycle.transition(s, arn, "Downloading", "Downloading input data", start)
        lifecycle.transition(
            s,
            arn,
            "Training",
            "Training image download completed. Training in progress.",
            start + timedelta(seconds=3),
        )
        lifecycle.finish(
            s,
            arn,
            "Completed",
            start + timedelta(seconds=42, milliseconds=300),
            model_artifacts="s3://out-bucket/models/x/output/model.tar.gz",
            final_metrics=[{"MetricName": "loss", "Value": 0.25, "Timestamp": start}],
        )
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 2}
    )
    d = sm.describe_training_job(TrainingJobName=name)
    assert (d["TrainingJobStatus"], d["SecondaryStatus"]) == ("Completed", "Completed")
    assert [t["Status"] for t in d["SecondaryStatusTransitions"]] == [
        "Starting",
        "Downloading",
        "Training",
        "Completed",
    ]
    assert d["SecondaryStatusTransitions"][-1]["StatusMessage"] == "Training job completed"
    assert all("EndTime" in t for t in d["SecondaryStatusTransitions"])
    assert d["TrainingTimeInSeconds"] == d["BillableTimeInSeconds"] == 43
    assert d["TrainingStartTime"] < d["TrainingEndTime"]
    assert d["ModelArtifacts"]["S3ModelArtifacts"].endswith("model.tar.gz")
    assert d["FinalMetricDataList"][0]["MetricName"] == "loss"
    assert d["FinalMetricDataList"][0]["Value"] == 0.25
    shape = service_model("sagemaker").operation_model("DescribeTrainingJob").output_shape
    assert missing_required(shape, d) == []


def test_failed_job_fails_the_waiter(sm: Any, role_arn: str, cove_server: EmbeddedServer) -> None:
    from botocore.exceptions import WaiterError

    name = unique("fail")
    arn = sm.create_training_job(**training_request(name, role_arn))["TrainingJobArn"]
    with cove_server.cove.db.session() as s:
        lifecycle.finish(s, arn, "Failed", datetime.now(UTC), failure_reason="AlgorithmError: Exit Code: 1")
    with pytest.raises(WaiterError):
        sm.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 2}
        )
    d = sm.describe_training_job(TrainingJobName=name)
    assert d["FailureReason"] == "AlgorithmError: Exit Code: 1"
    assert "TrainingStartTime" not in d and "TrainingTimeInSeconds" not in d
