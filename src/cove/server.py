"""Running the ASGI app under uvicorn: in the foreground (``cove server``) or in a thread."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from cove.app import Cove, build
from cove.settings import Settings

__all__ = ["EmbeddedServer", "free_port", "serve"]


def _config(cove: Cove, *, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        cove.asgi(),
        host=cove.settings.host,
        port=cove.settings.port,
        lifespan="on",
        log_level=log_level,
        access_log=False,
        loop="uvloop",
        http="httptools",
        # The client address is the request's aws:SourceIp: never take it from X-Forwarded-For
        # (uvicorn trusts that header from 127.0.0.1 by default, so any local client could claim any
        # address to a bucket policy). Skipping the middleware also saves its work on every request.
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


def serve(settings: Settings) -> None:
    """Serve until SIGINT/SIGTERM; uvicorn drains open requests before the lifespan shutdown."""
    cove = build(settings)
    uvicorn.Server(_config(cove, log_level="warning")).run()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class EmbeddedServer:
    """A Cove server in a background thread of this process (tests, ``cove run``, benchmarks)."""

    def __init__(self, settings: Settings) -> None:
        self.cove = build(settings)
        self._server = uvicorn.Server(_config(self.cove, log_level="warning"))
        self._thread = threading.Thread(target=self._server.run, name="cove-server", daemon=True)

    @property
    def endpoint_url(self) -> str:
        return self.cove.settings.endpoint_url

    def start(self, timeout: float = 15.0) -> EmbeddedServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the embedded Cove server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self, *exc: tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
    ) -> None:
        self.stop()
