"""Who wants to know that an account's VPC resources changed (the kernel layer, above all)."""

from __future__ import annotations

import threading
from collections.abc import Callable

__all__ = ["ChangeFeed"]

Listener = Callable[[str, str], None]


class ChangeFeed:
    """Listeners are called with (account_id, region) after a change is committed."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()

    def subscribe(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def publish(self, account_id: str, region: str) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(account_id, region)
