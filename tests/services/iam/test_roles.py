"""IAM roles and policies through boto3 against a live server."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from cove.scenario import SAGEMAKER_TRUST
from tests.conftest import ClientFactory

TRUST = json.dumps(SAGEMAKER_TRUST)
READ_S3 = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]


def test_create_get_list_delete_role(client: ClientFactory) -> None:
    iam = client("iam")
    name = _name("role")
    created = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, Description="d", Path="/ml/")[
        "Role"
    ]
    assert created["Arn"].endswith(f":role/ml/{name}")
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    got = iam.get_role(RoleName=name)["Role"]
    # boto3 decodes IAM's URL-encoded documents back into objects: the trust policy survives intact.
    assert got["AssumeRolePolicyDocument"] == json.loads(TRUST)
    assert got["Description"] == "d" and got["MaxSessionDuration"] == 3600
    names = [r["RoleName"] for r in iam.list_roles(PathPrefix="/ml/")["Roles"]]
    assert name in names
    iam.delete_role(RoleName=name)
    with pytest.raises(ClientError) as exc:
        iam.get_role(RoleName=name)
    assert _code(exc) == ("NoSuchEntity", f"The role with name {name} cannot be found.", 404)


def test_duplicate_role_is_refused(client: ClientFactory) -> None:
    iam = client("iam")
    name = _name("dup")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    assert _code(exc) == ("EntityAlreadyExists", f"Role with name {name} already exists.", 409)


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ("{not json", "invalid Json"),
        (
            json.dumps(
                {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
            ),
            "Principal",
        ),
        (
            json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [{"Effect": "Perhaps", "Principal": "*", "Action": "x:y"}],
                }
            ),
            "Effect",
        ),
    ],
)
def test_malformed_trust_policy(client: ClientFactory, document: str, fragment: str) -> None:
    with pytest.raises(ClientError) as exc:
        client("iam").create_role(RoleName=_name("bad"), AssumeRolePolicyDocument=document)
    code, message, status = _code(exc)
    assert (code, status) == ("MalformedPolicyDocument", 400)
    assert fragment in message


def test_inline_and_attached_policies_block_deletion(client: ClientFactory) -> None:
    iam = client("iam")
    name = _name("holder")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName=name, PolicyName="read", PolicyDocument=READ_S3)
    assert iam.get_role_policy(RoleName=name, PolicyName="read")["PolicyDocument"] == json.loads(READ_S3)
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["read"]
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=name)
    assert _code(exc)[0] == "DeleteConflict"
    iam.delete_role_policy(RoleName=name, PolicyName="read")

    arn = iam.create_policy(PolicyName=_name("pol"), PolicyDocument=READ_S3)["Policy"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    assert [a["PolicyArn"] for a in attached] == [arn]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    with pytest.raises(ClientError) as exc:
        iam.delete_role(RoleName=name)
    assert _code(exc) == ("DeleteConflict", "Cannot delete entity, must detach all policies first.", 409)
    with pytest.raises(ClientError) as exc:
        iam.delete_policy(PolicyArn=arn)
    assert _code(exc)[0] == "DeleteConflict"
    iam.detach_role_policy(RoleName=name, PolicyArn=arn)
    iam.delete_role(RoleName=name)
    iam.delete_policy(PolicyArn=arn)
    version = None
    with pytest.raises(ClientError) as exc:
        version = iam.get_policy_version(PolicyArn=arn, VersionId="v1")
    assert version is None and _code(exc)[0] == "NoSuchEntity"


def test_attach_unknown_policy(client: ClientFactory) -> None:
    iam = client("iam")
    name = _name("r")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    with pytest.raises(ClientError) as exc:
        iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/NoSuchPolicy")
    assert _code(exc) == (
        "NoSuchEntity",
        "Policy arn:aws:iam::aws:policy/NoSuchPolicy does not exist or is not attachable.",
        404,
    )


def test_aws_managed_policies_are_listed(client: ClientFactory) -> None:
    policies = client("iam").list_policies(Scope="AWS", MaxItems=100)["Policies"]
    names = {p["PolicyName"] for p in policies}
    assert {"AdministratorAccess", "AmazonSageMakerFullAccess", "AmazonS3FullAccess"} <= names


def test_list_roles_pagination(client: ClientFactory) -> None:
    iam = client("iam")
    prefix = f"/page{uuid.uuid4().hex[:6]}/"
    made = sorted(_name("p") for _ in range(5))
    for name in made:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, Path=prefix)
    first = iam.list_roles(PathPrefix=prefix, MaxItems=2)
    assert first["IsTruncated"] and len(first["Roles"]) == 2
    seen = [r["RoleName"] for r in first["Roles"]]
    marker = first["Marker"]
    while marker:
        page = iam.list_roles(PathPrefix=prefix, MaxItems=2, Marker=marker)
        seen += [r["RoleName"] for r in page["Roles"]]
        marker = page.get("Marker") if page["IsTruncated"] else None
    assert seen == made
    paginated = [
        r["RoleName"]
        for p in iam.get_paginator("list_roles").paginate(PathPrefix=prefix, PaginationConfig={"PageSize": 3})
        for r in p["Roles"]
    ]
    assert paginated == made


def test_role_tags(client: ClientFactory) -> None:
    iam = client("iam")
    name = _name("tagged")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, Tags=[{"Key": "team", "Value": "ml"}])
    iam.tag_role(RoleName=name, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "sec"}])
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]}
    assert tags == {"team": "sec", "env": "dev"}
    iam.untag_role(RoleName=name, TagKeys=["team"])
    assert iam.list_role_tags(RoleName=name)["Tags"] == [{"Key": "env", "Value": "dev"}]


def test_get_role_reflects_every_change(client: ClientFactory) -> None:
    """GetRole is served from a cache; each kind of write must show in the next read."""
    iam = client("iam")
    name = _name("fresh")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST, Description="one")
    assert iam.get_role(RoleName=name)["Role"]["Description"] == "one"
    iam.update_role(RoleName=name, Description="two", MaxSessionDuration=7200)
    role = iam.get_role(RoleName=name)["Role"]
    assert (role["Description"], role["MaxSessionDuration"]) == ("two", 7200)
    iam.tag_role(RoleName=name, Tags=[{"Key": "k", "Value": "v"}])
    assert iam.get_role(RoleName=name)["Role"]["Tags"] == [{"Key": "k", "Value": "v"}]
    iam.untag_role(RoleName=name, TagKeys=["k"])
    assert "Tags" not in iam.get_role(RoleName=name)["Role"]
    other = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    )
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=other)
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == json.loads(other)
    iam.delete_role(RoleName=name)
    with pytest.raises(ClientError):
        iam.get_role(RoleName=name)


def test_error_quoting_unprintable_input_still_parses(client: ClientFactory) -> None:
    """A validation error that repeats a NUL the client sent must still be well-formed XML."""
    iam = client("iam")
    with pytest.raises(ClientError) as exc:
        iam.create_role(RoleName=_name("nul"), AssumeRolePolicyDocument=TRUST, Description="bad\x00value")
    assert exc.value.response["Error"]["Code"] == "ValidationError"
    assert "bad\ufffdvalue" in exc.value.response["Error"]["Message"]


def test_a_sagemaker_execution_role_passes_the_v3_sdks_role_check(client: ClientFactory) -> None:
    """sagemaker-core's IamRoleResolver simulates these actions on the role before a training job
    (ECR for the image, S3 and Logs); AmazonSageMakerFullAccess grants them, as on AWS."""
    iam = client("iam")
    name = _name("sm")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
    iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonSageMakerFullAccess")
    results = iam.simulate_principal_policy(
        PolicySourceArn=arn,
        ActionNames=["ecr:GetAuthorizationToken", "ecr:BatchGetImage", "logs:PutLogEvents", "s3:ListBucket"],
    )["EvaluationResults"]
    assert {r["EvalActionName"]: r["EvalDecision"] for r in results} == {
        "ecr:GetAuthorizationToken": "allowed",
        "ecr:BatchGetImage": "allowed",
        "logs:PutLogEvents": "allowed",
        "s3:ListBucket": "allowed",
    }
