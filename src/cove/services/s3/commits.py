"""Group commit for object writes: one thread makes the blobs of every write in flight durable and
commits their rows in one transaction, instead of each request doing both in a thread of its own.

A small PUT costs more in thread switches and SQLite transactions than in work: handing each to a
worker thread that syncs two files and commits alone makes a dozen threads fight for the GIL and
the database's write lock. Here the request thread (the event loop, for bodies held in memory)
stages the blob and hands it over; the committer takes everything queued, places the blobs
together (``BlobStore.place``: each blob's data synced before its rename, directory syncs shared,
the syncs of each step side by side so the file system commits its journal once for all of them),
runs each write's row changes in one transaction, and only then resolves the writes' futures. A
write is acknowledged only once its blob and its row are durable, exactly as before; a crash
leaves the old object or the new one, and at worst an orphan blob for the start-up sweep.

While one batch is syncing, the next one queues: the busier the server, the larger the batches,
with no timer anywhere.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection

from cove.db import Database
from cove.services.cloudtrail import events
from cove.storage import BlobStore, StagedBlob

__all__ = ["Committer", "RowWork", "delete_blobs"]

log = logging.getLogger("cove.s3")

T = TypeVar("T")
# A write's row changes: run inside the batch's transaction; returns the blob ids it replaced
# (deleted once the transaction has committed).
RowWork = Callable[[Connection], list[str]]
_BATCH = 64
# Threads that sync a batch's files side by side (see BlobStore.place): one per write in a full
# batch of a busy client would be wasted; past a dozen the journal commit is shared anyway.
_SYNC_THREADS = 12


@dataclass(slots=True)
class _Write(Generic[T]):
    staged: StagedBlob
    work: RowWork
    output: T
    future: Future[T] = field(default_factory=Future)


class Committer:
    """The group committer of one blob store and database (see the module docstring)."""

    def __init__(self, db: Database, store: BlobStore) -> None:
        self._db = db
        self._store = store
        self._queue: queue.SimpleQueue[_Write[Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._syncs = ThreadPoolExecutor(max_workers=_SYNC_THREADS, thread_name_prefix="cove-s3-sync")

    def submit(self, staged: StagedBlob, work: RowWork, output: T) -> Future[T]:
        """Place ``staged`` and commit ``work``; the future gives ``output`` once both are durable,
        or the error that stopped them (the new blob then removed, but for a failed COMMIT itself,
        whose blob is left to the sweep as it may yet be referenced)."""
        write: _Write[T] = _Write(staged, work, output)
        # Running from the start: a request that goes away cannot cancel a write half done.
        write.future.set_running_or_notify_cancel()
        self._start()
        self._queue.put(write)
        return write.future

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="cove-s3-committer", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < _BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._commit(batch)
            except BaseException as exc:  # never leave a request waiting, whatever went wrong
                log.exception("group commit failed")
                for write in batch:
                    if not write.future.done():
                        write.future.set_exception(exc)

    def _commit(self, batch: list[_Write[Any]]) -> None:
        errors = self._store.place([write.staged for write in batch], pool=self._syncs)
        placed: list[_Write[Any]] = []
        for write, error in zip(batch, errors, strict=True):
            if error is None:
                placed.append(write)
            else:
                write.future.set_exception(error)
        if not placed:
            return
        try:
            with events.commit_lock(self._db), self._db.engine.begin() as conn:
                replaced = [write.work(conn) for write in placed]
        except Exception:
            # One write's failure (a precondition that no longer holds) must not fail the others:
            # the transaction rolled back, so each commits alone now.
            for write in placed:
                self._commit_alone(write)
            return
        for write, blob_ids in zip(placed, replaced, strict=True):
            self._delete(blob_ids)
            write.future.set_result(write.output)

    def _commit_alone(self, write: _Write[Any]) -> None:
        reached_commit = False
        try:
            with events.commit_lock(self._db), self._db.engine.begin() as conn:
                blob_ids = write.work(conn)
                reached_commit = True
        except Exception as exc:
            if not reached_commit:
                self._delete([write.staged.info.blob_id])
            write.future.set_exception(exc)
            return
        self._delete(blob_ids)
        write.future.set_result(write.output)

    def _delete(self, blob_ids: list[str]) -> None:
        delete_blobs(self._store, blob_ids)


def delete_blobs(store: BlobStore, blob_ids: list[str]) -> None:
    """Remove blobs no row refers to any more; one that will not go is left to the start-up sweep."""
    for blob_id in blob_ids:
        try:
            store.delete(blob_id)
        except OSError:
            log.warning("could not delete blob", extra={"blob_id": blob_id}, exc_info=True)
