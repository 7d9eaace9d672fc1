"""Key policies weighed with IAM, AWS's way: the key policy must allow, directly or by delegating to
IAM through the account root; grants allow too; an explicit deny anywhere wins."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ClientFactory


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _user(client: ClientFactory) -> tuple[str, dict[str, str]]:
    iam = client("iam")
    name = f"kms-{uuid.uuid4().hex[:8]}"
    arn = iam.create_user(UserName=name)["User"]["Arn"]
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return arn, {"aws_access_key_id": key["AccessKeyId"], "aws_secret_access_key": key["SecretAccessKey"]}


ALLOW_IAM = {"Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"}


@dataclass(frozen=True)
class Case:
    name: str
    key_policy: str  # "default", "direct", "direct-deny", "no-root", "only-user", "root-deny-user"
    identity: tuple[dict[str, Any], ...]
    grant: bool
    as_other_user: bool
    allowed: bool
    reason: str = ""  # the tail of AWS's AccessDenied message


CASES = [
    Case("default policy, IAM allows", "default", (ALLOW_IAM,), False, False, True),
    Case(
        "default policy, no IAM policy",
        "default",
        (),
        False,
        False,
        False,
        "because no identity-based policy",
    ),
    Case(
        "default policy, IAM explicit deny",
        "default",
        (ALLOW_IAM, {"Effect": "Deny", "Action": "kms:Decrypt", "Resource": "*"}),
        False,
        False,
        False,
        "with an explicit deny in an identity-based policy",
    ),
    Case("key policy names the user, no IAM policy", "direct", (), False, False, True),
    Case(
        "key policy names the user, IAM denies",
        "direct",
        ({"Effect": "Deny", "Action": "kms:*", "Resource": "*"},),
        False,
        False,
        False,
        "with an explicit deny in an identity-based policy",
    ),
    Case(
        "key policy denies the user, IAM allows",
        "direct-deny",
        (ALLOW_IAM,),
        False,
        False,
        False,
        "with an explicit deny in a resource-based policy",
    ),
    Case(
        "key policy does not delegate to IAM",
        "no-root",
        (ALLOW_IAM,),
        False,
        False,
        False,
        "because no resource-based policy allows the kms:Decrypt action",
    ),
    Case("grant to the user, no policies", "no-root", (), True, False, True),
    Case("grant to the user, default policy, no IAM", "default", (), True, False, True),
    Case(
        "key policy names another user",
        "only-user",
        (ALLOW_IAM,),
        False,
        True,
        False,
        "because no resource-based policy allows the kms:Decrypt action",
    ),
    Case("key policy names another user, that user", "only-user", (), False, False, True),
    Case(
        "grant to someone else does not help",
        "no-root",
        (ALLOW_IAM,),
        True,
        True,
        False,
        "because no resource-based policy allows",
    ),
]


def _key_policy(kind: str, account: str, user_arn: str) -> str | None:
    root = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }
    user = {
        "Effect": "Allow",
        "Principal": {"AWS": user_arn},
        "Action": ["kms:Encrypt", "kms:Decrypt"],
        "Resource": "*",
    }
    # Admin access for the test harness (root) without delegating key use to IAM.
    admin = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
        "Action": ["kms:Describe*", "kms:Get*", "kms:List*", "kms:Put*", "kms:CreateGrant", "kms:Encrypt"],
        "Resource": "*",
    }
    if kind == "default":
        return None
    if kind == "direct":
        return _policy(root, user)
    if kind == "direct-deny":
        return _policy(root, {**user, "Effect": "Deny"})
    if kind == "no-root":
        return _policy(admin)
    if kind == "only-user":
        return _policy(admin, user)
    raise AssertionError(kind)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_key_policy_table(client: ClientFactory, cove_server: Any, case: Case) -> None:
    account = cove_server.cove.account.account_id
    iam, root_kms = client("iam"), client("kms")
    user_arn, creds = _user(client)
    caller_arn, caller_creds = user_arn, creds
    if case.as_other_user:
        caller_arn, caller_creds = _user(client)
    policy = _key_policy(case.key_policy, account, user_arn)
    key = root_kms.create_key(**({"Policy": policy} if policy else {}))["KeyMetadata"]
    blob = root_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"data")["CiphertextBlob"]
    caller_name = caller_arn.rsplit("/", 1)[-1]
    for i, statement in enumerate(case.identity):
        iam.put_user_policy(UserName=caller_name, PolicyName=f"p{i}", PolicyDocument=_policy(statement))
    if case.grant:
        root_kms.create_grant(
            KeyId=key["KeyId"], GranteePrincipal=user_arn, Operations=["Decrypt", "Encrypt"]
        )
    kms = client("kms", **caller_creds)
    if case.allowed:
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"data"
        return
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=blob)
    err = exc.value.response["Error"]
    assert err["Code"] == "AccessDeniedException"
    prefix = f"User: {caller_arn} is not authorized to perform: kms:Decrypt on resource: {key['Arn']} "
    assert err["Message"].startswith(prefix) and case.reason in err["Message"]


def test_root_needs_the_key_policy(client: ClientFactory, cove_server: Any) -> None:
    account = cove_server.cove.account.account_id
    kms = client("kms")
    user_arn, _ = _user(client)
    only_user = _policy(
        {"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "kms:*", "Resource": "*"}
    )
    key = kms.create_key(Policy=only_user, BypassPolicyLockoutSafetyCheck=True)["KeyMetadata"]
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId=key["KeyId"])
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
    assert exc.value.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{account}:root is not authorized to perform: kms:DescribeKey on resource: "
        f"{key['Arn']} because no resource-based policy allows the kms:DescribeKey action"
    )


def test_grant_constraints_on_encryption_context(client: ClientFactory) -> None:
    root_kms = client("kms")
    user_arn, creds = _user(client)
    key_id = root_kms.create_key()["KeyMetadata"]["KeyId"]
    root_kms.create_grant(
        KeyId=key_id,
        GranteePrincipal=user_arn,
        Operations=["Decrypt"],
        Constraints={"EncryptionContextEquals": {"tenant": "a"}},
    )
    good = root_kms.encrypt(KeyId=key_id, Plaintext=b"a", EncryptionContext={"tenant": "a"})["CiphertextBlob"]
    bad = root_kms.encrypt(KeyId=key_id, Plaintext=b"b", EncryptionContext={"tenant": "b"})["CiphertextBlob"]
    kms = client("kms", **creds)
    assert kms.decrypt(CiphertextBlob=good, EncryptionContext={"tenant": "a"})["Plaintext"] == b"a"
    with pytest.raises(ClientError) as exc:
        kms.decrypt(CiphertextBlob=bad, EncryptionContext={"tenant": "b"})
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"


def test_role_session_uses_key_through_key_policy(client: ClientFactory, cove_server: Any) -> None:
    account = cove_server.cove.account.account_id
    iam = client("iam")
    role = f"kms-role-{uuid.uuid4().hex[:6]}"
    trust = _policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"}, "Action": "sts:AssumeRole"}
    )
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust)["Role"]["Arn"]
    key_policy = _policy(
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
            "Action": "kms:*",
            "Resource": "*",
        },
        {"Effect": "Allow", "Principal": {"AWS": role_arn}, "Action": "kms:GenerateDataKey", "Resource": "*"},
    )
    key_id = client("kms").create_key(Policy=key_policy)["KeyMetadata"]["KeyId"]
    user_arn, user_creds = _user(client)
    iam.put_user_policy(
        UserName=user_arn.rsplit("/", 1)[-1],
        PolicyName="assume",
        PolicyDocument=_policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}),
    )
    sts = client("sts", **user_creds)
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="kms-session")["Credentials"]
    kms = client(
        "kms",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    assert len(kms.generate_data_key(KeyId=key_id, KeySpec="AES_256")["Plaintext"]) == 32
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
