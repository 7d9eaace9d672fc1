"""Pipe input mode: each channel's objects streamed through named pipes, one per epoch.

SageMaker creates ``/opt/ml/input/data/<channel>_0``; the algorithm opens it and reads to the end
(or closes it early), and the next epoch's pipe ``<channel>_1`` appears, and so on for as long as the
job runs. Every epoch streams the channel's objects (this host's shard of them) in key order,
gunzipped when the channel's CompressionType is Gzip, each wrapped as one RecordIO record when its
RecordWrapperType is RecordIO; an AugmentedManifestFile channel streams, for each JSON line, one
RecordIO record per attribute in AttributeNames (a `…-ref` attribute's S3 object, else its value).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cove.runtime import s3failures
from cove.runtime.s3failures import DOWNLOAD, TransferFailure
from cove.runtime.s3paths import parse_s3_uri
from cove.runtime.transferplan import Channel

__all__ = ["PipeChannel", "recordio", "serve_pipes"]

_CHUNK = 1 << 20
_RECORDIO_MAGIC = 0xCED7230A


def recordio(payload: bytes) -> bytes:
    """One MXNet RecordIO record (magic, length, data, padding to 4 bytes), as SageMaker wraps an
    object for a RecordIO channel."""
    header = struct.pack("<II", _RECORDIO_MAGIC, len(payload))
    return header + payload + b"\0" * (-len(payload) % 4)


class PipeChannel:
    """One channel's epochs, served by a thread until `stop` is set."""

    def __init__(
        self,
        client: Any,
        channel: Channel,
        objects: list[tuple[str, str]],
        stop: threading.Event,
        log: Callable[[str], None],
    ) -> None:
        self.client = client
        self.channel = channel
        self.objects = objects  # (bucket, key), in the order every epoch streams them
        self.stop = stop
        self.log = log
        self.epochs = 0
        self.error: TransferFailure | None = None
        self._lines: list[dict[str, Any]] = []
        self.thread = threading.Thread(target=self._serve, name=f"pipe-{channel.name}", daemon=True)

    def _pipe(self, epoch: int) -> Path:
        return Path(f"{self.channel.local_dir.rstrip('/')}_{epoch}")

    def _open(self, path: Path) -> int | None:
        """The pipe's write end once the algorithm opens it for reading; None if the job stops first."""
        while not self.stop.is_set():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:  # ENXIO: nobody reads yet
                    raise
                time.sleep(0.05)
                continue
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
            return fd
        return None

    def _chunks(self, bucket: str, key: str) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=bucket, Key=key)["Body"]
        except Exception as exc:
            raise s3failures.from_exception(exc, DOWNLOAD, f"s3://{bucket}/{key}") from exc
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS) if self.channel.compression == "Gzip" else None
        for chunk in iter(lambda: body.read(_CHUNK), b""):
            yield inflate.decompress(chunk) if inflate else chunk
        if inflate:
            yield inflate.flush()

    def _manifest_lines(self) -> list[dict[str, Any]]:
        """An augmented manifest's JSON lines, this host's share of them (ShardedByS3Key deals lines)."""
        location = parse_s3_uri(self.channel.s3_uri)
        text = b"".join(self._chunks(location.bucket, location.key)).decode()
        lines = [json.loads(line) for line in text.splitlines() if line.strip()]
        if self.channel.distribution == "ShardedByS3Key":
            lines = lines[self.channel.host_index :: self.channel.host_count]
        return lines

    def _attribute(self, line: dict[str, Any], name: str) -> bytes:
        """One record's payload: a `-ref` attribute names an S3 object, which is streamed; any other
        is the attribute's value (text as is, anything else as JSON)."""
        if name not in line:
            raise TransferFailure(
                f"ClientError: Data download failed:The attribute {name} is missing from a line of the "
                f"augmented manifest {self.channel.s3_uri}.",
                "augmented manifest",
            )
        value = line[name]
        if name.endswith("-ref"):
            location = parse_s3_uri(str(value))
            return b"".join(self._chunks(location.bucket, location.key))
        return value.encode() if isinstance(value, str) else json.dumps(value).encode()

    def _stream(self, fd: int) -> None:
        with os.fdopen(fd, "wb", buffering=0) as pipe:
            try:
                if self.channel.s3_data_type == "AugmentedManifestFile":
                    for line in self._lines:
                        for name in self.channel.attribute_names:
                            if self.stop.is_set():
                                return
                            pipe.write(recordio(self._attribute(line, name)))
                    return
                for bucket, key in self.objects:
                    if self.stop.is_set():
                        return
                    if self.channel.record_wrapper == "RecordIO":
                        pipe.write(recordio(b"".join(self._chunks(bucket, key))))
                        continue
                    for chunk in self._chunks(bucket, key):
                        pipe.write(chunk)
            except BrokenPipeError:  # the algorithm stopped reading this epoch early: allowed
                return

    def _serve(self) -> None:
        try:
            if self.channel.s3_data_type == "AugmentedManifestFile":
                self._lines = self._manifest_lines()
            while not self.stop.is_set():
                path = self._pipe(self.epochs)
                path.parent.mkdir(parents=True, exist_ok=True)
                if not path.exists():
                    os.mkfifo(path, 0o600)
                fd = self._open(path)
                if fd is None:
                    path.unlink(missing_ok=True)
                    return
                self._stream(fd)
                path.unlink(missing_ok=True)
                self.log(f"channel {self.channel.name}: epoch {self.epochs} streamed")
                self.epochs += 1
        except TransferFailure as exc:
            self.error = exc
            self.stop.set()


def serve_pipes(
    client: Any,
    channels: list[tuple[Channel, list[tuple[str, str]]]],
    stop_file: Path | None,
    log: Callable[[str], None] = print,
) -> list[PipeChannel]:
    """Serve every Pipe channel until `stop_file` appears (or a channel fails); the channels, with
    their epoch counts and first error."""
    stop = threading.Event()
    served = [PipeChannel(client, channel, objects, stop, log) for channel, objects in channels]
    for pipe in served:
        pipe.thread.start()
    while not stop.is_set() and not (stop_file is not None and stop_file.exists()):
        time.sleep(0.1)
    stop.set()
    for pipe in served:
        pipe.thread.join(timeout=10)
    return served
