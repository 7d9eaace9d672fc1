"""Training jobs that really run: a container per instance in the job's VPC, data in and out
through the VPC's S3 endpoint, statuses, logs, metrics and failures as SageMaker reports them."""

from __future__ import annotations

import io
import json
import tarfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from cove.server import EmbeddedServer
from tests.jobs.conftest import client, training_request, wait_job

pytestmark = pytest.mark.root


def _model_files(s3: Any, bucket: str, key: str) -> dict[str, bytes]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def test_a_training_job_runs_in_its_vpc_and_uploads_its_model(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm, s3, logs = (client(jobs_server, n) for n in ("sagemaker", "s3", "logs"))
    assert jobs_server.cove.jobs is not None and jobs_server.cove.jobs.deps.agents is not None
    zygote = jobs_server.cove.jobs.deps.agents.zygote()
    spawned = zygote.spawned
    sm.create_training_job(**training_request(world, "train-ok", algo_image))
    done = wait_job(sm, "train-ok")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert zygote.spawned - spawned == 1  # one data agent moved the data in, then the model out
    assert done["SecondaryStatus"] == "Completed"
    steps = [(t["Status"], t["StatusMessage"]) for t in done["SecondaryStatusTransitions"]]
    assert steps[0] == ("Starting", "Preparing the instances for training") or steps[0][0] == "Starting"
    assert [s for s, _ in steps][-4:] == ["Downloading", "Training", "Uploading", "Completed"]
    assert ("Training", "Training image download completed. Training in progress.") in steps
    assert (
        done["ModelArtifacts"]["S3ModelArtifacts"]
        == f"s3://{world['bucket']}/output/train-ok/output/model.tar.gz"
    )
    assert done["BillableTimeInSeconds"] >= 1
    metrics = {m["MetricName"]: m["Value"] for m in done["FinalMetricDataList"]}
    assert metrics == {"train:loss": pytest.approx(1 / 3, abs=1e-3), "validation:accuracy": 0.9375}

    files = _model_files(s3, world["bucket"], "output/train-ok/output/model.tar.gz")
    report = json.loads(files["algo-1.json"])
    assert report["host"] == "algo-1"
    assert report["job"] == "train-ok" and report["arn"] == done["TrainingJobArn"]
    assert report["user_env"] == "from-the-request"
    # No ENTRYPOINT in the image: `train` itself is the command (docker run <image> train).
    assert report["argv"][0].endswith("/train") and report["argv"][1:] == []
    assert report["resourceconfig"]["current_host"] == "algo-1"
    assert report["resourceconfig"]["network_interface_name"] == "eth0"
    assert sorted(report["channels"]["train"]) == sorted(
        [f"part-{i}.csv" for i in range(6)] + ["nested/extra.csv"]
    )
    assert "algo-1" in report["hosts_file"]
    # The /opt/ml contract, file by file, as the container saw it.
    assert {"hyperparameters.json", "inputdataconfig.json", "resourceconfig.json"} <= set(
        report["config_files"]
    )
    assert report["hyperparameters"] == {"mode": "ok"}
    assert report["inputdataconfig"] == {
        "train": {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
    }
    assert report["resourceconfig"] == {
        "current_host": "algo-1",
        "current_instance_type": "ml.m5.large",
        "current_group_name": "homogeneousCluster",
        "hosts": ["algo-1"],
        "instance_groups": [
            {"instance_group_name": "homogeneousCluster", "instance_type": "ml.m5.large", "hosts": ["algo-1"]}
        ],
        "network_interface_name": "eth0",
    }
    assert all(report["dirs"].values()), report["dirs"]
    assert report["failure_exists"] is False
    output = _model_files(s3, world["bucket"], "output/train-ok/output/output.tar.gz")
    assert output == {"summary.txt": b"done"}

    streams = logs.describe_log_streams(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix="train-ok/"
    )
    names = [s["logStreamName"] for s in streams["logStreams"]]
    assert len(names) == 1 and names[0].startswith("train-ok/algo-1-")
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=names[0], startFromHead=True
    )["events"]
    text = [e["message"] for e in events]
    assert "starting on algo-1" in text and "final validation:accuracy=0.9375" in text

    cloudwatch = client(jobs_server, "cloudwatch")
    listed = cloudwatch.list_metrics(Namespace="/aws/sagemaker/TrainingJobs")["Metrics"]
    host = [{"Name": "Host", "Value": "train-ok/algo-1"}]
    by_job = [{"Name": "TrainingJobName", "Value": "train-ok"}]
    seen = {(m["MetricName"], tuple(d["Value"] for d in m["Dimensions"])) for m in listed}
    assert {("CPUUtilization", ("train-ok/algo-1",)), ("MemoryUtilization", ("train-ok/algo-1",))} <= seen
    assert ("train:loss", ("train-ok",)) in seen
    window = {
        "StartTime": done["CreationTime"] - timedelta(minutes=5),
        "EndTime": datetime.now(UTC) + timedelta(minutes=5),
    }
    losses = cloudwatch.get_metric_statistics(
        Namespace="/aws/sagemaker/TrainingJobs",
        MetricName="train:loss",
        Dimensions=by_job,
        Period=3600,
        Statistics=["Minimum", "Maximum", "SampleCount"],
        **window,
    )["Datapoints"]
    assert losses and losses[0]["Minimum"] == pytest.approx(1 / 3, abs=1e-3) and losses[0]["Maximum"] == 1.0
    memory = cloudwatch.get_metric_statistics(
        Namespace="/aws/sagemaker/TrainingJobs",
        MetricName="MemoryUtilization",
        Dimensions=host,
        Period=3600,
        Statistics=["Maximum"],
        **window,
    )["Datapoints"]
    assert memory and 0 <= memory[0]["Maximum"] <= 100


def test_a_job_in_a_subnet_without_an_s3_path_fails_with_sagemakers_message(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm = client(jobs_server, "sagemaker")
    request = training_request(
        world,
        "train-no-endpoint",
        algo_image,
        VpcConfig={"SecurityGroupIds": [world["group"]], "Subnets": [world["subnets"]["isolated"]]},
    )
    sm.create_training_job(**request)
    done = wait_job(sm, "train-no-endpoint")
    assert done["TrainingJobStatus"] == "Failed"
    assert done["FailureReason"].startswith("ClientError: Data download failed:")
    assert "route table has a route to an S3 VPC endpoint or a NAT device" in done["FailureReason"]


def test_the_algorithms_failure_file_is_the_failure_reason(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm = client(jobs_server, "sagemaker")
    sm.create_training_job(
        **training_request(world, "train-fails", algo_image, HyperParameters={"mode": "fail"})
    )
    done = wait_job(sm, "train-fails")
    assert done["TrainingJobStatus"] == "Failed"
    assert done["FailureReason"] == "AlgorithmError: the data had no label column"
    assert done["SecondaryStatus"] == "Failed"


def test_stop_sends_sigterm_and_still_uploads_the_model(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm, s3 = client(jobs_server, "sagemaker"), client(jobs_server, "s3")
    sm.create_training_job(
        **training_request(world, "train-stop", algo_image, HyperParameters={"mode": "sleep"})
    )
    deadline = time.monotonic() + 60
    while sm.describe_training_job(TrainingJobName="train-stop")["SecondaryStatus"] != "Training":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    time.sleep(1.0)
    sm.stop_training_job(TrainingJobName="train-stop")
    assert sm.describe_training_job(TrainingJobName="train-stop")["TrainingJobStatus"] in (
        "Stopping",
        "Stopped",
    )
    done = wait_job(sm, "train-stop")
    assert done["TrainingJobStatus"] == "Stopped" and done["SecondaryStatus"] == "Stopped"
    files = _model_files(s3, world["bucket"], "output/train-stop/output/model.tar.gz")
    assert files["stopped.txt"] == b"15"


def test_max_runtime_stops_the_job(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm = client(jobs_server, "sagemaker")
    request = training_request(
        world,
        "train-too-long",
        algo_image,
        HyperParameters={"mode": "sleep"},
        StoppingCondition={"MaxRuntimeInSeconds": 3},
    )
    sm.create_training_job(**request)
    done = wait_job(sm, "train-too-long")
    assert done["TrainingJobStatus"] == "Stopped"
    assert done["SecondaryStatus"] == "MaxRuntimeExceeded"


def test_two_instances_reach_each_other_only_with_the_self_referencing_rule(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm, s3 = client(jobs_server, "sagemaker"), client(jobs_server, "s3")
    two = {"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 10}
    sm.create_training_job(
        **training_request(
            world, "train-peers", algo_image, ResourceConfig=two, HyperParameters={"mode": "peers"}
        )
    )
    sm.create_training_job(
        **training_request(
            world,
            "train-no-peers",
            algo_image,
            ResourceConfig=two,
            HyperParameters={"mode": "peers"},
            VpcConfig={"SecurityGroupIds": [world["lonely"]], "Subnets": [world["subnets"]["private"]]},
        )
    )
    ok = wait_job(sm, "train-peers")
    assert ok["TrainingJobStatus"] == "Completed", ok.get("FailureReason")
    files = _model_files(s3, world["bucket"], "output/train-peers/output/model.tar.gz")
    assert sorted(files) == ["algo-1.json", "algo-2.json"]
    assert json.loads(files["algo-1.json"])["peer_said"] == "hello from algo-2"
    assert json.loads(files["algo-2.json"])["resourceconfig"]["hosts"] == ["algo-1", "algo-2"]
    blocked = wait_job(sm, "train-no-peers")
    assert blocked["TrainingJobStatus"] == "Failed"
    reason = blocked["FailureReason"]
    assert "algo-2" in reason and "algo-1" in reason and "self-referencing" in reason
    assert world["lonely"] in reason


def test_requests_the_host_cannot_serve_are_refused_at_create(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm = client(jobs_server, "sagemaker")
    unknown = "123456789012.dkr.ecr.us-east-1.amazonaws.com/no-such-image:1"
    with pytest.raises(sm.exceptions.ClientError) as caught:
        sm.create_training_job(**training_request(world, "train-unknown-image", unknown))
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert f"The image '{unknown}' is not available in Cove" in error["Message"]
    assert algo_image in error["Message"]  # the list of what is available
    gpus = {"InstanceType": "ml.p4d.24xlarge", "InstanceCount": 1, "VolumeSizeInGB": 10}
    host = jobs_server.cove.jobs.deps.capacity.host if jobs_server.cove.jobs else None
    if host is not None and host.gpus >= 8:
        pytest.skip("this host has the GPUs of an ml.p4d.24xlarge")
    with pytest.raises(sm.exceptions.ClientError) as caught:
        sm.create_training_job(**training_request(world, "train-too-big", algo_image, ResourceConfig=gpus))
    error = caught.value.response["Error"]
    assert error["Code"] == "ResourceLimitExceeded"
    assert "ml.p4d.24xlarge for training job usage" in error["Message"] and "GPUs" in error["Message"]
    with pytest.raises(sm.exceptions.ClientError):
        sm.describe_training_job(TrainingJobName="train-too-big")


def test_checkpoints_come_in_at_the_start_and_go_out_while_training(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm, s3 = client(jobs_server, "sagemaker"), client(jobs_server, "s3")
    prefix = "checkpoints/train-ckpt"
    s3.put_object(Bucket=world["bucket"], Key=f"{prefix}/epoch-0.ckpt", Body=b"from an earlier run")
    s3.put_object(Bucket=world["bucket"], Key=f"{prefix}/stale.ckpt", Body=b"to be removed")
    script_env = {"USER_VAR": "x"}
    request = training_request(
        world,
        "train-ckpt",
        algo_image,
        HyperParameters={"mode": "checkpoints"},
        CheckpointConfig={"S3Uri": f"s3://{world['bucket']}/{prefix}"},
        Environment=script_env,
    )
    sm.create_training_job(**request)
    done = wait_job(sm, "train-ckpt")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    listed = s3.list_objects_v2(Bucket=world["bucket"], Prefix=f"{prefix}/")["Contents"]
    keys = {o["Key"].removeprefix(f"{prefix}/"): o for o in listed}
    assert sorted(keys) == ["epoch-0.ckpt", "epoch-1.ckpt", "epoch-2.ckpt"]
    assert (
        s3.get_object(Bucket=world["bucket"], Key=f"{prefix}/epoch-2.ckpt")["Body"].read() == b"seen epoch-0"
    )


def test_a_job_waits_for_capacity_then_runs(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm = client(jobs_server, "sagemaker")
    assert jobs_server.cove.jobs is not None
    capacity = jobs_server.cove.jobs.deps.capacity
    # Instances are sized down to the host; four of the largest fill its memory budget (host x 4).
    big = {"InstanceType": "ml.m5.24xlarge", "InstanceCount": int(capacity.overcommit), "VolumeSizeInGB": 10}
    sm.create_training_job(
        **training_request(
            world, "train-hog", algo_image, ResourceConfig=big, HyperParameters={"mode": "sleep"}
        )
    )
    deadline = time.monotonic() + 60
    while sm.describe_training_job(TrainingJobName="train-hog")["SecondaryStatus"] != "Training":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    one = dict(big, InstanceCount=1)
    sm.create_training_job(**training_request(world, "train-waits", algo_image, ResourceConfig=one))
    deadline = time.monotonic() + 30
    while True:
        found = sm.describe_training_job(TrainingJobName="train-waits")
        if found["SecondaryStatus"] == "Pending":
            break
        assert time.monotonic() < deadline, found["SecondaryStatus"]
        time.sleep(0.2)
    assert found["SecondaryStatusTransitions"][-1]["StatusMessage"] == "Training job waiting for capacity"
    sm.stop_training_job(TrainingJobName="train-hog")
    assert wait_job(sm, "train-hog")["TrainingJobStatus"] == "Stopped"
    done = wait_job(sm, "train-waits")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    assert "Pending" in [t["Status"] for t in done["SecondaryStatusTransitions"]]


def test_a_bucket_policy_deny_fails_the_download_with_access_denied(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm, s3 = client(jobs_server, "sagemaker"), client(jobs_server, "s3")
    s3.create_bucket(Bucket="jobs-denied")
    s3.put_object(Bucket="jobs-denied", Key="train/a.csv", Body=b"1")
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "NotForTraining",
                "Effect": "Deny",
                "Principal": {"AWS": world["role"]},
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::jobs-denied/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket="jobs-denied", Policy=json.dumps(deny))
    request = training_request(world, "train-denied", algo_image)
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = "s3://jobs-denied/train/"
    sm.create_training_job(**request)
    done = wait_job(sm, "train-denied")
    assert done["TrainingJobStatus"] == "Failed"
    reason = done["FailureReason"]
    assert reason.startswith("ClientError: Data download failed:") and "AccessDenied" in reason
    assert "explicit deny in a resource-based policy" in reason


def test_a_job_writes_to_its_own_copy_of_the_image(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm, s3 = client(jobs_server, "sagemaker"), client(jobs_server, "s3")
    sm.create_training_job(
        **training_request(world, "train-scribble", algo_image, HyperParameters={"mode": "scribble"})
    )
    done = wait_job(sm, "train-scribble")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    report = json.loads(
        _model_files(s3, world["bucket"], "output/train-scribble/output/model.tar.gz")["algo-1.json"]
    )
    assert report["scribbled"] == "algo-1"
    assert jobs_server.cove.images is not None
    image_dir = jobs_server.cove.images.resolve(algo_image).root
    assert not (image_dir / "scribble.txt").exists()


def test_pipe_mode_streams_each_epoch_through_a_named_pipe(
    jobs_server: EmbeddedServer, world: dict[str, Any], algo_image: str
) -> None:
    sm, s3 = client(jobs_server, "sagemaker"), client(jobs_server, "s3")
    request = training_request(world, "train-pipe", algo_image, HyperParameters={"mode": "pipe"})
    request["AlgorithmSpecification"]["TrainingInputMode"] = "Pipe"
    sm.create_training_job(**request)
    done = wait_job(sm, "train-pipe")
    assert done["TrainingJobStatus"] == "Completed", done.get("FailureReason")
    report = json.loads(
        _model_files(s3, world["bucket"], "output/train-pipe/output/model.tar.gz")["algo-1.json"]
    )
    expected = sum(o["Size"] for o in s3.list_objects_v2(Bucket=world["bucket"], Prefix="train/")["Contents"])
    assert report["pipe_epochs"] == [expected, expected]
    # Pipe channels are streamed, not copied to the volume first.
    assert report["channels"]["train"] == []
