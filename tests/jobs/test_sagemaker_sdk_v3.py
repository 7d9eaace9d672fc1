"""The SageMaker Python SDK v3, unchanged, against Cove: `ModelTrainer(...).train()` in a private VPC,
and `ScriptProcessor(...).run()` over 2 instances sharding by S3 key, pointed at Cove only by
AWS_ENDPOINT_URL and the account's keys. v3 runs the user's script through
its own driver scripts (an extra `sm_drivers` channel and `sm_train.sh` as the container's command)
rather than the image's toolkit, waits by polling DescribeTrainingJob and tails the job's logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cove.scenario.identity import SAGEMAKER_TRUST
from cove.server import EmbeddedServer
from tests.jobs.conftest import client
from tests.jobs.test_sagemaker_sdk import assert_sharded, drive, sharded_processing, training

pytestmark = pytest.mark.root

SDK3_PYTHON = Path(__file__).resolve().parents[2] / ".venv-sdk3" / "bin" / "python"

DRIVER = """
import json, logging, sys
# v3 leaves logging to the application; its log tailing reports each line at INFO.
logging.basicConfig(level=logging.INFO, stream=sys.stdout)
from sagemaker.core import image_uris
from sagemaker.core.helper.session_helper import Session
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, InputData, Networking, OutputDataConfig, SourceCode
args = json.loads(sys.argv[1])
session = Session(default_bucket=args["bucket"])
trainer = ModelTrainer(
    sagemaker_session=session,
    role=args["role"],
    training_image=image_uris.retrieve(framework="sklearn", region="us-east-1", version="1.2-1",
                                       instance_type="ml.m5.large"),
    source_code=SourceCode(source_dir=args["source_dir"], entry_script="train.py"),
    compute=Compute(instance_type="ml.m5.large", instance_count=1),
    networking=Networking(subnets=args["subnets"], security_group_ids=args["groups"]),
    output_data_config=OutputDataConfig(s3_output_path=f"s3://{args['bucket']}/sdk3/output",
                                        kms_key_id=args["key"]),
    hyperparameters={"reg": 0.5},
    base_job_name="sdk3",
)
trainer.train(input_data_config=[InputData(channel_name="train", data_source=args["data"])], wait=True,
              logs=True)
job = trainer._latest_training_job
job.refresh()
print("RESULT " + json.dumps({"name": job.training_job_name, "status": job.training_job_status,
                              "model": job.model_artifacts.s3_model_artifacts}))
"""


def _execution_role(server: EmbeddedServer) -> str:
    """v3 checks the role before it creates the job (SimulatePrincipalPolicy): it must hold what a
    SageMaker execution role holds in a VPC (ENIs, ECR, CloudWatch), here AWS's managed policy."""
    iam = client(server, "iam")
    arn: str = iam.create_role(
        RoleName="SageMakerV3Execution", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST)
    )["Role"]["Arn"]
    iam.attach_role_policy(
        RoleName="SageMakerV3Execution", PolicyArn="arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"
    )
    data = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["s3:*", "kms:*"], "Resource": "*"}],
    }
    iam.put_role_policy(RoleName="SageMakerV3Execution", PolicyName="data", PolicyDocument=json.dumps(data))
    return arn


needs_sdk3 = pytest.mark.skipif(
    not SDK3_PYTHON.exists(), reason="the SDK v3's virtualenv (make sdk) is not there"
)


@needs_sdk3
def test_the_sagemaker_sdk_v3_model_trainer_trains_in_a_private_vpc(
    jobs_server: EmbeddedServer, world: dict[str, Any], tmp_path: Path
) -> None:
    s3 = client(jobs_server, "s3")
    arguments = training(s3, world, tmp_path, "sdk3/data/", _execution_role(jobs_server))
    result, output = drive(SDK3_PYTHON, DRIVER, arguments, jobs_server, tmp_path)
    assert result["status"] == "Completed"
    described = client(jobs_server, "sagemaker").describe_training_job(TrainingJobName=result["name"])
    # v3's own driver channel and command, as SageMaker would have received them.
    assert {c["ChannelName"] for c in described["InputDataConfig"]} >= {"train", "code", "sm_drivers"}
    assert described["VpcConfig"]["Subnets"] == [world["subnets"]["private"]]
    key = result["model"].split(f"s3://{world['bucket']}/", 1)[1]
    head = s3.head_object(Bucket=world["bucket"], Key=key)
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == world["key"]
    # The SDK tailed the job's CloudWatch stream: the script's own line came back through it.
    assert "accuracy=1.000" in output


PROCESS = """
import json, logging, sys
logging.basicConfig(level=logging.INFO, stream=sys.stdout)
from sagemaker.core import image_uris
from sagemaker.core.helper.session_helper import Session
from sagemaker.core.network import NetworkConfig
from sagemaker.core.processing import ScriptProcessor
from sagemaker.core.shapes import ProcessingInput, ProcessingOutput, ProcessingS3Input, ProcessingS3Output
args = json.loads(sys.argv[1])
processor = ScriptProcessor(
    role=args["role"], command=["python3"], instance_count=2, instance_type="ml.m5.large",
    image_uri=image_uris.retrieve(framework="sklearn", region="us-east-1", version="1.2-1",
                                  instance_type="ml.m5.large"),
    sagemaker_session=Session(default_bucket=args["bucket"]), base_job_name="sdk3-process",
    network_config=NetworkConfig(subnets=args["subnets"], security_group_ids=args["groups"]),
)
processor.run(
    code=args["code"],
    inputs=[ProcessingInput(input_name="raw", s3_input=ProcessingS3Input(
        s3_uri=args["data"], local_path="/opt/ml/processing/input", s3_data_type="S3Prefix",
        s3_input_mode="File", s3_data_distribution_type="ShardedByS3Key"))],
    outputs=[ProcessingOutput(output_name="out", s3_output=ProcessingS3Output(
        s3_uri=args["output"], local_path="/opt/ml/processing/output", s3_upload_mode="EndOfJob"))],
    wait=True, logs=True,
)
job = processor.latest_job
job.refresh()
print("RESULT " + json.dumps({"name": job.processing_job_name, "status": job.processing_job_status}))
"""


@needs_sdk3
def test_the_sagemaker_sdk_v3_script_processor_shards_over_two_instances(
    jobs_server: EmbeddedServer, world: dict[str, Any], tmp_path: Path
) -> None:
    s3 = client(jobs_server, "s3")
    arguments = sharded_processing(s3, world, tmp_path, "sdk3/raw/")
    arguments["output"] = f"s3://{world['bucket']}/sdk3/processed"
    result, output = drive(SDK3_PYTHON, PROCESS, arguments, jobs_server, tmp_path)
    assert result["status"] == "Completed"
    assert_sharded(s3, world["bucket"], "sdk3/processed", output)
