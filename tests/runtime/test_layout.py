"""The /opt/ml trees, file by file and key by key, as SageMaker writes them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cove.runtime.layout import host_path, processing_layout, read_exit_message, read_failure, training_layout

HOSTS = ["algo-1", "algo-2"]

TRAINING: dict[str, Any] = {
    "TrainingJobName": "cvtrt-train",
    "HyperParameters": {"epochs": "2", "sagemaker_program": '"train.py"'},
    "AlgorithmSpecification": {
        "TrainingImage": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3",
        "TrainingInputMode": "File",
        "MetricDefinitions": [{"Name": "loss", "Regex": "loss=([0-9.]+)"}],
    },
    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
    "InputDataConfig": [
        {
            "ChannelName": "train",
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": "s3://b/train",
                    "S3DataDistributionType": "ShardedByS3Key",
                }
            },
            "ContentType": "text/csv",
            "CompressionType": "None",
        },
        {
            "ChannelName": "test",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/test"}},
            "InputMode": "FastFile",
        },
    ],
    "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
    "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 30},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    "CheckpointConfig": {"S3Uri": "s3://b/ckpt", "LocalPath": "/opt/ml/checkpoints/run"},
}


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def test_training_layout(tmp_path: Path) -> None:
    training_layout(tmp_path, TRAINING, "algo-2", HOSTS, "ml.m5.large")
    config = tmp_path / "input" / "config"
    assert load(config / "hyperparameters.json") == {"epochs": "2", "sagemaker_program": '"train.py"'}
    assert load(config / "resourceconfig.json") == {
        "current_host": "algo-2",
        "current_instance_type": "ml.m5.large",
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1", "algo-2"],
        "instance_groups": [
            {
                "instance_group_name": "homogeneousCluster",
                "instance_type": "ml.m5.large",
                "hosts": ["algo-1", "algo-2"],
            }
        ],
        "network_interface_name": "eth0",
    }
    assert load(config / "inputdataconfig.json") == {
        "train": {
            "ContentType": "text/csv",
            "TrainingInputMode": "File",
            "S3DistributionType": "ShardedByS3Key",
            "RecordWrapperType": "None",
            "CompressionType": "None",
        },
        "test": {
            "TrainingInputMode": "FastFile",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        },
    }
    assert load(config / "trainingjobconfig.json") == TRAINING
    assert load(config / "metric-definition-regex.json") == [{"Name": "loss", "Regex": "loss=([0-9.]+)"}]
    assert load(config / "checkpointconfig.json") == {
        "S3Uri": "s3://b/ckpt",
        "LocalPath": "/opt/ml/checkpoints/run",
    }
    for directory in (
        "input/data/train",
        "input/data/test",
        "model",
        "output/data",
        "code",
        "checkpoints/run",
    ):
        assert (tmp_path / directory).is_dir(), directory
    assert not (tmp_path / "output" / "failure").exists()


def test_training_layout_without_optional_parts(tmp_path: Path) -> None:
    request = {
        "AlgorithmSpecification": {"TrainingInputMode": "Pipe"},
        "InputDataConfig": [{"ChannelName": "c", "DataSource": {}}],
    }
    training_layout(tmp_path, request, "algo-1", ["algo-1"], "ml.t3.medium")
    config = tmp_path / "input" / "config"
    assert load(config / "hyperparameters.json") == {}
    assert load(config / "inputdataconfig.json")["c"]["TrainingInputMode"] == "Pipe"
    assert not (config / "checkpointconfig.json").exists()
    assert (tmp_path / "checkpoints").is_dir()


PROCESSING: dict[str, Any] = {
    "ProcessingJobName": "cvtrt-proc",
    "AppSpecification": {
        "ImageUri": "img:latest",
        "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/p.py"],
    },
    "Environment": {"A": "1"},
    "ProcessingInputs": [
        {
            "InputName": "code",
            "S3Input": {
                "S3Uri": "s3://b/code",
                "LocalPath": "/opt/ml/processing/input/code",
                "S3DataType": "S3Prefix",
                "S3InputMode": "File",
            },
        }
    ],
    "ProcessingOutputConfig": {
        "Outputs": [
            {
                "OutputName": "out",
                "S3Output": {
                    "S3Uri": "s3://b/o",
                    "LocalPath": "/opt/ml/processing/output/x",
                    "S3UploadMode": "EndOfJob",
                },
            }
        ]
    },
    "ProcessingResources": {
        "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.xlarge", "VolumeSizeInGB": 30}
    },
    "RoleArn": "arn:aws:iam::123456789012:role/R",
}


def test_processing_layout(tmp_path: Path) -> None:
    arn = "arn:aws:sagemaker:us-east-1:123456789012:processing-job/cvtrt-proc"
    processing_layout(tmp_path, PROCESSING, "algo-1", ["algo-1"], "ml.m5.xlarge", arn=arn)
    assert load(tmp_path / "config" / "processingjobconfig.json") == {
        "ProcessingJobArn": arn,
        "ProcessingJobName": "cvtrt-proc",
        "AppSpecification": {
            "ImageUri": "img:latest",
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/p.py"],
            "ContainerArguments": None,
        },
        "Environment": {"A": "1"},
        "ProcessingInputs": [
            {
                "InputName": "code",
                "S3Input": {
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3Uri": "s3://b/code",
                    "S3DataDistributionType": "FullyReplicated",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3CompressionType": "None",
                    "S3DownloadMode": "StartOfJob",
                },
            }
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {
                        "S3Uri": "s3://b/o",
                        "LocalPath": "/opt/ml/processing/output/x",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ],
            "KmsKeyId": None,
        },
        "ProcessingResources": {
            "ClusterConfig": {
                "InstanceCount": 1,
                "InstanceType": "ml.m5.xlarge",
                "VolumeSizeInGB": 30,
                "VolumeKmsKeyId": None,
            }
        },
        "RoleArn": "arn:aws:iam::123456789012:role/R",
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
    }
    resources = load(tmp_path / "config" / "resourceconfig.json")
    assert resources["current_host"] == "algo-1" and resources["hosts"] == ["algo-1"]
    assert resources["current_instance_type"] == "ml.m5.xlarge"
    for directory in ("processing/input/code", "processing/output/x", "output"):
        assert (tmp_path / directory).is_dir(), directory


def test_host_paths() -> None:
    root = Path("/srv/opt_ml")
    assert host_path(root, "/opt/ml/processing/x") == root / "processing" / "x"
    assert host_path(root, "/checkpoints") == root / "external" / "checkpoints"


def test_failure_and_exit_message(tmp_path: Path) -> None:
    assert read_failure(tmp_path, "training") is None
    (tmp_path / "output").mkdir()
    (tmp_path / "output" / "failure").write_text("ValueError: bad\n" + "x" * 2000)
    failure = read_failure(tmp_path, "training")
    assert failure is not None and failure.startswith("ValueError: bad") and len(failure) == 1024
    assert read_exit_message(tmp_path) == (None, None)
    (tmp_path / "output" / "message").write_text("é" * 600)  # 1200 bytes: the 1 KiB cut splits a character
    message, error = read_exit_message(tmp_path)
    assert error is None and message == "é" * 512
    (tmp_path / "output" / "message").write_bytes(b"\xff\xfe bad")
    assert read_exit_message(tmp_path) == (
        None,
        "ClientError: The exit message in /opt/ml/output/message is not valid UTF-8",
    )
