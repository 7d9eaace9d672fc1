"""A counter bumped on every IAM write, so in-process caches of keys and policies know to refresh."""

from __future__ import annotations

import threading

__all__ = ["bump", "current"]

_lock = threading.Lock()
_value = 0


def bump() -> None:
    global _value
    with _lock:
        _value += 1


def current() -> int:
    return _value
