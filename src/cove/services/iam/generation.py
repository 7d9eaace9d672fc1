"""A counter bumped on every IAM write, and caches that empty themselves when it moves.

Caches are per process: correct for the one-process server, where every write goes through this
process. A multi-node control plane (PostgreSQL) will need a shared generation instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

__all__ = ["GenerationCache", "bump", "current", "touch"]

_lock = threading.Lock()
_value = 0

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def bump() -> None:
    global _value
    with _lock:
        _value += 1


def current() -> int:
    return _value


def touch(session: Session) -> None:
    """Mark ``session`` as changing IAM state: the generation moves once it commits, so no reader
    can cache a value the commit is about to replace."""
    session.info[_FLAG] = True


_FLAG = "cove.iam.changed"


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.info.pop(_FLAG, False):
        bump()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_FLAG, None)


class GenerationCache(Generic[K, V]):
    """Read-through cache of IAM-derived values, valid until the next IAM write."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._entries: dict[K, V] = {}
        self._generation = -1
        self._max = max_entries

    def get(self, key: K, load: Callable[[], V]) -> V:
        gen = current()
        with self._lock:
            if gen != self._generation:
                self._entries.clear()
                self._generation = gen
            if key in self._entries:
                return self._entries[key]
        value = load()
        with self._lock:
            # A write that happened while loading makes the value suspect: do not keep it.
            if self._generation == gen == current():
                if len(self._entries) >= self._max:
                    self._entries.clear()
                self._entries[key] = value
        return value
