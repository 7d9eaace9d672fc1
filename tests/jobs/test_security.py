"""Jobs and data at rest: the ML storage volume encrypted with a KMS data key, outputs written
with SSE-KMS, a disabled key failing the job with KMS's error; and jobs without a VpcConfig
running in Cove's service VPC (internet access, nothing in the user's account)."""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest

from cove.jobs.runner import job_directory
from cove.server import EmbeddedServer
from tests.jobs.conftest import client, training_request, wait_job

pytestmark = pytest.mark.root

MARKER = b"COVE-SECRET-MARKER"


def _wait_for(path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.2)


def test_the_volume_and_the_outputs_are_encrypted_with_the_jobs_key(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm, s3 = client(jobs_server, "sagemaker"), client(jobs_server, "s3")
    request = training_request(
        world,
        "train-kms",
        algo_image,
        HyperParameters={"mode": "marker"},
        ResourceConfig={
            "InstanceType": "ml.m5.large",
            "InstanceCount": 1,
            "VolumeSizeInGB": 10,
            "VolumeKmsKeyId": world["key"],
        },
        OutputDataConfig={"S3OutputPath": f"s3://{world['bucket']}/output", "KmsKeyId": world["key"]},
    )
    arn = sm.create_training_job(**request)["TrainingJobArn"]
    volume = (
        job_directory(jobs_server.cove.settings.state_dir.resolve(), "training", arn) / "algo-1" / "volume"
    )
    _wait_for(volume / "plain" / "opt_ml" / "model" / "secret.txt")
    # Readable through the mount; the bytes on disk are ciphertext, names included.
    assert MARKER in (volume / "plain" / "opt_ml" / "model" / "secret.txt").read_bytes()
    cipher_files = [p for p in (volume / "cipher").rglob("*") if p.is_file()]
    assert cipher_files
    for path in cipher_files:
        assert MARKER not in path.read_bytes()
        assert "secret" not in path.name
    sm.stop_training_job(TrainingJobName="train-kms")
    done = wait_job(sm, "train-kms")
    assert done["TrainingJobStatus"] == "Stopped"
    head = s3.head_object(Bucket=world["bucket"], Key="output/train-kms/output/model.tar.gz")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == world["key"]
    # The volume is wiped when the instance ends (just after the job reports its status, as
    # SageMaker releases instances after the job ends).
    deadline = time.monotonic() + 15
    while volume.exists():
        assert time.monotonic() < deadline, "the volume was not wiped"
        time.sleep(0.2)


def test_a_disabled_volume_key_fails_the_job_with_kmss_error(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm, kms = client(jobs_server, "sagemaker"), client(jobs_server, "kms")
    key = kms.create_key(Description="disabled for jobs")["KeyMetadata"]["Arn"]
    kms.disable_key(KeyId=key)
    request = training_request(
        world,
        "train-disabled-key",
        algo_image,
        ResourceConfig={
            "InstanceType": "ml.m5.large",
            "InstanceCount": 1,
            "VolumeSizeInGB": 10,
            "VolumeKmsKeyId": key,
        },
    )
    sm.create_training_job(**request)
    done = wait_job(sm, "train-disabled-key")
    assert done["TrainingJobStatus"] == "Failed"
    assert done["FailureReason"].startswith("ClientError: ")
    assert "DisabledException" in done["FailureReason"] and key in done["FailureReason"]


def test_a_disabled_output_key_fails_the_upload(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm, kms = client(jobs_server, "sagemaker"), client(jobs_server, "kms")
    key = kms.create_key(Description="output key, disabled")["KeyMetadata"]["Arn"]
    kms.disable_key(KeyId=key)
    request = training_request(
        world,
        "train-disabled-output-key",
        algo_image,
        OutputDataConfig={"S3OutputPath": f"s3://{world['bucket']}/output", "KmsKeyId": key},
    )
    sm.create_training_job(**request)
    done = wait_job(sm, "train-disabled-output-key")
    assert done["TrainingJobStatus"] == "Failed"
    assert done["FailureReason"].startswith("ClientError: Artifact upload failed:")
    assert "disabled" in done["FailureReason"].lower()


def test_a_job_without_vpc_config_runs_in_the_service_vpc(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm, ec2, s3 = (client(jobs_server, n) for n in ("sagemaker", "ec2", "s3"))
    request = training_request(world, "train-service-vpc", algo_image)
    del request["VpcConfig"]
    before = {e["NetworkInterfaceId"] for e in ec2.describe_network_interfaces()["NetworkInterfaces"]}
    sm.create_training_job(**request)
    done = wait_job(sm, "train-service-vpc")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert "VpcConfig" not in done
    after = {e["NetworkInterfaceId"] for e in ec2.describe_network_interfaces()["NetworkInterfaces"]}
    assert after == before  # the instances' ENIs were never the user's
    s3.head_object(Bucket=world["bucket"], Key="output/train-service-vpc/output/model.tar.gz")


def test_boto3_inside_a_job_needs_no_configuration(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm, s3 = client(jobs_server, "sagemaker"), client(jobs_server, "s3")
    request = training_request(world, "train-boto3-inside", algo_image, HyperParameters={"mode": "aws"})
    del request["VpcConfig"]  # the service VPC: internet access, so every public endpoint is reachable
    sm.create_training_job(**request)
    done = wait_job(sm, "train-boto3-inside")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    body = s3.get_object(Bucket=world["bucket"], Key="output/train-boto3-inside/output/model.tar.gz")[
        "Body"
    ].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        member = tar.extractfile("algo-1.json")
        assert member is not None
        seen = json.loads(member.read())["aws"]
    account = jobs_server.cove.account.account_id
    assert seen["sts"] == f"arn:aws:sts::{account}:assumed-role/SageMakerExecution/SageMaker", seen
    assert seen["logs"] is True, seen
    assert seen["s3"] == "train/nested/extra.csv", seen
