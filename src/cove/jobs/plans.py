"""What the data agent moves for a job: plans built from the Create*Job request (schema in
`cove.runtime.transfer`). Paths are as the agent sees them inside the instance: /opt/ml/…"""

from __future__ import annotations

from typing import Any

from cove.jobs.network import InstanceNet

__all__ = [
    "HOSTS_MOUNT",
    "SCRATCH",
    "continuous_outputs",
    "download",
    "model_artifacts",
    "output_prefix",
    "pipes",
    "processing_upload",
    "training_upload",
]

HOSTS_MOUNT = "/opt/ml/.cove-hosts"
SCRATCH = "/opt/ml/.cove-scratch"
"""Where the upload agent sees every instance's /opt/ml (training merges all hosts' model dirs)."""


def _index(net: InstanceNet) -> int:
    return int(net.host.rsplit("-", 1)[1]) - 1


def download(kind: str, request: dict[str, Any], net: InstanceNet, count: int) -> dict[str, Any]:
    channels: list[dict[str, Any]] = []
    if kind == "training":
        default_mode = (request.get("AlgorithmSpecification") or {}).get("TrainingInputMode") or "File"
        for channel in request.get("InputDataConfig") or []:
            source = (channel.get("DataSource") or {}).get("S3DataSource")
            if source is None:
                continue
            channels.append(
                {
                    "name": channel["ChannelName"],
                    "s3_uri": source["S3Uri"],
                    "local_dir": f"/opt/ml/input/data/{channel['ChannelName']}",
                    "s3_data_type": source.get("S3DataType") or "S3Prefix",
                    "distribution": source.get("S3DataDistributionType") or "FullyReplicated",
                    "host_index": _index(net),
                    "host_count": count,
                    "mode": channel.get("InputMode") or default_mode,
                    "compression": channel.get("CompressionType") or "None",
                    "record_wrapper": channel.get("RecordWrapperType") or "None",
                    "attribute_names": list(source.get("AttributeNames") or []),
                }
            )
        plan: dict[str, Any] = {"download": {"channels": channels}, **_context(request)}
        checkpoint = request.get("CheckpointConfig")
        if checkpoint and checkpoint.get("S3Uri"):
            plan["download"]["checkpoint"] = {
                "s3_uri": checkpoint["S3Uri"],
                "local_dir": checkpoint.get("LocalPath") or "/opt/ml/checkpoints",
            }
        return plan
    for item in request.get("ProcessingInputs") or []:
        source = item.get("S3Input")
        if source is None or item.get("AppManaged"):
            continue
        channels.append(
            {
                "name": item["InputName"],
                "s3_uri": source["S3Uri"],
                "local_dir": source["LocalPath"],
                "s3_data_type": source.get("S3DataType") or "S3Prefix",
                "distribution": source.get("S3DataDistributionType") or "FullyReplicated",
                "host_index": _index(net),
                "host_count": count,
                "mode": source.get("S3InputMode") or "File",
                "compression": source.get("S3CompressionType") or "None",
            }
        )
    return {"download": {"channels": channels}, **_context(request)}


def _context(request: dict[str, Any]) -> dict[str, Any]:
    """What the agent's messages name (the role in "No S3 objects found …"), and where it builds
    archives: on the instance's volume, not the host's /tmp."""
    return {"role_arn": request["RoleArn"], "scratch_dir": SCRATCH}


def pipes(request: dict[str, Any], net: InstanceNet, count: int, stop_file: str) -> dict[str, Any] | None:
    """The watch plan that streams a training job's Pipe-mode channels while it runs (None: none)."""
    plan = download("training", request, net, count)
    channels = [c for c in plan["download"]["channels"] if c["mode"] == "Pipe"]
    if not channels:
        return None
    return {"download": {"channels": channels}, "watch": {"stop_file": stop_file}, **_context(request)}


def output_prefix(request: dict[str, Any], job_name: str) -> str:
    path = str(request["OutputDataConfig"]["S3OutputPath"]).rstrip("/")
    return f"{path}/{job_name}/output"


def model_artifacts(request: dict[str, Any], job_name: str) -> str:
    compression = (request.get("OutputDataConfig") or {}).get("CompressionType") or "GZIP"
    prefix = output_prefix(request, job_name)
    return f"{prefix}/model/" if compression == "NONE" else f"{prefix}/model.tar.gz"


def training_upload(request: dict[str, Any], job_name: str, hosts: list[str]) -> dict[str, Any]:
    """model.tar.gz (or the uncompressed model/ prefix) and output.tar.gz, every host's files merged."""
    output = request["OutputDataConfig"]
    prefix = output_prefix(request, job_name)
    compression = output.get("CompressionType") or "GZIP"
    models = [f"{HOSTS_MOUNT}/{h}/model" for h in hosts]
    datas = [f"{HOSTS_MOUNT}/{h}/output/data" for h in hosts]
    items: list[dict[str, Any]] = [
        {"kind": "tree", "sources": models, "s3_uri": f"{prefix}/model"}
        if compression == "NONE"
        else {"kind": "archive", "sources": models, "s3_uri": f"{prefix}/model.tar.gz"},
        {"kind": "archive", "sources": datas, "s3_uri": f"{prefix}/output.tar.gz"},
    ]
    return {"upload": {"kms_key_id": output.get("KmsKeyId"), "items": items}, **_context(request)}


def processing_upload(request: dict[str, Any], *, continuous: bool | None = None) -> dict[str, Any]:
    """EndOfJob outputs (continuous=False), Continuous ones (True), or all of them (None: the final
    pass after the container ends uploads whatever a Continuous output still lacks)."""
    config = request.get("ProcessingOutputConfig") or {}
    items = [
        {"kind": "tree", "sources": [o["S3Output"]["LocalPath"]], "s3_uri": o["S3Output"]["S3Uri"]}
        for o in config.get("Outputs") or []
        if o.get("S3Output")
        and not o.get("AppManaged")
        and (continuous is None or (o["S3Output"].get("S3UploadMode") == "Continuous") == continuous)
    ]
    return {"upload": {"kms_key_id": config.get("KmsKeyId"), "items": items}, **_context(request)}


def continuous_outputs(kind: str, request: dict[str, Any], stop_file: str) -> dict[str, Any] | None:
    """What is uploaded while the job runs (None when nothing is): processing outputs with
    S3UploadMode Continuous; a training job's checkpoints, kept in step with the local directory
    (uploads and deletes) on every host, the last pass after the algorithm ends."""
    if kind == "processing":
        plan = processing_upload(request, continuous=True)
    else:
        checkpoint = request.get("CheckpointConfig") or {}
        if not checkpoint.get("S3Uri"):
            return None
        local = checkpoint.get("LocalPath") or "/opt/ml/checkpoints"
        item = {"kind": "tree", "sources": [local], "s3_uri": checkpoint["S3Uri"], "delete": True}
        plan = {"upload": {"items": [item]}, **_context(request)}
    if not plan["upload"]["items"]:
        return None
    return plan | {"watch": {"stop_file": stop_file, "interval": 1.0}}
