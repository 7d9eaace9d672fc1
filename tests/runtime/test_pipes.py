"""Pipe mode: epochs through named pipes, gzip inflated, RecordIO framing, early close allowed."""

from __future__ import annotations

import gzip
import json
import struct
import threading
import time
from pathlib import Path

from cove.runtime.pipes import PipeChannel, recordio
from cove.runtime.transferplan import Channel
from tests.conftest import ClientFactory


def test_recordio_frames_a_payload_with_magic_length_and_padding() -> None:
    framed = recordio(b"abcde")
    assert struct.unpack("<II", framed[:8]) == (0xCED7230A, 5)
    assert framed[8:13] == b"abcde" and framed[13:] == b"\0\0\0"
    assert len(recordio(b"abcd")) == 12


def _read(path: Path, limit: int | None = None, timeout: float = 10.0) -> bytes:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.02)
    with open(path, "rb") as pipe:
        return pipe.read(limit) if limit else pipe.read()


def test_each_epoch_streams_the_objects_and_an_early_close_moves_on(
    client: ClientFactory, tmp_path: Path
) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="pipe-test")
    bodies = [b"first record\n" * 1000, b"second\n"]
    for index, body in enumerate(bodies):
        s3.put_object(Bucket="pipe-test", Key=f"data/{index}.gz", Body=gzip.compress(body))
    channel = Channel(
        name="train",
        s3_uri="s3://pipe-test/data/",
        local_dir=str(tmp_path / "train"),
        mode="Pipe",
        compression="Gzip",
        record_wrapper="RecordIO",
    )
    stop = threading.Event()
    pipe = PipeChannel(
        s3, channel, [("pipe-test", "data/0.gz"), ("pipe-test", "data/1.gz")], stop, lambda _: None
    )
    pipe.thread.start()
    try:
        whole = _read(tmp_path / "train_0")
        assert whole == recordio(bodies[0]) + recordio(bodies[1])
        partial = _read(tmp_path / "train_1", limit=8)  # the algorithm stops reading early
        assert partial == struct.pack("<II", 0xCED7230A, len(bodies[0]))
        assert _read(tmp_path / "train_2") == whole
    finally:
        stop.set()
        pipe.thread.join(timeout=10)
    assert pipe.error is None and pipe.epochs >= 3
    assert not list(tmp_path.glob("train_*"))  # no pipe is left behind


def test_an_augmented_manifest_streams_one_record_per_attribute(
    client: ClientFactory, tmp_path: Path
) -> None:
    s3 = client("s3")
    s3.create_bucket(Bucket="pipe-manifest")
    s3.put_object(Bucket="pipe-manifest", Key="img/a.jpg", Body=b"JPEG-A")
    s3.put_object(Bucket="pipe-manifest", Key="img/b.jpg", Body=b"JPEG-B")
    lines = [
        {"source-ref": "s3://pipe-manifest/img/a.jpg", "label": 1, "note": "skip me"},
        {"source-ref": "s3://pipe-manifest/img/b.jpg", "label": {"class": 0}},
    ]
    s3.put_object(
        Bucket="pipe-manifest",
        Key="train.manifest",
        Body="\n".join(json.dumps(line) for line in lines).encode(),
    )
    channel = Channel(
        name="train",
        s3_uri="s3://pipe-manifest/train.manifest",
        local_dir=str(tmp_path / "train"),
        s3_data_type="AugmentedManifestFile",
        mode="Pipe",
        record_wrapper="RecordIO",
        attribute_names=("source-ref", "label"),
    )
    stop = threading.Event()
    pipe = PipeChannel(s3, channel, [], stop, lambda _: None)
    pipe.thread.start()
    try:
        streamed = _read(tmp_path / "train_0")
    finally:
        stop.set()
        pipe.thread.join(timeout=10)
    assert pipe.error is None
    assert streamed == recordio(b"JPEG-A") + recordio(b"1") + recordio(b"JPEG-B") + recordio(b'{"class": 0}')
