"""Training jobs: CreateTrainingJob's checks and stored request, the Describe and List views,
StopTrainingJob and UpdateTrainingJob."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cove.services.sagemaker.errors import ValidationException
from cove.services.sagemaker.lifecycle import billable_seconds
from cove.services.sagemaker.records import DEFAULT_MAX_RUNTIME, find_job, insert_job, request_stop
from cove.services.sagemaker.tables import JobRecord
from cove.services.sagemaker.validation import check_role, check_s3_uri, check_unique, constraint
from cove.services.sagemaker.views import parse_time, transitions_view

__all__ = [
    "create_training_job",
    "describe_training_job",
    "find_training_job",
    "stop_training_job",
    "training_summary",
    "update_training_job",
]

# The request members Describe echoes as given (defaults filled in below for the others).
_ECHOED = (
    "RoleArn",
    "VpcConfig",
    "CheckpointConfig",
    "DebugHookConfig",
    "ExperimentConfig",
    "DebugRuleConfigurations",
    "TensorBoardOutputConfig",
    "ProfilerConfig",
    "ProfilerRuleConfigurations",
    "Environment",
    "RetryStrategy",
    "RemoteDebugConfig",
    "InfraCheckConfig",
)


def find_training_job(session: Session, account_id: str, region: str, name: str) -> JobRecord:
    return find_job(session, "training", account_id, region, name)


def _check(session: Session, p: dict[str, Any]) -> tuple[str, int]:
    """Refuse what SageMaker refuses; the instance type and count the job asks for."""
    algorithm = p.get("AlgorithmSpecification")
    if not algorithm:
        raise ValidationException("AlgorithmSpecification is required to create a training job.")
    if algorithm.get("AlgorithmName"):
        raise ValidationException(
            f"Algorithm {algorithm['AlgorithmName']} cannot be used: Cove runs training images, not "
            "AWS Marketplace algorithms. Give AlgorithmSpecification.TrainingImage instead."
        )
    if not algorithm.get("TrainingImage"):
        raise ValidationException("Either TrainingImage or AlgorithmName must be specified.")
    check_role(session, p["RoleArn"])
    resources = p.get("ResourceConfig")
    if not resources:
        raise ValidationException("ResourceConfig is required to create a training job.")
    groups = resources.get("InstanceGroups") or []
    if groups:
        check_unique("Instance group names", [g["InstanceGroupName"] for g in groups])
        instance_type, count = groups[0]["InstanceType"], sum(int(g["InstanceCount"]) for g in groups)
    else:
        instance_type, count = resources.get("InstanceType"), resources.get("InstanceCount")
        if not instance_type:
            raise constraint("resourceConfig.instanceType", None, "Member must not be null")
        if count is None:
            raise constraint("resourceConfig.instanceCount", None, "Member must not be null")
    if int(count) < 1:
        raise constraint(
            "resourceConfig.instanceCount", count, "Member must have value greater than or equal to 1"
        )
    if resources.get("VolumeSizeInGB") is None:
        raise constraint("resourceConfig.volumeSizeInGB", None, "Member must not be null")
    channels = p.get("InputDataConfig") or []
    check_unique("Channel names", [c["ChannelName"] for c in channels])
    for n, channel in enumerate(channels, 1):
        s3 = (channel.get("DataSource") or {}).get("S3DataSource")
        if s3 is None:
            raise ValidationException(
                f"Channel '{channel['ChannelName']}' has no S3DataSource: Cove reads training data from S3."
            )
        check_s3_uri(f"inputDataConfig.{n}.member.dataSource.s3DataSource.s3Uri", s3["S3Uri"])
    check_s3_uri("outputDataConfig.s3OutputPath", p["OutputDataConfig"]["S3OutputPath"])
    if p.get("CheckpointConfig"):
        check_s3_uri("checkpointConfig.s3Uri", p["CheckpointConfig"]["S3Uri"])
    stopping = p.get("StoppingCondition") or {}
    if stopping.get("MaxWaitTimeInSeconds") is not None:
        if not p.get("EnableManagedSpotTraining"):
            raise ValidationException(
                "Invalid MaxWaitTimeInSeconds. It is only supported when EnableManagedSpotTraining is set to true"
            )
        if int(stopping["MaxWaitTimeInSeconds"]) < int(
            stopping.get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME)
        ):
            raise ValidationException(
                "MaxWaitTimeInSeconds must be greater than or equal to MaxRuntimeInSeconds"
            )
    elif p.get("EnableManagedSpotTraining"):
        raise ValidationException("MaxWaitTimeInSeconds is required when EnableManagedSpotTraining is true.")
    return str(instance_type), int(count)


def create_training_job(
    session: Session, account_id: str, region: str, p: dict[str, Any], now: datetime
) -> JobRecord:
    return insert_job(
        session,
        "training",
        account_id,
        region,
        p["TrainingJobName"],
        p,
        now,
        check=_check,
        vpc_config=p.get("VpcConfig"),
    )


def _channels(channels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Channels as Describe shows them: SageMaker fills the defaults it applied."""
    out = []
    for channel in channels:
        shown = {"CompressionType": "None", "RecordWrapperType": "None", **channel}
        source = dict(shown.get("DataSource") or {})
        if "S3DataSource" in source:
            source["S3DataSource"] = {"S3DataDistributionType": "FullyReplicated", **source["S3DataSource"]}
        shown["DataSource"] = source
        out.append(shown)
    return out


def describe_training_job(row: JobRecord) -> dict[str, Any]:
    req = row.request
    algorithm = {"EnableSageMakerMetricsTimeSeries": False, **req["AlgorithmSpecification"]}
    out: dict[str, Any] = {
        "TrainingJobName": row.name,
        "TrainingJobArn": row.arn,
        # Required by the model: empty until the reconciler has uploaded the model.
        "ModelArtifacts": {"S3ModelArtifacts": row.model_artifacts or ""},
        "TrainingJobStatus": row.status,
        "SecondaryStatus": row.secondary_status or "Starting",
        "HyperParameters": dict(req.get("HyperParameters") or {}),
        "AlgorithmSpecification": algorithm,
        "InputDataConfig": _channels(req.get("InputDataConfig") or []),
        "OutputDataConfig": {"CompressionType": "GZIP", **req["OutputDataConfig"]},
        "ResourceConfig": dict(req["ResourceConfig"]),
        "StoppingCondition": {
            "MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME,
            **(req.get("StoppingCondition") or {}),
        },
        "CreationTime": row.created,
        "LastModifiedTime": row.last_modified,
        "SecondaryStatusTransitions": transitions_view(row.transitions),
        "EnableNetworkIsolation": bool(req.get("EnableNetworkIsolation")),
        "EnableInterContainerTrafficEncryption": bool(req.get("EnableInterContainerTrafficEncryption")),
        "EnableManagedSpotTraining": bool(req.get("EnableManagedSpotTraining")),
    }
    for key in _ECHOED:
        if req.get(key) is not None:
            out[key] = req[key]
    if row.failure_reason:
        out["FailureReason"] = row.failure_reason
    if row.started is not None:
        out["TrainingStartTime"] = row.started
    if row.ended is not None:
        out["TrainingEndTime"] = row.ended
        seconds = billable_seconds(row.started, row.ended)
        if seconds is not None:
            out["TrainingTimeInSeconds"] = seconds
            out["BillableTimeInSeconds"] = seconds
    if row.final_metrics:
        out["FinalMetricDataList"] = [
            {**metric, "Timestamp": parse_time(metric["Timestamp"])} for metric in row.final_metrics
        ]
    profiler = req.get("ProfilerConfig")
    if profiler is not None:
        out["ProfilingStatus"] = "Disabled" if profiler.get("DisableProfiler") else "Enabled"
    return out


def training_summary(row: JobRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "TrainingJobName": row.name,
        "TrainingJobArn": row.arn,
        "CreationTime": row.created,
        "LastModifiedTime": row.last_modified,
        "TrainingJobStatus": row.status,
        "SecondaryStatus": row.secondary_status or "Starting",
    }
    if row.ended is not None:
        out["TrainingEndTime"] = row.ended
    return out


def stop_training_job(row: JobRecord, now: datetime) -> None:
    """InProgress → Stopping; the reconciler stops the containers and records Stopped."""
    request_stop(row, now)


def update_training_job(row: JobRecord, p: dict[str, Any], now: datetime) -> None:
    """Only a running job can be updated; the changes join the stored request (what Describe echoes)."""
    if row.status not in ("InProgress",):
        raise ValidationException(
            f"The request was rejected because the training job is in status {row.status}."
        )
    if not any(
        p.get(k) is not None
        for k in ("ProfilerConfig", "ProfilerRuleConfigurations", "ResourceConfig", "RemoteDebugConfig")
    ):
        raise ValidationException("Please provide a configuration to update for the training job.")
    request = dict(row.request)
    if p.get("ResourceConfig") is not None:
        request["ResourceConfig"] = {**request["ResourceConfig"], **p["ResourceConfig"]}
    if p.get("ProfilerConfig") is not None:
        request["ProfilerConfig"] = {**(request.get("ProfilerConfig") or {}), **p["ProfilerConfig"]}
    if p.get("ProfilerRuleConfigurations") is not None:
        request["ProfilerRuleConfigurations"] = [
            *(request.get("ProfilerRuleConfigurations") or []),
            *p["ProfilerRuleConfigurations"],
        ]
    if p.get("RemoteDebugConfig") is not None:
        request["RemoteDebugConfig"] = {**(request.get("RemoteDebugConfig") or {}), **p["RemoteDebugConfig"]}
    row.request = request
    row.last_modified = now
