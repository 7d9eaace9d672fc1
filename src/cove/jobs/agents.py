"""The data agents of every job come from one warm zygote (started on first use, replaced when it
dies): a forked agent starts in milliseconds with boto3 already imported, where a fresh Python
process spends a third of a second — twice per instance."""

from __future__ import annotations

import threading

from cove.runtime.agents import AgentZygote

__all__ = ["AgentSupply"]


class AgentSupply:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._zygote: AgentZygote | None = None

    def zygote(self) -> AgentZygote:
        with self._lock:
            if self._zygote is None or not self._zygote.alive:
                if self._zygote is not None:
                    self._zygote.close()
                self._zygote = AgentZygote.start()
            return self._zygote

    def close(self) -> None:
        with self._lock:
            if self._zygote is not None:
                self._zygote.close()
                self._zygote = None
