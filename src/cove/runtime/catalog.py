"""SageMaker instance types with AWS's published figures, what this host can give one instance,
and admission: which jobs may start now on this host.

An instance runs with its type's vCPUs and memory as cgroup ceilings, cut down to what the host
has. Admission counts the memory ceilings of running instances against the host's memory times an
overcommit factor: ceilings are limits, not reservations, as most training code uses far less than
its instance's memory. Accelerators cannot be shared, so they are counted exactly.
"""

from __future__ import annotations

import glob
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

__all__ = ["INSTANCE_TYPES", "Capacity", "Host", "InstanceType", "host_capacity", "limits"]


@dataclass(frozen=True)
class InstanceType:
    name: str
    vcpus: int
    memory_mib: int
    gpus: int
    efa: bool
    neuron_devices: int = 0  # Trainium/Inferentia chips (not GPUs; they need /dev/neuron*)


def _family(prefix: str, rows: Sequence[tuple[str, int, float, int, bool]]) -> dict[str, InstanceType]:
    return {
        f"{prefix}.{size}": InstanceType(f"{prefix}.{size}", vcpus, int(gib * 1024), gpus, efa)
        for size, vcpus, gib, gpus, efa in rows
    }


_STANDARD = [  # size, vCPUs, GiB for the 4 GiB-per-vCPU families (m5, m5d)
    ("large", 2, 8, 0, False),
    ("xlarge", 4, 16, 0, False),
    ("2xlarge", 8, 32, 0, False),
    ("4xlarge", 16, 64, 0, False),
    ("8xlarge", 32, 128, 0, False),
    ("12xlarge", 48, 192, 0, False),
    ("16xlarge", 64, 256, 0, False),
    ("24xlarge", 96, 384, 0, False),
]

INSTANCE_TYPES: dict[str, InstanceType] = {
    **_family(
        "ml.t3",
        [
            ("medium", 2, 4, 0, False),
            ("large", 2, 8, 0, False),
            ("xlarge", 4, 16, 0, False),
            ("2xlarge", 8, 32, 0, False),
        ],
    ),
    **_family("ml.m5", _STANDARD),
    **_family("ml.m5d", _STANDARD),
    **_family(
        "ml.c5",
        [
            ("large", 2, 4, 0, False),
            ("xlarge", 4, 8, 0, False),
            ("2xlarge", 8, 16, 0, False),
            ("4xlarge", 16, 32, 0, False),
            ("9xlarge", 36, 72, 0, False),
            ("12xlarge", 48, 96, 0, False),
            ("18xlarge", 72, 144, 0, False),
            ("24xlarge", 96, 192, 0, False),
        ],
    ),
    **_family(
        "ml.c5n",
        [
            ("xlarge", 4, 10.5, 0, False),
            ("2xlarge", 8, 21, 0, False),
            ("4xlarge", 16, 42, 0, False),
            ("9xlarge", 36, 96, 0, True),
            ("18xlarge", 72, 192, 0, True),
        ],
    ),
    **_family(
        "ml.r5",
        [
            ("large", 2, 16, 0, False),
            ("xlarge", 4, 32, 0, False),
            ("2xlarge", 8, 64, 0, False),
            ("4xlarge", 16, 128, 0, False),
            ("8xlarge", 32, 256, 0, False),
            ("12xlarge", 48, 384, 0, False),
            ("16xlarge", 64, 512, 0, False),
            ("24xlarge", 96, 768, 0, False),
        ],
    ),
    **_family(
        "ml.g4dn",
        [
            ("xlarge", 4, 16, 1, False),
            ("2xlarge", 8, 32, 1, False),
            ("4xlarge", 16, 64, 1, False),
            ("8xlarge", 32, 128, 1, True),
            ("12xlarge", 48, 192, 4, True),
            ("16xlarge", 64, 256, 1, True),
        ],
    ),
    **_family(
        "ml.g5",
        [
            ("xlarge", 4, 16, 1, False),
            ("2xlarge", 8, 32, 1, False),
            ("4xlarge", 16, 64, 1, False),
            ("8xlarge", 32, 128, 1, True),
            ("12xlarge", 48, 192, 4, True),
            ("16xlarge", 64, 256, 1, True),
            ("24xlarge", 96, 384, 4, True),
            ("48xlarge", 192, 768, 8, True),
        ],
    ),
    **_family(
        "ml.p3",
        [("2xlarge", 8, 61, 1, False), ("8xlarge", 32, 244, 4, False), ("16xlarge", 64, 488, 8, False)],
    ),
    **_family("ml.p3dn", [("24xlarge", 96, 768, 8, True)]),
    **_family("ml.p4d", [("24xlarge", 96, 1152, 8, True)]),
    **_family("ml.p5", [("48xlarge", 192, 2048, 8, True)]),
    "ml.trn1.2xlarge": InstanceType("ml.trn1.2xlarge", 8, 32 * 1024, 0, False, neuron_devices=1),
    "ml.trn1.32xlarge": InstanceType("ml.trn1.32xlarge", 128, 512 * 1024, 0, True, neuron_devices=16),
}


class Host(NamedTuple):
    vcpus: int
    memory_mib: int
    gpus: int
    neuron_devices: int


def host_capacity() -> Host:
    """This machine: the CPUs this process may run on, its RAM, and its accelerators."""
    vcpus = len(os.sched_getaffinity(0))
    memory_mib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_mib = int(line.split()[1]) // 1024
    gpus = len([p for p in glob.glob("/dev/nvidia[0-9]*") if os.path.basename(p)[6:].isdigit()])
    neuron = len(glob.glob("/dev/neuron[0-9]*"))
    return Host(vcpus, memory_mib, gpus, neuron)


def limits(instance_type: InstanceType, host: Host) -> tuple[float, int]:
    """The cgroup ceilings of one instance: (cpus, memory bytes), each at most what the host has."""
    cpus = float(min(instance_type.vcpus, host.vcpus))
    memory_mib = min(instance_type.memory_mib, host.memory_mib)
    return cpus, memory_mib * 1024 * 1024


class Capacity:
    """Admission of jobs onto this host (thread-safe)."""

    def __init__(self, host: Host | None = None, *, overcommit: float = 4.0, max_instances: int = 16) -> None:
        self.host = host or host_capacity()
        self.overcommit = overcommit
        self.max_instances = max_instances
        self._lock = threading.Lock()
        self._released = threading.Condition(self._lock)
        self._admitted: dict[str, tuple[int, int, int, int]] = {}  # job -> memory MiB, gpus, neuron, count

    def _need(self, instance_type: InstanceType, count: int) -> tuple[int, int, int, int]:
        _, memory_bytes = limits(instance_type, self.host)
        return (
            memory_bytes // (1024 * 1024) * count,
            instance_type.gpus * count,
            instance_type.neuron_devices * count,
            count,
        )

    def never_fits(self, instance_type: InstanceType, count: int) -> str | None:
        """Why a job of `count` instances of this type can never run here (None when it can)."""
        memory, gpus, neuron, _ = self._need(instance_type, count)
        if count > self.max_instances:
            return (
                f"{count} instances exceed the limit of {self.max_instances} instances per job on this host"
            )
        if gpus > self.host.gpus:
            each = f"{instance_type.gpus} GPU" + ("s" if instance_type.gpus != 1 else "")
            return f"{count} x {instance_type.name} need {gpus} GPUs ({each} each) and this host has {self.host.gpus}"
        if neuron > self.host.neuron_devices:
            return (
                f"{count} x {instance_type.name} need {neuron} Neuron devices and this host has "
                f"{self.host.neuron_devices}"
            )
        budget = int(self.host.memory_mib * self.overcommit)
        if memory > budget:
            return (
                f"{count} x {instance_type.name} need {memory} MiB of memory, more than this host's "
                f"{self.host.memory_mib} MiB x {self.overcommit:g} overcommit"
            )
        return None

    def try_admit(self, job_id: str, instance_type: InstanceType, count: int) -> bool:
        """Admit the job if its instances fit next to those already running (idempotent)."""
        if self.never_fits(instance_type, count) is not None:
            return False
        need = self._need(instance_type, count)
        with self._lock:
            if job_id in self._admitted:
                return True
            used = [sum(values) for values in zip(*self._admitted.values(), strict=True)] or [0, 0, 0, 0]
            if used[0] + need[0] > int(self.host.memory_mib * self.overcommit):
                return False
            if used[1] + need[1] > self.host.gpus or used[2] + need[2] > self.host.neuron_devices:
                return False
            self._admitted[job_id] = need
            return True

    def release(self, job_id: str) -> None:
        with self._lock:
            if self._admitted.pop(job_id, None) is not None:
                self._released.notify_all()

    def wait_released(self, timeout: float) -> None:
        """Sleep until some job releases its instances (or `timeout` passes): waiting jobs retry then."""
        with self._lock:
            self._released.wait(timeout)

    def admitted(self) -> list[str]:
        with self._lock:
            return sorted(self._admitted)
