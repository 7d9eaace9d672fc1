"""A container credentials endpoint on loopback for the data agent's tests: answers every GET with
the credentials `answer()` gives, in the endpoint's JSON, and records the paths it was asked."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["serving"]


@contextmanager
def serving(answer: Callable[[], dict[str, str]]) -> Iterator[tuple[str, list[str]]]:
    """(the endpoint's URI for AWS_CONTAINER_CREDENTIALS_FULL_URI, the paths asked so far)."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            body = json.dumps(answer()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v2/credentials/tok", asked
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
