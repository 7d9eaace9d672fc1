"""What the job reconciler (cove.jobs) calls to read and move SageMaker jobs along.

Each function works inside the caller's session (the caller commits); the reconciler does its slow
work (instances, containers, transfers) outside any transaction and comes back here to record it.
Transition times are kept in the row as ISO strings; :mod:`views` turns them back into timestamps.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cove.services.sagemaker.tables import JobRecord

__all__ = [
    "ACTIVE_STATUSES",
    "TERMINAL_STATUSES",
    "JobChanges",
    "JobNotActive",
    "JobRow",
    "UnknownJob",
    "active_jobs",
    "append_transition",
    "billable_seconds",
    "finish",
    "get_job",
    "iso",
    "set_runtime",
    "transition",
]

ACTIVE_STATUSES = ("InProgress", "Stopping")
TERMINAL_STATUSES = ("Completed", "Failed", "Stopped")
# The secondary statuses that mean the instances are up and the job's own work has begun: the first
# one reached starts the billing clock (TrainingStartTime / ProcessingStartTime).
_STARTED = frozenset({"Downloading", "Training"})
_FINAL_MESSAGES = {
    "training": {
        "Completed": "Training job completed",
        "Failed": "Training job failed",
        "Stopped": "Training job stopped",
    },
    "processing": {
        "Completed": "Processing job completed",
        "Failed": "Processing job failed",
        "Stopped": "Processing job stopped",
    },
}


class UnknownJob(LookupError):
    """No job has this ARN."""


class JobNotActive(RuntimeError):
    """The job already ended (Completed, Failed or Stopped): nothing may move it any more."""


@dataclass(frozen=True, slots=True)
class JobRow:
    """A job as the reconciler sees it: a snapshot, safe to use after the session is gone."""

    kind: str  # 'training' | 'processing'
    arn: str
    name: str
    account: str
    region: str
    request: dict[str, Any]  # the Create request as given (UpdateTrainingJob changes merged in)
    status: str
    secondary_status: str | None
    runtime: dict[str, Any]
    stop_requested: bool
    created: datetime
    started: datetime | None
    warnings: list[dict[str, Any]]


class JobChanges:
    """Wakes the reconciler when a job is created or asked to stop (an Event that the waiter clears)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending = False

    def notify(self) -> None:
        with self._cond:
            self._pending = True
            self._cond.notify_all()

    def wait(self, timeout: float | None = None) -> bool:
        """True when a change was signalled (since the last wait), False on timeout."""
        with self._cond:
            if not self._pending:
                self._cond.wait_for(lambda: self._pending, timeout)
            fired, self._pending = self._pending, False
            return fired


def _snapshot(row: JobRecord) -> JobRow:
    return JobRow(
        kind=row.kind,
        arn=row.arn,
        name=row.name,
        account=row.account_id,
        region=row.region,
        request=dict(row.request),
        status=row.status,
        secondary_status=row.secondary_status,
        runtime=dict(row.runtime or {}),
        stop_requested=row.stop_requested,
        created=row.created,
        started=row.started,
        warnings=list(row.warnings or []),
    )


def _record(session: Session, job_arn: str) -> JobRecord:
    row = session.scalars(select(JobRecord).where(JobRecord.arn == job_arn)).first()
    if row is None:
        raise UnknownJob(job_arn)
    return row


def _active_record(session: Session, job_arn: str) -> JobRecord:
    row = _record(session, job_arn)
    if row.status not in ACTIVE_STATUSES:
        raise JobNotActive(f"{job_arn} is {row.status}")
    return row


def active_jobs(session: Session) -> list[JobRow]:
    """Every job still InProgress or Stopping, oldest first."""
    rows = session.scalars(
        select(JobRecord).where(JobRecord.status.in_(ACTIVE_STATUSES)).order_by(JobRecord.id)
    )
    return [_snapshot(row) for row in rows]


def get_job(session: Session, arn: str) -> JobRow | None:
    row = session.scalars(select(JobRecord).where(JobRecord.arn == arn)).first()
    return None if row is None else _snapshot(row)


def iso(moment: datetime) -> str:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC).isoformat()


def append_transition(
    row: JobRecord, status: str, message: str, now: datetime, *, closed: bool = False
) -> None:
    # A new list, so the JSON column is seen as changed.
    steps = [dict(step) for step in row.transitions or []]
    if steps and "EndTime" not in steps[-1]:
        steps[-1]["EndTime"] = iso(now)
    step: dict[str, Any] = {"Status": status, "StartTime": iso(now), "StatusMessage": message}
    if closed:
        step["EndTime"] = iso(now)
    steps.append(step)
    row.transitions = steps


def transition(session: Session, job_arn: str, secondary: str, message: str, now: datetime) -> None:
    """Enter secondary status ``secondary``: the previous transition ends at ``now`` and a new one
    begins. Repeating the current status only updates its message (SageMaker shows the latest).
    Processing jobs have no secondary status in their Describe output; the transitions are kept
    all the same, and the first Downloading/Training one sets ProcessingStartTime."""
    row = _active_record(session, job_arn)
    steps = row.transitions or []
    if steps and steps[-1].get("Status") == secondary and "EndTime" not in steps[-1]:
        last = dict(steps[-1], StatusMessage=message)
        row.transitions = [*steps[:-1], last]
    else:
        append_transition(row, secondary, message, now)
    if row.kind == "training":
        row.secondary_status = secondary
    if secondary in _STARTED and row.started is None:
        row.started = now
    row.last_modified = now


def set_runtime(session: Session, job_arn: str, runtime: dict[str, Any]) -> None:
    """Replace the reconciler's private state of the job (JSON-serialisable)."""
    row = _record(session, job_arn)
    row.runtime = dict(runtime)


def finish(
    session: Session,
    job_arn: str,
    status: str,
    now: datetime,
    *,
    failure_reason: str | None = None,
    exit_message: str | None = None,
    model_artifacts: str | None = None,
    final_metrics: list[dict[str, Any]] | None = None,
    secondary: str | None = None,
    message: str | None = None,
) -> None:
    """End the job: ``status`` is Completed, Failed or Stopped. The secondary status defaults to the
    same word (pass ``MaxRuntimeExceeded`` for a job stopped by its StoppingCondition); its
    transition opens and closes at ``now``. ``final_metrics`` items are ``{MetricName, Value,
    Timestamp}`` with a datetime or epoch-seconds Timestamp."""
    if status not in TERMINAL_STATUSES:
        raise ValueError(f"finish() takes one of {TERMINAL_STATUSES}, not {status!r}")
    row = _active_record(session, job_arn)
    final = secondary or status
    text = message or _FINAL_MESSAGES[row.kind][status]
    append_transition(row, final, text, now, closed=True)
    row.status = status
    if row.kind == "training":
        row.secondary_status = final
    row.ended = now
    row.last_modified = now
    if failure_reason is not None:
        row.failure_reason = failure_reason
    if exit_message is not None:
        # ExitMessage is the first KiB of /opt/ml/output/message.
        row.exit_message = exit_message.encode()[:1024].decode(errors="ignore")
    if model_artifacts is not None:
        row.model_artifacts = model_artifacts
    if final_metrics is not None:
        row.final_metrics = [_metric(item, now) for item in final_metrics]


def _metric(item: dict[str, Any], now: datetime) -> dict[str, Any]:
    stamp = item.get("Timestamp", now)
    if isinstance(stamp, int | float):
        stamp = datetime.fromtimestamp(stamp, UTC)
    return {"MetricName": str(item["MetricName"]), "Value": float(item["Value"]), "Timestamp": iso(stamp)}


def billable_seconds(started: datetime | None, ended: datetime | None) -> int | None:
    """TrainingTimeInSeconds (and, without spot interruptions, BillableTimeInSeconds): whole seconds
    from the start of the job's work to its end, at least 1 once started; None before the end."""
    if started is None or ended is None:
        return None
    return max(1, math.ceil((ended - started).total_seconds()))
