"""The /opt/ml tree one instance sees, written on the host side from the job's request as the API
received it (the directory is then bind-mounted at /opt/ml). File names and keys follow what
SageMaker writes and what the training toolkit, the v3 SDK drivers and the DLC scripts read.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

__all__ = [
    "CONTAINER_ROOT",
    "GROUP_NAME",
    "checkpoint_dir",
    "host_path",
    "processing_config",
    "processing_layout",
    "read_exit_message",
    "read_failure",
    "resource_config",
    "training_layout",
]

CONTAINER_ROOT = PurePosixPath("/opt/ml")
GROUP_NAME = "homogeneousCluster"
_MESSAGE_LIMIT = 1024


def host_path(root: Path, container_path: str) -> Path:
    """Where a path under /opt/ml inside the container lies on the host. A path outside /opt/ml
    (a CheckpointConfig.LocalPath may be anywhere) is kept under root/external/<path>, and the
    caller bind-mounts that directory at the path."""
    path = PurePosixPath(container_path)
    try:
        return root / path.relative_to(CONTAINER_ROOT)
    except ValueError:
        return root / "external" / str(path).lstrip("/")


def _write_json(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=4, default=str))


def resource_config(host: str, hosts: list[str], instance_type: str) -> dict[str, Any]:
    return {
        "current_host": host,
        "current_instance_type": instance_type,
        "current_group_name": GROUP_NAME,
        "hosts": list(hosts),
        "instance_groups": [
            {"instance_group_name": GROUP_NAME, "instance_type": instance_type, "hosts": list(hosts)}
        ],
        "network_interface_name": "eth0",
    }


def _channel_config(channel: dict[str, Any], default_mode: str) -> dict[str, Any]:
    source = channel.get("DataSource", {})
    s3 = source.get("S3DataSource", {})
    config: dict[str, Any] = {}
    if "ContentType" in channel:
        config["ContentType"] = channel["ContentType"]
    config["TrainingInputMode"] = channel.get("InputMode") or default_mode
    config["S3DistributionType"] = s3.get("S3DataDistributionType", "FullyReplicated")
    config["RecordWrapperType"] = channel.get("RecordWrapperType", "None")
    if "CompressionType" in channel:
        config["CompressionType"] = channel["CompressionType"]
    return config


def checkpoint_dir(root: Path, request: dict[str, Any]) -> tuple[Path, str] | None:
    """(host directory, path in the container) of the job's checkpoints, when it has CheckpointConfig."""
    checkpoint = request.get("CheckpointConfig")
    if not checkpoint:
        return None
    local = checkpoint.get("LocalPath") or "/opt/ml/checkpoints"
    return host_path(root, local), local


def training_layout(
    root: Path, request: dict[str, Any], host: str, hosts: list[str], instance_type: str
) -> None:
    """Write input/config/*.json and the directories a training container expects."""
    config = root / "input" / "config"
    algorithm = request.get("AlgorithmSpecification", {})
    default_mode = algorithm.get("TrainingInputMode", "File")
    channels = request.get("InputDataConfig", [])
    _write_json(config / "hyperparameters.json", dict(request.get("HyperParameters", {})))
    _write_json(config / "resourceconfig.json", resource_config(host, hosts, instance_type))
    _write_json(
        config / "inputdataconfig.json",
        {channel["ChannelName"]: _channel_config(channel, default_mode) for channel in channels},
    )
    _write_json(config / "trainingjobconfig.json", request)
    _write_json(config / "metric-definition-regex.json", list(algorithm.get("MetricDefinitions", [])))
    if request.get("CheckpointConfig"):
        _write_json(config / "checkpointconfig.json", request["CheckpointConfig"])
    for channel in channels:
        (root / "input" / "data" / channel["ChannelName"]).mkdir(parents=True, exist_ok=True)
    for directory in ("model", "output/data", "code"):
        (root / directory).mkdir(parents=True, exist_ok=True)
    checkpoints = checkpoint_dir(root, request)
    (checkpoints[0] if checkpoints else root / "checkpoints").mkdir(parents=True, exist_ok=True)


def _processing_input(item: dict[str, Any]) -> dict[str, Any]:
    echoed = dict(item)
    if "S3Input" in item:
        s3 = dict(item["S3Input"])
        s3.setdefault("S3DataDistributionType", "FullyReplicated")
        s3.setdefault("S3InputMode", "File")
        s3.setdefault("S3CompressionType", "None")
        s3["S3DownloadMode"] = "StartOfJob"
        echoed["S3Input"] = s3
    return echoed


def processing_config(request: dict[str, Any], arn: str | None = None) -> dict[str, Any]:
    """The processingjobconfig.json document: the request echoed with SageMaker's defaults."""
    app = request.get("AppSpecification", {})
    outputs = request.get("ProcessingOutputConfig", {})
    cluster = dict(request.get("ProcessingResources", {}).get("ClusterConfig", {}))
    cluster.setdefault("VolumeKmsKeyId", None)
    config: dict[str, Any] = {
        "ProcessingJobArn": arn,
        "ProcessingJobName": request.get("ProcessingJobName"),
        "AppSpecification": {
            "ImageUri": app.get("ImageUri"),
            "ContainerEntrypoint": app.get("ContainerEntrypoint"),
            "ContainerArguments": app.get("ContainerArguments"),
        },
        "Environment": dict(request.get("Environment", {})),
        "ProcessingInputs": [_processing_input(item) for item in request.get("ProcessingInputs", [])],
        "ProcessingOutputConfig": {
            "Outputs": [dict(item) for item in outputs.get("Outputs", [])],
            "KmsKeyId": outputs.get("KmsKeyId"),
        },
        "ProcessingResources": {"ClusterConfig": cluster},
        "RoleArn": request.get("RoleArn"),
        "StoppingCondition": dict(request.get("StoppingCondition", {"MaxRuntimeInSeconds": 86400})),
    }
    for key in ("NetworkConfig", "ExperimentConfig"):
        if key in request:
            config[key] = request[key]
    return config


def processing_layout(
    root: Path,
    request: dict[str, Any],
    host: str,
    hosts: list[str],
    instance_type: str,
    *,
    arn: str | None = None,
) -> None:
    """Write config/*.json and create every input and output LocalPath and output/."""
    _write_json(root / "config" / "processingjobconfig.json", processing_config(request, arn))
    _write_json(root / "config" / "resourceconfig.json", resource_config(host, hosts, instance_type))
    for item in request.get("ProcessingInputs", []):
        local = item.get("S3Input", {}).get("LocalPath")
        if local:
            host_path(root, local).mkdir(parents=True, exist_ok=True)
    for item in request.get("ProcessingOutputConfig", {}).get("Outputs", []):
        local = item.get("S3Output", {}).get("LocalPath")
        if local:
            host_path(root, local).mkdir(parents=True, exist_ok=True)
    (root / "output").mkdir(parents=True, exist_ok=True)


def read_failure(root: Path, kind: str = "training") -> str | None:
    """The first 1024 characters of /opt/ml/output/failure (FailureReason), or None if absent/empty."""
    path = root / "output" / "failure"
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return None
    text = text.strip()
    return text[:_MESSAGE_LIMIT] or None


def read_exit_message(root: Path) -> tuple[str | None, str | None]:
    """(message, error) from /opt/ml/output/message: its first 1 KiB as text, or the ClientError
    a processing job fails with when the file is not UTF-8."""
    path = root / "output" / "message"
    try:
        data = path.read_bytes()[:_MESSAGE_LIMIT]
    except OSError:
        return None, None
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as error:
        if error.start >= len(data) - 3 and error.reason == "unexpected end of data":
            # The 1 KiB cut fell inside a multi-byte character: keep the whole characters before it.
            return data[: error.start].decode("utf-8"), None
        return None, "ClientError: The exit message in /opt/ml/output/message is not valid UTF-8"
