"""Processing jobs: the image's entrypoint (or ContainerEntrypoint) on every instance, inputs
sharded by S3 key, outputs uploaded from each instance, ExitMessage and failures as SageMaker."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from cove.server import EmbeddedServer
from tests.jobs.conftest import client, wait_job

pytestmark = pytest.mark.root

SCRIPT = r"""
import json, os, socket, sys
cfg = json.load(open("/opt/ml/config/processingjobconfig.json"))
rc = json.load(open("/opt/ml/config/resourceconfig.json"))
files = []
for root, _, names in os.walk("/opt/ml/processing/data"):
    files += [os.path.relpath(os.path.join(root, n), "/opt/ml/processing/data") for n in names]
host = socket.gethostname()
os.makedirs("/opt/ml/processing/output/nested", exist_ok=True)
json.dump({"host": host, "files": sorted(files), "hosts": rc["hosts"], "argv": sys.argv[1:],
           "job": cfg["ProcessingJobName"]},
          open(f"/opt/ml/processing/output/nested/{host}.json", "w"))
open("/opt/ml/output/message", "w").write(f"{host} processed {len(files)} files. ")
print(f"{host} done", flush=True)
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
"""


def _code(jobs_server: EmbeddedServer, world: dict[str, Any], name: str, source: str) -> dict[str, Any]:
    """The script as the SDK's ScriptProcessor ships it: an S3 input named `code`."""
    key = f"{name}/input/code/script.py"
    client(jobs_server, "s3").put_object(Bucket=world["bucket"], Key=key, Body=source.encode())
    return {
        "InputName": "code",
        "S3Input": {
            "S3Uri": f"s3://{world['bucket']}/{key}",
            "LocalPath": "/opt/ml/processing/input/code",
            "S3DataType": "S3Prefix",
            "S3InputMode": "File",
            "S3DataDistributionType": "FullyReplicated",
        },
    }


def _request(
    jobs_server: EmbeddedServer,
    world: dict[str, Any],
    name: str,
    image: str,
    source: str = SCRIPT,
    **overrides: Any,
) -> dict[str, Any]:
    request: dict[str, Any] = {
        "ProcessingJobName": name,
        "RoleArn": world["role"],
        "AppSpecification": {
            "ImageUri": image,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/script.py"],
            "ContainerArguments": ["--split", "0.2"],
        },
        "ProcessingInputs": [
            _code(jobs_server, world, name, source),
            {
                "InputName": "raw",
                "S3Input": {
                    "S3Uri": f"s3://{world['bucket']}/train/",
                    "LocalPath": "/opt/ml/processing/data",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "ShardedByS3Key",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "features",
                    "S3Output": {
                        "S3Uri": f"s3://{world['bucket']}/processed/{name}",
                        "LocalPath": "/opt/ml/processing/output",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}
        },
        "NetworkConfig": {
            "VpcConfig": {"SecurityGroupIds": [world["group"]], "Subnets": [world["subnets"]["private"]]}
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        "Environment": {"EXIT_CODE": "0"},
    }
    request.update(overrides)
    return request


def test_two_instances_each_process_their_shard_and_upload(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm, s3 = client(jobs_server, "sagemaker"), client(jobs_server, "s3")
    sm.create_processing_job(**_request(jobs_server, world, "prep-sharded", algo_image))
    done = wait_job(sm, "prep-sharded", "processing")
    assert done["ProcessingJobStatus"] == "Completed", done.get("FailureReason")
    assert "ProcessingStartTime" in done and "ProcessingEndTime" in done
    assert "algo-1 processed" in done["ExitMessage"] and "algo-2 processed" in done["ExitMessage"]
    reports = {}
    for host in ("algo-1", "algo-2"):
        key = f"processed/prep-sharded/nested/{host}.json"
        reports[host] = json.loads(s3.get_object(Bucket=world["bucket"], Key=key)["Body"].read())
    shards = [set(r["files"]) for r in reports.values()]
    assert shards[0] and shards[1] and not shards[0] & shards[1]
    assert shards[0] | shards[1] == {f"part-{i}.csv" for i in range(6)} | {"nested/extra.csv"}
    assert reports["algo-1"]["hosts"] == ["algo-1", "algo-2"]
    assert reports["algo-2"]["argv"] == ["--split", "0.2"]
    assert reports["algo-1"]["job"] == "prep-sharded"


def test_a_failing_container_fails_the_job_with_its_message(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm = client(jobs_server, "sagemaker")
    request = _request(jobs_server, world, "prep-fails", algo_image, Environment={"EXIT_CODE": "3"})
    request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 1
    sm.create_processing_job(**request)
    done = wait_job(sm, "prep-fails", "processing")
    assert done["ProcessingJobStatus"] == "Failed"
    assert done["FailureReason"].startswith("AlgorithmError: ")
    assert "algo-1 processed" in done["FailureReason"]
    assert done["ExitMessage"].startswith("algo-1 processed")


def test_network_isolation_leaves_the_container_without_a_network(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm, s3 = client(jobs_server, "sagemaker"), client(jobs_server, "s3")
    probe = (
        "import json, socket, os\n"
        "names = sorted(os.listdir('/sys/class/net'))\n"
        "try:\n"
        "    socket.create_connection(('198.18.16.10', 80), timeout=2); reached = True\n"
        "except OSError:\n"
        "    reached = False\n"
        "os.makedirs('/opt/ml/processing/output', exist_ok=True)\n"
        "json.dump({'links': names, 'reached': reached, 'creds': 'AWS_CONTAINER_CREDENTIALS_FULL_URI' in os.environ},"
        " open('/opt/ml/processing/output/net.json', 'w'))\n"
    )
    request = _request(jobs_server, world, "prep-isolated", algo_image, probe)
    del request["AppSpecification"]["ContainerArguments"]
    request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 1
    request["NetworkConfig"]["EnableNetworkIsolation"] = True
    sm.create_processing_job(**request)
    done = wait_job(sm, "prep-isolated", "processing")
    assert done["ProcessingJobStatus"] == "Completed", done.get("FailureReason")
    body = s3.get_object(Bucket=world["bucket"], Key="processed/prep-isolated/net.json")["Body"].read()
    seen = json.loads(body)
    # Cove still moved the data in and out (through the instance's ENI), but the container had none.
    assert seen == {"links": ["lo"], "reached": False, "creds": False}


LIVE = r"""
import os, time
os.makedirs("/opt/ml/processing/live", exist_ok=True)
open("/opt/ml/processing/live/progress.txt", "w").write("halfway")
time.sleep(6)
open("/opt/ml/processing/live/final.txt", "w").write("done")
"""


def test_continuous_outputs_are_uploaded_while_the_job_runs(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm, s3 = client(jobs_server, "sagemaker"), client(jobs_server, "s3")
    request = _request(jobs_server, world, "prep-continuous", algo_image, LIVE)
    del request["AppSpecification"]["ContainerArguments"]
    request["ProcessingResources"]["ClusterConfig"]["InstanceCount"] = 1
    request["ProcessingOutputConfig"]["Outputs"] = [
        {
            "OutputName": "live",
            "S3Output": {
                "S3Uri": f"s3://{world['bucket']}/live/prep-continuous",
                "LocalPath": "/opt/ml/processing/live",
                "S3UploadMode": "Continuous",
            },
        }
    ]
    sm.create_processing_job(**request)
    seen_while_running = False
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = sm.describe_processing_job(ProcessingJobName="prep-continuous")["ProcessingJobStatus"]
        listed = s3.list_objects_v2(Bucket=world["bucket"], Prefix="live/prep-continuous/").get(
            "Contents", []
        )
        if status == "InProgress" and any(o["Key"].endswith("progress.txt") for o in listed):
            seen_while_running = True
            break
        if status != "InProgress":
            break
        time.sleep(0.3)
    assert seen_while_running
    done = wait_job(sm, "prep-continuous", "processing")
    assert done["ProcessingJobStatus"] == "Completed", done.get("FailureReason")
    listed = s3.list_objects_v2(Bucket=world["bucket"], Prefix="live/prep-continuous/")["Contents"]
    assert sorted(o["Key"] for o in listed) == [
        "live/prep-continuous/final.txt",
        "live/prep-continuous/progress.txt",
    ]
