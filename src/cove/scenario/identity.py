"""Scenario: the account, an execution role, a user who may assume one narrow role."""

from __future__ import annotations

import json

import boto3
from botocore.exceptions import ClientError

from cove.scenario.steps import Clients, Steps, ensure

__all__ = ["SAGEMAKER_TRUST", "identity_steps"]

SAGEMAKER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
READ_IAM = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"}],
}


def identity_steps(steps: Steps, client: Clients, account_id: str, region: str) -> str:
    """Returns the execution role's ARN."""
    sts, iam = client("sts"), client("iam")
    me = sts.get_caller_identity()
    steps.check("caller identity", me["Account"] == account_id, me["Arn"])

    ensure(
        lambda: iam.create_role(
            RoleName="SageMakerExecutionRole", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST)
        )
    )
    iam.attach_role_policy(
        RoleName="SageMakerExecutionRole", PolicyArn="arn:aws:iam::aws:policy/AmazonSageMakerFullAccess"
    )
    role = iam.get_role(RoleName="SageMakerExecutionRole")["Role"]
    trusted = role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
    steps.check("execution role", trusted == "sagemaker.amazonaws.com", f"{role['Arn']} trusts {trusted}")

    # A user who may only assume one role, and what that role session may and may not do.
    ensure(lambda: iam.create_user(UserName="analyst"))
    for old in iam.list_access_keys(UserName="analyst")["AccessKeyMetadata"]:
        iam.delete_access_key(UserName="analyst", AccessKeyId=old["AccessKeyId"])
    key = iam.create_access_key(UserName="analyst")["AccessKey"]
    user_arn = iam.get_user(UserName="analyst")["User"]["Arn"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}],
    }
    ensure(lambda: iam.create_role(RoleName="analyst-readonly", AssumeRolePolicyDocument=json.dumps(trust)))
    iam.put_role_policy(
        RoleName="analyst-readonly", PolicyName="read-iam", PolicyDocument=json.dumps(READ_IAM)
    )
    analyst = boto3.Session(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"], region_name=region
    )
    creds = client("sts", analyst).assume_role(
        RoleArn=iam.get_role(RoleName="analyst-readonly")["Role"]["Arn"], RoleSessionName="scenario"
    )["Credentials"]
    role_session = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )
    who = client("sts", role_session).get_caller_identity()
    steps.check("assumed role", ":assumed-role/analyst-readonly/scenario" in who["Arn"], who["Arn"])
    roles = client("iam", role_session).list_roles()["Roles"]
    steps.check("role session may list roles", len(roles) >= 2, f"{len(roles)} roles")
    try:
        client("iam", role_session).create_user(UserName="intruder")
        steps.check("role session may not create users", False, "CreateUser was allowed")
    except ClientError as exc:
        steps.check(
            "role session may not create users",
            exc.response["Error"]["Code"] == "AccessDenied",
            exc.response["Error"]["Message"],
        )
    return str(role["Arn"])
