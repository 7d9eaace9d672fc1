"""``Content-Encoding: aws-chunked`` bodies (``STREAMING-*`` payloads), decoded as they are read.

The wire format is ``<hex size>[;chunk-signature=<sig>]\\r\\n<data>\\r\\n`` repeated, a zero-size
chunk, then optional trailer lines (``x-amz-checksum-crc32:<base64>``) and a blank line.
"""

from __future__ import annotations

from cove.aws.http import Readable
from cove.services.s3.errors import InvalidRequest

__all__ = ["ChunkedReader", "is_aws_chunked"]

_PULL = 256 * 1024
_MAX_LINE = 4096


def is_aws_chunked(content_encoding: str | None) -> bool:
    return bool(content_encoding) and "aws-chunked" in str(content_encoding).lower()


def _incomplete() -> InvalidRequest:
    return InvalidRequest("The aws-chunked request body is incomplete or malformed.", code="IncompleteBody")


class ChunkedReader:
    """A readable over the decoded payload of an aws-chunked body; ``trailers`` is filled once the
    final chunk has been read (header names lower-case)."""

    def __init__(self, raw: Readable) -> None:
        self._raw = raw
        self._buffer = bytearray()
        self._left = 0  # bytes of the current chunk not yet returned
        self._finished = False
        self.trailers: dict[str, str] = {}

    def _fill(self, need: int) -> bool:
        while len(self._buffer) < need:
            more = self._raw.read(_PULL)
            if not more:
                return False
            self._buffer += more
        return True

    def _line(self) -> bytes:
        while True:
            end = self._buffer.find(b"\r\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 2]
                return line
            if len(self._buffer) > _MAX_LINE:
                raise _incomplete()
            more = self._raw.read(_PULL)
            if not more:
                if self._buffer:
                    line = bytes(self._buffer)
                    self._buffer.clear()
                    return line
                raise _incomplete()
            self._buffer += more

    def _next_chunk(self) -> None:
        header = self._line().split(b";", 1)[0].strip()
        try:
            size = int(header, 16)
        except ValueError:
            raise _incomplete() from None
        if size == 0:
            self._read_trailers()
            self._finished = True
        self._left = size

    def _read_trailers(self) -> None:
        while True:
            try:
                line = self._line()
            except InvalidRequest:
                return  # no trailer section at all
            if not line.strip():
                break
            name, sep, value = line.decode("latin-1").partition(":")
            if sep:
                self.trailers[name.strip().lower()] = value.strip()
        # Drain what remains so the signed-body check underneath (if any) sees the end.
        while self._raw.read(_PULL):
            pass

    def read(self, size: int = -1, /) -> bytes:
        out = bytearray()
        while not self._finished and (size < 0 or len(out) < size):
            if self._left == 0:
                self._next_chunk()
                continue
            want = self._left if size < 0 else min(self._left, size - len(out))
            if not self._buffer and not self._fill(1):
                raise _incomplete()
            take = min(want, len(self._buffer))
            out += self._buffer[:take]
            del self._buffer[:take]
            self._left -= take
            if self._left == 0:
                if not self._fill(2) or bytes(self._buffer[:2]) != b"\r\n":
                    raise _incomplete()
                del self._buffer[:2]
        return bytes(out)
