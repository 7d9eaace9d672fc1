"""What training and processing jobs share in their rows: finding one by name, inserting a new one
(duplicate check, VPC pre-flight, first transition, tags) and asking a running one to stop."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.services.sagemaker import tagging
from cove.services.sagemaker.errors import JobKind, already_exists, not_found, not_stoppable
from cove.services.sagemaker.lifecycle import ACTIVE_STATUSES, append_transition
from cove.services.sagemaker.names import job_arn
from cove.services.sagemaker.tables import JobRecord
from cove.services.sagemaker.validation import preflight_warnings

__all__ = ["DEFAULT_MAX_RUNTIME", "find_job", "insert_job", "request_stop"]

DEFAULT_MAX_RUNTIME = 86400


def find_job(session: Session, kind: JobKind, account_id: str, region: str, name: str) -> JobRecord:
    row = session.scalars(
        select(JobRecord).where(JobRecord.arn == job_arn(kind, region, account_id, name))
    ).first()
    if row is None:
        raise not_found()
    return row


def insert_job(
    session: Session,
    kind: JobKind,
    account_id: str,
    region: str,
    name: str,
    p: dict[str, Any],
    now: datetime,
    *,
    check: Callable[[Session, dict[str, Any]], tuple[str, int]],
    vpc_config: dict[str, Any] | None,
) -> JobRecord:
    """A new InProgress job, after `check(session, p) -> (instance type, count)` accepts the request.
    Only training jobs show a secondary status; both keep the Starting transition (the start time)."""
    arn = job_arn(kind, region, account_id, name)
    if session.scalars(select(JobRecord.id).where(JobRecord.arn == arn)).first() is not None:
        raise already_exists(kind, arn)
    instance_type, count = check(session, p)
    warnings = preflight_warnings(
        session,
        account_id=account_id,
        region=region,
        vpc_config=vpc_config,
        instance_type=instance_type,
        instance_count=count,
        job=kind,
    )
    row = JobRecord(
        kind=kind,
        account_id=account_id,
        region=region,
        name=name,
        arn=arn,
        request={key: value for key, value in p.items() if key != "Tags"},
        status="InProgress",
        secondary_status="Starting" if kind == "training" else None,
        transitions=[],
        created=now,
        last_modified=now,
        runtime={},
        stop_requested=False,
        warnings=warnings,
    )
    append_transition(row, "Starting", f"Starting the {kind} job", now)
    session.add(row)
    if p.get("Tags"):
        tagging.add_tags(session, arn, p["Tags"])
    return row


def request_stop(row: JobRecord, now: datetime) -> None:
    """InProgress → Stopping (again: nothing); the reconciler interrupts the containers and records
    Stopped. Refused for a job that has ended."""
    if row.status == "Stopping":
        return
    if row.status not in ACTIVE_STATUSES:
        raise not_stoppable(cast(JobKind, row.kind), row.status)
    append_transition(row, "Stopping", f"Stopping the {row.kind} job", now)
    row.status = "Stopping"
    if row.kind == "training":
        row.secondary_status = "Stopping"
    row.stop_requested = True
    row.last_modified = now
