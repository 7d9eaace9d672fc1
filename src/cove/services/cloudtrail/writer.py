"""The background writer that commits audit events outside every request's transaction.

A request records its events while it may still hold its own write transaction (SQLite allows one
writer at a time): committing synchronously there would wait on the caller's own lock. Instead the
event is queued and a per-database thread commits queued events in short transactions of its own,
so the request never waits for a commit and its rollback cannot take the event with it.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert

from cove.db import Database
from cove.services.cloudtrail.tables import AuditEventRow, AuditResourceRow

__all__ = ["PendingEvent", "enqueue", "flush"]

log = logging.getLogger("cove.audit")

# A writer with nothing to do stops (and lets go of its database); the next event starts another.
_IDLE_S = 2.0
_BATCH = 500


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """One event's rows, built (and so snapshotted) in the recording thread."""

    event: dict[str, Any]
    resources: tuple[dict[str, Any], ...]


class _Writer:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.queue: queue.Queue[PendingEvent] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="cove-audit-writer", daemon=True)

    def _run(self) -> None:
        while True:
            try:
                first = self.queue.get(timeout=_IDLE_S)
            except queue.Empty:
                with _lock:
                    if self.queue.empty():
                        _writers.pop(id(self.db), None)
                        return
                continue
            batch = [first]
            while len(batch) < _BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._write(batch)
            except Exception:
                log.exception("could not record %d audit event(s)", len(batch))
            finally:
                for _ in batch:
                    self.queue.task_done()

    def _write(self, batch: list[PendingEvent]) -> None:
        with self.db.engine.begin() as conn:
            for pending in batch:
                seq = conn.execute(
                    insert(AuditEventRow).returning(AuditEventRow.seq), pending.event
                ).scalar_one()
                if pending.resources:
                    conn.execute(
                        insert(AuditResourceRow), [{"event_seq": seq, **r} for r in pending.resources]
                    )


_lock = threading.Lock()
_writers: dict[int, _Writer] = {}


def enqueue(db: Database, pending: PendingEvent) -> None:
    with _lock:
        writer = _writers.get(id(db))
        if writer is None:
            writer = _writers[id(db)] = _Writer(db)
            writer.thread.start()
        writer.queue.put(pending)


def flush(db: Database | None = None, timeout: float = 30.0) -> bool:
    """Wait until every event recorded so far (for ``db``, or for every database) is committed;
    False when ``timeout`` passed first."""
    with _lock:
        writers = [w for key, w in _writers.items() if db is None or key == id(db)]
    done = True
    for writer in writers:
        done = _join(writer, timeout) and done
    return done


def _join(writer: _Writer, timeout: float) -> bool:
    # Queue.join() has no timeout; unfinished_tasks under its condition is the same count.
    with writer.queue.all_tasks_done:
        return writer.queue.all_tasks_done.wait_for(lambda: writer.queue.unfinished_tasks == 0, timeout)


atexit.register(flush, None, 10.0)
