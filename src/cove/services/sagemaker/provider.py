"""SageMaker operations (awsJson1.1, target prefix SageMaker): training and processing jobs, tags.

Create and Stop only record what is asked; the job reconciler (cove.jobs) does the work and
records its progress through :mod:`lifecycle`. ``changes`` wakes it when there is something new.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.aws.context import RequestContext
from cove.aws.provider import Provider, operation
from cove.db import Database
from cove.services.sagemaker import listing, processing, tagging, training
from cove.services.sagemaker.lifecycle import JobChanges
from cove.services.sagemaker.names import KIND_RESOURCE, job_arn, parse_arn
from cove.services.sagemaker.tables import JobRecord

__all__ = ["SageMakerProvider"]

Out = dict[str, Any]

_TRAINING_OPS = frozenset(
    {"CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob", "UpdateTrainingJob"}
)
_PROCESSING_OPS = frozenset({"CreateProcessingJob", "DescribeProcessingJob", "StopProcessingJob"})
_TAG_OPS = frozenset({"AddTags", "ListTags", "DeleteTags"})
_JOB_RESOURCES = {resource: kind for kind, resource in KIND_RESOURCE.items()}


def _job_exists(session: Session, arn: str) -> bool | None:
    parsed = parse_arn(arn)
    if parsed is None or parsed[2] not in _JOB_RESOURCES:
        return None  # models, endpoints...: their services check them
    return session.scalars(select(JobRecord.id).where(JobRecord.arn == arn)).first() is not None


class SageMakerProvider(Provider):
    service = "sagemaker"

    def __init__(
        self,
        db: Database,
        changes: JobChanges | None = None,
        admission: Callable[[str, dict[str, Any]], None] | None = None,
    ) -> None:
        self.db = db
        self.changes = changes or JobChanges()
        self.admission = admission
        """Checks only the job runtime can make (the image exists, the instances can ever fit on
        this host); raises the ServiceError that refuses the request. None where jobs do not run."""

    def resource_arn(self, ctx: RequestContext, params: dict[str, Any]) -> str:
        if ctx.operation in _TRAINING_OPS and params.get("TrainingJobName"):
            return job_arn("training", ctx.region, ctx.account_id, str(params["TrainingJobName"]))
        if ctx.operation in _PROCESSING_OPS and params.get("ProcessingJobName"):
            return job_arn("processing", ctx.region, ctx.account_id, str(params["ProcessingJobName"]))
        if ctx.operation in _TAG_OPS:
            return str(params.get("ResourceArn") or "*")
        return "*"

    # Training jobs

    @operation("CreateTrainingJob")
    def create_training_job(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        if self.admission is not None:
            self.admission("training", p)
        with self.db.session() as s:
            row = training.create_training_job(s, ctx.account_id, ctx.region, p, ctx.now)
            arn = row.arn
        self.changes.notify()
        return {"TrainingJobArn": arn}

    @operation("DescribeTrainingJob")
    def describe_training_job(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            row = training.find_training_job(s, ctx.account_id, ctx.region, p["TrainingJobName"])
            return training.describe_training_job(row)

    @operation("ListTrainingJobs")
    def list_training_jobs(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            rows, token = listing.list_jobs(s, "training", ctx.account_id, ctx.region, p)
            out: Out = {"TrainingJobSummaries": [training.training_summary(row) for row in rows]}
        if token:
            out["NextToken"] = token
        return out

    @operation("StopTrainingJob")
    def stop_training_job(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            row = training.find_training_job(s, ctx.account_id, ctx.region, p["TrainingJobName"])
            training.stop_training_job(row, ctx.now)
        self.changes.notify()
        return {}

    @operation("UpdateTrainingJob")
    def update_training_job(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            row = training.find_training_job(s, ctx.account_id, ctx.region, p["TrainingJobName"])
            training.update_training_job(row, p, ctx.now)
            arn = row.arn
        self.changes.notify()
        return {"TrainingJobArn": arn}

    # Processing jobs

    @operation("CreateProcessingJob")
    def create_processing_job(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        if self.admission is not None:
            self.admission("processing", p)
        with self.db.session() as s:
            row = processing.create_processing_job(s, ctx.account_id, ctx.region, p, ctx.now)
            arn = row.arn
        self.changes.notify()
        return {"ProcessingJobArn": arn}

    @operation("DescribeProcessingJob")
    def describe_processing_job(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            row = processing.find_processing_job(s, ctx.account_id, ctx.region, p["ProcessingJobName"])
            return processing.describe_processing_job(row)

    @operation("ListProcessingJobs")
    def list_processing_jobs(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            rows, token = listing.list_jobs(s, "processing", ctx.account_id, ctx.region, p)
            out: Out = {"ProcessingJobSummaries": [processing.processing_summary(row) for row in rows]}
        if token:
            out["NextToken"] = token
        return out

    @operation("StopProcessingJob")
    def stop_processing_job(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            row = processing.find_processing_job(s, ctx.account_id, ctx.region, p["ProcessingJobName"])
            processing.stop_processing_job(row, ctx.now)
        self.changes.notify()
        return {}

    # Tags

    @operation("AddTags")
    def add_tags(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            arn = self._tagged(s, ctx, p["ResourceArn"])
            return {"Tags": tagging.add_tags(s, arn, p["Tags"])}

    @operation("ListTags")
    def list_tags(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.read() as s:
            arn = self._tagged(s, ctx, p["ResourceArn"])
            return tagging.list_tags(s, arn, p.get("NextToken"), p.get("MaxResults"))

    @operation("DeleteTags")
    def delete_tags(self, ctx: RequestContext, p: dict[str, Any]) -> Out:
        with self.db.session() as s:
            arn = self._tagged(s, ctx, p["ResourceArn"])
            tagging.delete_tags(s, arn, p["TagKeys"])
        return {}

    @staticmethod
    def _tagged(s: Session, ctx: RequestContext, arn: str) -> str:
        tagging.check_arn(s, arn, ctx.account_id, ctx.region, _job_exists)
        return arn
