"""The reconciler's side: lifecycle functions on a database of their own."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cove.db import Database
from cove.services.sagemaker import lifecycle
from cove.services.sagemaker.names import job_arn
from cove.services.sagemaker.tables import JobRecord

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'cove.db'}")
    database.migrate()
    yield database
    database.dispose()


def _job(db: Database, kind: str = "training", name: str = "job") -> str:
    arn = job_arn(kind, "us-east-1", "123456789012", name)
    row = JobRecord(
        kind=kind,
        account_id="123456789012",
        region="us-east-1",
        name=name,
        arn=arn,
        request={"RoleArn": "arn:aws:iam::123456789012:role/r"},
        status="InProgress",
        secondary_status="Starting" if kind == "training" else None,
        transitions=[],
        created=T0,
        last_modified=T0,
        runtime={},
        stop_requested=False,
        warnings=[{"Code": "NoPathToS3", "Message": "m"}],
    )
    lifecycle.append_transition(row, "Starting", "Starting the training job", T0)
    with db.session() as s:
        s.add(row)
    return arn


def _record(db: Database, arn: str) -> JobRecord:
    with db.read() as s:
        row = s.query(JobRecord).filter_by(arn=arn).one()
        s.expunge(row)
        return row


def test_transitions_close_the_previous_one_and_start_the_clock(db: Database) -> None:
    arn = _job(db)
    with db.session() as s:
        lifecycle.transition(
            s, arn, "Starting", "Launching requested ML instances", T0 + timedelta(seconds=1)
        )
        lifecycle.transition(s, arn, "Downloading", "Downloading input data", T0 + timedelta(seconds=10))
        lifecycle.transition(s, arn, "Training", "Downloading the training image", T0 + timedelta(seconds=20))
    row = _record(db, arn)
    assert [(t["Status"], t["StatusMessage"]) for t in row.transitions] == [
        ("Starting", "Launching requested ML instances"),  # same status: only the message changes
        ("Downloading", "Downloading input data"),
        ("Training", "Downloading the training image"),
    ]
    assert row.transitions[0]["EndTime"] == row.transitions[1]["StartTime"]
    assert "EndTime" not in row.transitions[-1]
    assert row.secondary_status == "Training" and row.status == "InProgress"
    assert row.started == T0 + timedelta(seconds=10)  # the first Downloading, not the later Training
    assert row.last_modified == T0 + timedelta(seconds=20)


def test_finish_computes_times_and_refuses_further_moves(db: Database) -> None:
    arn = _job(db)
    with db.session() as s:
        lifecycle.transition(s, arn, "Training", "Training in progress.", T0 + timedelta(seconds=5))
        lifecycle.finish(
            s,
            arn,
            "Completed",
            T0 + timedelta(seconds=65, milliseconds=1),
            model_artifacts="s3://b/out/model.tar.gz",
            final_metrics=[{"MetricName": "acc", "Value": 1, "Timestamp": T0.timestamp()}],
        )
    row = _record(db, arn)
    assert (row.status, row.secondary_status) == ("Completed", "Completed")
    last = row.transitions[-1]
    assert last["Status"] == "Completed" and last["StatusMessage"] == "Training job completed"
    assert last["StartTime"] == last["EndTime"]
    assert row.ended == T0 + timedelta(seconds=65, milliseconds=1)
    assert lifecycle.billable_seconds(row.started, row.ended) == 61  # whole seconds, rounded up
    assert row.final_metrics == [{"MetricName": "acc", "Value": 1.0, "Timestamp": T0.isoformat()}]
    with db.session() as s:
        with pytest.raises(lifecycle.JobNotActive):
            lifecycle.transition(s, arn, "Uploading", "late", T0 + timedelta(minutes=5))
        with pytest.raises(lifecycle.JobNotActive):
            lifecycle.finish(s, arn, "Failed", T0 + timedelta(minutes=5))
        assert lifecycle.active_jobs(s) == []


def test_finish_variants(db: Database) -> None:
    stopped, failed, proc = _job(db, name="a"), _job(db, name="b"), _job(db, "processing", "c")
    with db.session() as s:
        lifecycle.finish(
            s,
            stopped,
            "Stopped",
            T0 + timedelta(hours=1),
            secondary="MaxRuntimeExceeded",
            message="Training job exceeded the MaxRuntimeInSeconds",
        )
        lifecycle.finish(s, failed, "Failed", T0, failure_reason="AlgorithmError: Exit Code: 1")
        lifecycle.transition(s, proc, "Training", "running", T0 + timedelta(seconds=2))
        lifecycle.finish(s, proc, "Completed", T0 + timedelta(seconds=4), exit_message="é" * 600)
        with pytest.raises(ValueError):
            lifecycle.finish(s, proc, "Stopping", T0)
    assert _record(db, stopped).secondary_status == "MaxRuntimeExceeded"
    assert _record(db, stopped).status == "Stopped"
    bad = _record(db, failed)
    assert bad.failure_reason == "AlgorithmError: Exit Code: 1" and bad.started is None
    assert lifecycle.billable_seconds(bad.started, bad.ended) is None
    p = _record(db, proc)
    assert p.secondary_status is None and p.started == T0 + timedelta(seconds=2)
    assert len(p.exit_message.encode()) == 1024  # type: ignore[union-attr]


def test_active_jobs_snapshot_runtime_and_lookup(db: Database) -> None:
    a, b = _job(db, name="first"), _job(db, "processing", "second")
    with db.session() as s:
        lifecycle.set_runtime(s, a, {"enis": ["eni-1"], "pids": [42]})
        jobs = lifecycle.active_jobs(s)
    assert [(j.kind, j.arn, j.name) for j in jobs] == [("training", a, "first"), ("processing", b, "second")]
    first = jobs[0]
    assert first.runtime == {"enis": ["eni-1"], "pids": [42]}
    assert (first.account, first.region, first.status, first.stop_requested) == (
        "123456789012",
        "us-east-1",
        "InProgress",
        False,
    )
    assert first.request["RoleArn"].endswith("role/r")
    assert first.warnings == [{"Code": "NoPathToS3", "Message": "m"}]
    with db.read() as s:
        assert lifecycle.get_job(s, b) == jobs[1]
        assert lifecycle.get_job(s, "arn:aws:sagemaker:us-east-1:1:training-job/none") is None
        with pytest.raises(lifecycle.UnknownJob):
            lifecycle.set_runtime(s, "arn:nope", {})


def test_job_changes_wakes_a_waiter() -> None:
    changes = lifecycle.JobChanges()
    assert changes.wait(0) is False
    changes.notify()
    assert changes.wait(0) is True
    assert changes.wait(0) is False  # the waiter consumed it
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(changes.wait(5)))
    waiter.start()
    time.sleep(0.05)
    started = time.monotonic()
    changes.notify()
    waiter.join(2)
    assert woke == [True] and time.monotonic() - started < 1
