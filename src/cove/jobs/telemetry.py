"""A job's CloudWatch metrics: what its MetricDefinitions find in the logs, and each instance's
CPU, memory and disk utilization from its cgroup and volume.

SageMaker publishes both under ``/aws/sagemaker/TrainingJobs`` (``…/ProcessingJobs``) with the
dimension ``Host = <job>/algo-N``: utilization as percentages (CPU summed over the instance's
vCPUs, so up to 100 per vCPU) and algorithm metrics with the names the definitions give.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cove.db import Database
from cove.jobs.output import MetricScanner
from cove.runtime.container import Container
from cove.services.cloudwatch.service import put_metric_data

__all__ = ["Telemetry"]

log = logging.getLogger("cove.jobs")

SAMPLE_EVERY_S = 5.0


@dataclass
class _Watched:
    host: str
    container: Container
    memory_limit: int
    volume: Path
    cpu_seconds: float = 0.0
    at: float = field(default_factory=time.monotonic)


class Telemetry:
    def __init__(
        self,
        db: Database,
        *,
        account_id: str,
        region: str,
        namespace: str,
        job_name: str,
        scanner: MetricScanner,
    ) -> None:
        self.db = db
        self.account_id = account_id
        self.region = region
        self.namespace = namespace
        self.job_name = job_name
        self.scanner = scanner
        self._watched: list[_Watched] = []
        self._sent_values = 0
        self._sampled = time.monotonic()
        """The first sample is due SAMPLE_EVERY_S after the start (a utilization over a few
        milliseconds says nothing); the job's end always takes one (tick(force=True))."""
        self._pending: list[dict[str, Any]] = []

    def watch(self, host: str, container: Container, memory_limit: int, volume: Path) -> None:
        self._watched.append(_Watched(host, container, memory_limit, volume))

    def tick(self, *, force: bool = False) -> None:
        """Sample utilization when due and publish everything gathered since the last publish."""
        now = time.monotonic()
        if force or now - self._sampled >= SAMPLE_EVERY_S:
            self._sampled = now
            self._sample()
        self._algorithm_metrics()
        self._publish()

    def _dimensions(self, host: str) -> list[dict[str, str]]:
        return [{"Name": "Host", "Value": f"{self.job_name}/{host}"}]

    def _datum(self, name: str, value: float, host: str, unit: str = "Percent") -> dict[str, Any]:
        return {
            "MetricName": name,
            "Value": value,
            "Unit": unit,
            "Timestamp": datetime.now(UTC),
            "Dimensions": self._dimensions(host),
        }

    def _sample(self) -> None:
        for watched in self._watched:
            try:
                usage = watched.container.usage()
            except Exception:  # the container has just ended: nothing to read
                continue
            now = time.monotonic()
            elapsed = max(now - watched.at, 1e-3)
            cpu = max(0.0, usage.cpu_seconds - watched.cpu_seconds) / elapsed * 100.0
            watched.cpu_seconds, watched.at = usage.cpu_seconds, now
            self._pending.append(self._datum("CPUUtilization", round(cpu, 2), watched.host))
            if watched.memory_limit:
                memory = usage.memory_bytes / watched.memory_limit * 100.0
                self._pending.append(
                    self._datum("MemoryUtilization", round(min(memory, 100.0), 2), watched.host)
                )
            try:
                stat = os.statvfs(watched.volume)
                used = (stat.f_blocks - stat.f_bfree) / stat.f_blocks * 100.0 if stat.f_blocks else 0.0
                self._pending.append(self._datum("DiskUtilization", round(used, 2), watched.host))
            except OSError:
                pass

    def _algorithm_metrics(self) -> None:
        found = self.scanner.values[self._sent_values :]
        self._sent_values += len(found)
        for value in found:
            self._pending.append(
                {
                    "MetricName": value.name,
                    "Value": value.value,
                    "Unit": "None",
                    "Timestamp": datetime.fromtimestamp(value.timestamp, UTC),
                    "Dimensions": [{"Name": "TrainingJobName", "Value": self.job_name}],
                }
            )

    def _publish(self) -> None:
        batch, self._pending = self._pending, []
        if not batch:
            return
        try:
            with self.db.session() as session:
                for start in range(0, len(batch), 1000):
                    put_metric_data(
                        session, self.account_id, self.region, self.namespace, batch[start : start + 1000]
                    )
        except Exception:
            log.exception("could not publish %d metric values of %s", len(batch), self.job_name)
