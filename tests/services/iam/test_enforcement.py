"""Identity policies are enforced on every request; access keys really authenticate."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ClientFactory


def _user_with_key(client: ClientFactory) -> tuple[str, dict[str, str]]:
    iam = client("iam")
    name = f"u-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=name)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_new_user_is_denied_until_a_policy_allows(client: ClientFactory) -> None:
    name, creds = _user_with_key(client)
    as_user = client("iam", **creds)
    me = client("sts", **creds).get_caller_identity()
    assert me["Arn"].endswith(f":user/{name}") and me["UserId"].startswith("AIDA")

    with pytest.raises(ClientError) as exc:
        as_user.list_roles()
    err = exc.value.response["Error"]
    assert err["Code"] == "AccessDenied"
    assert err["Message"] == (
        f"User: {me['Arn']} is not authorized to perform: iam:ListRoles "
        "because no identity-based policy allows the iam:ListRoles action"
    )
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    client("iam").put_user_policy(
        UserName=name,
        PolicyName="list",
        PolicyDocument=_policy({"Effect": "Allow", "Action": "iam:List*", "Resource": "*"}),
    )
    assert isinstance(as_user.list_roles()["Roles"], list)


def test_explicit_deny_beats_managed_allow(client: ClientFactory) -> None:
    name, creds = _user_with_key(client)
    iam = client("iam")
    iam.attach_user_policy(UserName=name, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    iam.put_user_policy(
        UserName=name,
        PolicyName="no-delete",
        PolicyDocument=_policy(
            {"Sid": "NoDelete", "Effect": "Deny", "Action": "iam:Delete*", "Resource": "*"}
        ),
    )
    as_user = client("iam", **creds)
    role = f"r-{uuid.uuid4().hex[:8]}"
    trust = _policy(
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
    as_user.create_role(RoleName=role, AssumeRolePolicyDocument=trust)
    with pytest.raises(ClientError) as exc:
        as_user.delete_role(RoleName=role)
    assert exc.value.response["Error"]["Message"].endswith(
        "with an explicit deny in an identity-based policy"
    )


def test_condition_on_source_ip(client: ClientFactory) -> None:
    name, creds = _user_with_key(client)
    client("iam").put_user_policy(
        UserName=name,
        PolicyName="from-elsewhere",
        PolicyDocument=_policy(
            {
                "Effect": "Allow",
                "Action": "iam:GetUser",
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}},
            },
            {
                "Effect": "Allow",
                "Action": "iam:ListUsers",
                "Resource": "*",
                "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}},
            },
        ),
    )
    as_user = client("iam", **creds)
    assert as_user.list_users()["Users"]  # the test client connects from loopback
    with pytest.raises(ClientError) as exc:
        as_user.get_user(UserName=name)
    assert exc.value.response["Error"]["Code"] == "AccessDenied"


def test_inactive_and_deleted_keys_stop_working(client: ClientFactory) -> None:
    name, creds = _user_with_key(client)
    sts = client("sts", **creds)
    assert sts.get_caller_identity()["Arn"].endswith(name)
    client("iam").update_access_key(UserName=name, AccessKeyId=creds["aws_access_key_id"], Status="Inactive")
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"
    client("iam").update_access_key(UserName=name, AccessKeyId=creds["aws_access_key_id"], Status="Active")
    assert sts.get_caller_identity()["Account"]
    client("iam").delete_access_key(UserName=name, AccessKeyId=creds["aws_access_key_id"])
    with pytest.raises(ClientError) as exc:
        sts.get_caller_identity()
    assert exc.value.response["Error"]["Code"] == "InvalidClientTokenId"
    client("iam").delete_user(UserName=name)


def test_user_deletion_needs_keys_removed(client: ClientFactory) -> None:
    name, _creds = _user_with_key(client)
    with pytest.raises(ClientError) as exc:
        client("iam").delete_user(UserName=name)
    assert exc.value.response["Error"]["Code"] == "DeleteConflict"


def test_simulate_principal_policy(client: ClientFactory) -> None:
    name, _ = _user_with_key(client)
    iam = client("iam")
    iam.put_user_policy(
        UserName=name,
        PolicyName="s3",
        PolicyDocument=_policy(
            {"Sid": "Read", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*"},
            {
                "Sid": "NoSecrets",
                "Effect": "Deny",
                "Action": "s3:*",
                "Resource": "arn:aws:s3:::data/secret/*",
            },
        ),
    )
    arn = iam.get_user(UserName=name)["User"]["Arn"]
    results = iam.simulate_principal_policy(
        PolicySourceArn=arn,
        ActionNames=["s3:GetObject", "s3:PutObject"],
        ResourceArns=["arn:aws:s3:::data/a", "arn:aws:s3:::data/secret/b"],
    )["EvaluationResults"]
    decisions = {(r["EvalActionName"], r["EvalResourceName"]): r["EvalDecision"] for r in results}
    assert decisions == {
        ("s3:GetObject", "arn:aws:s3:::data/a"): "allowed",
        ("s3:GetObject", "arn:aws:s3:::data/secret/b"): "explicitDeny",
        ("s3:PutObject", "arn:aws:s3:::data/a"): "implicitDeny",
        ("s3:PutObject", "arn:aws:s3:::data/secret/b"): "explicitDeny",
    }
    allowed = next(r for r in results if r["EvalDecision"] == "allowed")
    assert allowed["MatchedStatements"][0]["SourcePolicyId"] == "s3"


def test_simulate_custom_policy_reports_missing_context(client: ClientFactory) -> None:
    doc = _policy(
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}},
        }
    )
    result = client("iam").simulate_custom_policy(PolicyInputList=[doc], ActionNames=["s3:GetObject"])[
        "EvaluationResults"
    ][0]
    assert result["EvalDecision"] == "implicitDeny"
    assert [k.lower() for k in result["MissingContextValues"]] == ["aws:sourcevpce"]
    with_key = client("iam").simulate_custom_policy(
        PolicyInputList=[doc],
        ActionNames=["s3:GetObject"],
        ContextEntries=[
            {"ContextKeyName": "aws:SourceVpce", "ContextKeyValues": ["vpce-1"], "ContextKeyType": "string"}
        ],
    )["EvaluationResults"][0]
    assert with_key["EvalDecision"] == "allowed"
