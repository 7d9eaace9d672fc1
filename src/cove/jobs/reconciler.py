"""The job reconciler: a thread that starts a run for every active job and passes on stop requests.

It wakes when the SageMaker API creates or stops a job (and every few seconds anyway). A job that
is active in the database but has no run in this process was left by a server that stopped while
it ran: its instances are gone with that process, so it is cleaned up (ENIs, leftover containers
and volumes) and ends with a FailureReason that says what happened, rather than hanging.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime

from cove.jobs.network import Attachment
from cove.jobs.runner import SHUTDOWN, JobDeps, JobRun, remove_leftovers
from cove.services.sagemaker import lifecycle

__all__ = ["RESTART_REASON", "JobReconciler"]

log = logging.getLogger("cove.jobs")

RESTART_REASON = (
    "InternalServerError: The Cove server stopped while this job was running, and its instances "
    "stopped with it. Start the job again under a new name."
)


class JobReconciler:
    def __init__(self, deps: JobDeps, changes: lifecycle.JobChanges, *, interval_s: float = 5.0) -> None:
        self.deps = deps
        self.changes = changes
        self.interval_s = interval_s
        self.runs: dict[str, JobRun] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cove-jobs", daemon=True)
        self._adopted = False

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """The server is going down: every run stops its containers and ends its job with a reason
        that says so (a server killed outright leaves them to the next start's adoption pass)."""
        self._stop.set()
        self.changes.notify()
        self._thread.join(timeout=timeout)
        for run in list(self.runs.values()):
            run.request_stop(SHUTDOWN)
        for run in list(self.runs.values()):
            run.thread.join(timeout=timeout)
        if self.deps.agents is not None:
            self.deps.agents.close()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.pass_once()
            except Exception:
                log.exception("job reconcile pass failed; retrying")
            self.changes.wait(self.interval_s)

    def pass_once(self) -> None:
        with self.deps.db.session() as session:
            active = lifecycle.active_jobs(session)
        if not self._adopted:
            self._adopted = True
            for job in active:
                self._orphaned(job)
            return
        for arn in [a for a, r in self.runs.items() if r.done]:
            del self.runs[arn]
        for job in active:
            run = self.runs.get(job.arn)
            if run is None:
                if self._stop.is_set():
                    return
                run = JobRun(self.deps, job)
                self.runs[job.arn] = run
                run.start()
            if job.stop_requested:
                run.request_stop()

    def _orphaned(self, job: lifecycle.JobRow) -> None:
        """A job this process never ran: remove what its instances left and end it."""
        log.warning("job %s was running when the server stopped; ending it", job.name)
        attachments = [Attachment(**a) for a in (job.runtime or {}).get("instances") or []]
        self.deps.network.detach(attachments, job.region)
        remove_leftovers(self.deps.state_dir, job.kind, job.arn)
        now = datetime.now(UTC)
        with self.deps.db.session() as session:
            if job.stop_requested:
                lifecycle.finish(session, job.arn, "Stopped", now, secondary="Stopped")
            else:
                lifecycle.finish(
                    session, job.arn, "Failed", now, failure_reason=RESTART_REASON, secondary="Failed"
                )
