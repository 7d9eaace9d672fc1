"""A job's names on the host (container and cgroup stem, directory) come from its ARN: two accounts
or regions may each run a job of one name, at the same time, on one host."""

from __future__ import annotations

from pathlib import Path

from cove.jobs.runner import job_directory, job_stem

A = "arn:aws:sagemaker:us-east-1:111111111111:training-job/train-1"
B = "arn:aws:sagemaker:us-east-1:222222222222:training-job/train-1"
WEST = "arn:aws:sagemaker:us-west-2:111111111111:training-job/train-1"


def test_one_name_in_two_accounts_or_regions_gets_two_stems_and_directories() -> None:
    assert len({job_stem(A), job_stem(B), job_stem(WEST)}) == 3
    state = Path("/state")
    directories = {job_directory(state, "training", arn) for arn in (A, B, WEST)}
    assert len(directories) == 3
    assert job_directory(state, "training", A) == state / "jobs/training/111111111111/us-east-1/train-1"


def test_a_stem_is_short_readable_and_stable() -> None:
    long = "arn:aws:sagemaker:us-east-1:111111111111:processing-job/" + "Very-Long-Job-Name-" * 3 + "x"
    for arn in (A, long):
        stem = job_stem(arn)
        assert stem == job_stem(arn)
        assert len(stem) <= 32 and stem == stem.lower()
        assert all(c.isalnum() or c == "-" for c in stem)
    assert job_stem(A).startswith("train-1-")
    assert job_stem(long).startswith("very-long-job-name-very")
