"""What an instance prints: its CloudWatch Logs stream, and the metrics its MetricDefinitions find.

SageMaker streams stdout and stderr of every instance to ``/aws/sagemaker/<Kind>Jobs`` in a
stream named ``<job>/algo-<n>-<epoch seconds>``, and scans the same lines with the job's
``MetricDefinitions`` regexes (first capture group, or the whole match, as a float).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cove.db import Database
from cove.services.logs.service import append_events

__all__ = ["InstanceOutput", "MetricScanner", "MetricValue"]

log = logging.getLogger("cove.jobs")

_FLUSH_S = 0.5
_FLUSH_LINES = 2000
_MAX_EVENT = 256 * 1024 - 26  # CloudWatch Logs' event size limit, less its per-event overhead


@dataclass(frozen=True, slots=True)
class MetricValue:
    name: str
    value: float
    timestamp: float


@dataclass
class MetricScanner:
    """MetricDefinitions applied to log lines; keeps every value and the last one per metric."""

    definitions: list[tuple[str, re.Pattern[str]]]
    values: list[MetricValue] = field(default_factory=list)
    last: dict[str, MetricValue] = field(default_factory=dict)

    @classmethod
    def of(cls, definitions: list[dict[str, Any]] | None) -> MetricScanner:
        compiled: list[tuple[str, re.Pattern[str]]] = []
        for definition in definitions or []:
            try:
                compiled.append((str(definition["Name"]), re.compile(str(definition["Regex"]))))
            except (KeyError, re.error):
                log.warning("metric definition ignored: %r", definition)
        return cls(compiled)

    def scan(self, line: str, timestamp: float) -> None:
        for name, pattern in self.definitions:
            match = pattern.search(line)
            if match is None:
                continue
            text = match.group(1) if pattern.groups else match.group(0)
            try:
                value = float(text)
            except (TypeError, ValueError):
                continue
            found = MetricValue(name, value, timestamp)
            self.values.append(found)
            self.last[name] = found


class InstanceOutput:
    """Buffers one instance's lines and writes them to its log stream in batches."""

    def __init__(
        self,
        db: Database,
        *,
        account_id: str,
        region: str,
        group: str,
        stream: str,
        scanner: MetricScanner | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.db = db
        self.account_id = account_id
        self.region = region
        self.group = group
        self.stream = stream
        self.scanner = scanner
        self.echo = echo
        self.lines = 0
        self._pending: list[tuple[int, str]] = []
        self._lock = threading.Lock()
        self._flushed = time.monotonic()

    def line(self, text: str, timestamp: float) -> None:
        text = text.rstrip("\n")
        if self.scanner is not None:
            with self._lock:
                self.scanner.scan(text, timestamp)
        if self.echo is not None:
            self.echo(text)
        with self._lock:
            self.lines += 1
            self._pending.append((int(timestamp * 1000), text[:_MAX_EVENT] or " "))
            due = len(self._pending) >= _FLUSH_LINES or time.monotonic() - self._flushed >= _FLUSH_S
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batch, self._pending = self._pending, []
            self._flushed = time.monotonic()
        if not batch:
            return
        try:
            append_events(
                self.db, self.account_id, self.region, self.group, self.stream, batch, create_group=True
            )
        except Exception:
            log.exception("could not write %d log events to %s/%s", len(batch), self.group, self.stream)
