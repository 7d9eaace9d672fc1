"""Create* runs SageMaker's VPC pre-flight: its errors refuse the call, its warnings stay on the job."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from cove.server import EmbeddedServer
from cove.services.sagemaker import lifecycle
from tests.conftest import ClientFactory
from tests.services.sagemaker.conftest import processing_request, training_request, unique


@pytest.fixture(scope="module")
def vpc(client: ClientFactory) -> dict[str, str]:
    ec2 = client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.57.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc_id, CidrBlock="10.57.1.0/24")["Subnet"]["SubnetId"]
    alone = ec2.create_security_group(GroupName="sm-alone", Description="no self rule", VpcId=vpc_id)[
        "GroupId"
    ]
    return {"subnet": subnet, "sg": alone}


def test_unknown_subnet_refuses_the_job(sm: Any, role_arn: str, vpc: dict[str, str]) -> None:
    name = unique("vpcbad")
    request = training_request(
        name, role_arn, VpcConfig={"Subnets": ["subnet-0000000000"], "SecurityGroupIds": [vpc["sg"]]}
    )
    with pytest.raises(ClientError) as exc:
        sm.create_training_job(**request)
    assert exc.value.response["Error"]["Code"] == "ValidationException"
    assert "subnet-0000000000" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        sm.describe_training_job(TrainingJobName=name)


def test_warnings_are_stored_and_vpc_config_echoed(
    sm: Any, role_arn: str, vpc: dict[str, str], cove_server: EmbeddedServer
) -> None:
    config = {"Subnets": [vpc["subnet"]], "SecurityGroupIds": [vpc["sg"]]}
    request = training_request(unique("vpcwarn"), role_arn, VpcConfig=config)
    request["ResourceConfig"]["InstanceCount"] = 2
    arn = sm.create_training_job(**request)["TrainingJobArn"]
    assert sm.describe_training_job(TrainingJobName=request["TrainingJobName"])["VpcConfig"] == config
    with cove_server.cove.db.read() as s:
        job = lifecycle.get_job(s, arn)
    assert job is not None and [w["Code"] for w in job.warnings] == ["PeersUnreachable", "NoPathToS3"]

    proc = processing_request(unique("vpcproc"), role_arn, NetworkConfig={"VpcConfig": config})
    parn = sm.create_processing_job(**proc)["ProcessingJobArn"]
    assert sm.describe_processing_job(ProcessingJobName=proc["ProcessingJobName"])["NetworkConfig"] == {
        "VpcConfig": config
    }
    with cove_server.cove.db.read() as s:
        pjob = lifecycle.get_job(s, parn)
    # One instance: no peers to reach, but still no way to S3.
    assert pjob is not None and [w["Code"] for w in pjob.warnings] == ["NoPathToS3"]
