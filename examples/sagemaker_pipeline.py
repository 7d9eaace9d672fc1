"""A SageMaker pipeline in a private VPC with plain boto3: preprocessing, then training, KMS throughout.

Runs against Cove (or AWS) with nothing but the standard environment:

    AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… \
    AWS_DEFAULT_REGION=us-east-1 python examples/sagemaker_pipeline.py [--suffix NAME]

What it builds (every name carries the suffix, so it can run again on the same server):
  * a VPC with two private subnets sharing one route table, an S3 gateway endpoint on that table
    (the only way out: no internet gateway, no NAT), and a security group whose inbound rule
    references itself (instances of one job talk to each other) with the default all-egress rule;
  * a KMS key, an execution role SageMaker can assume with S3, KMS and CloudWatch Logs permissions;
  * a bucket with a raw CSV dataset in several objects.
Then a processing job (scikit-learn image, two instances, each gets a shard of the objects; the
script shipped as SageMaker Python SDK v2's ScriptProcessor ships it, as an input named `code`)
writes train/test splits, and a training job (scikit-learn script mode on the splits, model and
volume encrypted with the key, in the private subnets) fits a model. The model must come back as
SSE-KMS with that key. Exits 0 when everything worked, 1 (with the reason) otherwise.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tarfile
import time
import uuid
from typing import Any

import boto3

SKLEARN_IMAGE = "683313688378.dkr.ecr.{region}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
INSTANCE_TYPE = "ml.m5.large"
RAW_OBJECTS = 4
ROWS_PER_OBJECT = 200

PREPROCESS = '''"""Split this instance's shard of the raw CSVs into train and test sets."""
import argparse, csv, glob, os, random, socket

parser = argparse.ArgumentParser()
parser.add_argument("--test-fraction", type=float, default=0.2)
args = parser.parse_args()

host = socket.gethostname()
rows = []
files = sorted(glob.glob("/opt/ml/processing/input/raw/**/*.csv", recursive=True))
for path in files:
    with open(path) as f:
        reader = csv.reader(f)
        next(reader)  # header
        rows += [row for row in reader if row]
random.Random(host).shuffle(rows)
cut = int(len(rows) * (1 - args.test_fraction))
for split, part in (("train", rows[:cut]), ("test", rows[cut:])):
    os.makedirs(f"/opt/ml/processing/{split}", exist_ok=True)
    with open(f"/opt/ml/processing/{split}/{split}-{host}.csv", "w", newline="") as f:
        # label first, no header: what the training script (and SageMaker's built-ins) expect
        csv.writer(f).writerows([[r[-1], *r[:-1]] for r in part])
print(f"{host}: {len(files)} objects, {len(rows)} rows -> {cut} train, {len(rows) - cut} test", flush=True)
with open("/opt/ml/output/message", "w") as f:
    f.write(f"{host} split {len(rows)} rows. ")
'''

TRAIN = '''"""Fit a logistic regression on the train channel, score it on the test channel."""
import argparse, glob, json, os

import joblib
import numpy as np
from sklearn.linear_model import LogisticRegression


def load(directory):
    parts = [np.loadtxt(p, delimiter=",", ndmin=2) for p in sorted(glob.glob(os.path.join(directory, "*.csv")))]
    data = np.vstack(parts)
    return data[:, 1:], data[:, 0]


parser = argparse.ArgumentParser()
parser.add_argument("-C", type=float, default=1.0)  # the toolkit passes one-letter names as -C
parser.add_argument("--max_iter", type=int, default=200)
parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
parser.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
parser.add_argument("--test", default=os.environ["SM_CHANNEL_TEST"])
args = parser.parse_args()

X, y = load(args.train)
X_test, y_test = load(args.test)
model = LogisticRegression(C=args.C, max_iter=args.max_iter).fit(X, y)
print(f"train rows={len(X)} test rows={len(X_test)} on {os.environ['SM_CURRENT_HOST']}")
print(f"train:accuracy={model.score(X, y):.4f}")
print(f"test:accuracy={model.score(X_test, y_test):.4f}")
joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
with open(os.path.join(args.model_dir, "features.json"), "w") as f:
    json.dump({"features": ["x1", "x2", "x3"], "coef": model.coef_.tolist()}, f)
'''


class PipelineError(Exception):
    pass


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# -- the environment -------------------------------------------------------------------------------


def create_network(ec2: Any, suffix: str, region: str) -> dict[str, Any]:
    vpc = ec2.create_vpc(
        CidrBlock="10.60.0.0/16",
        TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": f"pipeline-{suffix}"}]}],
    )["Vpc"]["VpcId"]
    ec2.get_waiter("vpc_available").wait(VpcIds=[vpc])
    zones = [z["ZoneName"] for z in ec2.describe_availability_zones()["AvailabilityZones"]] or [None]
    subnets = []
    for index, cidr in enumerate(("10.60.1.0/24", "10.60.2.0/24")):
        args: dict[str, Any] = {"VpcId": vpc, "CidrBlock": cidr}
        if zones[0] is not None:
            args["AvailabilityZone"] = zones[index % len(zones)]
        subnets.append(ec2.create_subnet(**args)["Subnet"]["SubnetId"])
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    for subnet in subnets:
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
    endpoint = ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{region}.s3",
        VpcEndpointType="Gateway",
        RouteTableIds=[table],
    )["VpcEndpoint"]["VpcEndpointId"]
    group = ec2.create_security_group(
        GroupName=f"pipeline-{suffix}", Description="SageMaker jobs: members talk to each other", VpcId=vpc
    )["GroupId"]
    # Distributed jobs need this: inbound from the group itself. Egress stays the default allow-all.
    ec2.authorize_security_group_ingress(
        GroupId=group, IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": group}]}]
    )
    say(f"VPC {vpc}: subnets {', '.join(subnets)} (route table {table}, S3 endpoint {endpoint}), SG {group}")
    return {"vpc": vpc, "subnets": subnets, "table": table, "endpoint": endpoint, "group": group}


def create_key(kms: Any, suffix: str) -> str:
    key: str = kms.create_key(Description=f"SageMaker pipeline {suffix}")["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=f"alias/pipeline-{suffix}", TargetKeyId=key)
    say(f"KMS key {key}")
    return key


def create_role(iam: Any, suffix: str, bucket: str, key: str) -> str:
    name = f"pipeline-sagemaker-{suffix}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            },
            {
                "Effect": "Allow",
                "Action": [
                    "kms:Encrypt",
                    "kms:Decrypt",
                    "kms:GenerateDataKey",
                    "kms:DescribeKey",
                    "kms:CreateGrant",
                ],
                "Resource": key,
            },
            {
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogGroup",
                    "logs:CreateLogStream",
                    "logs:PutLogEvents",
                    "logs:DescribeLogStreams",
                ],
                "Resource": "*",
            },
            {"Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*"},
        ],
    }
    iam.put_role_policy(RoleName=name, PolicyName="pipeline", PolicyDocument=json.dumps(policy))
    say(f"execution role {role}")
    return role


def upload_dataset(s3: Any, bucket: str, region: str) -> None:
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    rng = random.Random(7)
    for part in range(RAW_OBJECTS):
        lines = ["x1,x2,x3,label"]
        for _ in range(ROWS_PER_OBJECT):
            x1, x2, x3 = (round(rng.uniform(-1, 1), 4) for _ in range(3))
            label = int(2 * x1 - x2 + 0.5 * x3 + rng.gauss(0, 0.1) > 0)
            lines.append(f"{x1},{x2},{x3},{label}")
        s3.put_object(Bucket=bucket, Key=f"raw/part-{part:04d}.csv", Body=("\n".join(lines) + "\n").encode())
    say(f"bucket {bucket}: {RAW_OBJECTS} raw CSV objects, {RAW_OBJECTS * ROWS_PER_OBJECT} rows under raw/")


# -- the jobs ----------------------------------------------------------------------------------------


def run_processing(
    sm: Any, s3: Any, *, name: str, bucket: str, role: str, key: str, net: dict[str, Any], image: str
) -> dict[str, Any]:
    # SDK v2 ScriptProcessor.run(): the script goes to s3://<bucket>/<job>/input/code/<script>, an input `code`.
    code_key = f"{name}/input/code/preprocess.py"
    s3.put_object(Bucket=bucket, Key=code_key, Body=PREPROCESS.encode())
    sm.create_processing_job(
        ProcessingJobName=name,
        RoleArn=role,
        AppSpecification={
            "ImageUri": image,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/preprocess.py"],
            "ContainerArguments": ["--test-fraction", "0.2"],
        },
        ProcessingInputs=[
            {
                "InputName": "raw",
                "S3Input": {
                    "S3Uri": f"s3://{bucket}/raw/",
                    "LocalPath": "/opt/ml/processing/input/raw",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "ShardedByS3Key",
                },
            },
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{bucket}/{code_key}",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "FullyReplicated",
                },
            },
        ],
        ProcessingOutputConfig={
            "Outputs": [
                {
                    "OutputName": split,
                    "S3Output": {
                        "S3Uri": f"s3://{bucket}/{name}/output/{split}",
                        "LocalPath": f"/opt/ml/processing/{split}",
                        "S3UploadMode": "EndOfJob",
                    },
                }
                for split in ("train", "test")
            ],
            "KmsKeyId": key,
        },
        ProcessingResources={
            "ClusterConfig": {
                "InstanceCount": 2,
                "InstanceType": INSTANCE_TYPE,
                "VolumeSizeInGB": 30,
                "VolumeKmsKeyId": key,
            }
        },
        NetworkConfig={"VpcConfig": {"SecurityGroupIds": [net["group"]], "Subnets": net["subnets"]}},
        StoppingCondition={"MaxRuntimeInSeconds": 900},
    )
    say(f"processing job {name} created")
    return wait_for(sm, "processing", name)


def sourcedir(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for filename, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(filename)
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def run_training(
    sm: Any,
    s3: Any,
    *,
    name: str,
    bucket: str,
    role: str,
    key: str,
    net: dict[str, Any],
    image: str,
    region: str,
    splits: dict[str, str],
) -> dict[str, Any]:
    # SDK v2 Framework estimator: code in <job>/source/sourcedir.tar.gz, sagemaker_* hyperparameters.
    source_key = f"{name}/source/sourcedir.tar.gz"
    s3.put_object(
        Bucket=bucket,
        Key=source_key,
        Body=sourcedir({"train.py": TRAIN}),
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key,
    )
    channels = [
        {
            "ChannelName": channel,
            "DataSource": {
                "S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": uri,
                    "S3DataDistributionType": "FullyReplicated",
                }
            },
            "ContentType": "text/csv",
        }
        for channel, uri in splits.items()
    ]
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn=role,
        AlgorithmSpecification={
            "TrainingImage": image,
            "TrainingInputMode": "File",
            "MetricDefinitions": [
                {"Name": "train:accuracy", "Regex": r"train:accuracy=([0-9.]+)"},
                {"Name": "test:accuracy", "Regex": r"test:accuracy=([0-9.]+)"},
            ],
        },
        HyperParameters={
            "C": "1.0",
            "max_iter": "200",
            "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/{source_key}"),
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_container_log_level": "20",
            "sagemaker_job_name": json.dumps(name),
            "sagemaker_region": json.dumps(region),
        },
        InputDataConfig=channels,
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/models", "KmsKeyId": key},
        ResourceConfig={
            "InstanceType": INSTANCE_TYPE,
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
            "VolumeKmsKeyId": key,
        },
        VpcConfig={"SecurityGroupIds": [net["group"]], "Subnets": net["subnets"]},
        StoppingCondition={"MaxRuntimeInSeconds": 900},
    )
    say(f"training job {name} created")
    return wait_for(sm, "training", name)


def wait_for(sm: Any, kind: str, name: str, timeout: float = 900.0) -> dict[str, Any]:
    """Poll Describe*Job, printing each change, until the job ends (the boto3 waiters poll every 60 s)."""
    training = kind == "training"
    describe = sm.describe_training_job if training else sm.describe_processing_job
    field = "TrainingJobName" if training else "ProcessingJobName"
    status_field = "TrainingJobStatus" if training else "ProcessingJobStatus"
    deadline = time.monotonic() + timeout
    last = None
    while True:
        job: dict[str, Any] = describe(**{field: name})
        status = job[status_field]
        line = status
        if training:
            transitions = job.get("SecondaryStatusTransitions") or []
            message = transitions[-1].get("StatusMessage", "") if transitions else ""
            line = f"{status} / {job.get('SecondaryStatus')} - {message}"
        if line != last:
            say(f"{kind} job {name}: {line}")
            last = line
        if status in ("Completed", "Failed", "Stopped"):
            return job
        if time.monotonic() > deadline:
            raise PipelineError(f"{kind} job {name} still {status} after {timeout:.0f}s")
        time.sleep(1.0)


def show_logs(logs: Any, kind: str, name: str, lines: int = 25) -> None:
    group = "/aws/sagemaker/TrainingJobs" if kind == "training" else "/aws/sagemaker/ProcessingJobs"
    try:
        streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{name}/")["logStreams"]
        for stream in streams:
            events = logs.get_log_events(
                logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=False, limit=lines
            )["events"]
            print(f"--- {stream['logStreamName']} (last {len(events)} lines)")
            for event in events:
                print(f"    {event['message']}")
    except Exception as exc:  # the logs only explain a failure; never hide it
        print(f"--- no logs for {name}: {exc}")


def seconds(job: dict[str, Any], start: str, end: str) -> float:
    if job.get(start) and job.get(end):
        return float((job[end] - job[start]).total_seconds())
    return float("nan")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--suffix", default=uuid.uuid4().hex[:8], help="appended to every name (default: random)"
    )
    args = parser.parse_args(argv)
    suffix = args.suffix.lower()

    session = boto3.Session()
    region = session.region_name or os.environ.get("AWS_REGION") or "us-east-1"
    ec2, s3, iam, kms, sm, logs, sts = (
        session.client(service, region_name=region)
        for service in ("ec2", "s3", "iam", "kms", "sagemaker", "logs", "sts")
    )
    image = SKLEARN_IMAGE.format(region=region)
    bucket = f"pipeline-data-{suffix}"
    prep_name, train_name = f"pipeline-prep-{suffix}", f"pipeline-train-{suffix}"
    started = time.monotonic()
    try:
        account = sts.get_caller_identity()["Account"]
        say(f"account {account}, region {region}, endpoint {os.environ.get('AWS_ENDPOINT_URL', '(AWS)')}")
        net = create_network(ec2, suffix, region)
        key = create_key(kms, suffix)
        role = create_role(iam, suffix, bucket, key)
        upload_dataset(s3, bucket, region)

        prep = run_processing(sm, s3, name=prep_name, bucket=bucket, role=role, key=key, net=net, image=image)
        if prep["ProcessingJobStatus"] != "Completed":
            show_logs(logs, "processing", prep_name)
            raise PipelineError(
                f"processing job {prep_name} {prep['ProcessingJobStatus']}: {prep.get('FailureReason')}"
            )
        say(f"processing said: {prep.get('ExitMessage', '').strip()}")
        splits = {
            output["OutputName"]: output["S3Output"]["S3Uri"]
            for output in prep["ProcessingOutputConfig"]["Outputs"]
        }
        for split, uri in splits.items():
            prefix = uri.split(f"s3://{bucket}/", 1)[1]
            found = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
            if len(found) != 2:
                raise PipelineError(
                    f"expected one {split} file per processing instance under {uri}, found {len(found)}"
                )
            for obj in found:
                head = s3.head_object(Bucket=bucket, Key=obj["Key"])
                if head.get("ServerSideEncryption") != "aws:kms" or head.get("SSEKMSKeyId") != key:
                    raise PipelineError(f"s3://{bucket}/{obj['Key']} is not SSE-KMS with {key}")
            say(f"{split} split (SSE-KMS): {', '.join(o['Key'] for o in found)}")

        train = run_training(
            sm,
            s3,
            name=train_name,
            bucket=bucket,
            role=role,
            key=key,
            net=net,
            image=image,
            region=region,
            splits=splits,
        )
        if train["TrainingJobStatus"] != "Completed":
            show_logs(logs, "training", train_name)
            raise PipelineError(
                f"training job {train_name} {train['TrainingJobStatus']}: {train.get('FailureReason')}"
            )

        model_uri = train["ModelArtifacts"]["S3ModelArtifacts"]
        model_key = model_uri.split(f"s3://{bucket}/", 1)[1]
        head = s3.head_object(Bucket=bucket, Key=model_key)
        if head.get("ServerSideEncryption") != "aws:kms" or head.get("SSEKMSKeyId") != key:
            raise PipelineError(
                f"{model_uri} is encrypted with {head.get('ServerSideEncryption')} / {head.get('SSEKMSKeyId')}, "
                f"not aws:kms / {key}"
            )
        body = s3.get_object(Bucket=bucket, Key=model_key)["Body"].read()
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
            members = sorted(m.name for m in tar.getmembers() if m.isfile())
        if "model.joblib" not in members:
            raise PipelineError(f"{model_uri} holds {members}, no model.joblib")
        metrics = {m["MetricName"]: m["Value"] for m in train.get("FinalMetricDataList", [])}
        accuracy = metrics.get("test:accuracy")
        if accuracy is None or accuracy < 0.8:
            raise PipelineError(f"test accuracy {accuracy} (metrics {metrics}): the model did not learn")
    except PipelineError as exc:
        print(f"PIPELINE FAILED: {exc}", flush=True)
        return 1
    except Exception as exc:
        print(f"PIPELINE FAILED: {type(exc).__name__}: {exc}", flush=True)
        return 1

    print()
    print("Summary")
    print(
        f"  network     {net['vpc']}  subnets {' '.join(net['subnets'])}  SG {net['group']}  S3 endpoint {net['endpoint']}"
    )
    print(
        f"  processing  {prep_name}  {prep['ProcessingJobStatus']}  2 x {INSTANCE_TYPE}  "
        f"{seconds(prep, 'ProcessingStartTime', 'ProcessingEndTime'):.1f}s"
    )
    print(
        f"  training    {train_name}  {train['TrainingJobStatus']}  1 x {INSTANCE_TYPE}  "
        f"{seconds(train, 'TrainingStartTime', 'TrainingEndTime'):.1f}s  billable {train.get('BillableTimeInSeconds')}s"
    )
    print(f"  metrics     {'  '.join(f'{k}={v:.4f}' for k, v in sorted(metrics.items()))}")
    print(f"  model       {model_uri}  ({', '.join(members)})")
    print(f"  encryption  {head['ServerSideEncryption']} with {head['SSEKMSKeyId']}")
    print(f"  total       {time.monotonic() - started:.1f}s")
    print("PIPELINE OK", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
