"""Scenario: the seeds' story, first half. A private VPC with an S3 gateway endpoint and a
self-referencing security group; a 2-instance scikit-learn processing job sharding the raw data
by S3 key; a 2-instance scikit-learn training job (script mode) with its volume and its model
encrypted under a KMS key; and the isolation proof: the same training job in a subnet without the
endpoint fails with SageMaker's message, next to what `cove explain` says about that subnet.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from typing import Any

from botocore.exceptions import ClientError
from rich.console import Console
from rich.table import Table

from cove.app import Cove
from cove.scenario.steps import Clients, Steps
from cove.services.ec2.explain import explain

__all__ = ["SKLEARN_IMAGE", "job_steps"]

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
BUCKET = "sagemaker-cove-scenario-jobs"

PREPROCESS = """
import glob, os, socket
import pandas as pd
from sklearn.preprocessing import StandardScaler
host = socket.gethostname()
frames = [pd.read_csv(p) for p in sorted(glob.glob("/opt/ml/processing/raw/*.csv"))]
data = pd.concat(frames)
features = data[["x1", "x2"]]
data[["x1", "x2"]] = StandardScaler().fit_transform(features)
os.makedirs("/opt/ml/processing/train", exist_ok=True)
data.to_csv(f"/opt/ml/processing/train/features-{host}.csv", index=False)
print(f"{host}: {len(frames)} shard files, {len(data)} rows scaled", flush=True)
open("/opt/ml/output/message", "w").write(f"{host}: {len(data)} rows. ")
"""

TRAIN = """
import argparse, glob, json, os
import joblib
import pandas as pd
from sklearn.linear_model import LogisticRegression
parser = argparse.ArgumentParser()
parser.add_argument("--regularization", type=float, default=1.0)
args = parser.parse_args()
data = pd.concat(pd.read_csv(p) for p in sorted(glob.glob(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "*.csv"))))
model = LogisticRegression(C=args.regularization).fit(data[["x1", "x2"]], data["label"])
accuracy = model.score(data[["x1", "x2"]], data["label"])
print(f"host={os.environ['SM_CURRENT_HOST']} hosts={json.loads(os.environ['SM_HOSTS'])} accuracy={accuracy:.4f}")
if os.environ["SM_CURRENT_HOST"] == "algo-1":
    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
"""


def job_steps(steps: Steps, client: Clients, cove: Cove, role_arn: str, console: Console) -> None:
    if cove.jobs is None:
        steps.check("jobs", True, "skipped: jobs need the kernel-enforced VPC (run as root on Linux)")
        return
    ec2, s3, sm, kms, iam = (client(n) for n in ("ec2", "s3", "sagemaker", "kms", "iam"))
    made = _network(ec2)
    steps.check(
        "jobs VPC",
        True,
        f"{made['vpc']}: private subnets {made['a']} {made['b']} with S3 endpoint {made['vpce']}, "
        f"{made['c']} without; group {made['sg']} references itself",
    )
    key = kms.create_key(Description="scenario: job volumes and artifacts")["KeyMetadata"]["Arn"]
    iam.put_role_policy(
        RoleName=role_arn.rsplit("/", 1)[-1],
        PolicyName="scenario-job-key",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": key},
                    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{BUCKET}"},
                ],
            }
        ),
    )
    _data(s3)
    stamp = time.strftime("%H%M%S")
    vpc = {"SecurityGroupIds": [made["sg"]], "Subnets": [made["a"], made["b"]]}
    rows: list[tuple[str, str, str]] = []

    name = f"scenario-prep-{stamp}"
    sm.create_processing_job(**_processing(name, role_arn, vpc))
    done = _follow(sm, "processing", name, console)
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"features/{name}/").get("Contents", [])
    steps.check(
        "processing job (2 instances, ShardedByS3Key)",
        done["ProcessingJobStatus"] == "Completed" and len(listed) == 2,
        f"{done['ProcessingJobStatus']}: {done.get('ExitMessage') or done.get('FailureReason', '')}",
    )
    rows.append((name, done["ProcessingJobStatus"], f"{len(listed)} feature files"))

    name = f"scenario-train-{stamp}"
    source = f"s3://{BUCKET}/code/sourcedir.tar.gz"
    sm.create_training_job(
        **_training(name, role_arn, vpc, key, source, f"s3://{BUCKET}/features/{rows[0][0]}/")
    )
    done = _follow(sm, "training", name, console)
    artifact = done["ModelArtifacts"]["S3ModelArtifacts"]
    encrypted = ""
    if done["TrainingJobStatus"] == "Completed":
        head = s3.head_object(Bucket=BUCKET, Key=artifact.split(f"{BUCKET}/", 1)[1])
        encrypted = f"{head.get('ServerSideEncryption')} {head.get('SSEKMSKeyId')}"
    metrics = {m["MetricName"]: m["Value"] for m in done.get("FinalMetricDataList", [])}
    steps.check(
        "training job (2 instances, KMS volume and model)",
        done["TrainingJobStatus"] == "Completed" and encrypted == f"aws:kms {key}",
        f"{done['TrainingJobStatus']} {done.get('FailureReason', '')}: {artifact} ({encrypted}), {metrics}",
    )
    rows.append((name, done["TrainingJobStatus"], f"accuracy {metrics.get('train:accuracy', '?')}"))

    name = f"scenario-isolated-{stamp}"
    isolated = {"SecurityGroupIds": [made["sg"]], "Subnets": [made["c"]]}
    sm.create_training_job(
        **_training(name, role_arn, isolated, key, source, f"s3://{BUCKET}/features/{rows[0][0]}/")
    )
    done = _follow(sm, "training", name, console)
    reason = done.get("FailureReason", "")
    with cove.db.read() as session:
        verdict = explain(
            session,
            account_id=cove.account.account_id,
            region=cove.settings.region,
            source=made["c"],
            destination=f"s3://{BUCKET}/features/",
            principal_arn=role_arn,
        )
    codes = ", ".join(b.code.value for b in verdict.verdict.blockers)
    steps.check(
        "isolation: no endpoint, no data",
        done["TrainingJobStatus"] == "Failed" and "route table has a route to an S3 VPC endpoint" in reason,
        f"{reason} | cove explain {made['c']} → s3://{BUCKET}: {codes}",
    )
    rows.append((name, done["TrainingJobStatus"], "ClientError: Data download failed"))

    table = Table("job", "status", "result")
    for row in rows:
        table.add_row(*row)
    console.print(table)
    _tear_down(ec2, made)


def _follow(sm: Any, kind: str, name: str, console: Console, timeout: float = 900.0) -> dict[str, Any]:
    """Print each status change as SageMaker reports it; return the final Describe."""
    describe = sm.describe_training_job if kind == "training" else sm.describe_processing_job
    key = "TrainingJobName" if kind == "training" else "ProcessingJobName"
    status_key = "TrainingJobStatus" if kind == "training" else "ProcessingJobStatus"
    shown = 0
    last = ""
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, Any] = describe(**{key: name})
        for step in found.get("SecondaryStatusTransitions", [])[shown:]:
            console.print(f"  [dim]{name}[/] {step['Status']} - {step['StatusMessage']}", highlight=False)
        shown = len(found.get("SecondaryStatusTransitions", []))
        if kind == "processing" and found[status_key] != last:
            last = found[status_key]
            console.print(f"  [dim]{name}[/] {last}", highlight=False)
        if found[status_key] in ("Completed", "Failed", "Stopped") or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def _network(ec2: Any) -> dict[str, Any]:
    made: dict[str, Any] = {"vpc": ec2.create_vpc(CidrBlock="10.60.0.0/16")["Vpc"]["VpcId"]}
    for name, cidr in (("a", "10.60.1.0/24"), ("b", "10.60.2.0/24"), ("c", "10.60.3.0/24")):
        made[name] = ec2.create_subnet(VpcId=made["vpc"], CidrBlock=cidr)["Subnet"]["SubnetId"]
    made["rt"] = ec2.create_route_table(VpcId=made["vpc"])["RouteTable"]["RouteTableId"]
    for name in ("a", "b"):
        ec2.associate_route_table(RouteTableId=made["rt"], SubnetId=made[name])
    made["vpce"] = ec2.create_vpc_endpoint(
        VpcId=made["vpc"],
        ServiceName="com.amazonaws.us-east-1.s3",
        VpcEndpointType="Gateway",
        RouteTableIds=[made["rt"]],
    )["VpcEndpoint"]["VpcEndpointId"]
    made["sg"] = ec2.create_security_group(GroupName="training", Description="jobs", VpcId=made["vpc"])[
        "GroupId"
    ]
    ec2.authorize_security_group_ingress(
        GroupId=made["sg"],
        IpPermissions=[{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": made["sg"]}]}],
    )
    return made


def _data(s3: Any) -> None:
    s3.create_bucket(Bucket=BUCKET)
    for part in range(4):
        rows = ["x1,x2,label"] + [
            f"{(i * 7 + part) % 10},{(i * 3 + part) % 5},{int((i * 7 + part) % 10 > 4)}" for i in range(50)
        ]
        s3.put_object(Bucket=BUCKET, Key=f"raw/part-{part}.csv", Body="\n".join(rows).encode())
    s3.put_object(Bucket=BUCKET, Key="code/preprocess.py", Body=PREPROCESS.encode())
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        body = TRAIN.encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    s3.put_object(Bucket=BUCKET, Key="code/sourcedir.tar.gz", Body=archive.getvalue())


def _processing(name: str, role_arn: str, vpc: dict[str, Any]) -> dict[str, Any]:
    return {
        "ProcessingJobName": name,
        "RoleArn": role_arn,
        "AppSpecification": {
            "ImageUri": SKLEARN_IMAGE,
            "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/preprocess.py"],
        },
        "ProcessingInputs": [
            {
                "InputName": "code",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/code/preprocess.py",
                    "LocalPath": "/opt/ml/processing/input/code",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                },
            },
            {
                "InputName": "raw",
                "S3Input": {
                    "S3Uri": f"s3://{BUCKET}/raw/",
                    "LocalPath": "/opt/ml/processing/raw",
                    "S3DataType": "S3Prefix",
                    "S3InputMode": "File",
                    "S3DataDistributionType": "ShardedByS3Key",
                },
            },
        ],
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "train",
                    "S3Output": {
                        "S3Uri": f"s3://{BUCKET}/features/{name}/",
                        "LocalPath": "/opt/ml/processing/train",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        },
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 2, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 10}
        },
        "NetworkConfig": {"VpcConfig": vpc},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def _training(
    name: str, role_arn: str, vpc: dict[str, Any], key: str, source: str, features: str
) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "RoleArn": role_arn,
        "AlgorithmSpecification": {
            "TrainingImage": SKLEARN_IMAGE,
            "TrainingInputMode": "File",
            "MetricDefinitions": [{"Name": "train:accuracy", "Regex": r"accuracy=([0-9.]+)"}],
        },
        "HyperParameters": {
            "regularization": "0.5",
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(source),
            "sagemaker_container_log_level": "20",
            "sagemaker_job_name": json.dumps(name),
            "sagemaker_region": json.dumps("us-east-1"),
        },
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": features}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{BUCKET}/models", "KmsKeyId": key},
        "ResourceConfig": {
            "InstanceType": "ml.m5.large",
            "InstanceCount": 2,
            "VolumeSizeInGB": 10,
            "VolumeKmsKeyId": key,
        },
        "VpcConfig": vpc,
        "StoppingCondition": {"MaxRuntimeInSeconds": 900},
    }


def _tear_down(ec2: Any, made: dict[str, Any]) -> None:
    ec2.delete_vpc_endpoints(VpcEndpointIds=[made["vpce"]])
    # SageMaker removes a job's ENIs shortly after the job ends, not before it reports its status.
    deadline = time.monotonic() + 60
    while True:
        try:
            ec2.delete_security_group(GroupId=made["sg"])
            break
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "DependencyViolation" or time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    for name in ("a", "b", "c"):
        ec2.delete_subnet(SubnetId=made[name])
    ec2.delete_route_table(RouteTableId=made["rt"])
    ec2.delete_vpc(VpcId=made["vpc"])
