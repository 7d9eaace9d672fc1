"""Processing jobs: CreateProcessingJob's checks and stored request, the Describe and List views,
and StopProcessingJob. Processing jobs have no secondary status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.services.sagemaker import tagging
from cove.services.sagemaker.errors import ValidationException, already_exists, not_found, not_stoppable
from cove.services.sagemaker.lifecycle import ACTIVE_STATUSES, append_transition
from cove.services.sagemaker.names import job_arn
from cove.services.sagemaker.tables import JobRecord
from cove.services.sagemaker.validation import (
    PROCESSING_PREFIX,
    check_role,
    check_s3_uri,
    check_unique,
    constraint,
    preflight_warnings,
)

__all__ = [
    "create_processing_job",
    "describe_processing_job",
    "find_processing_job",
    "processing_summary",
    "stop_processing_job",
]

DEFAULT_MAX_RUNTIME = 86400
_ECHOED = ("Environment", "NetworkConfig", "RoleArn", "ExperimentConfig")


def find_processing_job(session: Session, account_id: str, region: str, name: str) -> JobRecord:
    row = session.scalars(
        select(JobRecord).where(JobRecord.arn == job_arn("processing", region, account_id, name))
    ).first()
    if row is None:
        raise not_found()
    return row


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
    arn = job_arn("processing", region, account_id, p["ProcessingJobName"])
    if session.scalars(select(JobRecord.id).where(JobRecord.arn == arn)).first() is not None:
        raise already_exists("processing", arn)
    instance_type, count = _check(session, p)
    warnings = preflight_warnings(
        session,
        account_id=account_id,
        region=region,
        vpc_config=(p.get("NetworkConfig") or {}).get("VpcConfig"),
        instance_type=instance_type,
        instance_count=count,
        job="processing",
    )
    row = JobRecord(
        kind="processing",
        account_id=account_id,
        region=region,
        name=p["ProcessingJobName"],
        arn=arn,
        request={key: value for key, value in p.items() if key != "Tags"},
        status="InProgress",
        secondary_status=None,
        transitions=[],
        created=now,
        last_modified=now,
        runtime={},
        stop_requested=False,
        warnings=warnings,
    )
    # Kept for the reconciler's bookkeeping (start time); Describe does not show them.
    append_transition(row, "Starting", "Starting the processing job", now)
    session.add(row)
    if p.get("Tags"):
        tagging.add_tags(session, arn, p["Tags"])
    return row


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
    if row.status == "Stopping":
        return
    if row.status not in ACTIVE_STATUSES:
        raise not_stoppable("processing", row.status)
    append_transition(row, "Stopping", "Stopping the processing job", now)
    row.status = "Stopping"
    row.stop_requested = True
    row.last_modified = now
