"""Processing jobs: CreateProcessingJob's checks and stored request, the Describe and List views,
and StopProcessingJob. Processing jobs have no secondary status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cove.services.sagemaker.errors import ValidationException
from cove.services.sagemaker.records import DEFAULT_MAX_RUNTIME, find_job, insert_job, request_stop
from cove.services.sagemaker.tables import JobRecord
from cove.services.sagemaker.validation import (
    PROCESSING_PREFIX,
    check_role,
    check_s3_uri,
    check_unique,
    constraint,
)

__all__ = [
    "create_processing_job",
    "describe_processing_job",
    "find_processing_job",
    "processing_summary",
    "stop_processing_job",
]

_ECHOED = ("Environment", "NetworkConfig", "RoleArn", "ExperimentConfig")


def find_processing_job(session: Session, account_id: str, region: str, name: str) -> JobRecord:
    return find_job(session, "processing", account_id, region, name)


def _check_local_path(path: str, local: str | None) -> None:
    if not local or not local.startswith(PROCESSING_PREFIX):
        raise constraint(path, local, f"Member must start with {PROCESSING_PREFIX}")


def _check(session: Session, p: dict[str, Any]) -> tuple[str, int]:
    cluster = p["ProcessingResources"]["ClusterConfig"]
    if not cluster.get("InstanceType"):
        raise constraint("processingResources.clusterConfig.instanceType", None, "Member must not be null")
    if cluster.get("InstanceCount") is None:
        raise constraint("processingResources.clusterConfig.instanceCount", None, "Member must not be null")
    check_role(session, p["RoleArn"])
    inputs = p.get("ProcessingInputs") or []
    outputs = (p.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    check_unique("ProcessingInput names", [i["InputName"] for i in inputs])
    check_unique("ProcessingOutput names", [o["OutputName"] for o in outputs])
    local_paths: list[str] = []
    for n, item in enumerate(inputs, 1):
        where = f"processingInputs.{n}.member"
        s3 = item.get("S3Input")
        if (s3 is None) == (item.get("DatasetDefinition") is None):
            raise ValidationException(
                f"ProcessingInput '{item['InputName']}' must have exactly one of S3Input and DatasetDefinition."
            )
        if s3 is None:
            raise ValidationException(
                f"ProcessingInput '{item['InputName']}': Cove reads processing inputs from S3 only "
                "(DatasetDefinition is not supported)."
            )
        check_s3_uri(f"{where}.s3Input.s3Uri", s3["S3Uri"])
        if not item.get("AppManaged"):
            _check_local_path(f"{where}.s3Input.localPath", s3.get("LocalPath"))
            local_paths.append(str(s3["LocalPath"]))
    for n, item in enumerate(outputs, 1):
        where = f"processingOutputConfig.outputs.{n}.member"
        s3 = item.get("S3Output")
        if s3 is None:
            raise ValidationException(
                f"ProcessingOutput '{item['OutputName']}': Cove writes processing outputs to S3 only "
                "(FeatureStoreOutput is not supported)."
            )
        check_s3_uri(f"{where}.s3Output.s3Uri", s3["S3Uri"])
        if not item.get("AppManaged"):
            _check_local_path(f"{where}.s3Output.localPath", s3.get("LocalPath"))
            local_paths.append(str(s3["LocalPath"]))
    check_unique("LocalPath values of processing inputs and outputs", [x.rstrip("/") for x in local_paths])
    return str(cluster["InstanceType"]), int(cluster["InstanceCount"])


def create_processing_job(
    session: Session, account_id: str, region: str, p: dict[str, Any], now: datetime
) -> JobRecord:
    vpc_config = (p.get("NetworkConfig") or {}).get("VpcConfig")
    return insert_job(
        session,
        "processing",
        account_id,
        region,
        p["ProcessingJobName"],
        p,
        now,
        check=_check,
        vpc_config=vpc_config,
    )


def _inputs(inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in inputs:
        shown = {"AppManaged": False, **item}
        if "S3Input" in shown:
            shown["S3Input"] = {
                "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated",
                "S3CompressionType": "None",
                **shown["S3Input"],
            }
        out.append(shown)
    return out


def describe_processing_job(row: JobRecord) -> dict[str, Any]:
    req = row.request
    out: dict[str, Any] = {
        "ProcessingJobName": row.name,
        "ProcessingJobArn": row.arn,
        "ProcessingResources": req["ProcessingResources"],
        "AppSpecification": req["AppSpecification"],
        "StoppingCondition": {
            "MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME,
            **(req.get("StoppingCondition") or {}),
        },
        "ProcessingJobStatus": row.status,
        "CreationTime": row.created,
        "LastModifiedTime": row.last_modified,
    }
    if req.get("ProcessingInputs"):
        out["ProcessingInputs"] = _inputs(req["ProcessingInputs"])
    if req.get("ProcessingOutputConfig"):
        config = req["ProcessingOutputConfig"]
        out["ProcessingOutputConfig"] = {
            **config,
            "Outputs": [{"AppManaged": False, **o} for o in config["Outputs"]],
        }
    for key in _ECHOED:
        if req.get(key) is not None:
            out[key] = req[key]
    if row.exit_message is not None:
        out["ExitMessage"] = row.exit_message
    if row.failure_reason:
        out["FailureReason"] = row.failure_reason
    if row.started is not None:
        out["ProcessingStartTime"] = row.started
    if row.ended is not None:
        out["ProcessingEndTime"] = row.ended
    return out


def processing_summary(row: JobRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ProcessingJobName": row.name,
        "ProcessingJobArn": row.arn,
        "CreationTime": row.created,
        "LastModifiedTime": row.last_modified,
        "ProcessingJobStatus": row.status,
    }
    if row.ended is not None:
        out["ProcessingEndTime"] = row.ended
    if row.failure_reason:
        out["FailureReason"] = row.failure_reason
    if row.exit_message is not None:
        out["ExitMessage"] = row.exit_message
    return out


def stop_processing_job(row: JobRecord, now: datetime) -> None:
    """InProgress → Stopping; the reconciler interrupts the containers and records Stopped."""
    request_stop(row, now)
