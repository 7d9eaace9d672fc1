"""The background writer that commits audit events outside every request's transaction.

A request records its events while it may still hold its own write transaction (SQLite allows one
writer at a time): committing synchronously there would wait on the caller's own lock. Instead the
event is queued and a per-database thread commits queued events in short transactions of its own,
so the request never waits for a commit and its rollback cannot take the event with it.

SQLite lets one writer in at a time and makes the others poll, sleeping 1 ms and more between
tries: a request committing while the writer holds the lock for a few hundred microseconds loses a
millisecond or more. :func:`commit_lock` is a per-database lock the writer holds while it commits;
the services that commit on every request (S3's object writes) take it too, so they queue on a
Python lock that hands the database over at once instead.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert

from cove.db import Database
from cove.services.cloudtrail.tables import AuditEventRow, AuditResourceRow

__all__ = ["PendingEvent", "commit_lock", "enqueue", "flush"]

log = logging.getLogger("cove.audit")

# A writer with nothing to do stops (and lets go of its database); the next event starts another.
_IDLE_S = 2.0
_BATCH = 500
# After the first event of a batch the writer waits this long for more (unless someone flushes):
# one transaction for every event of a busy moment instead of one each, the commit costing more
# than the rows. Nothing reads events without flushing first, so nobody sees the delay.
_LINGER_S = 0.025


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """One event's rows, built (and so snapshotted) in the recording thread."""

    event: dict[str, Any]
    resources: tuple[dict[str, Any], ...]


class _Writer:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.queue: queue.Queue[PendingEvent] = queue.Queue()
        self.hurry = threading.Event()
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
            # Sleeping rather than waiting on the queue: recording an event then wakes nobody.
            self.hurry.wait(_LINGER_S)
            self.hurry.clear()
            batch = [first]
            while len(batch) < _BATCH:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            else:
                self.hurry.set()  # a full batch, and more waiting: no need to linger for the next
            try:
                self._write(batch)
            except Exception:
                log.exception("could not record %d audit event(s)", len(batch))
            finally:
                for _ in batch:
                    self.queue.task_done()

    def _write(self, batch: list[PendingEvent]) -> None:
        # Two statements for the whole batch (multi-row INSERT … RETURNING, in parameter order),
        # not two per event: the transaction, and so the database's write lock, stays short.
        with commit_lock(self.db), self.db.engine.begin() as conn:
            seqs = conn.execute(
                insert(AuditEventRow).returning(AuditEventRow.seq, sort_by_parameter_order=True),
                [pending.event for pending in batch],
            ).scalars()
            resources = [
                {"event_seq": seq, **r}
                for seq, pending in zip(seqs, batch, strict=True)
                for r in pending.resources
            ]
            if resources:
                conn.execute(insert(AuditResourceRow), resources)


_lock = threading.Lock()
_writers: dict[int, _Writer] = {}
_commit_locks: dict[int, threading.RLock] = {}


def commit_lock(db: Database) -> AbstractContextManager[Any]:
    """Hold while committing to ``db`` when it is SQLite (see the module docstring); a no-op for
    databases with row-level locking, where writers need not queue. Re-entrant."""
    if db.engine.dialect.name != "sqlite":
        return nullcontext()
    lock = _commit_locks.get(id(db))
    if lock is None:
        with _lock:
            lock = _commit_locks.setdefault(id(db), threading.RLock())
    return lock


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
    for writer in writers:
        writer.hurry.set()
    done = True
    for writer in writers:
        done = _join(writer, timeout) and done
    return done


def _join(writer: _Writer, timeout: float) -> bool:
    # Queue.join() has no timeout; unfinished_tasks under its condition is the same count.
    with writer.queue.all_tasks_done:
        return writer.queue.all_tasks_done.wait_for(lambda: writer.queue.unfinished_tasks == 0, timeout)


atexit.register(flush, None, 10.0)
