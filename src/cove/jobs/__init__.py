"""SageMaker jobs that really run: reconciler, runs and the pieces they are made of."""

from cove.jobs.reconciler import JobReconciler
from cove.jobs.runner import JobDeps, JobRun

__all__ = ["JobDeps", "JobReconciler", "JobRun"]
