"""The data agent's plan: what to download before a job's container starts and upload after it ends.

The schema is documented in cove.runtime.transfer (the module the lead runs); this module only reads
it into frozen dataclasses, refusing what the agent cannot honour, and offers ``training_outputs`` so
the caller does not have to re-derive SageMaker's output object names.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cove.runtime.s3paths import parse_s3_uri

__all__ = [
    "Channel",
    "Checkpoint",
    "Plan",
    "PlanError",
    "Unsupported",
    "Upload",
    "load_plan",
    "parse_plan",
    "training_outputs",
]

_DATA_TYPES = {"S3Prefix", "ManifestFile"}
_DISTRIBUTIONS = {"FullyReplicated", "ShardedByS3Key"}
_MODES = {"File", "FastFile", "Pipe"}
_COMPRESSIONS = {"None", "Gzip"}


class PlanError(ValueError):
    """The plan is malformed (a caller's mistake, not the user's)."""


class Unsupported(PlanError):
    """The plan asks for input the agent does not serve (AugmentedManifestFile outside Pipe mode)."""


@dataclass(frozen=True)
class Channel:
    name: str
    s3_uri: str
    local_dir: str
    s3_data_type: str = "S3Prefix"
    distribution: str = "FullyReplicated"
    host_index: int = 0
    host_count: int = 1
    mode: str = "File"
    compression: str = "None"
    record_wrapper: str = "None"  # "RecordIO": each object one record (Pipe mode)
    attribute_names: tuple[str, ...] = ()  # AugmentedManifestFile: the attributes streamed per line


@dataclass(frozen=True)
class Checkpoint:
    s3_uri: str
    local_dir: str


@dataclass(frozen=True)
class Upload:
    kind: str  # "archive": one gzip tar at s3_uri; "tree": every file to s3_uri/<relative path>
    sources: tuple[str, ...]  # merged in order, later files overwrite earlier ones
    s3_uri: str
    kms_key_id: str | None = None
    delete: bool = False  # watch mode: remove objects whose file has gone (checkpoint sync)


@dataclass(frozen=True)
class Plan:
    result: str
    region: str
    role_arn: str = ""
    workers: int = 8
    scratch_dir: str | None = None
    channels: tuple[Channel, ...] = ()
    checkpoint: Checkpoint | None = None
    uploads: tuple[Upload, ...] = ()
    stop_file: str | None = None
    interval: float = 1.0


def _require(d: dict[str, Any], key: str, where: str) -> Any:
    if key not in d:
        raise PlanError(f"{where}: missing {key!r}")
    return d[key]


def _channel(d: dict[str, Any]) -> Channel:
    where = f"channel {d.get('name')!r}"
    channel = Channel(
        name=str(_require(d, "name", where)),
        s3_uri=str(_require(d, "s3_uri", where)),
        local_dir=str(_require(d, "local_dir", where)),
        s3_data_type=str(d.get("s3_data_type", "S3Prefix")),
        distribution=str(d.get("distribution", "FullyReplicated")),
        host_index=int(d.get("host_index", 0)),
        host_count=int(d.get("host_count", 1)),
        mode=str(d.get("mode", "File")),
        compression=str(d.get("compression", "None")),
        record_wrapper=str(d.get("record_wrapper", "None")),
        attribute_names=tuple(str(a) for a in d.get("attribute_names") or ()),
    )
    if channel.s3_data_type == "AugmentedManifestFile":
        if channel.mode != "Pipe":
            raise Unsupported(f"{where}: AugmentedManifestFile input is only supported in Pipe mode")
    elif channel.s3_data_type not in _DATA_TYPES:
        raise Unsupported(
            f"{where}: S3DataType {channel.s3_data_type} is not supported by this platform (it needs Pipe mode)"
        )
    if channel.distribution not in _DISTRIBUTIONS:
        raise PlanError(f"{where}: unknown S3DataDistributionType {channel.distribution}")
    if channel.mode not in _MODES:
        raise Unsupported(f"{where}: input mode {channel.mode} is not supported by this platform")
    if channel.compression not in _COMPRESSIONS:
        raise PlanError(f"{where}: unknown CompressionType {channel.compression}")
    if not 0 <= channel.host_index < channel.host_count:
        raise PlanError(f"{where}: host {channel.host_index} of {channel.host_count}")
    parse_s3_uri(channel.s3_uri)
    return channel


def _upload(d: dict[str, Any]) -> Upload:
    kind = str(_require(d, "kind", "upload"))
    if kind not in ("archive", "tree"):
        raise PlanError(f"upload: unknown kind {kind!r}")
    sources = d.get("sources")
    if sources is None:
        sources = [_require(d, "local_dir", "upload")]
    upload = Upload(
        kind=kind,
        sources=tuple(str(s) for s in sources),
        s3_uri=str(_require(d, "s3_uri", "upload")),
        kms_key_id=d.get("kms_key_id") or None,
        delete=bool(d.get("delete", False)),
    )
    parse_s3_uri(upload.s3_uri)
    return upload


def parse_plan(d: dict[str, Any]) -> Plan:
    download = d.get("download") or {}
    checkpoint = download.get("checkpoint")
    upload_section = d.get("upload") or []
    default_kms = None
    if isinstance(upload_section, dict):
        default_kms = upload_section.get("kms_key_id")
        upload_section = upload_section.get("items", [])
    uploads = tuple(_upload({"kms_key_id": default_kms, **u}) for u in upload_section)
    watch = d.get("watch") or {}
    region = d.get("region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    return Plan(
        result=str(_require(d, "result", "plan")),
        region=str(region or "us-east-1"),
        role_arn=str(d.get("role_arn", "")),
        workers=max(1, int(d.get("workers", 8))),
        scratch_dir=d.get("scratch_dir"),
        channels=tuple(_channel(c) for c in download.get("channels", [])),
        checkpoint=Checkpoint(str(checkpoint["s3_uri"]), str(checkpoint["local_dir"]))
        if checkpoint
        else None,
        uploads=uploads,
        stop_file=watch.get("stop_file"),
        interval=float(watch.get("interval", 1.0)),
    )


def load_plan(path: str | Path) -> Plan:
    return parse_plan(json.loads(Path(path).read_text()))


def training_outputs(
    s3_output_path: str,
    job_name: str,
    model_dirs: list[str],
    output_data_dirs: list[str],
    *,
    compression: str = "GZIP",
    kms_key_id: str | None = None,
) -> list[dict[str, Any]]:
    """Upload items for a training job: ``<S3OutputPath>/<job>/output/model.tar.gz`` (or the
    uncompressed ``…/output/model/`` with CompressionType NONE) and ``…/output/output.tar.gz``.
    ``model_dirs`` are every host's /opt/ml/model, merged in host order."""
    base = f"{s3_output_path.rstrip('/')}/{job_name}/output"
    model: dict[str, Any]
    if compression.upper() == "NONE":
        model = {"kind": "tree", "sources": model_dirs, "s3_uri": f"{base}/model/"}
    else:
        model = {"kind": "archive", "sources": model_dirs, "s3_uri": f"{base}/model.tar.gz"}
    output = {"kind": "archive", "sources": output_data_dirs, "s3_uri": f"{base}/output.tar.gz"}
    items = [model, output]
    for item in items:
        item["kms_key_id"] = kms_key_id
    return items
