"""Plain HTTP request/response values passed between the ASGI edge and the protocol codecs."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qsl

__all__ = ["HttpRequest", "HttpResponse", "Readable"]


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@dataclass(slots=True)
class HttpRequest:
    """One request as received. ``path`` is the raw (still percent-encoded) path, ``query`` the
    raw query string; header names are lower-case.

    Large bodies arrive as ``stream`` (a file-like object read in the worker thread) instead of
    ``body``, so an upload is never held in memory whole.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes = b""
    scheme: str = "http"
    stream: Readable | None = None

    def drain(self) -> None:
        """Read a streamed body into ``body`` (for operations that need the whole document)."""
        if self.stream is not None:
            self.body = self.stream.read()
            self.stream = None

    @property
    def host(self) -> str:
        return self.headers.get("host", "")

    def query_items(self) -> list[tuple[str, str]]:
        return parse_qsl(self.query, keep_blank_values=True)

    def form(self) -> dict[str, str]:
        """The url-encoded form body used by the query and ec2 protocols (falls back to the query
        string for GET requests)."""
        if self.body:
            return dict(parse_qsl(self.body.decode("utf-8"), keep_blank_values=True))
        return dict(self.query_items())


@dataclass(slots=True)
class HttpResponse:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    # A large payload (S3 GetObject) is sent chunk by chunk; ``content-length`` must be set.
    stream: Iterator[bytes] | None = None
