"""ListTrainingJobs / ListProcessingJobs: filters, sort order and paging."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.services.sagemaker.conftest import processing_request, training_request, unique


@pytest.fixture(scope="module")
def family(sm: Any, role_arn: str) -> tuple[str, list[str]]:
    prefix = unique("lst")
    names = []
    for n in range(5):
        name = f"{prefix}-{n}"
        sm.create_training_job(**training_request(name, role_arn))
        names.append(name)
        time.sleep(0.01)
    sm.stop_training_job(TrainingJobName=names[1])
    return prefix, names


def _all(sm: Any, **kw: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    token = None
    while True:
        page = sm.list_training_jobs(**kw, **({"NextToken": token} if token else {}))
        out += page["TrainingJobSummaries"]
        token = page.get("NextToken")
        if not token:
            return out


def test_name_filter_default_order_and_paging(sm: Any, family: tuple[str, list[str]]) -> None:
    prefix, names = family
    first = sm.list_training_jobs(NameContains=prefix.upper(), MaxResults=2)
    assert len(first["TrainingJobSummaries"]) == 2 and first["NextToken"]
    listed = _all(sm, NameContains=prefix, MaxResults=2)
    assert [s["TrainingJobName"] for s in listed] == names[::-1]  # newest first
    summary = listed[0]
    assert set(summary) >= {"TrainingJobName", "TrainingJobArn", "CreationTime", "TrainingJobStatus"}


def test_sort_and_status_filters(sm: Any, family: tuple[str, list[str]]) -> None:
    prefix, names = family
    asc = _all(sm, NameContains=prefix, SortBy="Name", SortOrder="Ascending")
    assert [s["TrainingJobName"] for s in asc] == names
    stopping = _all(sm, NameContains=prefix, StatusEquals="Stopping")
    assert [s["TrainingJobName"] for s in stopping] == [names[1]]
    assert stopping[0]["SecondaryStatus"] == "Stopping"


def test_time_filters(sm: Any, family: tuple[str, list[str]]) -> None:
    prefix, names = family
    listed = _all(sm, NameContains=prefix, SortOrder="Ascending")
    pivot = listed[2]["CreationTime"]
    after = _all(sm, NameContains=prefix, CreationTimeAfter=pivot - timedelta(microseconds=1))
    assert {s["TrainingJobName"] for s in after} == set(names[2:])
    before = _all(sm, NameContains=prefix, CreationTimeBefore=pivot)
    assert {s["TrainingJobName"] for s in before} == set(names[:2])
    stopped_at = next(s for s in listed if s["TrainingJobName"] == names[1])["LastModifiedTime"]
    modified = _all(sm, NameContains=prefix, LastModifiedTimeAfter=stopped_at - timedelta(microseconds=1))
    assert names[1] in {s["TrainingJobName"] for s in modified}


def test_bad_token_and_kinds_apart(sm: Any, role_arn: str, family: tuple[str, list[str]]) -> None:
    prefix, _ = family
    with pytest.raises(ClientError) as exc:
        sm.list_training_jobs(NextToken="not-a-token")
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    sm.create_processing_job(**processing_request(f"{prefix}-proc", role_arn))
    assert all(s["TrainingJobName"] != f"{prefix}-proc" for s in _all(sm, NameContains=prefix))
    procs = sm.list_processing_jobs(NameContains=prefix)["ProcessingJobSummaries"]
    assert [p["ProcessingJobName"] for p in procs] == [f"{prefix}-proc"]
    assert procs[0]["ProcessingJobStatus"] == "InProgress"
